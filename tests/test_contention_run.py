"""A real run's contention record: every field in result.json, the HParams metric, and a run beside a busy
loop on every core marked contended with its reason, in its result.json and its console summary."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from helpers import ROOT, scalars, train

from src import contention

pytestmark = pytest.mark.e2e

RUNTIME = "jax_jit"  # the cheapest to import and to step
FIELDS = {"window_s", "steps", "threads", "cores_usable", "os_threads", "cpu_per_wall", "wait_per_wall",
          "wait_per_turn_ms",
          "machine_busy_cores", "others_cores", "others_share", "steal_share", "throttled_share", "load_start",
          "load_end", "involuntary_switches_per_step", "oversubscribed"}


def test_a_runs_record_has_every_figure_and_the_verdict(tmp_path):
    result = train(tmp_path, f"runtime={RUNTIME}", "trainer.max_steps=300")
    on_disk = json.loads((tmp_path / "result.json").read_text())
    f = on_disk["contention"]
    assert set(f) == FIELDS
    assert f["steps"] == 299 and f["threads"] == result["threads"] and f["cores_usable"] == len(os.sched_getaffinity(0))
    # Linux reports all of them (the cgroup quota only where there is a cpu controller file).
    assert all(f[k] is not None for k in FIELDS - {"throttled_share"}), f
    assert f["cpu_per_wall"] > 0 and f["window_s"] > 0
    assert isinstance(on_disk["contended"], bool) and on_disk["contended_reason"]
    assert (on_disk["contended"], on_disk["contended_reason"]) == contention.classify(f)
    # The HParams tab's metric: 1 or 0 at the run's last step.
    assert scalars(tmp_path)["trial/contended"] == [(300, float(on_disk["contended"]))]


def test_a_run_beside_a_busy_loop_on_every_core_is_marked_contended(tmp_path):
    cores = len(os.sched_getaffinity(0))
    hog = "import time\nend = time.time() + 120\nwhile time.time() < end: pass"  # bounded, and killed below
    hogs = [subprocess.Popen([sys.executable, "-c", hog], start_new_session=True) for _ in range(cores)]
    try:
        # Its threads one per core, as many as the busy loops (by default it would take fewer: the cores the
        # loops left free, tested apart), over a window of ~0.5 s.
        out = subprocess.run([sys.executable, "train.py", f"runtime={RUNTIME}", "trainer.max_steps=1000",
                              f"trainer.num_threads={cores}", "trainer.progress_bar=false",
                              f"hydra.run.dir={tmp_path}"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["contended"] is True, json.dumps(result["contention"])
    assert "its threads waited for a CPU" in result["contended_reason"]
    assert result["contention"]["wait_per_wall"] > contention.WAIT
    line = [x for x in out.stdout.splitlines() if x.startswith("  contended   ")]
    assert line == [(f"  contended   {result['contended_reason']}: not the runtime's own timing "
                     "(docs/benchmark.md#contention)")]


def test_more_threads_than_the_cores_a_run_may_use_is_said_in_one_line(tmp_path):
    cores = len(os.sched_getaffinity(0))
    result = train(tmp_path, f"runtime={RUNTIME}", "trainer.max_steps=5", f"trainer.num_threads={cores + 1}")
    assert result["threads"] == cores + 1  # asked for: honoured, and said
    assert [w for w in result["warnings"] if "trainer.num_threads" in w] == [
        f"trainer.num_threads={cores + 1} is more than the {cores} core{'s' * (cores > 1)} this job may use: its "
        f"threads will wait for each other's cores, so its timing is not the runtime's own; null uses {cores}"]


@pytest.mark.parametrize("launcher, share", [
    (["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], lambda cores: max(1, cores // 2)),
    (["hydra/launcher=submitit_local"], lambda cores: 1),
    (["hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=64"], lambda cores: 1)])
def test_a_job_run_side_by_side_never_takes_more_threads_than_its_share(launcher, share):
    """Under Hydra's real config for the launcher: the job's threads, and the line said when asked for more."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from src.config import CONF_DIR, register_configs
    from src.run import resolve_threads, thread_warning

    cores = len(os.sched_getaffinity(0))
    register_configs()
    try:
        for asked in (None, cores + 1):
            overrides = [*launcher, *([f"trainer.num_threads={asked}"] if asked else [])]
            with initialize_config_dir(CONF_DIR, version_base="1.3"):
                cfg = compose("config", overrides=overrides, return_hydra_config=True)
            HydraConfig.instance().set_config(cfg)
            threads, warning = resolve_threads(cfg), thread_warning(cfg)
            if asked is None:
                assert threads == share(cores)
                reserved = "cpus_per_task=64" in launcher[-1]
                assert (warning is not None) == reserved, warning
                if reserved:
                    assert warning.startswith(f"hydra.launcher.cpus_per_task=64 is more than the {share(cores)} core")
            else:
                assert threads == share(cores)  # side by side: never more than its share, and said
                assert warning.startswith(f"trainer.num_threads={asked} is more than the {share(cores)} core")
                assert warning.endswith(f"it uses {share(cores)} (more would wait for each other's cores)")
    finally:
        HydraConfig.instance().cfg = None
