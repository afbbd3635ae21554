"""TensorFlow's static graph, the TF 1.x way: built and finalized once, then run by a Session every step.

The model's loss is built from variables and matmuls in graph mode; the data lives in the graph too
(variables initialised once from the Problem's arrays, so the GraphDef stays small), and a step feeds
only the model's per-step inputs (DynamicNet's depth), through a callable whose feed/fetch plan is
built once."""
from __future__ import annotations

import time

import numpy as np

from src.frameworks import tf as tfw
from src.frameworks.tf import tf, v1
from src.runtimes.base import train_calls, train_loop


class SessionTrainer:
    """Owns the graph and its Session; `step(inputs)` runs one training step and returns the loss."""

    def __init__(self, problem, start, threads: int, steps_per_call: int = 1):
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
            if steps_per_call > 1:
                self._build_calls(problem, model, data, steps_per_call)
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
        if steps_per_call > 1:
            self.call_n_max = steps_per_call
            order = [*self.call_inputs.values(), self.call_n]
            run_calls = self.session.make_callable(self.call_losses, feed_list=order)
            self._run_calls = lambda feed: run_calls(*(feed[ph] for ph in order))
            # The call's own first run (Grappler on the loop's graph) belongs to the build too: a call of no steps.
            t_first = time.perf_counter()
            self._run_calls({**{ph: np.zeros(steps_per_call, np.int32) for ph in self.call_inputs.values()},
                             self.call_n: 0})
            self.first_run_s += time.perf_counter() - t_first

    def _build_calls(self, problem, model, data, k: int) -> None:
        """trainer.steps_per_call = k: up to k steps in one Session.run, an in-graph while loop whose body is
        the step (the loss, its gradients, torch's SGD rule on the same variables and momentum slots), fed
        the k steps' inputs as int32 vectors and how many to run.  The loop's outputs wait on each
        iteration's updates, so the next one reads the new weights."""
        self.call_inputs = {name: v1.placeholder(tf.int32, shape=(k,), name=f"{name}_per_step")
                            for name in self.inputs}
        self.call_n = v1.placeholder(tf.int32, shape=(), name="steps_in_call")
        params = list(self.params.values())
        lr, mom = tf.constant(problem.lr, problem.dtype), tf.constant(problem.momentum, problem.dtype)

        def body(i, losses):
            step_inputs = {name: col[i] for name, col in self.call_inputs.items()}
            with tf.name_scope("forward"):
                loss = model.loss(self.params, data, step_inputs, problem)
            with tf.name_scope("gradients"):
                grads = tf.gradients(loss, params)
            with tf.name_scope("update"):
                updates = []
                for (name, w), g in zip(self.params.items(), grads):
                    g = tf.zeros_like(w) if g is None else g
                    if problem.momentum:
                        buf = self.momentum[name]
                        g = buf.assign(mom * buf + g)  # its new value: the step uses it
                    updates.append(w.assign_sub(lr * g))
            with tf.control_dependencies(updates):
                return i + 1, losses.write(i, loss)

        losses = tf.TensorArray(problem.dtype, size=k)
        _, losses = tf.while_loop(lambda i, _: i < self.call_n, body, (tf.constant(0), losses),
                                  maximum_iterations=k, name="steps")
        self.call_losses = losses.stack()

    def call(self, columns: dict, n: int) -> list:
        """n (<= steps_per_call) steps in one Session.run; their losses."""
        k = self.call_n_max
        feed = {ph: np.pad(columns[name], (0, k - n)) for name, ph in self.call_inputs.items()}
        feed[self.call_n] = n
        return self._run_calls(feed)[:n].tolist()

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
    k = cfg.trainer.steps_per_call
    trainer = SessionTrainer(problem, start, threads, steps_per_call=k)
    try:
        graph_def = trainer.graph.as_graph_def()
        build = recorder.graph_built(trainer.build_s + trainer.first_run_s, "graph", nodes=tfw.graph_nodes(graph_def))
        build["phases"] = {"construction_ms": round(trainer.build_s * 1e3, 3),
                           "first_run_ms": round(trainer.first_run_s * 1e3, 3)}  # Grappler, executors, one step
        recorder.write_graph(graph_def.SerializeToString())
        if k > 1:
            train_calls(problem, cfg, recorder, trainer.call, trainer.state, k)
        else:
            train_loop(problem, cfg, recorder, trainer.step, trainer.state)
    finally:
        trainer.close()
