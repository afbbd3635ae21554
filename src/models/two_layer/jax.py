"""The two-layer net in JAX, as the seed writes it: a pure function of the weights, for jax.jit and the
plain (op by op) JAX loop alike."""
from __future__ import annotations

import jax.numpy as jnp

from src.frameworks.jax import hidden


def loss(params: dict, data: dict, inputs: dict, problem):
    h_relu = jnp.maximum(data["x"] @ params["w1"], 0.0)
    h_relu = hidden(h_relu, inputs, problem)  # debug.probe, debug.fault; else h_relu as it is
    y_pred = h_relu @ params["w2"]
    return jnp.sum(jnp.square(data["y"] - y_pred))
