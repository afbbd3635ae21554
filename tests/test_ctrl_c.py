"""Ctrl-C as a user presses it in a terminal: acknowledged at once in one line, during a framework import as
during the steps, and the printed `resume with:` line, pasted into bash, continues the run."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import ROOT, env_without_full_error

pytestmark = pytest.mark.e2e

ACK = "graphduel: Ctrl-C: stopping after the current step or build; Ctrl-C again stops now."


class Run:
    """train.py in the background, its stderr read as it comes."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_without_full_error())
        os.set_blocking(self.proc.stderr.fileno(), False)
        self.err = ""

    def read(self) -> str:
        chunk = self.proc.stderr.read()
        self.err += chunk.decode() if chunk else ""
        return self.err

    def wait_for(self, what, timeout=240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            assert self.proc.poll() is None, self.read()
            time.sleep(0.05)
        pytest.fail(f"timed out; stderr: {self.read()}")

    def finish(self, timeout=120):
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.read()
            time.sleep(0.05)
        self.proc.wait(timeout=1)
        self.read()
        return self.proc.stdout.read().decode()


def _odd_dir(tmp_path) -> str:
    return str(tmp_path / "my runs" / "it's é=1")


def _hydra(path: str) -> str:
    """`path` as a Hydra quoted string, written by hand (not by the code under test)."""
    assert "\\" not in path
    return "'" + path.replace("'", "\\'") + "'"


def test_ctrl_c_during_the_framework_import_is_acknowledged_and_stops_there(tmp_path):
    run_dir = _odd_dir(tmp_path)
    run = Run("model=dynamic", "trainer.max_steps=10000000000", f"hydra.run.dir={_hydra(run_dir)}")
    run.wait_for(lambda: "importing torch..." in run.read())  # said just before the import starts
    run.proc.send_signal(signal.SIGINT)
    run.wait_for(lambda: ACK in run.read() or run.proc.poll() is not None, timeout=60)
    assert run.proc.poll() is None or ACK in run.err  # said while the import was still going on
    run.finish()
    assert run.proc.returncode == 130
    lines = [x.strip() for x in run.err.replace("\r", "\n").splitlines() if x.strip()]
    assert lines[-2:] == [ACK, "graphduel: Ctrl-C before the run started: nothing was written."], run.err
    assert "Traceback" not in run.err
    assert not os.path.exists(run_dir) and not os.path.exists(os.path.dirname(run_dir))


@pytest.mark.slow
def test_ctrl_c_in_a_run_of_1e10_steps_prints_a_resume_line_that_pastes(tmp_path):
    run_dir = _odd_dir(tmp_path)
    ckpt = os.path.join(run_dir, "checkpoint.npz")
    run = Run("model=dynamic", "trainer.max_steps=10000000000", "trainer.checkpoint_every_n_steps=20",
              "trainer.progress_bar=false", f"hydra.run.dir={_hydra(run_dir)}")

    def checkpointed() -> bool:
        try:
            with np.load(ckpt) as f:
                return int(f["step"]) >= 20
        except (OSError, ValueError, KeyError, EOFError):
            return False

    run.wait_for(checkpointed)  # 1e10 steps started at once: their inputs are drawn a block at a time
    run.proc.send_signal(signal.SIGINT)
    run.finish()
    assert run.proc.returncode == 130, run.err
    assert ACK in run.err and "Traceback" not in run.err
    k = json.loads(open(os.path.join(run_dir, "result.json")).read())["steps"]
    (line,) = [x for x in run.err.splitlines() if x.startswith("  resume with: ")]
    command = line[len("  resume with: "):]
    assert command.startswith(f"python {ROOT / 'train.py'} ")
    # Pasted into bash (with the venv's python for `python`), asking for 3 more steps: the run continues.
    out = subprocess.run(["bash", "-c", f'python() {{ "{sys.executable}" "$@"; }}; {command} '
                                        f"trainer.max_steps={k + 3} trainer.progress_bar=false"],
                         capture_output=True, text=True, timeout=300, env=env_without_full_error(), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(open(os.path.join(run_dir, "result.json")).read())
    assert (result["status"], result["steps"], result["model"]) == ("completed", k + 3, "dynamic")
