"""JAX's static graph: the whole training step (forward, loss, gradients, SGD with momentum) one pure
function, traced and compiled by XLA once, before the loop, then run as one executable every step.

The step's inputs are int32 arguments, never constants: DynamicNet's depth is a value the compiled loop
reads (src/models/dynamic/jax.py), so one compile serves every depth.  The compile is ahead of time
(`jit(...).lower(...).compile()`), so it is part of the setup, and a step can never recompile: the
executable refuses arguments of another shape or dtype instead.  The weights and momentum buffers are
donated: XLA writes the new ones into the old ones' memory, so a step holds one copy of them, not two (no
measurable speed difference on a CPU; on a GPU, memory is what is short)."""
from __future__ import annotations

import time

import numpy as np

from src import compile_cache
from src.frameworks import jax as jaxw
from src.frameworks.jax import jax
from src.runtimes.base import train_calls, train_loop


def compile_step(problem, model, params, buffers, data, recorder=None, steps_per_call: int = 1):
    """The jitted training step compiled for these arguments: step(params, buffers, data, inputs) ->
    (params, buffers, loss).  Python runs `train_step` once, to trace it.  The recorder, if given, is told
    of the two builds: the trace (and lowering to StableHLO), with its jaxpr's size, and XLA's compile.

    With steps_per_call = K > 1, the compiled function runs up to K steps in one call, a lax.fori_loop over
    them: step(params, buffers, data, inputs, n) -> (params, buffers, losses), the inputs int32 arrays of K
    (the steps' inputs, padded), n the steps to run (a traced trip count: the loop is not differentiated,
    only each step inside it, so one compile serves a run's shorter last call too), losses K of them."""

    train_step = jaxw.train_step(problem, model)

    def train_steps(params, buffers, data, inputs, n):
        def body(i, carry):
            params, buffers, losses = carry
            params, buffers, loss = train_step(params, buffers, data, {k: v[i] for k, v in inputs.items()})
            return params, buffers, losses.at[i].set(loss)

        losses = jax.numpy.zeros(steps_per_call, dtype=problem.dtype)
        return jax.lax.fori_loop(0, n, body, (params, buffers, losses))

    example = jaxw.example_inputs(problem)
    # Each stage of JAX's ahead-of-time API timed apart: Python traced to a jaxpr, lowered to StableHLO,
    # compiled by XLA (the phases of result.json's builds).
    t = time.perf_counter()
    args, names = (params, buffers, data, example), jaxw.STEP_ARGS
    if steps_per_call > 1:
        args = (params, buffers, data, {k: np.zeros(steps_per_call, np.int32) for k in example},
                np.int32(steps_per_call))
        names += ("steps_in_call",)
    traced = jax.jit(train_steps if steps_per_call > 1 else train_step, donate_argnums=(0, 1)).trace(*args)
    t_traced = time.perf_counter()
    lowered = traced.lower()
    t_lowered = time.perf_counter()
    if recorder is not None:
        build = recorder.graph_built(t_lowered - t, "trace", nodes=jaxw.equations(traced.jaxpr))
        build["phases"] = {"trace_ms": round((t_traced - t) * 1e3, 3),
                           "lower_ms": round((t_lowered - t_traced) * 1e3, 3)}
        graph = jaxw.step_graph(traced, args, names)
        recorder.write_graph(graph.SerializeToString())
        recorder.status("compiling the step with XLA (jax.jit)...")
    compiled = lowered.compile()
    if recorder is not None:
        seconds = time.perf_counter() - t_lowered
        build = recorder.graph_built(seconds, "XLA compile", count=False)
        build["phases"] = {"xla_compile_ms": round(seconds * 1e3, 3)}
    return compiled


def fit(problem, cfg, recorder, threads: int) -> None:
    start = jaxw.begin(problem, cfg, recorder, threads)
    model, dev = start.model, start.device
    with jaxw.precision(problem):
        state, data = jaxw.start_state(problem, dev)
        recorder.status("tracing the step (jax.jit)...")
        hits = jaxw.use_compile_cache(compile_cache.current())
        k = cfg.trainer.steps_per_call
        step = compile_step(problem, model, state["params"], state["buffers"], data, recorder, steps_per_call=k)
        recorder.record("cache_hits", hits())

        def state_now():
            return jaxw.numpy(state["params"]), jaxw.numpy(state["buffers"])

        if k > 1:
            def call(columns: dict, n: int) -> list:
                padded = {name: np.pad(col, (0, k - n)).astype(np.int32) for name, col in columns.items()}
                state["params"], state["buffers"], losses = step(state["params"], state["buffers"], data, padded,
                                                                 np.int32(n))
                return np.asarray(losses)[:n].tolist()  # waits for the call

            train_calls(problem, cfg, recorder, call, state_now, k)
            return

        def run(inputs: dict) -> float:
            t = time.perf_counter()
            state["params"], state["buffers"], loss = step(
                state["params"], state["buffers"], data, {k: np.int32(v) for k, v in inputs.items()})
            recorder.scalar("time/dispatch_ms", (time.perf_counter() - t) * 1e3)  # until XLA has the step
            return float(loss)  # waits for the step: JAX dispatches asynchronously

        train_loop(problem, cfg, recorder, run, state_now)
