"""Checkpoints in one framework-neutral file: the model's name, its weights and SGD momentum under the
names of its spec, and the number of steps done (which is also the position in its per-step inputs).

Written atomically, so an interruption never leaves a half-written checkpoint behind."""
from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from src.errors import ConfigError

FILE = "checkpoint.npz"


def save(run_dir: str, step: int, weights: dict[str, np.ndarray], momentum: dict[str, np.ndarray],
         model: str) -> str:
    arrays = {f"weight/{k}": v for k, v in weights.items()}
    arrays.update({f"momentum/{k}": v for k, v in momentum.items()})
    path = os.path.join(run_dir, FILE)
    tmp = path + ".tmp.npz"
    from src.owner import writing

    with writing(path, "the checkpoint", tmp):  # a full disk: one line, no temp file left, the old one kept
        np.savez(tmp, step=np.int64(step), model=np.str_(model), **arrays)
        os.replace(tmp, path)
    return path


@dataclass
class Checkpoint:
    step: int
    model: str | None  # None in checkpoints written before it was recorded
    weights: dict[str, np.ndarray]
    momentum: dict[str, np.ndarray]


def load(run_dir: str) -> Checkpoint:
    """The checkpoint in `run_dir`; a one-line ConfigError if it is missing or damaged."""
    path = os.path.join(run_dir, FILE)
    if not os.path.exists(path):
        raise ConfigError(f"resume={run_dir}: no {FILE} there: it is not a graphduel run directory, "
                          "or the run stopped before its first checkpoint.")
    try:
        with np.load(path) as f:
            return Checkpoint(
                step=int(f["step"]),
                model=str(f["model"]) if "model" in f.files else _saved_model(run_dir),
                weights={k[len("weight/"):]: f[k] for k in f.files if k.startswith("weight/")},
                momentum={k[len("momentum/"):]: f[k] for k in f.files if k.startswith("momentum/")})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
        raise ConfigError(f"resume={run_dir}: {FILE} is damaged ({type(e).__name__}: {e}); "
                          "start a new run instead.") from None


def _saved(run_dir: str, key: str):
    """A value of the run's saved config (.hydra/config.yaml), or None."""
    from omegaconf import OmegaConf

    try:
        return OmegaConf.select(OmegaConf.load(os.path.join(run_dir, ".hydra", "config.yaml")), key)
    except Exception:
        return None


def _saved_model(run_dir: str) -> str | None:
    """The model of a run whose checkpoint predates recording it, from its saved config."""
    model = _saved(run_dir, "model.name")
    return None if model is None else str(model)


def check_fits(ckpt: Checkpoint, run_dir: str, model: str, weights: dict[str, np.ndarray], cfg_seed=None) -> None:
    """Refuses a checkpoint of another model, seed or sizes than the config asks for."""
    if ckpt.model is not None and ckpt.model != model:
        raise ConfigError(f"resume={run_dir}: that run trained model={ckpt.model}, and its checkpoint cannot "
                          f"continue as model={model}: resume it as model={ckpt.model} (drop model={model}), "
                          "or start a new run.")
    seed = _saved(run_dir, "seed")
    if cfg_seed is not None and seed is not None and seed != cfg_seed:
        # The data and every step's inputs (DynamicNet's depths, rnn's batches) are drawn from the seed: a
        # run continued with another would be neither seed's run.
        raise ConfigError(f"resume={run_dir}: that run trained with seed={seed}, and its data and step inputs "
                          f"come from that seed: it cannot continue with seed={cfg_seed}. Resume it with its "
                          f"own seed (drop seed={cfg_seed}), or start a new run.")
    have = {k: v.shape for k, v in ckpt.weights.items()}
    want = {k: v.shape for k, v in weights.items()}
    if have != want:
        diff = ", ".join(f"{k} {have.get(k, 'absent')} vs {want.get(k, 'absent')}"
                         for k in sorted(set(have) | set(want)) if have.get(k) != want.get(k))
        raise ConfigError(f"resume={run_dir}: its checkpoint holds weights of other sizes than this config "
                          f"({diff}): resume with the run's own model sizes.")
