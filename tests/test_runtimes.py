"""Every runtime against the contract (src/runtimes/base.py), for every model: the registry drives it, so
a new runtime or model is tested here without an edit.  (Their loss curves: tests/test_parity.py.)"""
import json

import numpy as np
import pytest

from helpers import compose_cfg, scalars, step_tags, train
from src.problem import make_problem
from src.registry import MODELS, RUNTIMES

pytestmark = pytest.mark.contract

STEPS = 12


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("runtime", RUNTIMES)
def test_runtime_keeps_the_contract(tmp_path, runtime, model):
    result = train(tmp_path, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={STEPS}",
                   "trainer.checkpoint_every_n_steps=5")
    spec = RUNTIMES[runtime]
    assert (result["status"], result["steps"], result["model"], result["runtime"]) == ("completed", STEPS, model, runtime)
    assert (result["framework"], result["graph"], result["accelerator"]) == (spec.framework, spec.graph, "cpu")
    assert json.loads((tmp_path / "result.json").read_text()) == json.loads(json.dumps(result))
    # Every step logged once, with the model's own per-step tags, holding its per-step inputs' values.
    problem = make_problem(compose_cfg(f"model={model}"))
    expected = problem.step_scalars(0, STEPS)
    s = scalars(tmp_path)
    setup_tags = {"graph/compiles", "graph/compile_ms", "graph/nodes", "graph/build_s_total", "time/elapsed_s"}
    overview = {"Overview/loss_log10", "Overview/step_ms"}
    phases = {tag for tag in step_tags(tmp_path) if tag.startswith("graph/phase_s/")}  # from the first build on
    own = set(result["summary"])  # the runtime's own per-step values (recorder.scalar), if any
    assert step_tags(tmp_path) - phases == {"train/loss", "time/step_ms", "time/compute_ms", *overview, *setup_tags,
                                            *expected, *own}
    assert bool(phases) == (spec.graph == "static")  # every static runtime's builds come in phases
    for tag in step_tags(tmp_path) - phases - own:
        first = 0 if tag in setup_tags else 1
        assert [step for step, _ in s[tag]] == list(range(first, STEPS + 1)), tag
    for tag in own:  # logged once at each step that reported it, and summarised in result.json
        steps = [step for step, _ in s[tag]]
        assert steps == sorted(set(steps)) and len(steps) == result["summary"][tag]["steps"] and min(steps) >= 1
    for tag, column in expected.items():
        assert [v for _, v in s[tag]] == column.tolist(), tag
    assert result["first_loss"] == s["train/loss"][0][1] and result["final_loss"] == s["train/loss"][-1][1]
    # The last checkpoint holds the last step, by the model's weight names.
    with np.load(tmp_path / "checkpoint.npz") as f:
        assert int(f["step"]) == STEPS and str(f["model"]) == model
        assert {k[len("weight/"):] for k in f.files if k.startswith("weight/")} == set(problem.weights)


def test_tf_function_traces_once_whatever_the_depth():
    import src.models.dynamic.tf as model
    from src.frameworks.tf import TF2Step, tf

    problem = make_problem(compose_cfg("model=dynamic"))
    steps = list(problem.inputs(0, 40))
    traced, eager = TF2Step(problem, model), TF2Step(problem, model)
    step = tf.function(traced.step, input_signature=traced.input_signature())
    a = [float(step({"depth": tf.constant(s["depth"])})) for s in steps]
    b = [float(eager.step(s)) for s in steps]
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
