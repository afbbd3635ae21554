"""Models: one folder each, src/models/<name>/.

- `spec.py`, framework-free (numpy only), says what the model is:
    `Config`         its config schema and defaults (a dataclass under ModelConfig; conf/model/<name>.yaml
                     selects it and writes no value again)
    `start(cfg, batch_size, rng)`
                     its seeded start: (data, weights), dicts of float64 numpy arrays. Weight names are the
                     model's parameter names in every framework and in checkpoints.
    `step_inputs(cfg, rng, start, stop)`  (optional; default: none)
                     what changes from step to step, as integer columns by name (DynamicNet: its depth).
                     Position i is step i+1's input, drawn so that it never depends on `stop`.
    `step_scalars(cfg, data, inputs)`  (optional; default: none)
                     what TensorBoard shows per step about those inputs, as columns by tag.
    `check(cfg, refuse)`  (optional)  values no type can rule out: refuse(key, value, allowed).
- one file per framework it runs on (the registry's Framework.model_file), which builds the model from a
  Problem (src/problem.py) and computes one step's loss from the step's inputs: `torch.py` (an nn.Module
  with `loss(inputs)`), `tf.py` (`loss(params, data, inputs, problem)`, for graph and eager mode alike),
  `jax.py` (the same signature, a pure function of `params`, for jax.jit and op by op alike).
"""
from __future__ import annotations

import importlib
from types import ModuleType

from src.errors import ConfigError


def spec(name: str) -> ModuleType:
    from src.registry import MODELS

    if name not in MODELS:
        raise ConfigError(f"model={name} is not known: use one of {', '.join(MODELS)}.")
    return importlib.import_module(f"src.models.{name}.spec")
