"""DynamicNet in JAX: a pure function of the weights, its depth either a Python int (the plain JAX loop,
op by op: a Python loop, a new graph each step, like the seed's torch) or a traced int32 (jax_jit: one
compiled step serves every depth).

Under jax.jit the reuse of the middle layer is a `lax.fori_loop` over max_depth with a `lax.cond` on
`i < depth`: one compile for all depths, the code of one layer whatever max_depth is, and at run time only
`depth` layers computed (the cond runs one branch; the others pass h through).  Measured here against the
alternatives (tests/test_xla.py pins the one compile; docs/xla.md has the numbers):
- `fori_loop(0, depth)` with the traced depth: reverse-mode cannot differentiate a loop whose trip count
  is traced (ValueError); a trip count fixed at max_depth makes it a scan, which it can.
- `lax.switch` over max_depth + 1 unrolled branches: one compile too, but its code grows with
  max_depth squared (the branch for depth k holds k layers): slower to compile as max_depth grows.
- a mask (`jnp.where(i < depth, layer(h), h)`): computes all max_depth layers every step.
- depth as a static argument: one compile per depth (as torch.compile does), max_depth + 1 compiles."""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from src.frameworks.jax import dense, hidden


def loss(params: dict, data: dict, inputs: dict, problem):
    depth = inputs["depth"]

    def middle(h):  # the one middle layer, shared
        return jax.nn.relu(dense(h, params, "middle"))

    h_relu = jax.nn.relu(dense(data["x"], params, "input"))
    if isinstance(depth, int):  # concrete: run it as Python runs it
        for _ in range(depth):
            h_relu = middle(h_relu)
    else:  # traced: in the compiled step
        h_relu = lax.fori_loop(0, problem.cfg.max_depth,
                               lambda i, h: lax.cond(i < depth, middle, lambda h: h, h), h_relu)
    h_relu = hidden(h_relu, inputs, problem)  # debug.probe, debug.fault; else h_relu as it is
    y_pred = dense(h_relu, params, "output")
    return jnp.sum(jnp.square(data["y"] - y_pred))
