"""The full 2x2: tf_eager (dynamic), tf_function (static), lightning_compile (static), in parity
with lightning from the same seed."""
import json

import numpy as np
import pytest

from helpers import compose_cfg, losses, scalars, step_tags, train
from src.problem import make_problem

NEW = ["tf_eager", "tf_function", "lightning_compile"]
GRAPH = {"tf_eager": "dynamic", "tf_function": "static", "lightning_compile": "static"}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    out = {}
    for model in ("two_layer", "dynamic"):
        d = tmp_path_factory.mktemp(f"lightning_{model}")
        train(d, f"model={model}", "trainer.max_steps=100", "trainer.accelerator=cpu")
        out[model] = d
    return out


@pytest.mark.parametrize("runtime", NEW)
@pytest.mark.parametrize("model, rtol", [("two_layer", 1e-4), ("dynamic", 1e-3)])
def test_parity_with_lightning(baseline, tmp_path, runtime, model, rtol):
    result = train(tmp_path, f"model={model}", f"runtime={runtime}", "trainer.max_steps=100",
                   "trainer.accelerator=cpu")
    assert (result["status"], result["graph"], result["steps"]) == ("completed", GRAPH[runtime], 100)
    gap = np.abs(np.array(losses(tmp_path)) - losses(baseline[model])) / np.abs(losses(baseline[model]))
    assert len(gap) == 100 and gap.max() < rtol, gap.max()
    if model == "dynamic":
        depth = [v for _, v in scalars(tmp_path)["model/depth"]]
        assert depth == [v for _, v in scalars(baseline[model])["model/depth"]] and set(depth) == {0, 1, 2, 3}
    tags = {"train/loss", "time/step_ms", "time/compute_ms"} | ({"model/depth"} if model == "dynamic" else set())
    assert step_tags(tmp_path) == tags
    assert json.loads((tmp_path / "result.json").read_text())["framework"] == (
        "torch" if runtime == "lightning_compile" else "tensorflow")


def test_tf_function_traces_once_whatever_the_depth():
    from src.models.tf2_nets import TF2Net
    from src.tf_import import tf

    problem = make_problem(compose_cfg("model=dynamic"))
    depths = problem.depths(0, 40).tolist()
    traced, eager = TF2Net(problem), TF2Net(problem)
    step = tf.function(traced.step, input_signature=[tf.TensorSpec([], tf.int32)])
    a = [float(step(tf.constant(d))) for d in depths]
    b = [float(eager.step(d)) for d in depths]
    assert traced.traces == 1  # one static graph for every depth: no retrace, no depth frozen at trace time
    assert eager.traces == 40  # eager: Python runs the step, and builds its graph, every time
    np.testing.assert_allclose(a, b, rtol=1e-4)
    graph = step.get_concrete_function().graph.as_graph_def()
    assert any(n.op in ("While", "StatelessWhile") for n in graph.node)


def test_tf_function_writes_its_traced_graph(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tmp_path, "model=dynamic", "runtime=tf_function", "trainer.max_steps=5")
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    assert any(n.op in ("While", "StatelessWhile") for n in acc.Graph().node)


def test_lightning_compile_one_graph_per_depth_compiled_as_setup(tmp_path):
    import torch._dynamo

    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    result = train(tmp_path, "model=dynamic", "runtime=lightning_compile", "trainer.max_steps=60")
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] <= 4  # at most one per depth, 4 depths
    step_ms = [v for _, v in scalars(tmp_path)["time/step_ms"]]
    median = float(np.median(step_ms))
    # Compiling takes seconds; it is in setup_s, not in the first step of each depth.
    assert max(step_ms) < 20 * median + 100, (max(step_ms), median)
    assert result["setup_s"] > max(step_ms) / 1e3
