"""JAX op by op, no jit: JAX's dynamic graph, the partner of jax_jit as tf_eager is tf_function's.

jax.value_and_grad of the model's loss, called on concrete arrays every step, as the plain JAX loop
(src/reference/jax_loop.py) and JAX's own tutorials do before they reach for jax.jit: Python runs the
forward pass every step, each op dispatched to XLA on its own (XLA compiles each primitive once, for its
shapes, and caches it), the backward traced anew every step; DynamicNet's depth is a Python int and its
loop a Python loop, rnn's time loop likewise.  It builds no graph ahead of time; instead it reports,
every step, the primitives that step dispatched (src/frameworks/jax.py PrimitiveCounter).  Then the same
SGD with torch's momentum rule as jax_jit."""
from __future__ import annotations

from src.frameworks import jax as jaxw
from src.frameworks.jax import jax
from src.runtimes.base import train_loop


def fit(problem, cfg, recorder, threads: int) -> None:
    start = jaxw.begin(problem, cfg, recorder, threads)
    model, dev = start.model, start.device
    with jaxw.precision(problem):
        state, data = jaxw.start_state(problem, dev)
        grad_fn = jax.value_and_grad(model.loss)
        ops = jaxw.PrimitiveCounter()

        def run(inputs: dict) -> float:
            loss, grads = grad_fn(state["params"], data, inputs, problem)
            recorder.graph_nodes(ops.take())
            state["params"], state["buffers"] = jaxw.sgd(problem, state["params"], state["buffers"], grads)
            return float(loss)  # waits for the step: JAX dispatches asynchronously

        try:
            train_loop(problem, cfg, recorder, run,
                       lambda: (jaxw.numpy(state["params"]), jaxw.numpy(state["buffers"])))
        finally:
            ops.close()
        # For the Graphs tab: the graph an eager step runs op by op, traced once after training, untimed (as
        # tf_eager does); the same pure step jax_jit compiles.
        args = (state["params"], state["buffers"], data, jaxw.example_inputs(problem))
        try:
            traced = jax.jit(jaxw.train_step(problem, model)).trace(*args)
        except jax.errors.ConcretizationTypeError:  # a Python `if` on a value (debug.fault=data_if): eager runs
            return  # it, jit cannot trace it: there is no graph to show
        recorder.write_graph(jaxw.step_graph(traced, args, jaxw.STEP_ARGS).SerializeToString())
