"""Graph builds made visible: every runtime reports the graphs it builds (counted from the frameworks' own
counters and hooks), their time, the steps they fall in, and for eager runtimes the graph each step rebuilt;
the sweep summary says when a static runtime has paid for its builds."""
import itertools
import json

import numpy as np
import pytest

from helpers import compose_cfg, scalars, train
from src.problem import make_problem
from src.registry import RUNTIMES

pytestmark = pytest.mark.contract

STEPS = 40


def _run(tmp_path, runtime, model="dynamic", *extra):
    result = train(tmp_path, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={STEPS}", *extra)
    return result, scalars(tmp_path)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_every_runtime_reports_its_graph_builds(tmp_path, runtime):
    result, s = _run(tmp_path, runtime)
    compiles = [v for _, v in s["graph/compiles"]]
    compile_ms = dict(s["graph/compile_ms"])
    assert [step for step, _ in s["graph/compiles"]] == list(range(STEPS + 1))  # step 0: the setup
    assert compiles == sorted(compiles) and compiles[-1] == result["compiles"]  # cumulative
    assert result["compile_s"] == pytest.approx(sum(compile_ms.values()) / 1e3, rel=1e-3, abs=1e-6)
    built = {step for step, ms in compile_ms.items() if ms > 0}
    assert built == {step for step in range(STEPS + 1) if compiles[step] > (compiles[step - 1] if step else 0)}
    elapsed = [v for _, v in s["time/elapsed_s"]]
    assert all(b > a for a, b in itertools.pairwise(elapsed))
    assert elapsed[-1] == pytest.approx(result["elapsed_s"], 1e-3)
    steady = [v for step, v in s["time/step_ms"] if step not in built]
    assert result["median_steady_ms"] == pytest.approx(float(np.median(steady)), rel=1e-4)
    nodes = [v for step, v in s["graph/nodes"] if step > 0]
    if RUNTIMES[runtime].graph == "dynamic":  # builds nothing ahead; rebuilds its graph every step
        assert result["compiles"] == 0 and min(nodes) > 0 and result["nodes_per_step"] > 0
    else:  # builds before it reuses: nothing rebuilt on the steps in between
        assert result["compiles"] >= 1 and all(n == 0 for step, n in s["graph/nodes"] if step not in built)
    assert result["warnings"] == []


@pytest.mark.parametrize("runtime, expected", [
    ("tf_session", 1),  # one static graph, built and finalized before the first step
    ("tf_function", 1),  # one trace: the depth is a tensor argument (a shape-generic input_signature)
])
def test_tensorflow_static_runtimes_build_one_graph_in_setup(tmp_path, runtime, expected):
    result, s = _run(tmp_path, runtime)
    assert result["compiles"] == expected
    assert [b["step"] for b in result["builds"]] == [0]
    assert dict(s["graph/compile_ms"])[0] > 0 and dict(s["graph/nodes"])[0] > 10


@pytest.mark.parametrize("runtime", ["tf_xla", "jax_jit"])
def test_xla_runtimes_trace_and_compile_once_in_setup(tmp_path, runtime):
    """One trace, then one XLA compile (its time added to the build, not counted again), both before step 1."""
    result, s = _run(tmp_path, runtime)
    assert result["compiles"] == 1
    assert [(b["step"], b["what"]) for b in result["builds"]] == [(0, "trace"), (0, "XLA compile")]
    assert all(b["ms"] > 0 for b in result["builds"]) and dict(s["graph/nodes"])[0] > 10


def test_torch_compile_builds_one_graph_per_depth_when_it_first_runs(tmp_path):
    result, s = _run(tmp_path, "lightning_compile")
    depths = make_problem(compose_cfg("model=dynamic")).input_columns(0, STEPS)["depth"].tolist()
    first_of_each = sorted({depths.index(d) + 1 for d in set(depths)})  # the step that first ran each depth
    assert result["compiles"] == len(set(depths))
    assert sorted({b["step"] for b in result["builds"]}) == first_of_each
    recompiles = [b for b in result["builds"] if b["what"].startswith("compile") and b["reason"]]
    assert len(recompiles) == len(set(depths)) - 1  # every compile after the first: a guard on the depth failed
    assert all("inputs['depth'] ==" in b["reason"] for b in recompiles)
    nodes = dict(s["graph/nodes"])
    assert all(nodes[step] > 0 for step in first_of_each)
    assert sum(nodes.values()) == sum(nodes[k] for k in first_of_each)


def test_eager_graphs_grow_with_the_depth(tmp_path):
    """What an eager step rebuilds is the graph of that step: DynamicNet's deeper steps build bigger ones."""
    depths = make_problem(compose_cfg("model=dynamic")).input_columns(0, STEPS)["depth"].tolist()
    for runtime in ("lightning", "tf_eager"):
        _, s = _run(tmp_path / runtime, runtime)
        by_depth = {}
        for (_, n), d in zip([p for p in s["graph/nodes"] if p[0] > 0], depths):
            by_depth.setdefault(d, set()).add(n)
        assert all(len(v) == 1 for v in by_depth.values()), by_depth  # the same graph at the same depth
        sizes = [by_depth[d].pop() for d in sorted(by_depth)]
        assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes), (runtime, sizes)


def test_torch_compiles_fall_back_to_eager_is_reported(tmp_path):
    import torch._dynamo

    limit = torch._dynamo.config.recompile_limit
    torch._dynamo.config.recompile_limit = 2  # DynamicNet needs 4 graphs: Dynamo gives up on the third depth
    try:
        torch._dynamo.reset()
        result, _ = _run(tmp_path, "lightning_compile")
    finally:
        torch._dynamo.config.recompile_limit = limit
        torch._dynamo.reset()
    assert result["compiles"] == 2
    (warning,) = result["warnings"]
    assert "recompile limit (2" in warning and "eagerly" in warning
    assert json.loads((tmp_path / "result.json").read_text())["warnings"] == [warning]


def test_tf_retraces_are_counted_and_warned_about(tmp_path):
    """Without a shape-generic signature, tf.function traces a graph per Python value it is called with."""
    from src.frameworks.tf import TraceWatch, tf
    from src.recorder import Recorder

    recorder = Recorder(str(tmp_path), compose_cfg(), "tensorflow", "static", threads=1, enabled=False)
    fn = tf.function(lambda depth: tf.constant(depth) * 2)
    watch = TraceWatch(fn, recorder)
    for depth in [0, 1, 1, 2, 3, 4, 0]:
        fn(depth)
        watch.check(0.0)
    assert recorder.compiles == 5 == fn.experimental_get_tracing_count()  # one per distinct value
    assert any("traced its step 5 times" in w for w in recorder.warnings)
