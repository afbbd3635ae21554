"""The plain JAX loop, no jit: the benchmark's JAX baseline, JAX's eager (dynamic graph) way.

jax.value_and_grad of the model's loss, run op by op: Python runs the forward pass every step, each op
dispatched to XLA on its own (JAX compiles each primitive once and caches it), the gradient traced
anew every step; DynamicNet's depth is a Python int and its loop a Python loop.  Then the same SGD with
torch's momentum rule as jax_jit, also op by op; the loss read out every step, like the seeds print it."""
from __future__ import annotations

import importlib

from src.frameworks import jax as jaxw
from src.frameworks.jax import jax
from src.registry import model_module


def run(problem, steps: int, threads: int, on_step) -> None:
    """Runs `steps` steps, calling on_step(loss) after each."""
    jaxw.set_threads(threads)
    model = importlib.import_module(model_module(problem.model, "jax"))
    dev = jaxw.device("cpu")
    with jaxw.precision(problem):
        params, data = jaxw.arrays(problem.weights, dev), jaxw.arrays(problem.data, dev)
        buffers = jaxw.momentum_buffers(problem, dev)
        grad_fn = jax.value_and_grad(model.loss)
        for inputs in problem.inputs(0, steps):
            loss, grads = grad_fn(params, data, inputs, problem)
            on_step(float(loss))
            params, buffers = jaxw.sgd(problem, params, buffers, grads)
