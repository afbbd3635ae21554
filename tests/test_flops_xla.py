"""Each model's FLOPs per step (spec.flops) against XLA's own count of the jax_jit step, and what a run
reports from them (tests/test_flops.py has the formulas and their reasons, framework-free)."""
from __future__ import annotations

import importlib
import re

import numpy as np
import pytest

from tests.test_flops import XLA_ABOVE, _peak_file

pytestmark = pytest.mark.contract


def _stablehlo_dot_flops(text: str) -> int:
    """2 x output elements x contracted size, for every dot_general in a StableHLO module."""
    total = 0
    pattern = re.compile(r"stablehlo\.dot_general .*contracting_dims = \[([\d, ]*)\] x .*: \(tensor<([\dx]+)x\w+>, "
                         r"tensor<[\dx]+x\w+>\) -> tensor<([\dx]*)x?\w+>")
    for line in text.splitlines():
        if "stablehlo.dot_general" not in line:
            continue
        m = pattern.search(line)
        assert m, line
        lhs = [int(v) for v in m.group(2).split("x")]
        contracted = np.prod([lhs[int(i)] for i in m.group(1).split(",")])
        out = np.prod([int(v) for v in m.group(3).split("x") if v]) if m.group(3) else 1
        total += 2 * int(out) * int(contracted)
    return total


CASES = [("two_layer", [], {}), ("two_layer", ["model.hidden=300", "data.batch_size=256"], {}),
         ("dynamic", [], {"depth": 0}), ("dynamic", [], {"depth": 3}),
         ("dynamic", ["model.hidden=256", "data.batch_size=128"], {"depth": 2}),
         ("rnn", [], {"batch": 3, "longest": 1}), ("rnn", [], {"batch": 5, "longest": 20}),
         ("rnn", ["model.hidden=128", "data.batch_size=32"], {"batch": 0, "longest": 7})]


@pytest.mark.parametrize("model,overrides,inputs", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_spec_flops_against_xlas_count(model, overrides, inputs):
    from src.config import compose_config
    from src.frameworks import jax as jaxw
    from src.frameworks.jax import jax
    from src.problem import make_problem

    cfg = compose_config(f"model={model}", *overrides)
    problem = make_problem(cfg)
    net = importlib.import_module(f"src.models.{model}.jax")
    dev = jaxw.device("cpu")
    params, data = jaxw.arrays(problem.weights, dev), jaxw.arrays(problem.data, dev)
    buffers = jaxw.momentum_buffers(problem, dev)

    def train_step(params, buffers, data):  # jax_jit's step at these inputs, as Python ints: loops unrolled
        loss, grads = jax.value_and_grad(net.loss)(params, data, inputs, problem)
        return (*jaxw.sgd(problem, params, buffers, grads), loss)

    lowered = jax.jit(train_step).lower(params, buffers, data)
    expected = float(problem.spec.flops(problem.cfg, cfg.data.batch_size, {k: np.array(v) for k, v in inputs.items()}))
    assert _stablehlo_dot_flops(lowered.as_text()) == expected
    cost = lowered.compile().cost_analysis()
    xla = (cost[0] if isinstance(cost, list) else cost)["flops"]
    assert expected <= xla <= XLA_ABOVE[model] * expected, xla / expected


def test_a_run_reports_its_rate_and_its_multiple_of_the_floor(tmp_path, capsys):
    import statistics

    from tests.helpers import train

    result = train(tmp_path / "run", "runtime=jax_jit", "model=dynamic", "trainer.max_steps=12",
                   f"trainer.peak_file={_peak_file(tmp_path / 'peak.json', 400.0)}")
    from src.config import compose_config
    from src.problem import make_problem

    problem = make_problem(compose_config("model=dynamic"))
    flops = problem.spec.flops(problem.cfg, 64, problem.input_columns(0, 12))
    assert result["flops_per_step"] == statistics.median(flops)
    assert result["peak_gflops"] == 400.0 and "jax" in result["floor_of"]
    assert result["floor_ms"] == pytest.approx(statistics.median(flops) / 400e9 * 1e3)
    assert result["x_floor"] > 0 and result["gflops_per_s"] > 0
    # the rate and the multiple are one measurement seen two ways: x_floor ~ peak / rate (medians of steps)
    assert result["x_floor"] == pytest.approx(400.0 / result["gflops_per_s"], rel=0.5)
    assert "arithmetic" in capsys.readouterr().out
    bare = train(tmp_path / "bare", "runtime=jax_jit", "trainer.max_steps=5",
                 f"trainer.peak_file={tmp_path / 'missing.json'}")
    assert bare["x_floor"] is None and bare["gflops_per_s"] > 0 and "bench.py --peak" in bare["floor_of"]


