"""The static-graph runtime: a real TensorFlow graph and Session, in parity with lightning."""
import json

import numpy as np
import pytest

from helpers import compose_cfg, losses, scalars, step_tags, train
from src.problem import make_problem

tf = pytest.importorskip("tensorflow")


def _pair(tmp_path_factory, *overrides):
    out = {}
    for runtime in ("lightning", "tf_session"):
        d = tmp_path_factory.mktemp(runtime)
        result = train(d, f"runtime={runtime}", "trainer.accelerator=cpu", *overrides)
        out[runtime] = (d, result)
    return out


@pytest.fixture(scope="module")
def two_layer_pair(tmp_path_factory):
    return _pair(tmp_path_factory, "model=two_layer")


@pytest.fixture(scope="module")
def dynamic_pair(tmp_path_factory):
    return _pair(tmp_path_factory, "model=dynamic", "trainer.max_steps=100")


def _relative_gap(pair, upto=None):
    a = np.array(losses(pair["lightning"][0])[:upto], dtype=np.float64)
    b = np.array(losses(pair["tf_session"][0])[:upto], dtype=np.float64)
    assert len(a) == len(b)
    return np.abs(a - b) / np.abs(a)


def test_two_layer_parity_with_lightning(two_layer_pair):
    gap = _relative_gap(two_layer_pair)
    assert len(gap) == 500
    assert gap[:100].max() < 1e-4  # measured here: ~9e-6
    assert gap[-1] < 0.05  # measured here: ~0.3%
    d, result = two_layer_pair["tf_session"]
    assert result["first_loss"] > 1e6 and result["final_loss"] < 1e-2


def test_dynamic_parity_same_depths_same_losses(dynamic_pair):
    depth = {rt: [v for _, v in scalars(d)["model/depth"]] for rt, (d, _) in dynamic_pair.items()}
    assert depth["lightning"] == depth["tf_session"] and set(depth["tf_session"]) == {0, 1, 2, 3}
    gap = _relative_gap(dynamic_pair)
    assert len(gap) == 100 and gap.max() < 1e-3  # measured here: ~5e-7


def test_same_tags_and_result_fields_as_lightning(two_layer_pair):
    d, result = two_layer_pair["tf_session"]
    s = scalars(d)
    assert step_tags(d) == {"train/loss", "time/step_ms", "time/compute_ms"}
    assert all([step for step, _ in s[tag]] == list(range(1, 501)) for tag in step_tags(d))
    on_disk = json.loads((d / "result.json").read_text())
    assert (on_disk["framework"], on_disk["graph"], on_disk["runtime"], on_disk["status"]) == (
        "tensorflow", "static", "tf_session", "completed")
    assert set(on_disk) == set(two_layer_pair["lightning"][1])


def test_graph_is_built_once_and_finalized():
    from src.runtimes.tf_session import SessionTrainer

    problem = make_problem(compose_cfg("model=dynamic", "runtime=tf_session"))
    trainer = SessionTrainer(problem, "cpu", threads=1)
    try:
        assert trainer.graph.finalized
        n_ops = len(trainer.graph.get_operations())
        seen = [trainer.step(int(d)) for d in problem.depths(0, 8)]
        assert len(trainer.graph.get_operations()) == n_ops  # nothing added while training
        with pytest.raises(RuntimeError, match="finalized"):
            with trainer.graph.as_default():
                tf.constant(1.0)
        # One graph for every depth: the loop is a graph op fed its trip count.
        loops = [op for op in trainer.graph.get_operations() if op.type in ("While", "StatelessWhile", "Enter")]
        assert loops, "the middle layer's reuse must be an in-graph loop"
        assert all(np.isfinite(seen))
    finally:
        trainer.close()


def test_graph_is_in_the_event_file_for_tensorboard(dynamic_pair):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(dynamic_pair["tf_session"][0]))
    acc.Reload()
    graph = acc.Graph()
    names = {node.name for node in graph.node}
    assert {"loss", "depth"} <= names
    assert any(node.op in ("While", "StatelessWhile") for node in graph.node)


def test_threads_are_honoured(tmp_path):
    from src.runtimes.tf_session import SessionTrainer

    problem = make_problem(compose_cfg())
    trainer = SessionTrainer(problem, "cpu", threads=1)
    try:
        cfg = trainer.session._config
        assert (cfg.intra_op_parallelism_threads, cfg.inter_op_parallelism_threads) == (1, 1)
    finally:
        trainer.close()


@pytest.mark.skipif(bool(tf.config.list_physical_devices("GPU")), reason="checks the no-GPU error")
def test_gpu_requested_without_gpu_is_a_clear_error(tmp_path):
    from src.errors import ConfigError

    with pytest.raises(ConfigError, match=r"trainer\.accelerator=gpu.*TensorFlow sees no GPU"):
        train(tmp_path, "runtime=tf_session", "trainer.accelerator=gpu")


@pytest.mark.gpu
@pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="needs a GPU visible to TensorFlow")
@pytest.mark.parametrize("model", ["two_layer", "dynamic"])
def test_trains_on_the_gpu(tmp_path, model):
    result = train(tmp_path, f"model={model}", "runtime=tf_session", "trainer.accelerator=gpu",
                   "trainer.max_steps=100")
    assert result["accelerator"] == "gpu" and result["status"] == "completed"
    assert tf.config.experimental.get_memory_growth(tf.config.list_physical_devices("GPU")[0])
    cpu = tmp_path / "cpu"
    train(cpu, f"model={model}", "runtime=tf_session", "trainer.accelerator=cpu", "trainer.max_steps=20")
    np.testing.assert_allclose(losses(tmp_path)[:20], losses(cpu), rtol=1e-3)
