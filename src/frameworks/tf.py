"""TensorFlow helpers shared by every TensorFlow runtime and model file: a quiet import, the device,
threads, and the TF 2 training step that tf_eager, tf_function (and tf_xla) run in their own ways.

Importing this module imports TensorFlow without its C++ start-up chatter (oneDNN notes, 'could not
find cuda drivers' on a machine without a GPU): this build writes it before its log settings apply, so
the process's stderr is pointed at /dev/null for the import alone; Python errors are still raised.
Set TF_CPP_MIN_LOG_LEVEL=0 to see everything.  Only 0 counts as asking: JAX sets 1 for itself when it is
imported, and a process that imported TensorFlow (TensorBoard does) and so JAX passes that on to its children."""
from __future__ import annotations

import os
import sys

import numpy as np

# TensorFlow's tf.lite imports JAX whenever it is installed (`try: from jax import jit`, for a converter
# graphduel never uses): most of a second more on every TensorFlow import, and a second framework in a
# TensorFlow run (docs/measurements.md#tensorflow-import).  A None in sys.modules makes that one import
# fail, for TensorFlow's import alone.
_hide_jax = "jax" not in sys.modules
if _hide_jax:
    sys.modules["jax"] = None
try:
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        import tensorflow as tf
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        _saved = os.dup(2)
        try:
            with open(os.devnull, "w") as _devnull:
                os.dup2(_devnull.fileno(), 2)
                import tensorflow as tf  # noqa: F401
                tf.config.list_physical_devices("GPU")  # the CUDA probe, which logs too
        finally:
            os.dup2(_saved, 2)
            os.close(_saved)
finally:
    if _hide_jax and "jax" in sys.modules and sys.modules["jax"] is None:
        del sys.modules["jax"]  # a JAX run later in this process imports it as usual

from src.errors import ConfigError  # noqa: E402
from src.frameworks import Start, started  # noqa: E402

v1 = tf.compat.v1


def begin(problem, cfg, recorder, threads: int) -> Start:
    """What every TensorFlow runtime does first: its threads (TF 2's eager context; a TF 1 Session is given
    them too, session_config), its device (a one-line error if it cannot have it), recorder.start, and the
    model's tf.py.  `Start.device` is the device name for tf.device()."""
    set_threads(threads)
    acc = accelerator(cfg.trainer.accelerator)
    return started("tensorflow", problem, recorder, acc, device(acc))


def accelerator(requested: str) -> str:
    """'cpu' or 'gpu' for trainer.accelerator; a one-line error if a GPU is asked for and TensorFlow sees none."""
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


def device(accelerator: str) -> str:
    return "/GPU:0" if accelerator == "gpu" else "/CPU:0"


def set_threads(threads: int) -> None:
    """Like the torch runtimes: `threads` for one op, ops one at a time (TF 2's eager context)."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # the eager context already started in this process: it keeps its own
        pass


def sgd(problem):
    """A TF 1 optimizer applying torch's SGD rule: buf = momentum * buf + grad; w -= lr * buf (buf starts at
    grad).  The rates are tensors of the run's precision: given as Python floats, TF 1's optimizers make them
    float32 first, and at float64 0.9 would become 0.899999976 (a 4e-9 drift per step)."""
    lr = tf.constant(problem.lr, dtype=problem.dtype, name="lr")
    if problem.momentum:
        return v1.train.MomentumOptimizer(lr, tf.constant(problem.momentum, dtype=problem.dtype, name="momentum"))
    return v1.train.GradientDescentOptimizer(lr)


def session_config(threads: int, accelerator: str):
    """The same threads for a TF 1 Session; soft placement; no GPU unless one is used."""
    config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1,
                            allow_soft_placement=True, device_count={"GPU": 1 if accelerator == "gpu" else 0})
    config.gpu_options.allow_growth = True
    return config


class TF2Step(tf.Module):
    """The TF 2 training step, written once: the model's loss under a GradientTape, then torch's SGD rule
    (buf = momentum * buf + grad; w -= lr * buf).  Run as it is, every call is eager (a new graph each step,
    like PyTorch); a runtime may wrap `step` in tf.function to trace it into a static graph."""

    def __init__(self, problem, model):
        super().__init__()
        self.problem, self.model = problem, model
        self.data = {k: tf.constant(v) for k, v in problem.data.items()}
        self.params = {k: tf.Variable(v, name=k) for k, v in problem.weights.items()}
        self.buffers = {k: tf.Variable(problem.momentum_state.get(k, np.zeros_like(v)), trainable=False,
                                       name=f"{k}/momentum")
                        for k, v in problem.weights.items()} if problem.momentum else {}
        self.traces = 0  # how often Python ran step(): every step eagerly, once per trace under tf.function

    def step(self, inputs: dict) -> tf.Tensor:
        self.traces += 1
        p = self.problem
        with tf.GradientTape() as tape:
            with tf.name_scope("forward"):  # scopes: what TensorBoard's Graphs tab groups the traced graph by
                loss = tf.identity(self.model.loss(self.params, self.data, inputs, p), name="loss")
        with tf.name_scope("gradients"):
            grads = tape.gradient(loss, list(self.params.values()))
        with tf.name_scope("update"):
            for (name, w), g in zip(self.params.items(), grads):
                if g is None:  # eager, a layer this step did not use: its gradient is 0, its momentum moves it
                    g = tf.zeros_like(w)
                if p.momentum:
                    buf = self.buffers[name]
                    buf.assign(p.momentum * buf + g)
                    w.assign_sub(p.lr * buf)
                else:
                    w.assign_sub(p.lr * g)
        return loss

    def steps(self, inputs: dict, n: tf.Tensor, k: int) -> tf.Tensor:
        """`n` (<= k) steps in one in-graph loop (trainer.steps_per_call): step i trains on the i-th of each
        input's k values; returns the k losses (those past n are 0).  Traced by tf.function, once: a while
        loop whose body is `step`, bounded by k (maximum_iterations: what XLA needs to compile it)."""
        losses = tf.TensorArray(self.problem.dtype, size=k)

        def body(i, losses):
            loss = self.step({name: col[i] for name, col in inputs.items()})
            return i + 1, losses.write(i, loss)

        _, losses = tf.while_loop(lambda i, _: i < n, body, (tf.constant(0), losses), maximum_iterations=k,
                                  name="steps")
        return losses.stack()

    def input_signature(self) -> list:
        """One scalar int32 per step input: a tf.function traced with it serves every value."""
        return [{k: tf.TensorSpec([], tf.int32) for k in self.problem.input_columns(0, 0)}]

    def state(self) -> tuple[dict, dict]:
        return ({k: v.numpy() for k, v in self.params.items()}, {k: v.numpy() for k, v in self.buffers.items()})


def dense(h, params: dict, layer: str):
    """h through the spec's `<layer>.weight` (torch's (out, in) layout) and `<layer>.bias` if it has one."""
    out = tf.matmul(h, params[f"{layer}.weight"], transpose_b=True)
    return out + params[f"{layer}.bias"] if f"{layer}.bias" in params else out


def graph_nodes(graph_def) -> int:
    """Nodes of a GraphDef, the functions it calls (a while loop's body, say) included."""
    return len(graph_def.node) + sum(len(f.node_def) for f in graph_def.library.function)


class TraceWatch:
    """Counts a tf.function's traces with TensorFlow's own counter (experimental_get_tracing_count), and
    times each with TensorFlow's graph-building clock: `check()` after a call reports a retrace, if the
    call made one, to the recorder.  (That clock is private, tracing_compilation's counter; where a
    TensorFlow version lacks it, the time is the whole call's.)"""

    def __init__(self, fn, recorder):
        self.fn, self.recorder = fn, recorder
        self.traces = fn.experimental_get_tracing_count()
        try:
            from tensorflow.python.eager.polymorphic_function import tracing_compilation

            self._clock = tracing_compilation._graph_building_time_counter.get_cell()
        except (ImportError, AttributeError):
            self._clock = None
        self._us = self._clock.value() if self._clock else 0

    def trace(self, *args) -> tf.types.experimental.ConcreteFunction:
        """Traces for these arguments now, as part of the setup, and reports it."""
        import time

        t = time.perf_counter()
        before = self._clock.value() if self._clock else None
        concrete = self.fn.get_concrete_function(*args)
        seconds = time.perf_counter() - t
        self._sync()
        build = self.recorder.graph_built(seconds, "trace", nodes=graph_nodes(concrete.graph.as_graph_def()))
        if before is not None:  # TensorFlow's own clock of building the graph; the rest: making the function
            trace_ms = min((self._clock.value() - before) / 1e3, seconds * 1e3)
            build["phases"] = {"trace_ms": round(trace_ms, 3), "function_ms": round(seconds * 1e3 - trace_ms, 3)}
        return concrete

    def check(self, call_seconds: float) -> None:
        traces = self.fn.experimental_get_tracing_count()
        if traces == self.traces:
            return
        us = self._clock.value() if self._clock else None
        seconds = (us - self._us) / 1e6 if us is not None else call_seconds
        self.recorder.graph_built(seconds, "retrace", reason="tf.function saw arguments of a new type or shape")
        if traces >= 5:
            self.recorder.warn(f"tf.function traced its step {traces} times: each new kind of input builds a new "
                               "graph (TensorFlow warns from 5 on); a shape-generic input_signature traces once")
        self.traces = traces
        self._sync()

    def _sync(self) -> None:
        self.traces = self.fn.experimental_get_tracing_count()
        self._us = self._clock.value() if self._clock else 0


def traced_step(net: "TF2Step", recorder, jit_compile: bool = False, steps_per_call: int = 1):
    """The TF 2 step as tf_function and tf_xla run it: traced once by tf.function with the step's
    input_signature (scalar int32 inputs: one trace for every value), now, as part of the setup, the
    trace counted and timed (TraceWatch) and its graph written for the Graphs tab; under jit_compile,
    for XLA to compile at the first call.  Returns run(inputs) -> loss, which reports any retrace; with
    steps_per_call = K > 1, call(columns, n) -> losses instead: n <= K steps in one call (TF2Step.steps)."""
    import time

    if steps_per_call > 1:
        k = steps_per_call
        signature = [{name: tf.TensorSpec([k], tf.int32) for name in net.input_signature()[0]},
                     tf.TensorSpec([], tf.int32)]
        step = tf.function(lambda inputs, n: net.steps(inputs, n, k), input_signature=signature,
                           jit_compile=jit_compile)
    else:
        step = tf.function(net.step, input_signature=net.input_signature(), jit_compile=jit_compile)
    watch = TraceWatch(step, recorder)
    recorder.status("tracing the step into a graph (tf.function)...")
    recorder.write_graph(watch.trace().graph.as_graph_def().SerializeToString())

    if steps_per_call > 1:
        def call(columns: dict, n: int) -> list:
            t = time.perf_counter()
            padded = {name: tf.constant(np.pad(col, (0, k - n)), tf.int32) for name, col in columns.items()}
            losses = step(padded, tf.constant(n, tf.int32)).numpy()[:n].tolist()
            watch.check(time.perf_counter() - t)
            return losses

        return call

    def run(inputs: dict) -> float:
        t = time.perf_counter()
        loss = float(step({k: tf.constant(v, tf.int32) for k, v in inputs.items()}))
        watch.check(time.perf_counter() - t)
        return loss

    return run


class OpCounter:
    """Counts the ops an eager step runs (each one recorded on the tape: the dynamic graph TensorFlow builds
    as it goes, gradient ops included), through TensorFlow's op callbacks, the hook its numerics checker
    uses (private: tensorflow.python.framework.op_callbacks).  Its cost: docs/measurements.md#tf-op-counter."""

    def __init__(self):
        from tensorflow.python.framework import op_callbacks

        self._hooks, self.ops = op_callbacks, 0
        op_callbacks.add_op_callback(self._count)

    def _count(self, op_type, inputs, attrs, outputs, op_name=None, graph=None):
        if graph is None:  # run eagerly (not an op added to a graph being traced)
            self.ops += 1
        return None  # the outputs as they are

    def take(self) -> int:
        n, self.ops = self.ops, 0
        return n

    def close(self) -> None:
        self._hooks.remove_op_callback(self._count)


PROBES = "graphduel_probe"  # the graph collection of the tensors tf_session fetches with its step (debug.probe=native)


def hidden(h, inputs: dict, problem):
    """A model's hidden layer as a user looking inside the step, or a user's bug, leaves it (debug.probe,
    debug.fault: docs/debugging.md); without either, h itself.  Written once for the three ways TensorFlow
    runs it (a Session's static graph, eager, traced by tf.function), as a TensorFlow user writes them:
    print, or TensorFlow's own way, which is tf.print in TF 2 and, in a TF 1 graph, the tensors fetched
    with the step (tf_session prints them); tensor ops for what depends on the step (a Python int eagerly,
    a tensor in a graph)."""
    if problem.probe == "print":
        print("probe: hidden mean", tf.reduce_mean(h), "norm", tf.norm(h))
    elif problem.probe == "native":
        if v1.executing_eagerly_outside_functions():  # TF 2: eager, or inside tf.function
            tf.print("probe: hidden mean", tf.reduce_mean(h), "norm", tf.norm(h), output_stream=sys.stdout)
        else:  # a TF 1 graph: fetch them
            v1.add_to_collection(PROBES, tf.reduce_mean(h))
            v1.add_to_collection(PROBES, tf.norm(h))
    elif problem.probe == "breakpoint":
        stop_here(h)
    fault, step, k = problem.fault, inputs.get("step"), problem.fault_step
    if fault == "nan":
        h = tf.where(step >= k, tf.constant(float("nan"), h.dtype), h)  # the hidden layer NaN from step k on
    elif fault == "shape":  # one unit short at step k: the next layer's matmul cannot take it
        h = h[:, :tf.shape(h)[1] - tf.cast(tf.equal(step, k), tf.int32)]
    elif fault == "data_if":
        if tf.reduce_sum(h) < 0:  # a Python if on a tensor's value (never true after a ReLU; tanh: it may be)
            h = -h
    elif fault == "index":  # one past the last unit from step k on
        h = h + 0 * tf.gather(h, tf.shape(h)[1] - 1 + tf.cast(step >= k, tf.int32), axis=1)[:, None]
    return h


def stop_here(h) -> None:
    """debug.probe=breakpoint: Python's breakpoint() with the hidden layer in scope (`p tf.reduce_mean(h)`).  A
    function of its own, called only by that probe: AutoGraph warns of any breakpoint() in a function it converts."""
    breakpoint()
