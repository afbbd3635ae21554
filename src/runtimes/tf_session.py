"""TensorFlow's static graph: built and finalized once, then run by a Session once per step."""
from __future__ import annotations

from src.tf_import import tf

from src.errors import ConfigError
from src.runtimes.loop import train_loop
from src.models import tf_graphs

v1 = tf.compat.v1


def tf_accelerator(requested: str) -> str:
    gpus = tf.config.list_physical_devices("GPU")
    if requested == "gpu" and not gpus:
        raise ConfigError("trainer.accelerator=gpu, but TensorFlow sees no GPU here "
                          "(tf.config.list_physical_devices('GPU') is empty): use trainer.accelerator=cpu "
                          "or auto, or install a CUDA build of TensorFlow (pip install 'tensorflow[and-cuda]').")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)  # don't seize the whole card
        except RuntimeError:  # already initialised in this process
            pass
    return "gpu" if gpus and requested in ("gpu", "auto") else "cpu"


class SessionTrainer:
    """Owns the graph and its Session; `step(depth)` runs one training step and returns the loss."""

    def __init__(self, problem, accelerator: str, threads: int):
        self.graph = tf.Graph()
        with self.graph.as_default(), tf.device("/GPU:0" if accelerator == "gpu" else "/CPU:0"):
            self.model = tf_graphs.build(problem)
            init = v1.global_variables_initializer()
        self.graph.finalize()  # from here on, adding an op raises: the graph is never rebuilt
        config = v1.ConfigProto(
            # The same thread count as the torch runtime; ops one at a time, like torch eager.
            intra_op_parallelism_threads=threads,
            inter_op_parallelism_threads=1,
            allow_soft_placement=True,
            device_count={"GPU": 1 if accelerator == "gpu" else 0},
        )
        config.gpu_options.allow_growth = True
        self.session = v1.Session(graph=self.graph, config=config)
        self.session.run(init, feed_dict=self.model.init_feed)  # the weights: initial or a checkpoint's
        m = self.model
        loads = [(m.momentum_loaders[k], v) for k, v in problem.momentum_state.items() if k in m.momentum_loaders]
        if loads:
            self.session.run([op for (_, op), _ in loads], feed_dict={feed: v for (feed, _), v in loads})
        # make_callable: the fetch/feed plan is built once instead of on every Session.run.
        if m.depth is None:
            run = self.session.make_callable([m.loss, m.train_op])
            self._run = lambda depth: run()
        else:
            self._run = self.session.make_callable([m.loss, m.train_op], feed_list=[m.depth])

    def step(self, depth: int) -> float:
        return float(self._run(depth)[0])

    def state(self) -> tuple[dict, dict]:
        """(weights, momentum) as numpy arrays, by the names of src/problem.py."""
        return self.session.run(dict(self.model.params)), self.session.run(dict(self.model.momentum))

    def close(self) -> None:
        self.session.close()


def fit(problem, cfg, recorder, threads: int) -> None:
    accelerator = tf_accelerator(cfg.trainer.accelerator)
    recorder.set_accelerator(accelerator)
    trainer = SessionTrainer(problem, accelerator, threads)
    try:
        recorder.write_graph(trainer.graph.as_graph_def().SerializeToString())
        train_loop(problem, cfg, recorder, trainer.step, trainer.state)
    finally:
        trainer.close()
