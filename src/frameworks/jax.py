"""JAX helpers shared by jax_jit, the plain JAX loop and the JAX model files: precision (x64 mode), the
device, threads, loading a Problem's arrays, and the SGD update both loops apply.

JAX is imported here and nowhere else but in JAX files: a JAX run imports neither torch nor TensorFlow."""
from __future__ import annotations

import contextlib
import logging
import os

import numpy as np

# On a GPU, JAX would otherwise take 75% of the card's memory at its first array (TensorFlow's runtimes
# ask for memory growth likewise).  Read when the GPU backend starts, so it is set before any array.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

_log_level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
import jax  # noqa: E402

if _log_level is None:
    # JAX sets TF_CPP_MIN_LOG_LEVEL=1 for its C++ logging, which reads it during the import; left set,
    # TensorFlow later in the same process (a sweep) or in its children would log at 1, not graphduel's
    # quiet 3 (src/frameworks/tf.py).  The environment is given back as JAX found it.
    os.environ.pop("TF_CPP_MIN_LOG_LEVEL", None)

from src.errors import ConfigError  # noqa: E402
from src.frameworks import Start, started  # noqa: E402

# Under Hydra, whose logging shows INFO, JAX would say which backends it could not start (TPU, CUDA) on
# every run: nothing a user can act on.  Its warnings still show.
logging.getLogger("jax").setLevel(logging.WARNING)


def precision(problem):
    """A context in which JAX computes at the problem's precision.  JAX is float32 unless x64 mode is on:
    without it, the float64 arrays of a trainer.precision=64 run would be cut to float32 as they enter
    JAX (and the step's ints to int32).  As a context (thread-local, like JAX's own), every array a run
    makes is made under its own setting, and a float32 run after a float64 one in the same process is
    float32 again; the jit cache keys on the setting, so neither reuses the other's compiled step."""
    return jax.enable_x64(problem.precision == 64)


def set_threads(threads: int) -> None:
    """XLA's CPU backend has no thread setting: it starts one thread pool per process, when the backend
    starts (the first array or device query), as large as the cores the starting thread may run on, and
    XLA_FLAGS' --xla_cpu_multi_thread_eigen=false no longer narrows it (docs/measurements.md#xla-cpu-threads).
    So `threads` is honoured by narrowing this thread's affinity to `threads` cores while the backend starts,
    then giving this thread and those the backend started their cores back: the pool has `threads` workers,
    free to run on any core.  Once per process: the first JAX run sizes the pool for every later one in the
    same process (a CLI run and each benchmark measurement have a process of their own; a test process keeps
    its first)."""
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if not cores or threads >= len(cores):
        return
    before = set(os.listdir("/proc/self/task"))
    os.sched_setaffinity(0, sorted(cores)[:threads])
    try:
        jax.devices()  # the backends start here (if they have not yet), their pools sized by this affinity
    finally:
        os.sched_setaffinity(0, cores)
        for tid in set(os.listdir("/proc/self/task")) - before:  # threads started meanwhile inherited it
            with contextlib.suppress(OSError):
                os.sched_setaffinity(int(tid), cores)


def begin(problem, cfg, recorder, threads: int) -> Start:
    """What every JAX runtime does first: XLA's CPU threads (before anything starts its backend), its device
    (a one-line error if it cannot have it), recorder.start, and the model's jax.py."""
    set_threads(threads)
    acc = accelerator(cfg.trainer.accelerator)
    return started("jax", problem, recorder, acc, device(acc))


def _gpus() -> list:
    try:
        return jax.devices("gpu")
    except RuntimeError:  # "Unknown backend: 'gpu' requested": a CPU-only jaxlib, or no GPU
        return []


def accelerator(requested: str) -> str:
    """'cpu' or 'gpu' for trainer.accelerator; a one-line error if a GPU is asked for and JAX sees none."""
    gpus = _gpus()
    if requested == "gpu" and not gpus:
        raise ConfigError("trainer.accelerator=gpu, but JAX sees no GPU here (jax.devices('gpu') finds none): "
                          "use trainer.accelerator=cpu or auto, or install JAX's CUDA build "
                          "(pip install 'jax[cuda12]==0.10.2', docs/xla.md).")
    return "gpu" if gpus and requested in ("gpu", "auto") else "cpu"


def device(accelerator: str):
    return jax.devices("gpu" if accelerator == "gpu" else "cpu")[0]


def arrays(named: dict[str, np.ndarray], dev) -> dict:
    """numpy arrays as JAX arrays on `dev`, copied: on the CPU JAX may otherwise share the numpy memory, and
    a step that donates its weights' buffers (jax_jit) would then overwrite the Problem's own arrays."""
    return {k: jax.device_put(np.array(v, copy=True), dev) for k, v in named.items()}


def numpy(named: dict) -> dict[str, np.ndarray]:
    """JAX arrays back as numpy copies (a checkpoint outlives the buffers a later step donates)."""
    return {k: np.array(v, copy=True) for k, v in named.items()}


def momentum_buffers(problem, dev) -> dict:
    """The SGD momentum buffers on `dev`: a resumed run's, else zeros (torch starts at buf = grad, and
    0.9 * 0 + grad is the same number); none without momentum, like torch's optimizer state."""
    if not problem.momentum:
        return {}
    return arrays({k: problem.momentum_state.get(k, np.zeros_like(w)) for k, w in problem.weights.items()}, dev)


_cache_hits = [0]  # JAX's persistent-cache hits in this process, from its monitoring events


def _on_event(name: str, **kwargs) -> None:
    if name == "/jax/compilation_cache/cache_hits":
        _cache_hits[0] += 1


jax.monitoring.register_event_listener(_on_event)


def use_compile_cache(cache):
    """JAX's caches for this run (src/compile_cache.py `current()`): its in-memory caches cleared (a jit of
    an earlier run in this process would otherwise be reused), and its persistent compilation cache off
    (cold: as JAX is by default) or in the warm cache's directory, keeping every compile however quick.
    Returns hits() -> the persistent-cache hits since, from JAX's own monitoring events."""
    from jax._src import compilation_cache

    jax.clear_caches()
    warm = cache is not None and cache.mode == "warm"
    jax.config.update("jax_enable_compilation_cache", warm)
    if warm:
        jax.config.update("jax_compilation_cache_dir", cache.sub("jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    compilation_cache.reset_cache()  # it opens its directory once: make it open this run's
    base = _cache_hits[0]
    return lambda: _cache_hits[0] - base


def dense(h, params: dict, layer: str):
    """h through the spec's `<layer>.weight` (torch's (out, in) layout) and `<layer>.bias` if it has one."""
    out = h @ params[f"{layer}.weight"].T
    return out + params[f"{layer}.bias"] if f"{layer}.bias" in params else out


def sgd(problem, params: dict, buffers: dict, grads: dict) -> tuple[dict, dict]:
    """torch's SGD rule: buf = momentum * buf + grad; w -= lr * buf.  The rates are Python floats, which JAX
    takes as weakly typed: they become the weights' dtype, so 0.9 stays 0.9 at float64.  Every weight has a
    gradient (value_and_grad gives an unused layer zeros), so its momentum keeps moving it, as in torch."""
    lr, mom = problem.lr, problem.momentum
    if not mom:
        return {k: w - lr * grads[k] for k, w in params.items()}, buffers
    buffers = {k: mom * buffers[k] + grads[k] for k in params}
    return {k: w - lr * buffers[k] for k, w in params.items()}, buffers


def equations(jaxpr) -> int:
    """The equations of a (closed) jaxpr, those of the jaxprs inside it (a loop's body, a cond's branches)
    included: the size of the graph jax.jit traced, as graph_nodes counts a GraphDef's nodes."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    n = 0
    for eqn in jaxpr.eqns:
        n += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if hasattr(getattr(sub, "jaxpr", sub), "eqns"):
                    n += equations(sub)
    return n


def start_state(problem, dev) -> tuple[dict, dict]:
    """Where every JAX runtime starts, on its device (within `precision`): the state a step updates, its
    weights and momentum buffers, and the data."""
    state = {"params": arrays(problem.weights, dev), "buffers": momentum_buffers(problem, dev)}
    return state, arrays(problem.data, dev)


STEP_ARGS = ("parameters", "momentum", "data", "inputs")  # a training step's arguments, as step_graph names them


def train_step(problem, model):
    """One training step as a pure function: (params, buffers, data, inputs) -> (params, buffers, loss), its
    parts in named scopes (forward, and within it value_and_grad's transpose; update) for step_graph."""

    def train_step(params, buffers, data, inputs):  # its name is the jit's in JAX's logs and events
        with jax.named_scope("forward"):  # value_and_grad's backward is marked transpose(...) within it
            loss, grads = jax.value_and_grad(model.loss)(params, data, inputs, problem)
        with jax.named_scope("update"):
            params, buffers = sgd(problem, params, buffers, grads)
        return params, buffers, loss

    return train_step


def example_inputs(problem) -> dict:
    """A step's inputs (DynamicNet's depth, rnn's length...) as int32 scalars, to trace a step with."""
    return {k: np.int32(0) for k in problem.input_columns(0, 0)}


def step_graph(traced, args: tuple, names: tuple):
    """The jaxpr jax.jit traced, as a GraphDef for TensorBoard's Graphs tab, laid out as TensorFlow lays out
    its own: each argument under its group (`names`, one per argument: parameters/, momentum/, data/,
    inputs/), then forward/, gradients/ (what value_and_grad's transpose added) and update/, by the name
    stack JAX records for each equation (train_step's named scopes).  A loop or cond is one node."""
    from tensorboard.compat.proto.graph_pb2 import GraphDef

    graph, source = GraphDef(), {}
    leaves = jax.tree_util.tree_flatten_with_path(args)[0]
    for var, (path, _) in zip(traced.jaxpr.jaxpr.invars, leaves):
        group, key = names[path[0].idx], "/".join(str(getattr(k, "key", k)) for k in path[1:])
        source[var] = f"{group}/{key}" if key else group
        graph.node.add(name=source[var], op="Placeholder")
    for i, eqn in enumerate(traced.jaxpr.jaxpr.eqns):
        stack = str(eqn.source_info.name_stack)
        scope = "update" if stack.startswith("update") else "gradients" if "transpose(" in stack else "forward"
        name = f"{scope}/{eqn.primitive.name}_{i}"
        graph.node.add(name=name, op=eqn.primitive.name,
                       input=[source[v] for v in eqn.invars if not hasattr(v, "val")])  # a literal: no node
        source.update((v, name) for v in eqn.outvars)
    return graph


class PrimitiveCounter:
    """Counts the primitives an op-by-op (un-jitted) step dispatches from Python: the dynamic graph JAX builds
    and runs as it goes, forward and the backward value_and_grad traces anew every step, as tf_eager's
    OpCounter counts TensorFlow's.  Through the eager trace's primitive hook (private:
    jax._src.core.EvalTrace.process_primitive); a jnp helper that is itself jitted counts as one, and ops
    that reach XLA through jit's C++ fast path (the SGD update's arithmetic on concrete arrays) are not seen."""

    def __init__(self):
        from jax._src import core

        self._cls, self.ops = core.EvalTrace, 0
        self._original = core.EvalTrace.process_primitive
        original, counter = self._original, self

        def process_primitive(trace, primitive, args, params, /):
            counter.ops += 1
            return original(trace, primitive, args, params)

        core.EvalTrace.process_primitive = process_primitive

    def take(self) -> int:
        n, self.ops = self.ops, 0
        return n

    def close(self) -> None:
        self._cls.process_primitive = self._original


def hidden(h, inputs: dict, problem):
    """A model's hidden layer as a user looking inside the step, or a user's bug, leaves it (debug.probe,
    debug.fault: docs/debugging.md); without either, h itself.  Written once for both ways JAX runs it, op
    by op (jax_eager: the step is a Python int) and under jax.jit (a traced int32), as a JAX user writes
    them: print or jax.debug.print, breakpoint(), jnp.where for a value that depends on the step."""
    import jax.numpy as jnp

    if problem.probe == "print":
        print("probe: hidden mean", h.mean(), "norm", jnp.linalg.norm(h))
    elif problem.probe == "native":
        jax.debug.print("probe: hidden mean {} norm {}", h.mean(), jnp.linalg.norm(h))
    elif problem.probe == "breakpoint":
        stop_here(h)
    fault, step, k = problem.fault, inputs.get("step"), problem.fault_step
    if fault == "nan":
        h = jnp.where(step >= k, jnp.nan, h)  # the hidden layer NaN from step k on
    elif fault == "shape":
        h = h[:, :h.shape[1] - (step == k)]  # one unit short at step k: the next layer's matmul cannot take it
    elif fault == "data_if":
        if jnp.sum(h) < 0:  # a Python if on a tensor's value (never true after a ReLU; tanh: it may be)
            h = -h
    elif fault == "index":
        h = h + 0 * h[:, h.shape[1] - 1 + (step >= k)][:, None]  # one past the last unit from step k on
    return h


def stop_here(h) -> None:
    """debug.probe=breakpoint: Python's breakpoint() with the hidden layer in scope (`p h.mean()`).  A
    function of its own, called only by that probe: AutoGraph warns of any breakpoint() in a function it converts."""
    breakpoint()
