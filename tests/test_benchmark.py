"""The benchmark as users run it (small sizes, few steps): real processes, real runtimes."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow


def bench(tmp_path, *args):
    out = subprocess.run([sys.executable, str(ROOT / "bench.py"), "--warmup", "3", "--repeats", "5", "--steps", "4",
                          "--threads", "1", "--out", str(tmp_path), *args], cwd=ROOT, capture_output=True, text=True,
                         timeout=1200)
    return out


def test_bench_measures_every_runtime_against_its_plain_loop(tmp_path):
    out = bench(tmp_path, "--models", "two_layer", "--runners", "torch_loop,lightning,tf_loop,tf_session,tf_function",
                "--rounds", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["runner"]: r for r in json.loads((tmp_path / "bench.json").read_text())}
    assert set(rows) == {"torch_loop", "lightning", "tf_loop", "tf_session", "tf_function"}
    for runner, r in rows.items():
        assert r["ms_per_step"] > 0 and len(r["blocks_ms"]) == 5 and r["peak_rss_mb"] > 50, runner
        assert len(r["rounds_ms"]) == 2 and r["ms_per_step"] in r["rounds_ms"]  # the median round
        assert r["final_loss"] < 3.39e7  # it trained: below the seed's first loss
    assert rows["torch_loop"]["ratio_to_plain"] == 1.0 and rows["tf_loop"]["ratio_to_plain"] == 1.0
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
    assert "| two_layer | 100 | 64 | tf_session | tensorflow | static |" in table and table in out.stdout + "\n"


def test_bench_sets_jax_jit_against_the_plain_jax_loop(tmp_path):
    out = bench(tmp_path, "--models", "dynamic", "--runners", "jax_loop,jax_jit")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = {r["runner"]: r for r in json.loads((tmp_path / "bench.json").read_text())}
    assert rows["jax_loop"]["ratio_to_plain"] == 1.0
    assert rows["jax_jit"]["ratio_to_plain"] == pytest.approx(
        rows["jax_jit"]["ms_per_step"] / rows["jax_loop"]["ms_per_step"])
    # The same 23 steps from the same start, op by op or compiled: the same loss, up to float32 rounding.
    assert rows["jax_jit"]["final_loss"] == pytest.approx(rows["jax_loop"]["final_loss"], rel=1e-4)
    assert "| dynamic | 100 | 64 | jax_jit | jax | static |" in (tmp_path / "bench.md").read_text()


def test_scaling_mode_writes_a_plot_and_a_table(tmp_path):
    out = bench(tmp_path, "--scaling", "--sizes", "16x8,64x32", "--models", "two_layer",
                "--runners", "torch_loop,lightning,tf_loop,tf_session")
    assert out.returncode == 0, out.stderr[-2000:]
    rows = json.loads((tmp_path / "scaling.json").read_text())
    assert {(r["hidden"], r["batch"]) for r in rows} == {(16, 8), (64, 32)} and len(rows) == 8
    assert (tmp_path / "scaling.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_are_one_line(tmp_path):
    out = bench(tmp_path, "--runners", "jax")
    assert out.returncode == 2 and "unknown jax" in out.stderr and "Traceback" not in out.stderr


def test_lightning_overhead_breakdown_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "src.reference.lightning_overhead", "--steps", "30", "--warmup", "5",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    ms = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(ms) == 5 and all(v > 0 for v in ms.values())
    # Lightning's loop with nothing in it costs less than with the step in it.
    assert ms["Lightning, empty training_step"] < ms["Lightning, manual-optimization API"]
