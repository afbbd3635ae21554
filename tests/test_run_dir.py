"""A run directory has one owner, and nothing that stops a run (a second terminal, kill -9, a full disk) loses a
step or logs one twice: real processes, a real tmpfs, the event files read back as TensorBoard reads them."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, env_without_full_error, losses, one_line_error, scalars, train

pytestmark = pytest.mark.e2e

FAST = ("runtime=jax_jit", "model.hidden=4", "trainer.progress_bar=false",  # the quickest start, a tiny checkpoint
        "trainer.num_threads=1")  # one thread asked for: no warning that the busy machine lowered it


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env_without_full_error())


def start(run_dir, *args):
    return subprocess.Popen([sys.executable, str(ROOT / "train.py"), *FAST, "trainer.max_steps=10000000",
                             f"hydra.run.dir={run_dir}", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env_without_full_error())


def snapshot(d):
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


def checkpoint_step(run_dir) -> int:
    with np.load(run_dir / "checkpoint.npz") as f:
        return int(f["step"])


def logged_steps(run_dir) -> list[int]:
    return [s for s, _ in scalars(run_dir)["train/loss"]]


def wait_for_checkpoint(proc, run_dir, at_least: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if checkpoint_step(run_dir) >= at_least:
                return
        except (OSError, ValueError, KeyError, EOFError):
            pass
        time.sleep(0.1)
    pytest.fail("no checkpoint in time")


def freeze_past_its_checkpoint(proc, run_dir) -> None:
    """SIGSTOP the run at a moment when it has logged steps after its last checkpoint (it still owns its
    directory: a stopped process keeps its lock)."""
    from src.event_file import read_scalars

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGSTOP)
        with contextlib.suppress(OSError, ValueError, KeyError, EOFError):
            if max(s for s, _ in read_scalars(str(run_dir))["train/loss"]) > checkpoint_step(run_dir):
                return
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.05)
    pytest.fail("the run never logged past its checkpoint")


def test_one_owner_and_a_hard_kill_leaves_no_stale_lock(tmp_path):
    run_dir = tmp_path / "run"
    live = start(run_dir, "trainer.checkpoint_every_n_steps=1000")
    try:
        wait_for_checkpoint(live, run_dir, at_least=1000)
        freeze_past_its_checkpoint(live, run_dir)
        owner = f"pid {live.pid} on {os.uname().nodename}, started "
        # A second run into the same directory: refused, naming the owner, before it writes anything.
        second = cli(*FAST, "trainer.max_steps=50", f"hydra.run.dir={run_dir}")
        assert second.returncode == 2
        line = one_line_error(second)
        assert "in use by another graphduel run" in line and owner in line and f"resume={run_dir}" in line, line
        # A resume of the live run: refused too (it would drop the live run's steps and overwrite its checkpoint).
        again = cli(f"resume={run_dir}", "trainer.max_steps=200000000")
        assert again.returncode == 2
        line = one_line_error(again)
        assert "still running" in line and owner in line, line
        assert live.poll() is None  # the live run is still there
    finally:
        live.send_signal(signal.SIGKILL)  # no handler runs: the lock file stays, its lock goes with the process
        live.communicate()
    k = checkpoint_step(run_dir)
    assert (run_dir / ".graphduel.lock").exists() and max(logged_steps(run_dir)) > k
    out = cli(f"resume={run_dir}", f"trainer.max_steps={k + 30}")
    assert out.returncode == 0, out.stderr
    assert logged_steps(run_dir) == list(range(1, k + 31))  # the steps past the checkpoint dropped, redone once
    assert not (run_dir / ".graphduel.lock").exists()
    straight = tmp_path / "straight"
    train(straight, *FAST, f"trainer.max_steps={k + 30}")
    np.testing.assert_allclose(losses(run_dir), losses(straight), rtol=1e-6)


def test_a_new_run_never_overwrites_a_run(tmp_path):
    run_dir = tmp_path / "run"
    assert cli(*FAST, "trainer.max_steps=5", f"hydra.run.dir={run_dir}").returncode == 0
    before = snapshot(run_dir)
    out = cli(*FAST, "trainer.max_steps=7", "seed=3", f"hydra.run.dir={run_dir}")
    assert out.returncode == 2
    line = one_line_error(out)
    assert "already holds a run" in line and "completed after 5 steps" in line, line
    assert f"resume={run_dir}" in line and "hydra.run.dir" in line, line  # the two ways forward
    assert snapshot(run_dir) == before
    # A sweep's job into a directory that holds a run: refused the same way, the job's directory untouched.
    sweep = tmp_path / "sweep"
    assert cli("-m", *FAST, "trainer.max_steps=3", "seed=0,1", f"hydra.sweep.dir={sweep}").returncode == 0
    jobs = {p.parent: snapshot(p.parent) for p in sweep.glob("*/result.json")}
    assert len(jobs) == 2
    out = cli("-m", *FAST, "trainer.max_steps=4", "seed=0,1", f"hydra.sweep.dir={sweep}")
    assert out.stderr.count("already holds a run") == 2 and "hydra.sweep.dir" in out.stderr, out.stderr
    assert {d: snapshot(d) for d in jobs} == jobs


# -- a full disk ------------------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 400 KiB tmpfs (the run directory's filesystem), made bigger by calling the fixture's value."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if made.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (it needs root): {made.stderr.strip()}")

    def grow(size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(mount)], check=True)

    yield mount, grow
    subprocess.run(["umount", str(mount)], check=False)


def test_a_full_disk_ends_the_run_in_one_line_and_resumes_exactly(small_disk, tmp_path):
    mount, grow = small_disk
    run_dir = mount / "run"
    out = cli(*FAST, "trainer.max_steps=2500", "trainer.checkpoint_every_n_steps=200", f"hydra.run.dir={run_dir}")
    assert out.returncode == 1, out.stderr
    line = one_line_error(out)
    assert f"the tmpfs filesystem at {mount} is full" in line and "while writing" in line, line
    assert "needs about" in line and "to 2500" in line and f"resume={run_dir}" in line, line
    result = json.loads((run_dir / "result.json").read_text())
    assert result["status"] == "failed" and result["error"] == line.removeprefix("error: ")
    names = {p.name for p in run_dir.rglob("*")}
    assert not [n for n in names if "tmp" in n] and ".graphduel.lock" not in names, names
    k = checkpoint_step(run_dir)
    logged = logged_steps(run_dir)
    assert logged == list(range(1, len(logged) + 1)) and len(logged) >= k > 0  # whole records, no gap

    # Not enough freed yet: refused before anything is written, the run byte for byte as it was.
    before = snapshot(run_dir)
    out = cli(f"resume={run_dir}", "trainer.max_steps=2500")
    assert out.returncode == 2
    line = one_line_error(out)
    assert "not enough space to continue that run" in line and "needs about" in line, line
    assert snapshot(run_dir) == before

    grow("4m")  # what it asked for, with room to spare (the bytes a step takes grow with its tags)
    out = cli(f"resume={run_dir}", "trainer.max_steps=2500")
    assert out.returncode == 0, out.stderr
    assert logged_steps(run_dir) == list(range(1, 2501))  # each step once
    assert json.loads((run_dir / "result.json").read_text())["status"] == "completed"
    straight = tmp_path / "straight"
    train(straight, *FAST, "trainer.max_steps=2500")
    np.testing.assert_allclose(losses(run_dir), losses(straight), rtol=1e-6)


def test_a_resume_after_a_torn_write_or_a_killed_resume_logs_each_step_once(tmp_path):
    """A record cut short at the end of the file (a process killed mid-write), and a second copy of the steps
    (a resume killed between renaming its new event file and removing the others): each step once after."""
    import shutil

    run_dir = tmp_path / "run"
    train(run_dir, *FAST, "trainer.max_steps=7")
    [events] = run_dir.glob("events.out.tfevents.*")
    shutil.copy(events, run_dir / "events.out.tfevents.0.copy")
    with open(events, "ab") as f:
        f.write(b"\x40\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 10)  # a header for 64 bytes, 10 of them there
    train(run_dir, *FAST, "trainer.max_steps=12", f"resume={run_dir}")
    assert len(list(run_dir.glob("events.out.tfevents.*"))) == 1
    assert logged_steps(run_dir) == list(range(1, 13))
    straight = tmp_path / "straight"
    train(straight, *FAST, "trainer.max_steps=12")
    np.testing.assert_allclose(losses(run_dir), losses(straight), rtol=1e-6)
