"""Each model's FLOPs per step (spec.flops) against XLA's own count of the jax_jit step.

Two counts of the same step, jitted by JAX at one step's inputs (the Python loops unrolled: the as-run
jax_jit step's lax.fori_loop is a while loop, whose body XLA's cost_analysis counts once, whatever the
trip count):
- the matrix products JAX hands XLA (StableHLO dot_general, 2 x output elements x contracted size):
  exactly the spec's formula, product by product;
- XLA's cost_analysis() of the compiled step: every op, the elementwise ones too (activations, the loss,
  masks, the SGD update).  The spec counts matrix products only, so XLA's count is above it by that
  elementwise work: 0.4-2% for two_layer and dynamic, 3-14% for the rnn (hidden 32, d_in 8: its matrix
  products are small, so the elementwise share is larger).
"""
from __future__ import annotations

import numpy as np
import pytest

from src import models

pytestmark = pytest.mark.unit

# XLA's count / the spec's, at most: the elementwise work the spec leaves out (measured here: two_layer
# 1.004-1.010, dynamic 1.008-1.019, rnn 1.03-1.14).
XLA_ABOVE = {"two_layer": 1.03, "dynamic": 1.05, "rnn": 1.16}


def _cfg(model: str, **sizes):
    cfg = models.spec(model).Config()
    for k, v in sizes.items():
        setattr(cfg, k, v)
    return cfg


def test_two_layer_at_the_seeds_sizes_is_26_mflop():
    # forward 64x1000x100 + 64x100x10; backward the two weight gradients and the one to h
    assert models.spec("two_layer").flops(_cfg("two_layer"), 64, {}) == 2 * (12_800_000 + 128_000) + 128_000
    assert round(models.spec("two_layer").flops(_cfg("two_layer"), 64, {}) / 1e6, 1) == 26.0


def test_dynamic_grows_by_three_middle_products_per_depth():
    spec, cfg = models.spec("dynamic"), _cfg("dynamic")
    f = spec.flops(cfg, 64, {"depth": np.array([0, 1, 2, 3])})
    assert np.all(np.diff(f) == 3 * 2 * 64 * 100 * 100)  # forward, its weight gradient, the gradient to h
    assert f[0] == models.spec("two_layer").flops(_cfg("two_layer"), 64, {})  # depth 0: two_layer's products


def test_rnn_is_linear_in_the_batchs_longest_length():
    spec, cfg = models.spec("rnn"), _cfg("rnn")
    f = spec.flops(cfg, 64, {"longest": np.array([1, 2, 20])})
    per_t = 2 * 64 * (8 * 32 + 32 * 32) + 2 * 64 * (8 * 32 + 32 * 32) + 2 * 64 * 32 * 32
    assert f[1] - f[0] == per_t and f[2] - f[1] == 18 * per_t


# -- the floor: the peak file, and what a run reports ------------------------------------------------------
def test_report_takes_the_median_over_steady_steps_only():
    from src.flops import report

    flops = np.array([1e9, 1e9, 2e9, 1e9, 1e9])
    ms = [100.0, 1.0, 4.0, 2.0, 1.0]  # step 1 built a graph: not steady
    r = report(flops, ms, [False, True, True, True, True], peak_gflops=1000.0, floor_of="x")
    assert r["flops_per_step"] == 1e9
    assert r["gflops_per_s"] == np.median([1000, 500, 500, 1000])  # GFLOP/s of each steady step
    assert r["x_floor"] == np.median([1.0, 2.0, 2.0, 1.0]) and r["floor_ms"] == 1.0
    blank = report(flops, ms, [True] * 5, peak_gflops=None, floor_of="no peak measured")
    assert blank["x_floor"] is None and blank["floor_ms"] is None and blank["gflops_per_s"] is not None


def _peak_file(path, gflops: float, machine: dict | None = None):
    import json

    from src.environment import describe

    path.write_text(json.dumps({"machine": machine or describe(), "measured_at": "2026-12-02T00:00:00",
                                "frameworks": {"jax": {"gflops": gflops}}}))
    return str(path)


def test_a_peak_file_from_another_machine_is_not_used(tmp_path):
    from src.environment import describe
    from src.flops import load_peak

    assert load_peak(_peak_file(tmp_path / "p.json", 400.0), "jax")[0] == 400.0
    other = {**describe(), "cpu": "some other CPU"}
    rate, why = load_peak(_peak_file(tmp_path / "q.json", 400.0, other), "jax")
    assert rate is None and "another machine" in why
    assert load_peak(str(tmp_path / "none.json"), "jax")[0] is None
    assert load_peak(_peak_file(tmp_path / "p.json", 400.0), "torch")[0] is None
