"""The static-graph runtime: a real TensorFlow graph, built once and finalized, run by a Session."""

import numpy as np
import pytest

from helpers import compose_cfg, losses, train
from src.problem import make_problem

pytestmark = pytest.mark.contract

tf = pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def dynamic_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("tf_session")
    return d, train(d, "model=dynamic", "runtime=tf_session", "trainer.max_steps=20")


def _trainer(*overrides: str):
    """tf_session's SessionTrainer as its fit() makes it, after TensorFlow's begin (with a recorder that
    writes nothing), on one thread."""
    from src.frameworks import tf as tfw
    from src.recorder import Recorder
    from src.runtimes.tf_session import SessionTrainer

    cfg = compose_cfg("runtime=tf_session", "trainer.accelerator=cpu", *overrides)
    problem = make_problem(cfg)
    start = tfw.begin(problem, cfg, Recorder("unused", cfg, "tensorflow", "static", 1, enabled=False), threads=1)
    return problem, SessionTrainer(problem, start, threads=1)


def test_graph_is_built_once_and_finalized():
    problem, trainer = _trainer("model=dynamic")
    try:
        assert trainer.graph.finalized
        n_ops = len(trainer.graph.get_operations())
        seen = [trainer.step(inputs) for inputs in problem.inputs(0, 8)]
        assert len(trainer.graph.get_operations()) == n_ops  # nothing added while training
        with pytest.raises(RuntimeError, match="finalized"), trainer.graph.as_default():
            tf.constant(1.0)
        # One graph for every depth: the loop is a graph op fed its trip count.
        loops = [op for op in trainer.graph.get_operations() if op.type in ("While", "StatelessWhile", "Enter")]
        assert loops, "the middle layer's reuse must be an in-graph loop"
        assert all(np.isfinite(seen))
    finally:
        trainer.close()


def test_graph_is_in_the_event_file_for_tensorboard(dynamic_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(dynamic_run[0]))
    acc.Reload()
    graph = acc.Graph()
    names = {node.name for node in graph.node}
    assert {"forward/loss", "depth"} <= names
    assert any(node.op in ("While", "StatelessWhile") for node in graph.node)


def test_threads_are_honoured(tmp_path):
    _, trainer = _trainer()
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
