"""Checkpoints in one framework-neutral file: weights and SGD momentum under the names of
src/problem.py, and the number of steps done (which is also the position in the depth sequence).

Written atomically, so an interruption never leaves a half-written checkpoint behind."""
from __future__ import annotations

import os
import zipfile

import numpy as np

from src.errors import ConfigError

FILE = "checkpoint.npz"


def save(run_dir: str, step: int, weights: dict[str, np.ndarray], momentum: dict[str, np.ndarray]) -> str:
    arrays = {f"weight/{k}": v for k, v in weights.items()}
    arrays.update({f"momentum/{k}": v for k, v in momentum.items()})
    path = os.path.join(run_dir, FILE)
    tmp = path + ".tmp.npz"
    np.savez(tmp, step=np.int64(step), **arrays)
    os.replace(tmp, path)
    return path


def load(run_dir: str, expected: dict[str, np.ndarray] | None) -> tuple[int, dict, dict]:
    """(step, weights, momentum) from `run_dir`, checked against the shapes of `expected`."""
    path = os.path.join(run_dir, FILE)
    if not os.path.exists(path):
        raise ConfigError(f"resume={run_dir}: no {FILE} there: it is not a graphduel run directory, "
                          "or the run stopped before its first checkpoint.")
    try:
        with np.load(path) as f:
            step = int(f["step"])
            weights = {k[len("weight/"):]: f[k] for k in f.files if k.startswith("weight/")}
            momentum = {k[len("momentum/"):]: f[k] for k in f.files if k.startswith("momentum/")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise ConfigError(f"resume={run_dir}: {FILE} is damaged ({type(e).__name__}: {e}); "
                          "start a new run instead.") from None
    shapes = {k: v.shape for k, v in weights.items()}
    if expected is None:
        return step, weights, momentum
    want = {k: v.shape for k, v in expected.items()}
    if shapes != want:
        raise ConfigError(f"resume={run_dir}: {FILE} holds weights {shapes}, but this config needs {want}: "
                          "resume with the run's own model sizes.")
    return step, weights, momentum
