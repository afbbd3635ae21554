"""Sweeps on a real Slurm: a one-node cluster on this machine (scripts/slurm_local.sh: munged,
mariadbd, slurmdbd, slurmctld, slurmd from Debian's packages), real submitit, real Hydra, real
event files.  Skipped, with the reason, where the cluster cannot run (not root, Slurm not installed:
`scripts/slurm_local.sh install`)."""
from __future__ import annotations

import csv
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from helpers import ROOT, env_without_full_error, losses, train

pytestmark = [pytest.mark.e2e, pytest.mark.slurm, pytest.mark.slow]

SCRIPT = ROOT / "scripts" / "slurm_local.sh"
REQUEUE_DELAY = 10  # scripts/slurm_local.sh: a requeued job waits this long before it may start again


def _free_ports(n: int) -> int:
    """The first of n consecutive free TCP ports on 127.0.0.1."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n > 65535:
            continue
        try:
            socks = []
            for port in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {n} consecutive free ports")


def cluster_processes(state_dir: str) -> list[str]:
    """Live processes the cluster in state_dir started: its daemons and watchdog carry its marker in
    their environment, its jobs its SLURM_CONF (as scripts/slurm_local.sh stop finds them)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
            status = (proc / "status").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if re.search(r"^State:\s+Z", status, re.M):
            continue  # exited, not yet reaped
        if (f"GRAPHDUEL_SLURM_CLUSTER={state_dir}".encode() in env
                or (f"SLURM_CONF={state_dir}/slurm.conf".encode() in env
                    and any(e.startswith(b"SLURM_JOB_ID=") for e in env))):
            found.append(f"{proc.name} {cmd.strip()}")
    return found


class Cluster:
    def __init__(self, state_dir: str, owner: int):
        self.dir = state_dir
        self.env = {**env_without_full_error(), "GRAPHDUEL_SLURM_DIR": state_dir,
                    "GRAPHDUEL_SLURM_PORT": str(_free_ports(4)), "SLURM_CONF": f"{state_dir}/slurm.conf"}
        self.owner = owner

    def script(self, *args, timeout=300):
        return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def start(self):
        out = self.script("start", "--no-install", "--owner", str(self.owner))
        if out.returncode == 3:  # Slurm cannot run here: not root, not installed, ...
            pytest.skip(out.stderr.strip() or out.stdout.strip())
        assert out.returncode == 0, out.stdout + out.stderr
        return out

    def stop(self):
        return self.script("stop")

    def slurm(self, *cmd) -> str:
        out = subprocess.run(list(cmd), capture_output=True, text=True, env=self.env, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def states(self, job_id: str) -> list[str]:
        """Every attempt's state of a job, as Slurm's accounting recorded them, oldest first, once the
        job has ended (a sweep ends when its jobs' results are written, a moment before Slurm's jobs do)."""
        deadline = time.monotonic() + 60
        while True:
            rows = self.slurm("sacct", "-D", "-X", "-n", "-P", "-j", job_id, "-o", "JobID,State").split()
            states = [row.split("|")[1] for row in rows if row.split("|")[0] == job_id]
            if states and states[-1] not in ("PENDING", "RUNNING", "COMPLETING", "REQUEUED"):
                return states
            assert time.monotonic() < deadline, f"job {job_id} did not end: {states}"
            time.sleep(0.5)

    def alloc_cpus(self, job_id: str) -> int:
        return int(self.slurm("sacct", "-X", "-n", "-P", "-j", job_id, "-o", "AllocCPUS").split()[-1])

    def sweep(self, sweep_dir: Path, *args, wait=True):
        cmd = [sys.executable, str(ROOT / "train.py"), "-m", "hydra/launcher=submitit_slurm", *args,
               "trainer.progress_bar=false", f"hydra.sweep.dir={sweep_dir}"]
        proc = subprocess.Popen(cmd, cwd=sweep_dir.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=self.env)
        if not wait:
            return proc
        stdout, stderr = proc.communicate(timeout=600)
        return stdout, stderr, proc.returncode


@pytest.fixture(scope="module")
def cluster():
    state_dir = tempfile.mkdtemp(prefix="graphduel-slurm-test-", dir="/tmp")  # munged: reachable by all
    c = Cluster(state_dir, owner=os.getpid())
    try:
        c.start()
        yield c
    finally:
        c.stop()
        subprocess.run(["rm", "-rf", state_dir])


def results(sweep_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in sweep_dir.glob("*/result.json")}


def job_of(run_dir: Path) -> dict:
    """The Slurm job that ran in run_dir, as the job recorded it (src/requeue.py)."""
    return json.loads((run_dir / "cluster_job.json").read_text())


# -- a sweep: every job a Slurm job, the CPUs Slurm gave it, a failing job listed -------------------
@pytest.fixture(scope="module")
def failing_sweep(cluster, tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm_sweep") / "sweep"
    d.parent.mkdir(exist_ok=True)
    t0 = time.monotonic()
    stdout, stderr, code = cluster.sweep(d, "hydra.launcher.cpus_per_task=1", "runtime=lightning,tf_session",
                                         "model.optimizer.lr=1e-6,10", "trainer.max_steps=30")
    print(f"the 4-job sweep on the local Slurm took {time.monotonic() - t0:.1f} s")
    return d, stdout, stderr, code


def test_every_job_runs_as_a_slurm_job(cluster, failing_sweep):
    d, stdout, stderr, code = failing_sweep
    runs = results(d)
    assert sorted(runs) == ["0_two_layer_lightning_lr-1e-06", "1_two_layer_lightning_lr-10",
                            "2_two_layer_tf_session_lr-1e-06", "3_two_layer_tf_session_lr-10"], stderr[-3000:]
    jobs = {name: job_of(d / name)["job_id"] for name in runs}
    array = jobs["0_two_layer_lightning_lr-1e-06"].split("_")[0]
    assert sorted(jobs.values()) == [f"{array}_{i}" for i in range(4)]  # one job array, a task per job
    for name, job_id in jobs.items():
        assert cluster.states(job_id) == ["COMPLETED"], name  # Slurm: the job ran to its end, once
        assert job_of(d / name)["attempt"] == 1
        assert (d / ".submitit" / job_id / f"{job_id}_0_log.out").exists()


def test_each_job_uses_the_cpus_slurm_gave_it(cluster, failing_sweep):
    d, stdout, stderr, code = failing_sweep
    runs = results(d)
    for name, r in runs.items():
        assert r["threads"] == cluster.alloc_cpus(job_of(d / name)["job_id"]) == 1, name
    if len(os.sched_getaffinity(0)) >= 2:  # two CPUs, one each: Slurm ran two jobs side by side
        spans = sorted((r["start_time"], r["end_time"]) for r in runs.values())
        assert any(b[0] < a[1] for a, b in itertools.pairwise(spans))


def test_a_failing_job_is_listed_and_the_others_complete(failing_sweep):
    d, stdout, stderr, code = failing_sweep
    assert code == 1, stderr[-3000:]  # a job did not complete: the sweep says so
    runs = results(d)
    lr = {name: OmegaConf.load(d / name / ".hydra" / "config.yaml").model.optimizer.lr for name in runs}
    assert sorted(lr.values()) == [1e-6, 1e-6, 10, 10]
    for name, r in runs.items():
        if lr[name] == 10:
            assert r["status"] == "diverged" and r["steps"] < 30 and "lower learning rate" in r["error"], name
        else:
            assert r["status"] == "completed" and r["steps"] == 30, name
    assert "2 of 4 jobs did not complete" in stderr
    assert "Traceback" not in stderr


def test_the_summary_is_written_and_right(failing_sweep):
    d, stdout, stderr, code = failing_sweep
    with open(d / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    runs = results(d)
    assert sorted(r["job"] for r in rows) == sorted(runs)
    for row in rows:
        r = runs[row["job"]]
        for key in ("model", "runtime", "framework", "graph", "accelerator", "status", "steps"):
            assert row[key] == str(r[key])
        assert float(row["final_loss"]) == pytest.approx(r["final_loss"])
        assert row["job"] in stdout and row["status"] in stdout  # the printed table
    assert sum(line.startswith("|") for line in (d / "summary.md").read_text().splitlines()) == 2 + 4  # the table
    assert (d / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- preemption: warned by Slurm, checkpointed, requeued, continued -------------------------------
STEPS = 6000


def _wait_for_checkpoints(run_dirs, proc, at_least=500, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        steps = []
        for d in run_dirs:
            try:
                with np.load(d / "checkpoint.npz") as f:
                    steps.append(int(f["step"]))
            except (OSError, ValueError, KeyError, EOFError):
                steps.append(0)
        if all(s >= at_least for s in steps):
            assert all(s < STEPS for s in steps), "a job finished before it could be preempted"
            return
        time.sleep(0.2)
    pytest.fail(f"no checkpoint at step {at_least} in {run_dirs} within {timeout} s")


@pytest.fixture(scope="module")
def preempted_sweep(cluster, tmp_path_factory):
    """Two jobs, each stopped mid-training the two ways Slurm stops a job that it will run again:
    job 0 gets submitit's warning signal (USR2, as Slurm sends it before the time limit, or on
    preemption): it checkpoints and submitit requeues it; job 1 is requeued by Slurm itself
    (`scontrol requeue`, SIGTERM): it checkpoints and exits.  No cpus_per_task: Slurm's default."""
    d = tmp_path_factory.mktemp("slurm_preempted") / "sweep"
    d.parent.mkdir(exist_ok=True)
    t0 = time.monotonic()
    proc = cluster.sweep(d, "model=dynamic", "runtime=lightning,tf_session", f"trainer.max_steps={STEPS}",
                         "trainer.checkpoint_every_n_steps=500", wait=False)
    runs = [d / "0_dynamic_lightning", d / "1_dynamic_tf_session"]
    _wait_for_checkpoints(runs, proc)
    jobs = [job_of(r)["job_id"] for r in runs]
    signalled_at = time.time()
    cluster.slurm("scancel", "--signal=USR2", jobs[0])
    cluster.slurm("scontrol", "requeue", jobs[1])
    stdout, stderr = proc.communicate(timeout=600)
    print(f"the preempted sweep on the local Slurm took {time.monotonic() - t0:.1f} s")
    return d, runs, jobs, signalled_at, stdout, stderr, proc.returncode


def test_preempted_jobs_are_requeued_and_complete(cluster, preempted_sweep):
    d, runs, jobs, signalled_at, stdout, stderr, code = preempted_sweep
    assert code == 0, stderr[-3000:]
    for run, job_id in zip(runs, jobs):
        assert cluster.states(job_id) == ["REQUEUED", "COMPLETED"], run.name  # two attempts, one job
        assert job_of(run) == {"job_id": job_id, "attempt": 2}
        r = json.loads((run / "result.json").read_text())
        assert r["status"] == "completed" and r["steps"] == STEPS and r["checkpoint_step"] == STEPS
    with open(d / "summary.csv") as f:
        assert [row["status"] for row in csv.DictReader(f)] == ["completed", "completed"]


def _interrupted_at(d: Path, job_id: str, signame: str) -> int:
    log = (d / ".submitit" / job_id / f"{job_id}_0_log.err").read_text()
    m = re.search(rf"graphduel: interrupted by {signame} after step (\d+)", log)
    assert m, log[-3000:]
    assert re.search(rf"graphduel: job {job_id}, attempt 2: continuing from the checkpoint in {d}/", log)
    return int(m.group(1))


@pytest.mark.parametrize("job, signame", [(0, "SIGUSR2"), (1, "SIGTERM")])
def test_a_requeued_job_continues_from_its_checkpoint(preempted_sweep, job, signame):
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator

    d, runs, jobs, signalled_at, stdout, stderr, code = preempted_sweep
    run = runs[job]
    k = _interrupted_at(d, jobs[job], signame)
    with np.load(run / "checkpoint.npz") as f:
        assert int(f["step"]) == STEPS
    acc = EventAccumulator(str(run), size_guidance={"tensors": 0})
    acc.Reload()
    points = acc.Tensors("train/loss")  # a float64 scalar tensor, as TensorBoard's scalars plugin reads it
    assert [p.step for p in points] == list(range(1, STEPS + 1))  # each step once
    # Steps 1..k were logged by the first attempt, before the signal; k+1.. by the requeued one, which
    # Slurm held back at least REQUEUE_DELAY seconds: it went on from step k, not from the start.
    assert all(p.wall_time < signalled_at + 5 for p in points[:k])
    assert all(p.wall_time > signalled_at + REQUEUE_DELAY for p in points[k:])
    assert 0 < k < STEPS


@pytest.mark.parametrize("job, runtime", [(0, "lightning"), (1, "tf_session")])
def test_a_resumed_job_has_an_uninterrupted_runs_losses(preempted_sweep, tmp_path, job, runtime):
    d, runs, jobs, signalled_at, stdout, stderr, code = preempted_sweep
    r = json.loads((runs[job] / "result.json").read_text())
    straight = tmp_path / "straight"
    train(straight, "model=dynamic", f"runtime={runtime}", f"trainer.max_steps={STEPS}",
          f"trainer.num_threads={r['threads']}")
    resumed, expected = np.array(losses(runs[job])), np.array(losses(straight))
    gap = np.max(np.abs(resumed - expected) / np.abs(expected))
    print(f"{runtime}: max relative gap to an uninterrupted run over {STEPS} steps: {gap:.3g}")
    np.testing.assert_allclose(resumed, expected, rtol=1e-6)


def test_a_job_without_cpus_per_task_uses_the_one_cpu_slurm_gave_it(cluster, preempted_sweep):
    d, runs, jobs, signalled_at, stdout, stderr, code = preempted_sweep
    for run, job_id in zip(runs, jobs):
        threads = json.loads((run / "result.json").read_text())["threads"]
        assert threads == cluster.alloc_cpus(job_id) == 1  # bound to 1 CPU, it saw 1, not the machine's


# -- nothing it starts outlives what started it ------------------------------------------------------
def test_jobs_slurm_kills_end_the_sweep_in_one_line_and_a_summary(cluster, tmp_path):
    """scancel without a signal to checkpoint on: the jobs return nothing.  The sweep says so in one line,
    summarises what the jobs wrote, and exits 1, without submitit's traceback."""
    d = tmp_path / "sweep"
    d.parent.mkdir(exist_ok=True)
    proc = cluster.sweep(d, "hydra.launcher.cpus_per_task=1", "model=dynamic", "runtime=lightning,tf_session",
                         "trainer.max_steps=1000000", "trainer.checkpoint_every_n_steps=100", wait=False)
    runs = [d / "0_dynamic_lightning", d / "1_dynamic_tf_session"]
    _wait_for_checkpoints(runs, proc, at_least=100)
    cluster.slurm("scancel", "--full", job_of(runs[0])["job_id"].split("_")[0])  # the whole job array
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr[-3000:]
    (line,) = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert "did not return" in line and f"python -m src.summary {d}" in line
    assert "graphduel sweep summary: 2 jobs" in stdout and (d / "summary.csv").exists()


def test_the_cluster_stops_when_the_process_that_started_it_exits():
    state_dir = tempfile.mkdtemp(prefix="graphduel-slurm-owner-", dir="/tmp")
    owner = subprocess.Popen(["sleep", "600"])
    c = Cluster(state_dir, owner=owner.pid)
    try:
        c.start()
        assert len(cluster_processes(state_dir)) >= 6  # munged, mariadbd, slurmdbd, slurmctld, slurmd, watchdog
        assert c.slurm("sinfo", "-h", "-o", "%t").split() == ["idle"]
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 60
        while cluster_processes(state_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert cluster_processes(state_dir) == []
        assert "is gone: stopping it" in Path(state_dir, "log", "watch.log").read_text()
    finally:
        owner.kill()
        c.stop()
        subprocess.run(["rm", "-rf", state_dir])


def test_stop_leaves_no_process_behind(cluster):
    """Last in this module: a job still running when the cluster stops is ended with it."""
    out = subprocess.run(["sbatch", "--wrap", "sleep 600", "-o", "/dev/null"], capture_output=True, text=True,
                         env=cluster.env)
    assert out.returncode == 0, out.stderr
    job_id = out.stdout.split()[-1]
    deadline = time.monotonic() + 60
    while not any("sleep 600" in p for p in cluster_processes(cluster.dir)):
        assert time.monotonic() < deadline, f"job {job_id} did not start"
        time.sleep(0.2)
    out = cluster.stop()
    assert out.returncode == 0 and "is stopped" in out.stdout, out.stderr
    assert cluster_processes(cluster.dir) == []
    assert cluster.stop().returncode == 0  # twice is harmless
