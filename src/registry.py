"""The one list of what graphduel can run: models, runtimes, and each framework's plain reference loop.

The experiment preset, the benchmark, the sweep summary, the pre-flight checks and the tests all read
it, so adding a model or a runtime is one line here (plus its own folder or file, and its yaml).
Nothing here imports a framework: it is read before any is chosen.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from src.errors import ConfigError


@dataclass(frozen=True)
class Framework:
    model_file: str  # what a model needs to run on it: src/models/<model>/<model_file>.py
    reference: str  # its plain loop, the benchmark's baseline: src/reference/<reference>.py
    graph: str  # the graph kind of that plain loop


@dataclass(frozen=True)
class Runtime:
    framework: str  # a key of FRAMEWORKS
    graph: str  # static | dynamic
    what: str  # one line, for --help and the docs
    multi_device: bool = False  # honours trainer.devices > 1 and trainer.strategy
    steps_per_call: bool = False  # can run trainer.steps_per_call steps in one graph call (an in-graph loop)


FRAMEWORKS = {
    "torch": Framework(model_file="torch", reference="torch_loop", graph="dynamic"),
    "tensorflow": Framework(model_file="tf", reference="tf_loop", graph="static"),
    "jax": Framework(model_file="jax", reference="jax_loop", graph="dynamic"),
}

# Each model is a folder, src/models/<name>/ (spec.py, framework-free, and one file per framework),
# and conf/model/<name>.yaml.
MODELS = ("two_layer", "dynamic", "rnn")

# Each runtime is a file, src/runtimes/<name>.py, and conf/runtime/<name>.yaml.
RUNTIMES = {
    "lightning": Runtime("torch", "dynamic", "eager PyTorch under a Lightning Trainer: a new graph every step",
                         multi_device=True),
    "lightning_compile": Runtime("torch", "static", "the same, the model under torch.compile",
                                 multi_device=True),
    "tf_session": Runtime("tensorflow", "static", "TF 1.x: the graph built and finalized once, run by a Session",
                          steps_per_call=True),
    "tf_eager": Runtime("tensorflow", "dynamic", "TF 2 eager with GradientTape: Python runs every op, every step"),
    "tf_function": Runtime("tensorflow", "static", "the same step traced once by tf.function", steps_per_call=True),
    "tf_xla": Runtime("tensorflow", "static", "the same step traced once and compiled by XLA "
                                              "(tf.function(jit_compile=True))", steps_per_call=True),
    "jax_eager": Runtime("jax", "dynamic", "JAX op by op: value_and_grad without jit, Python runs every op, "
                                           "every step"),
    "jax_jit": Runtime("jax", "static", "JAX: the whole step under jax.jit, compiled by XLA once for every "
                                        "depth and length", steps_per_call=True),
}


for _name, _rt in RUNTIMES.items():  # a runtime needs its framework's plain loop, the benchmark's baseline
    if _rt.framework not in FRAMEWORKS:
        raise RuntimeError(f"src/registry.py: runtime {_name} runs on {_rt.framework}, which FRAMEWORKS does not "
                           "list: add it, with its plain reference loop (src/reference/).")


def runtime(name: str) -> Runtime:
    if name not in RUNTIMES:
        raise ConfigError(f"runtime={name} is not known: use one of {', '.join(RUNTIMES)}.")
    return RUNTIMES[name]


def runtime_module(name: str) -> str:
    runtime(name)
    return f"src.runtimes.{name}"


def model_module(model: str, framework: str) -> str:
    """The module of `model` for `framework`; a clear error where the model has none."""
    module = f"src.models.{model}.{FRAMEWORKS[framework].model_file}"
    if importlib.util.find_spec(module) is None:
        users = ", ".join(n for n, r in RUNTIMES.items() if r.framework == framework)
        raise ConfigError(f"model={model} has no {framework} implementation (src/models/{model}/"
                          f"{FRAMEWORKS[framework].model_file}.py), which runtime {users} needs: pick another runtime.")
    return module
