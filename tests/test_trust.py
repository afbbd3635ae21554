"""Nothing a user types can damage a run, every sweep form Hydra documents works and is checked up front,
and the messages a user meets say what to type instead.  Real processes, real Hydra."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT, env_without_full_error, losses, one_line_error, train

pytestmark = pytest.mark.e2e


def cli(*args, cwd=ROOT, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env_without_full_error())




def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


# -- a refused command changes nothing ------------------------------------------------------------
@pytest.fixture
def finished_run(tmp_path):
    run_dir = tmp_path / "run"
    out = cli("trainer.max_steps=6", "trainer.progress_bar=false", "trainer.checkpoint_every_n_steps=3",
              f"hydra.run.dir={run_dir}")
    assert out.returncode == 0, out.stderr
    return run_dir


@pytest.mark.parametrize("args, words", [
    (["model=dynamic", "trainer.max_steps=10"], ["trained model=two_layer", "cannot continue as model=dynamic"]),
    (["model.hidden=7", "trainer.max_steps=10"], ["other sizes", "w1 (1000, 100) vs (1000, 7)"]),
    (["seed=1", "trainer.max_steps=10"], ["trained with seed=0", "cannot continue with seed=1"]),
    (["trainer.max_steps=6"], ["already did 6 steps"]),
    (["trainer.max_steps=abc"], ["trainer.max_steps=abc"]),
    (["trainer.accelerator=gpu", "trainer.max_steps=10"], ["trainer.accelerator=gpu"]),  # refused after the import
])
def test_a_refused_resume_leaves_the_run_byte_for_byte(finished_run, args, words):
    import torch

    if "trainer.accelerator=gpu" in args and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    before = snapshot(finished_run)
    for _ in range(2):  # refused again and again: still nothing changes
        out = cli(f"resume={finished_run}", *args)
        assert out.returncode == 2, out.stderr
        line = one_line_error(out)
        assert all(w in line for w in words), line
        assert snapshot(finished_run) == before
    # The command the run printed still works, and resuming twice does not grow its saved overrides.
    for steps in (9, 12):
        out = cli(f"resume={finished_run}", f"trainer.max_steps={steps}")
        assert out.returncode == 0, out.stderr
    saved = (finished_run / ".hydra" / "overrides.yaml").read_text().splitlines()
    keys = [line.split("=")[0] for line in saved]
    assert len(keys) == len(set(keys)) and "- trainer.max_steps=12" in saved, saved
    assert json.loads((finished_run / "result.json").read_text())["steps"] == 12
    assert len(losses(finished_run)) == 12


def test_a_sweep_directory_given_to_resume_names_its_jobs(tmp_path):
    sweep = tmp_path / "sweep"
    out = cli("-m", "seed=0,1", "trainer.max_steps=2", "trainer.progress_bar=false", f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr
    out = cli(f"resume={sweep}", "trainer.max_steps=4")
    assert out.returncode == 2
    line = one_line_error(out)
    assert "sweep" in line and "2 jobs" in line and str(sweep / "0_two_layer_lightning_seed-0") in line


def test_a_single_run_refused_at_start_leaves_no_directory(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = cli("trainer.accelerator=gpu", cwd=tmp_path)
    assert out.returncode == 2 and "trainer.accelerator=gpu" in one_line_error(out)
    assert list(tmp_path.iterdir()) == []  # no outputs/, no date folder, no run folder


def test_a_sweep_lists_its_refused_jobs(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    out = cli("-m", "trainer.accelerator=cpu,gpu", "trainer.max_steps=2", "trainer.progress_bar=false",
              f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 1
    results = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("*/result.json")}
    assert {k: r["status"] for k, r in results.items()} == {"0_two_layer_lightning_accelerator-cpu": "completed",
                                                           "1_two_layer_lightning_accelerator-gpu": "failed"}
    assert "trainer.accelerator=gpu" in results["1_two_layer_lightning_accelerator-gpu"]["error"]
    assert "1_two_layer_lightning_accelerator-gpu" in (tmp_path / "summary.md").read_text()


# -- every sweep form, checked up front -----------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("sweep, jobs", [
    (["runtime=glob(tf_s*)", "seed=0,1"], {("tf_session", 0), ("tf_session", 1)}),
    (["seed=range(0,3)"], {("lightning", 0), ("lightning", 1), ("lightning", 2)}),
    (["seed=choice(3,4)"], {("lightning", 3), ("lightning", 4)}),
    (["seed=0,1", "+hydra.job.env_set.OMP_WAIT_POLICY=ACTIVE"], {("lightning", 0), ("lightning", 1)}),  # added key
    (["experiment=static_vs_dynamic", "model=two_layer", "runtime=tf_eager"], {("tf_eager", 0)}),  # a preset, no -m
])
def test_sweep_forms_hydra_documents_all_run(tmp_path, sweep, jobs):
    out = cli(*([] if sweep[0].startswith("experiment=") else ["-m"]), *sweep, "trainer.max_steps=2", "trainer.progress_bar=false", f"hydra.sweep.dir={tmp_path}",
              cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    results = [json.loads(p.read_text()) for p in tmp_path.glob("*/result.json")]
    assert {(r["runtime"], r["seed"]) for r in results} == jobs and len(results) == len(jobs)
    assert all(r["status"] == "completed" for r in results)


@pytest.mark.parametrize("sweep, words", [
    (["runtime=glob(tf_*)", "trainer.devices=2"], ["trainer.devices=2", "runtime=tf_"]),  # one device only
    (["seed=range(0,3)", "model.hidden=choice(8,0)"], ["model.hidden=0", "1 or more"]),
    (["+trainer.fast=1,2"], ["trainer.fast", "not a known key"]),
    (["runtime=glob(*)", "model=two_layer,nope"], ["model=nope", "is not known"]),
    (["+experiment=static_vs_dynamic"], ["experiment"]),  # Hydra's own refusal, in one line
    (["+hydra.job.env_set.OMP_WAIT_POLICY=ACTIVE,PASSIVE"], ["cannot sweep over its own settings"]),
])
def test_every_job_of_a_sweep_is_checked_before_any_runs(tmp_path, sweep, words):
    out = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), "-m", *sweep,
                          f"hydra.sweep.dir={tmp_path}/sweep"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env=env_without_full_error())
    assert out.returncode == 2
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert not {"torch", "tensorflow", "pytorch_lightning"} & imported
    out.stderr = "\n".join(line for line in out.stderr.splitlines() if not line.startswith("import time:"))
    line = one_line_error(out)
    assert all(w in line for w in words), line
    assert list(tmp_path.iterdir()) == []  # no sweep directory, no job directory


# -- messages that say what to type -----------------------------------------------------------------
@pytest.mark.parametrize("args, words", [
    (["max_steps=100"], ["max_steps is not a known key", "did you mean trainer.max_steps?"]),
    (["trainer.max_steps=1e3"], ["trainer.max_steps=1e3", "trainer.max_steps=1000"]),
    (["model.hiden=3"], ["model.hiden", "did you mean model.hidden?"]),
])
def test_messages_point_to_what_to_type(tmp_path, args, words):
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    line = one_line_error(out)
    assert all(w in line for w in words), line


def test_the_divergence_hint_suggests_the_models_own_learning_rate(tmp_path):
    from src.errors import GraphduelError

    with pytest.raises(GraphduelError, match=r"model\.optimizer\.lr=1e-06\.") as e:
        train(tmp_path / "a", "model.optimizer.lr=10", "trainer.max_steps=50")
    assert e.value.exit_code == 1
    with pytest.raises(GraphduelError, match=r"model\.optimizer\.lr=0\.0001\."):  # dynamic's own
        train(tmp_path / "b", "model=dynamic", "model.optimizer.lr=100", "trainer.max_steps=50")
