"""What runtimes of one framework share: src/frameworks/<framework>.py.  Each framework's `begin(problem, cfg,
recorder, threads)` is what every runtime of it does first (threads, the device, recorder.start, the model's
file); it returns a `Start`.  This module imports no framework."""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Start:
    accelerator: str  # 'cpu' or 'gpu': what the run uses (result.json's accelerator)
    model: ModuleType  # the model's file for the framework (src/models/<model>/<file>.py)
    device: Any = None  # the framework's device for it (a torch.device, a TensorFlow device name, a JAX device)


def started(framework: str, problem, recorder, accelerator: str, device: Any = None) -> Start:
    """The run is accepted (recorder.start: from now on it owns its directory), then the model's file for
    `framework` is imported: once the device is known and before anything is built."""
    from src.registry import model_module

    recorder.start(accelerator)
    return Start(accelerator, importlib.import_module(model_module(problem.model, framework)), device)
