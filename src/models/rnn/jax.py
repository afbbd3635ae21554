"""The Elman RNN in JAX, a pure function of the weights: the time loop either a Python loop, `longest`
times (the plain JAX loop, op by op: a new graph each step, like eager torch), or, when `longest` is a
traced int32 (jax_jit), one `lax.fori_loop` over max_len with a `lax.cond` on `t < longest`: one compile
serves every length, and at run time only `longest` time steps are computed (the cond runs one branch,
the other passes h through).  As in DynamicNet's JAX file (its docstring weighs the alternatives): a
trip count that is itself traced cannot be differentiated in reverse mode, a fixed one (max_len) can.
A sequence shorter than its batch's longest keeps its state through the padded steps (a mask), as in
the torch and TensorFlow files, so the three compute the same loss."""
from __future__ import annotations

import jax.numpy as jnp
from jax import lax

from src.frameworks.jax import dense, hidden


def loss(params: dict, data: dict, inputs: dict, problem):
    batch, longest = inputs["batch"], inputs["longest"]
    x, lengths, y = data["x"][batch], data["lengths"][batch], data["y"][batch]
    h = jnp.zeros((x.shape[0], problem.cfg.hidden), dtype=x.dtype)

    def step(t, h):
        h_next = jnp.tanh(dense(x[:, t], params, "input") + dense(h, params, "recurrent"))
        return jnp.where((t < lengths)[:, None], h_next, h)  # a finished sequence keeps its last valid state

    if isinstance(longest, int):  # concrete: run it as Python runs it
        for t in range(longest):
            h = step(t, h)
    else:  # traced: in the compiled step
        h = lax.fori_loop(0, problem.cfg.max_len,
                          lambda t, h: lax.cond(t < longest, lambda h: step(t, h), lambda h: h, h), h)
    h = hidden(h, inputs, problem)  # debug.probe, debug.fault; else h as it is
    return jnp.sum(jnp.square(y - dense(h, params, "output")))
