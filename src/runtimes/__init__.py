"""Runtime registry.

Each runtime is a module with `fit(problem, cfg, recorder, threads)` that imports its framework.
What the orchestrator needs to know before that import (framework, graph kind, what it can honour)
lives here, so bad options are refused before seconds are spent importing a framework.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from src.errors import ConfigError


@dataclass(frozen=True)
class RuntimeSpec:
    module: str
    framework: str  # torch | tensorflow
    graph: str  # static | dynamic
    multi_device: bool  # honours trainer.devices > 1 and trainer.strategy


RUNTIMES = {
    "lightning": RuntimeSpec("src.runtimes.lightning", "torch", "dynamic", multi_device=True),
    "tf_session": RuntimeSpec("src.runtimes.tf_session", "tensorflow", "static", multi_device=False),
    "tf_eager": RuntimeSpec("src.runtimes.tf_eager", "tensorflow", "dynamic", multi_device=False),
    "tf_function": RuntimeSpec("src.runtimes.tf_function", "tensorflow", "static", multi_device=False),
    "lightning_compile": RuntimeSpec("src.runtimes.lightning_compile", "torch", "static", multi_device=True),
}


def spec(name: str) -> RuntimeSpec:
    if name not in RUNTIMES:
        raise ConfigError(f"runtime={name} is not known: use one of {', '.join(RUNTIMES)}.")
    return RUNTIMES[name]


def check(cfg) -> None:
    """Refuse options the chosen runtime cannot honour."""
    s, t = spec(cfg.runtime.name), cfg.trainer
    if not s.multi_device:
        if t.devices != 1:
            raise ConfigError(f"trainer.devices={t.devices} is not supported by runtime={cfg.runtime.name}, "
                              "which trains on one device: use trainer.devices=1, or runtime=lightning.")
        if t.strategy != "auto":
            raise ConfigError(f"trainer.strategy={t.strategy} is not supported by runtime={cfg.runtime.name}: "
                              "use trainer.strategy=auto, or runtime=lightning.")


def load(name: str):
    return importlib.import_module(spec(name).module)
