"""Ctrl-C in a sweep, as a user presses it (SIGINT to the sweep's process group), under the default and the
joblib launchers: the summary of what ran, the jobs that did not finish or did not start, and one command
that continues the sweep; the continued sweep ends as an uninterrupted one does (issue 21, item 3)."""
import csv
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from helpers import ROOT, env_without_full_error, losses

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STEPS = 3000
SWEEP = ["runtime=tf_session", "seed=0,1,2", f"trainer.max_steps={STEPS}", "trainer.progress_bar=false"]
SAME = ("job", "model", "runtime", "framework", "graph", "steps", "status")  # and final_loss, to 1e-6


def summary(d) -> dict:
    with open(d / "summary.csv") as f:
        return {r["job"]: r for r in csv.DictReader(f)}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    d = tmp_path_factory.mktemp("uninterrupted")
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *SWEEP, f"hydra.sweep.dir={d}"], cwd=d,
                         capture_output=True, text=True, timeout=600, env=env_without_full_error())
    assert out.returncode == 0, out.stderr[-3000:]
    return summary(d)


def interrupt(d, *launcher):
    """The sweep in its own process group, SIGINT to the group once its first job has a checkpoint."""
    cmd = [sys.executable, str(ROOT / "train.py"), "-m", *launcher, *SWEEP, f"hydra.sweep.dir={d}"]
    p = subprocess.Popen(cmd, cwd=d.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, env=env_without_full_error())
    deadline = time.monotonic() + 300
    while not list(d.glob("*/checkpoint.npz")):
        assert p.poll() is None and time.monotonic() < deadline, p.communicate()
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


@pytest.mark.parametrize("launcher", [[], ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]],
                         ids=["basic", "joblib"])
def test_an_interrupted_sweep_is_summarised_and_continued(tmp_path, uninterrupted, launcher):
    d = tmp_path / "sweep"
    code, out, err = interrupt(d, *launcher)
    assert code == 130, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    ran = summary(d)  # the summary of what ran
    assert ran and set(ran) < set(uninterrupted)
    assert any(r["status"] == "interrupted" for r in ran.values())
    unfinished = re.search(r"^  did not finish \(\d+\): (.*)$", err, re.M)
    unstarted = re.search(r"^  did not start \(\d+\): (.*)$", err, re.M)
    assert unfinished and unstarted, err[-3000:]
    listed = {j.split(" ")[0].rstrip(",") for j in re.split(r", (?=\d)", unfinished[1] + ", " + unstarted[1])}
    assert listed == {j for j in uninterrupted if ran.get(j, {}).get("status") != "completed"}, err[-2000:]
    command = re.search(r"^  continue with: (.*)$", err, re.M)[1]
    assert command.startswith("python ") and f"resume={d}" in command

    # The printed command, pasted into bash (our interpreter in place of `python`).
    cont = subprocess.run(command.replace("python", sys.executable, 1), shell=True, executable="/bin/bash",
                          cwd=d.parent, capture_output=True, text=True, timeout=600, env=env_without_full_error())
    assert cont.returncode == 0, cont.stderr[-3000:]
    after = summary(d)
    assert set(after) == set(uninterrupted)
    for job, row in uninterrupted.items():
        assert {k: after[job][k] for k in SAME} == {k: row[k] for k in SAME}
        assert float(after[job]["final_loss"]) == pytest.approx(float(row["final_loss"]), rel=1e-6)
        assert len(losses(d / job)) == STEPS  # every step once in TensorBoard
    kept = [j for j, r in ran.items() if r["status"] == "completed"]
    assert all(f"#{int(j[0])} :" not in cont.stderr for j in kept)  # finished jobs were not run again


def test_a_jobs_printed_resume_line_works(tmp_path):
    """The job's own `resume with:` line pastes into bash as printed: no quoting needed in its name."""
    d = tmp_path / "sweep"
    code, out, err = interrupt(d)
    assert code == 130, err[-3000:]
    line = re.search(r"^  resume with: (python .*)$", err, re.M)[1]
    job = line.rsplit("resume=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9._+/-]+", job), job
    done = subprocess.run(line.replace("python", sys.executable, 1), shell=True, executable="/bin/bash",
                          cwd=d.parent, capture_output=True, text=True, timeout=300, env=env_without_full_error())
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(losses(job)) == STEPS
