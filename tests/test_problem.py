"""The framework-neutral start: seeded, the seeds' distributions, and a stable depth sequence."""
import numpy as np
import pytest

from helpers import compose_cfg
from src.problem import make_problem

pytestmark = pytest.mark.unit


def test_same_seed_same_numbers_other_seed_other_numbers():
    a, b = make_problem(compose_cfg()), make_problem(compose_cfg())
    c = make_problem(compose_cfg("seed=1"))
    for k in a.weights:
        np.testing.assert_array_equal(a.weights[k], b.weights[k])
    np.testing.assert_array_equal(a.data["x"], b.data["x"])
    assert not np.array_equal(a.data["x"], c.data["x"]) and not np.array_equal(a.weights["w1"], c.weights["w1"])


def test_two_layer_start_is_the_seeds():
    p = make_problem(compose_cfg())
    x, y = p.data["x"], p.data["y"]
    assert x.shape == (64, 1000) and y.shape == (64, 10) and x.dtype == np.float32
    assert p.weights["w1"].shape == (1000, 100) and p.weights["w2"].shape == (100, 10)
    for a in (x, y, p.weights["w1"]):  # N(0, 1)
        assert abs(a.mean()) < 0.05 and abs(a.std() - 1) < 0.05


def test_dynamic_start_is_torch_linear_default():
    p = make_problem(compose_cfg("model=dynamic"))
    shapes = {k: v.shape for k, v in p.weights.items()}
    assert shapes == {"input.weight": (100, 1000), "input.bias": (100,), "middle.weight": (100, 100),
                      "middle.bias": (100,), "output.weight": (10, 100), "output.bias": (10,)}
    for layer, fan_in in (("input", 1000), ("middle", 100), ("output", 100)):
        w = p.weights[f"{layer}.weight"]
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound  # uniform(-b, b)


def test_depth_sequence_is_seeded_stable_and_covers_every_depth():
    p = make_problem(compose_cfg("model=dynamic"))
    seq = p.input_columns(0, 500)["depth"]
    assert set(seq.tolist()) == {0, 1, 2, 3}
    counts = np.bincount(seq)
    assert counts.min() > 90  # about uniform: 125 each
    np.testing.assert_array_equal(p.input_columns(0, 1000)["depth"][:500], seq)  # a longer run sees the same prefix
    np.testing.assert_array_equal(p.input_columns(200, 500)["depth"], seq[200:])  # a resumed run, the same suffix
    other = make_problem(compose_cfg("model=dynamic", "seed=1")).input_columns(0, 500)["depth"]
    assert not np.array_equal(other, seq)
    fixed = make_problem(compose_cfg("model=dynamic", "model.depth=2")).input_columns(0, 10)["depth"]
    assert fixed.tolist() == [2] * 10
