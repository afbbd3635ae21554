"""train.py as a user runs it: a real subprocess, real Hydra, real exit codes."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT, env_without_full_error, losses, one_line_error
from src.registry import FRAMEWORKS, RUNTIMES

pytestmark = pytest.mark.e2e


def run_cli(*args, cwd=ROOT, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env_without_full_error())


def test_train_py_runs_and_ends_with_a_summary(tmp_path):
    out = run_cli("trainer.max_steps=30", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "completed" and result["steps"] == 30
    assert f"tensorboard --logdir {tmp_path}" in out.stdout
    assert f"{result['first_loss']:.4g} -> {result['final_loss']:.4g}" in out.stdout
    assert "ms median" in out.stdout
    assert "30/30" in out.stderr  # the progress bar reached the end
    assert len(losses(tmp_path)) == 30


def test_default_output_dirs_are_named_after_model_and_runtime(tmp_path):
    out = run_cli("model=dynamic", "trainer.max_steps=3", "trainer.progress_bar=false", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    (run_dir,) = (tmp_path / "outputs").glob("*/*_dynamic_lightning")
    assert json.loads((run_dir / "result.json").read_text())["model"] == "dynamic"
    assert list(run_dir.glob("events.out.tfevents.*"))



@pytest.mark.parametrize("runtime", RUNTIMES)
def test_gpu_is_used_or_refused_in_one_line(tmp_path, runtime):
    """Each runtime asks its own framework: where it sees a GPU the run uses it; where not, one line, exit 2,
    and nothing written."""
    run_dir = tmp_path / "run"
    out = run_cli("model=dynamic", f"runtime={runtime}", "trainer.accelerator=gpu", "trainer.max_steps=3",
                  "trainer.progress_bar=false", f"hydra.run.dir={run_dir}")
    if out.returncode == 0:  # this framework sees a GPU here
        assert json.loads((run_dir / "result.json").read_text())["accelerator"] == "gpu"
        return
    assert out.returncode == 2
    line = one_line_error(out)
    assert "trainer.accelerator=gpu" in line and "trainer.accelerator=cpu" in line
    assert not run_dir.exists()


@pytest.mark.parametrize("override, words", [
    ("trainer.max_steps=0", ["trainer.max_steps=0", "1 or more"]),
    ("runtime=tf_session trainer.devices=2", ["trainer.devices=2", "runtime=tf_session"]),
])
def test_bad_values_are_one_line_and_exit_2(tmp_path, override, words):
    out = run_cli(*override.split(), f"hydra.run.dir={tmp_path}")
    assert out.returncode == 2
    line = one_line_error(out)
    assert all(w in line for w in words), line


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_run_imports_only_its_own_framework(tmp_path, runtime):
    others = [fw for fw in FRAMEWORKS if fw != RUNTIMES[runtime].framework]  # a framework's key is its module
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
        "from helpers import train\n"
        f"train(sys.argv[2], 'runtime={runtime}', 'trainer.max_steps=3')\n"
        f"print([m for m in {others!r} if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(ROOT), str(tmp_path)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_help_lists_every_option_with_its_meaning_and_default():
    import dataclasses

    from src import models
    from src.config import TrainerConfig
    from src.registry import MODELS, RUNTIMES

    out = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert not {"torch", "tensorflow", "pytorch_lightning", "jax"} & imported  # help is instant
    text = out.stdout
    assert text.startswith("graphduel: ") and "schema/" not in text  # Hydra's internal groups stay hidden
    for name, rt in RUNTIMES.items():
        assert f"{name}" in text and rt.what in text
    for m in MODELS:
        for f in dataclasses.fields(models.spec(m).Config):
            if f.name not in ("name", "optimizer"):
                default = getattr(models.spec(m).Config(), f.name)
                assert f"model.{f.name}={'null' if default is None else default}" in text, (m, f.name)
    for f in dataclasses.fields(TrainerConfig):
        assert f"trainer.{f.name}=" in text and f.metadata["help"] in text, f.name
    assert "model.optimizer.lr=1e-06" in text and "model.optimizer.lr=0.0001" in text  # each model's own
    examples = text.split("Examples:")[1].splitlines()
    assert sum(line.strip().startswith("python train.py") for line in examples) >= 5


def test_a_slow_start_says_what_it_is_doing(tmp_path):
    out = run_cli("runtime=tf_function", "trainer.max_steps=3", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stderr.replace("\r", "\n").splitlines() if line.strip()]
    assert lines[0] == "graphduel: two_layer on tf_function: importing tensorflow..."  # before the import
    assert "tracing the step into a graph (tf.function)" in out.stderr
