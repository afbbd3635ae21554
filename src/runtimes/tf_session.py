"""TensorFlow's static graph, the TF 1.x way: built and finalized once, then run by a Session every step.

The model's loss is built from variables and matmuls in graph mode; the data lives in the graph too
(variables initialised once from the Problem's arrays, so the GraphDef stays small), and a step feeds
only the model's per-step inputs (DynamicNet's depth), through a callable whose feed/fetch plan is
built once."""
from __future__ import annotations

import time

from src.frameworks import tf as tfw
from src.frameworks.tf import tf, v1
from src.runtimes.base import train_loop


class SessionTrainer:
    """Owns the graph and its Session; `step(inputs)` runs one training step and returns the loss."""

    def __init__(self, problem, start, threads: int):
        model, accelerator = start.model, start.accelerator
        t_build = time.perf_counter()
        self.graph = tf.Graph()
        init_feed = {}

        def variable(name, value, trainable=True):  # initialised by feeding the array once
            ph = v1.placeholder(tf.as_dtype(value.dtype), shape=value.shape, name=f"{name}/init")
            init_feed[ph] = value
            return v1.Variable(ph, name=name, trainable=trainable, use_resource=True)

        with self.graph.as_default(), tf.device(start.device):
            with tf.name_scope("data"):
                data = {k: variable(k, v, trainable=False) for k, v in problem.data.items()}
            with tf.name_scope("parameters"):
                self.params = {k: variable(k, v) for k, v in problem.weights.items()}
            self.inputs = {k: v1.placeholder(tf.int32, shape=(), name=k) for k in problem.input_columns(0, 0)}
            with tf.name_scope("forward"):
                self.loss = tf.identity(model.loss(self.params, data, self.inputs, problem), name="loss")
            params = list(self.params.values())
            with tf.name_scope("gradients"):
                grads = tf.gradients(self.loss, params)
            opt = tfw.sgd(problem)
            self.train_op = opt.apply_gradients(zip(grads, params), name="update")
            self.momentum = {k: opt.get_slot(v, "momentum") for k, v in self.params.items()} if problem.momentum else {}
            # Built before the graph is finalized, so that a checkpoint's momentum can be loaded.
            loads = {k: v1.placeholder(slot.dtype.base_dtype, slot.shape, name=f"{k}/momentum_load")
                     for k, slot in self.momentum.items() if k in problem.momentum_state}
            load_ops = [self.momentum[k].assign(ph) for k, ph in loads.items()]
            init = v1.global_variables_initializer()
        self.graph.finalize()  # from here on, adding an op raises: the graph is never rebuilt
        self.build_s = time.perf_counter() - t_build  # the one graph build of the run
        self.session = v1.Session(graph=self.graph, config=tfw.session_config(threads, accelerator))
        self.session.run(init, feed_dict=init_feed)  # the weights: initial, or a checkpoint's
        if loads:
            self.session.run(load_ops, feed_dict={ph: problem.momentum_state[k] for k, ph in loads.items()})
        names = list(self.inputs)
        # debug.probe=native: the tensors the model asked to see (src/frameworks/tf.py hidden), fetched with the
        # step, as a TF 1 user looks inside a graph; none otherwise, and the step fetches what it always did.
        self.probes = self.graph.get_collection(tfw.PROBES)
        run = self.session.make_callable([self.loss, self.train_op, *self.probes],
                                         feed_list=[self.inputs[k] for k in names])
        self._run = lambda inputs: run(*(inputs[k] for k in names))
        # The step's first run prunes the graph to what it fetches, optimizes it (Grappler) and creates its
        # executors: 0.3-0.8 s here against ~1 ms for a later step.  That is building the graph too, so it is
        # done now, as part of the build, and undone: the variables initialised again (the momentum reloaded).
        t_first = time.perf_counter()
        self._run({k: 0 for k in names})
        self.first_run_s = time.perf_counter() - t_first
        self.session.run(init, feed_dict=init_feed)
        if loads:
            self.session.run(load_ops, feed_dict={ph: problem.momentum_state[k] for k, ph in loads.items()})

    def step(self, inputs: dict) -> float:
        out = self._run(inputs)
        if self.probes:
            print("probe: hidden mean", out[2], "norm", out[3])
        return float(out[0])

    def state(self) -> tuple[dict, dict]:
        """(weights, momentum) as numpy arrays, by the problem's names."""
        return self.session.run(self.params), self.session.run(self.momentum)

    def close(self) -> None:
        self.session.close()


def fit(problem, cfg, recorder, threads: int) -> None:
    start = tfw.begin(problem, cfg, recorder, threads)
    recorder.status("building the static graph and its Session...")
    trainer = SessionTrainer(problem, start, threads)
    try:
        graph_def = trainer.graph.as_graph_def()
        build = recorder.graph_built(trainer.build_s + trainer.first_run_s, "graph", nodes=tfw.graph_nodes(graph_def))
        build["phases"] = {"construction_ms": round(trainer.build_s * 1e3, 3),
                           "first_run_ms": round(trainer.first_run_s * 1e3, 3)}  # Grappler, executors, one step
        recorder.write_graph(graph_def.SerializeToString())
        train_loop(problem, cfg, recorder, trainer.step, trainer.state)
    finally:
        trainer.close()
