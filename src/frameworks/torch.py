"""PyTorch helpers shared by every torch runtime and model file: the device, threads, precision, loading a
Problem's arrays, and importing Lightning quietly."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from torch import nn

from src.errors import ConfigError


def accelerator(requested: str) -> str:
    """'cpu' or 'gpu' for trainer.accelerator (auto, cpu, gpu); a one-line error if a GPU is asked for and absent."""
    has_gpu = torch.cuda.is_available()
    if requested == "gpu" and not has_gpu:
        raise ConfigError("trainer.accelerator=gpu, but PyTorch sees no CUDA GPU here "
                          "(torch.cuda.is_available() is False): use trainer.accelerator=cpu or auto.")
    return ("gpu" if has_gpu else "cpu") if requested == "auto" else requested


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def parameter(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(a.copy()))


def linear(weights: dict[str, np.ndarray], name: str) -> nn.Linear:
    """An nn.Linear holding the spec's `<name>.weight` (out, in) and `<name>.bias`."""
    out_f, in_f = weights[f"{name}.weight"].shape
    layer = nn.Linear(in_f, out_f)
    layer.weight = parameter(weights[f"{name}.weight"])
    layer.bias = parameter(weights[f"{name}.bias"])
    return layer


def add_data(module: nn.Module, problem) -> None:
    """The problem's data as buffers: they move with the module to the device, so a step feeds nothing."""
    for name, a in problem.data.items():
        module.register_buffer(name, torch.from_numpy(a.copy()), persistent=False)


def import_lightning():
    """pytorch_lightning, without its start-up banner or torch 2.13's pytree warning (nothing a user can act on)."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # Where Slurm is installed, Lightning suggests srun even for a run that does not want a cluster.
    warnings.filterwarnings("ignore", message=r"The `srun` command is available")
    import pytorch_lightning as pl

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "GPU available: ..." banner per run
    return pl
