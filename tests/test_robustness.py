"""Bad input, divergence, interruption, resume and DDP, as a user meets them: real processes."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, compose_cfg, env_without_full_error, losses, one_line_error, scalars, train
from src.problem import make_problem
from src.registry import MODELS, RUNTIMES

pytestmark = pytest.mark.e2e


def cli(*args, cwd=ROOT, env=None, timeout=600):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env or env_without_full_error())




@pytest.mark.parametrize("args, words", [
    (["model=foo"], ["model=foo", "two_layer"]),
    (["runtime=jax"], ["runtime=jax", "lightning, lightning_compile, tf_eager, tf_function, tf_session"]),
    (["model.hiden=3"], ["model.hiden", "did you mean model.hidden?"]),  # the one typo checked by a process
    (["+trainer.fast=1"], ["trainer.fast", "max_steps"]),
    (["trainer.max_steps=abc"], ["trainer.max_steps=abc", "Integer"]),
    (["model.hidden=0"], ["model.hidden=0", "1 or more"]),
    (["data.batch_size=-3"], ["data.batch_size=-3", "1 or more"]),
    (["trainer.max_steps=0"], ["trainer.max_steps=0", "1 or more"]),
    (["trainer.devices=0"], ["trainer.devices=0", "1 or more"]),
    (["model.optimizer.lr=-0.1"], ["model.optimizer.lr=-0.1", "above 0"]),
    (["model=dynamic", "model.optimizer.momentum=1.0"], ["model.optimizer.momentum=1.0", "[0, 1)"]),
    (["trainer.accelerator=tpu"], ["trainer.accelerator=tpu", "auto, cpu, gpu"]),
    (["model=dynamic", "model.depth=4"], ["model.depth=4", "0..model.max_depth (3)"]),
    (["model=rnn", "model.max_len=0"], ["model.max_len=0", "1 or more"]),
    (["runtime=tf_session", "trainer.devices=2"], ["trainer.devices=2", "runtime=tf_session"]),
    (["runtime=tf_session", "trainer.strategy=ddp"], ["trainer.strategy=ddp", "runtime=tf_session"]),
    (["-m", "model=two_layer,foo"], ["model=foo"]),
    (["-m", "trainer.strategy=ddp", "trainer.devices=2"], ["trainer.strategy=ddp", "without -m"]),
    (["resume=/no/such/run"], ["resume=/no/such/run", "no run there"]),
])
def test_bad_input_is_one_line_exit_2_before_any_framework(args, words, tmp_path):
    out = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "train.py"), *args,
                          f"hydra.run.dir={tmp_path}/run", f"hydra.sweep.dir={tmp_path}/sweep"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env_without_full_error())
    assert out.returncode == 2
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert not {"torch", "tensorflow", "pytorch_lightning"} & imported  # refused before the slow imports
    out.stderr = "\n".join(line for line in out.stderr.splitlines() if not line.startswith("import time:"))
    line = one_line_error(out)
    assert all(w in line for w in words), line
    assert not (tmp_path / "run").exists() and not (tmp_path / "sweep").exists()  # nothing half-started


def test_hydra_full_error_still_shows_the_traceback():
    out = cli("model.hidden=0", env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    assert out.returncode != 0 and "Traceback" in out.stderr and "model.hidden=0" in out.stderr


def test_divergence_stops_at_the_first_bad_step_and_keeps_the_logs(tmp_path):
    out = cli("model.optimizer.lr=10", "trainer.max_steps=50", "trainer.progress_bar=false",
              f"hydra.run.dir={tmp_path}")
    assert out.returncode == 1
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "diverged" and 1 < result["steps"] < 50
    line = one_line_error(out)
    assert f"at step {result['steps']}" in line and "lower learning rate" in line and "lr=1" in line
    curve = losses(tmp_path)
    assert len(curve) == result["steps"] and not np.isfinite(curve[-1]) and np.isfinite(curve[:-1]).all()


# -- checkpoints, interruption, resume ----------------------------------------------------------
def _start(tmp_path, *args):
    cmd = [sys.executable, str(ROOT / "train.py"), "trainer.max_steps=1000000", "trainer.progress_bar=false",
           f"hydra.run.dir={tmp_path}", *args]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env_without_full_error())


def _wait_for_checkpoint(proc, run_dir, at_least: int):
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if json.loads((run_dir / "result.json").read_text()).get("status") == "running":
                with np.load(run_dir / "checkpoint.npz") as f:
                    if int(f["step"]) >= at_least:
                        return
        except (OSError, ValueError, KeyError, EOFError):
            pass
        time.sleep(0.2)
    pytest.fail("no checkpoint in time")


@pytest.mark.slow
@pytest.mark.parametrize("runtime, sig, code", [
    ("lightning", signal.SIGINT, 130), ("lightning", signal.SIGTERM, 143),
    ("tf_session", signal.SIGINT, 130), ("tf_session", signal.SIGTERM, 143),
])
def test_a_signal_checkpoints_flushes_and_resumes_exactly(tmp_path, runtime, sig, code):
    run_dir = tmp_path / "run"
    proc = _start(run_dir, "model=dynamic", f"runtime={runtime}", "trainer.checkpoint_every_n_steps=30")
    _wait_for_checkpoint(proc, run_dir, at_least=60)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, stderr
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "interrupted"
    k = result["steps"]
    assert result["checkpoint_step"] == k  # the checkpoint holds the last logged step
    assert f"resume with: python {ROOT / 'train.py'} resume={run_dir}" in stderr
    assert [s for s, _ in scalars(run_dir)["train/loss"]] == list(range(1, k + 1))  # flushed, every step

    out = cli(f"resume={run_dir}", f"trainer.max_steps={k + 25}")  # its saved config: model=dynamic, runtime
    assert out.returncode == 0, out.stderr
    resumed = json.loads((run_dir / "result.json").read_text())
    assert (resumed["status"], resumed["steps"], resumed["model"], resumed["runtime"]) == (
        "completed", k + 25, "dynamic", runtime)
    s = scalars(run_dir)
    assert [step for step, _ in s["train/loss"]] == list(range(1, k + 26))  # each step once
    straight = tmp_path / "straight"
    train(straight, "model=dynamic", f"runtime={runtime}", f"trainer.max_steps={k + 25}")
    np.testing.assert_allclose(losses(run_dir), losses(straight), rtol=1e-6)


@pytest.mark.slow
def test_resume_after_a_hard_kill_drops_the_steps_past_the_checkpoint(tmp_path):
    from src.event_file import read_scalars

    run_dir = tmp_path / "run"
    proc = _start(run_dir, "trainer.checkpoint_every_n_steps=1000")
    _wait_for_checkpoint(proc, run_dir, at_least=1000)
    deadline = time.monotonic() + 120
    while max(s for s, _ in read_scalars(str(run_dir))["train/loss"]) <= 1000:  # events flush every 100 steps
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.kill()  # SIGKILL: no handler, no last checkpoint
    proc.communicate()
    with np.load(run_dir / "checkpoint.npz") as f:
        k = int(f["step"])
    logged = [s for s, _ in scalars(run_dir)["train/loss"]]
    assert max(logged) > k  # steps past the checkpoint were logged before the kill
    out = cli(f"resume={run_dir}", f"trainer.max_steps={k + 10}")
    assert out.returncode == 0, out.stderr
    assert [s for s, _ in scalars(run_dir)["train/loss"]] == list(range(1, k + 11))
    straight = tmp_path / "straight"
    train(straight, f"trainer.max_steps={k + 10}")
    np.testing.assert_allclose(losses(run_dir), losses(straight), rtol=1e-6)


def test_checkpoints_hold_weights_momentum_and_step(tmp_path):
    train(tmp_path, "model=dynamic", "trainer.max_steps=25", "trainer.checkpoint_every_n_steps=10")
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert int(f["step"]) == 25
        names = set(f.files)
    for layer in ("input", "middle", "output"):
        assert {f"weight/{layer}.weight", f"weight/{layer}.bias", f"momentum/{layer}.weight"} <= names


@pytest.mark.parametrize("make_bad, words", [
    (lambda d: (d / "checkpoint.npz").write_bytes(b"not a zip file"), "damaged"),
    (lambda d: (d / "checkpoint.npz").unlink(), "no checkpoint.npz"),
])
def test_resume_refuses_a_damaged_or_missing_checkpoint_and_keeps_the_run(tmp_path, make_bad, words):
    assert cli("trainer.max_steps=5", "trainer.progress_bar=false", f"hydra.run.dir={tmp_path}").returncode == 0
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*") if p.is_file() and p.name != "checkpoint.npz"}
    make_bad(tmp_path)
    out = cli(f"resume={tmp_path}", "trainer.max_steps=10")
    assert out.returncode == 2
    assert words in one_line_error(out)
    after = {p.name: p.read_bytes() for p in tmp_path.glob("*") if p.is_file() and p.name != "checkpoint.npz"}
    assert after == before  # result.json and the event files untouched


def test_resume_asks_for_more_steps_than_were_done(tmp_path):
    assert cli("trainer.max_steps=5", "trainer.progress_bar=false", f"hydra.run.dir={tmp_path}").returncode == 0
    out = cli(f"resume={tmp_path}")
    assert out.returncode == 2 and "already did 5 steps" in one_line_error(out)


# -- several processes --------------------------------------------------------------------------
@pytest.mark.slow
def test_ddp_on_two_cpu_processes_logs_one_run(tmp_path):
    out = cli("model=dynamic", "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
              "trainer.max_steps=30", "trainer.progress_bar=false", f"hydra.run.dir={tmp_path}")
    assert out.returncode == 0, out.stderr[-3000:]
    assert len(list(tmp_path.glob("events.out.tfevents.*"))) == 1  # rank zero alone writes
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["status"] == "completed" and result["steps"] == 30
    assert [s for s, _ in scalars(tmp_path)["train/loss"]] == list(range(1, 31))
    # Both ranks see the same batch, so averaged gradients equal one process's: the same curve.
    single = tmp_path / "single"
    train(single, "model=dynamic", "trainer.max_steps=30")
    np.testing.assert_allclose(losses(tmp_path), losses(single), rtol=1e-5)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_resume_at_a_depth_0_step_keeps_the_middle_layers_momentum(tmp_path, runtime):
    from helpers import compose_cfg
    from src.problem import make_problem

    depths = make_problem(compose_cfg("model=dynamic")).input_columns(0, 100)["depth"].tolist()
    k = next(i for i in range(1, 100) if depths[i] == 0 and depths[i - 1] != 0)  # step k+1 skips the middle
    first = tmp_path / "first"
    train(first, "model=dynamic", f"runtime={runtime}", f"trainer.max_steps={k}")
    train(first, "model=dynamic", f"runtime={runtime}", f"trainer.max_steps={k + 5}", f"resume={first}")
    straight = tmp_path / "straight"
    train(straight, "model=dynamic", f"runtime={runtime}", f"trainer.max_steps={k + 5}")
    np.testing.assert_allclose(losses(first), losses(straight), rtol=1e-6)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_resume_mid_run_continues_exactly(tmp_path, runtime, model):
    """Every model, every runtime: a run resumed from its checkpoint at step 7 (for rnn, mid-way through a
    pass over its pool) logs the same losses and per-step inputs as a run that never stopped."""
    k = 7
    first, straight = tmp_path / "first", tmp_path / "straight"
    train(first, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={k}")
    train(first, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={k + 6}", f"resume={first}")
    train(straight, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={k + 6}")
    resumed = scalars(first)
    assert [s for s, _ in resumed["train/loss"]] == list(range(1, k + 7))
    np.testing.assert_allclose(losses(first), losses(straight), rtol=1e-6)
    for tag, column in make_problem(compose_cfg(f"model={model}")).step_scalars(0, k + 6).items():
        assert resumed[tag] == list(zip(range(1, k + 7), column.tolist())), tag  # rnn: model/max_len
