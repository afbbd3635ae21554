"""The benchmark as users run it (small sizes, few steps): real processes, real runtimes."""
import json
import statistics
import subprocess
import sys

import pytest

from helpers import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def bench(tmp_path, *args, env=None):
    out = subprocess.run([sys.executable, str(ROOT / "bench.py"), "--warmup", "3", "--repeats", "5", "--steps", "4",
                          "--threads", "1", "--out", str(tmp_path), *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200, env=env)
    return out


def test_bench_measures_every_runtime_against_its_plain_loop(tmp_path):
    out = bench(tmp_path, "--models", "two_layer", "--runners", "torch_loop,lightning,tf_loop,tf_session,tf_function",
                "--rounds", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "bench.json").read_text())
    env = results["environment"]
    # The versions the run saw, as installed: the pins of requirements.txt (torch's local tag, +cpu, aside).
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert {"torch", "tensorflow", "numpy"} <= set(env["packages"])
    for package, version in env["packages"].items():
        assert version.split("+")[0] == pins.get(package, version.split("+")[0]), package
    assert env["cores"] >= 1 and env["cpu"] and "thread_env" in env
    rows = {r["runner"]: r for r in results["rows"]}
    assert set(rows) == {"torch_loop", "lightning", "tf_loop", "tf_session", "tf_function"}
    for runner, r in rows.items():
        assert r["ms_per_step"] > 0 and len(r["blocks_ms"]) == 2 * 5 and r["peak_rss_mb"] > 50, runner
        # The median and interquartile range of the blocks of both rounds, pooled; noisy past 10% of it.
        q1, _, q3 = statistics.quantiles(r["blocks_ms"], n=4, method="inclusive")
        assert r["ms_per_step"] == pytest.approx(statistics.median(r["blocks_ms"]))
        assert r["iqr_ms"] == pytest.approx(q3 - q1) and r["noisy"] == (q3 - q1 > 0.1 * r["ms_per_step"])
        assert len(r["rounds_ms"]) == 2 and r["threads"] == 1
        assert r["final_loss"] < 2.99e7  # it trained: below the seed's first loss
    assert rows["torch_loop"]["ratio_to_plain"] == 1.0 and rows["tf_loop"]["ratio_to_plain"] == 1.0
    # Side by side: the ratio's spread, round by round, holds the ratio of the medians... or near it.
    low, high = rows["lightning"]["ratio_range"]
    per_round = [a / b for a, b in zip(rows["lightning"]["rounds_ms"], rows["torch_loop"]["rounds_ms"])]
    assert (low, high) == (min(per_round), max(per_round))
    assert rows["lightning"]["ratio_to_plain"] == pytest.approx(
        rows["lightning"]["ms_per_step"] / rows["torch_loop"]["ms_per_step"])
    assert rows["tf_session"]["ratio_to_plain"] == pytest.approx(
        rows["tf_session"]["ms_per_step"] / rows["tf_loop"]["ms_per_step"])
    assert rows["tf_function"]["ratio_to_plain"] == pytest.approx(
        rows["tf_function"]["ms_per_step"] / rows["tf_loop"]["ms_per_step"])
    for runner in ("lightning", "tf_session", "tf_function"):
        # What the run logged accounts for the wall time the bench measured around it.
        assert abs(rows[runner]["logged_vs_measured"]) < 0.5, rows[runner]
    table = (tmp_path / "bench.md").read_text()
    assert "| two_layer | 100 | 64 | 1 | tf_session | tensorflow | static |" in table and table in out.stdout + "\n"


def test_bench_sets_jax_jit_against_the_plain_jax_loop(tmp_path):
    out = bench(tmp_path, "--models", "dynamic", "--runners", "jax_loop,jax_jit")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["runner"]: r for r in json.loads((tmp_path / "bench.json").read_text())["rows"]}
    assert rows["jax_loop"]["ratio_to_plain"] == 1.0
    assert rows["jax_jit"]["ratio_to_plain"] == pytest.approx(
        rows["jax_jit"]["ms_per_step"] / rows["jax_loop"]["ms_per_step"])
    # The same 23 steps from the same start, op by op or compiled: the same loss, up to float32 rounding.
    assert rows["jax_jit"]["final_loss"] == pytest.approx(rows["jax_loop"]["final_loss"], rel=1e-4)
    assert "| dynamic | 100 | 64 | 1 | jax_jit | jax | static |" in (tmp_path / "bench.md").read_text()


def test_scaling_mode_writes_a_plot_and_a_table(tmp_path):
    import os

    home = tmp_path / "home"  # no peak file there (~/.cache/graphduel/peak.json): the ladder says so first
    out = bench(tmp_path, "--scaling", "--sizes", "16x8,64x32", "--models", "two_layer",
                "--runners", "torch_loop,lightning,tf_loop,tf_session", "--rounds", "1",
                env={**os.environ, "HOME": str(home)})
    assert out.returncode == 0, out.stderr[-2000:]
    warning = [line for line in out.stderr.splitlines() if "run `python bench.py --peak` first" in line]
    assert len(warning) == 1 and "no peak measured" in warning[0] and str(home) in warning[0]
    assert out.stderr.index(warning[0]) < out.stderr.index("%|")  # before the progress bar, not after the ladder
    rows = json.loads((tmp_path / "scaling.json").read_text())["rows"]
    assert {(r["hidden"], r["batch"]) for r in rows} == {(16, 8), (64, 32)} and len(rows) == 8
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_are_one_line(tmp_path):
    out = bench(tmp_path, "--runners", "jax")
    assert out.returncode == 2 and "unknown jax" in out.stderr and "Traceback" not in out.stderr


def test_thread_study_runs_every_runner_at_one_thread_and_all_cores(tmp_path):
    from src.config import cpu_threads

    out = bench(tmp_path, "--thread-study", "--models", "two_layer", "--runners", "torch_loop,tf_session",
                "--rounds", "1")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "threads.json").read_text())["rows"]
    assert {(r["runner"], r["threads"]) for r in rows} == {
        (runner, t) for runner in ("torch_loop", "tf_session") for t in {1, cpu_threads()}}
    assert "| two_layer | tf_session | static |" in (tmp_path / "threads.md").read_text()


def test_own_cost_measures_the_recorder_and_lightning_against_its_floor(tmp_path):
    from tools import recorder_cost

    result = recorder_cost.measure(steps=300, blocks=4)
    assert set(result) == set(recorder_cost.WAYS)
    for way, r in result.items():
        assert len(r["blocks_us"]) == 4 and 0 < r["us"] < 10_000, way  # microseconds per Recorder.step()
    out = subprocess.run([sys.executable, "-m", "tools.lightning_overhead", "--steps", "20", "--warmup", "5",
                          "--rounds", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    ways = json.loads(out.stdout.strip().splitlines()[-1])
    from tools.lightning_overhead import FLOOR, RUNTIME, WAYS

    assert set(WAYS) <= set(ways) and ways[FLOOR]["ratio"] == 1.0
    for way in WAYS:
        r = ways[way]
        per_round = [a / b for a, b in zip(r["rounds_ms"], ways[FLOOR]["rounds_ms"])]
        assert len(r["rounds_ms"]) == 2 and r["ratio"] == pytest.approx(statistics.median(per_round)), way
    assert ways[RUNTIME]["ms"] > 0


def test_jax_overhead_sets_each_piece_against_the_bare_jitted_step():
    out = subprocess.run([sys.executable, "-m", "tools.jax_overhead", "--steps", "100", "--warmup", "100",
                          "--rounds", "2", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    ways = json.loads(out.stdout.strip().splitlines()[-1])
    from tools.jax_overhead import CONTEXT, FLOOR, RUNTIME, WAYS

    assert set(ways) == {*WAYS, *CONTEXT} and ways[FLOOR]["ratio"] == 1.0
    for way, r in ways.items():
        per_round = [a / b for a, b in zip(r["rounds_ms"], ways[FLOOR]["rounds_ms"])]
        assert len(r["rounds_ms"]) == 2 and r["ratio"] == pytest.approx(statistics.median(per_round)), way
        assert 0 < r["ms"] < 1000, way  # per step, from the runtime's own event file for the as-run ways
    assert ways[RUNTIME]["ms"] > 0


def test_xla_idle_times_each_pause_and_the_runtime_in_a_process_per_thread_count():
    from src.config import cpu_threads
    from tools import xla_idle

    out = subprocess.run([sys.executable, "-m", "tools.xla_idle", "--steps", "50", "--warmup", "50", "--rounds", "2",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result) == {str(cpu_threads()), "1"}  # every core, and one thread: a pool size per process
    for per in result.values():
        assert set(per) == {*map(str, xla_idle.GAPS_US), "runtime"}
        for gap, r in per.items():
            assert 0 < r["range_us"][0] <= r["us"] <= r["range_us"][1] < 1e6, gap
        # a step with the host busy 100 us after it cannot take less than those 100 us
        assert per["100"]["range_us"][0] >= 100
    table = xla_idle.table(result)
    assert table.count("\n") == 1 + len(xla_idle.GAPS_US) + 1 and "jax_jit runtime, as run" in table


def test_a_block_disturbed_by_other_work_is_re_measured_and_the_row_says_so(tmp_path):
    import os

    hog = "import time\nend = time.time() + 200\nwhile time.time() < end: pass"  # bounded, and killed below
    hogs = [subprocess.Popen([sys.executable, "-c", hog], start_new_session=True)
            for _ in range(len(os.sched_getaffinity(0)))]
    try:
        out = bench(tmp_path, "--models", "two_layer", "--runners", "torch_loop,jax_jit", "--rounds", "1",
                    "--remeasure", "1", "--steps", "100")  # blocks long enough for the scheduler to show
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["runner"]: r for r in json.loads((tmp_path / "bench.json").read_text())["rows"]}
    table = (tmp_path / "bench.md").read_text()
    for runner, r in rows.items():  # a plain loop's blocks are checked like a runtime's
        # Its first measurement was disturbed, so it was measured again; the one kept is the less disturbed,
        # and its row says how many of its blocks stayed so, and why.
        assert len(r["blocks_contended"]) == 5 and r["remeasured"] == 1, runner
        assert r["contended_blocks"] == sum(r["blocks_contended"])
        line = next(x for x in table.splitlines() if f"| {runner} |" in x)
        if r["contended_blocks"]:
            assert "its threads waited for a CPU" in r["contended_reason"], runner
            assert line.endswith(f"| {r['contended_blocks']} of 5 blocks, still after re-measuring 1x: "
                                 f"{r['contended_reason']} |"), line
        else:
            assert line.endswith("|  |"), line
