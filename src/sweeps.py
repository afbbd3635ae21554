"""What a sweep varies: its jobs' names, and which settings tell its runs apart in TensorBoard's HParams.

A sweep job's directory (and so its TensorBoard run) is `<num>_<model>_<runtime>`, followed by the other
values the sweep varies: `-m model.optimizer.lr=1e-6,10` gives `0_two_layer_lightning_lr=1e-06` and
`1_two_layer_lightning_lr=10`.  graphduel's sweeper names each job so (hydra.sweep.subdir) once it has
expanded the whole sweep; the jobs themselves read what varied from the sweep's multirun.yaml.
"""
from __future__ import annotations

import os
import re

from src.overrides import by_key

IDENTITY = ("model", "runtime")  # always in a job's name


def varying(jobs: list[list[str]]) -> list[str]:
    """The keys whose value differs between the jobs' overrides, in the order they first appear."""
    given = [by_key(job) for job in jobs]
    keys = list(dict.fromkeys(k for job in given for k in job))
    return [k for k in keys if len({job.get(k) for job in given}) > 1 and not k.startswith("hydra.")]


def job_name(num: int, model: str, runtime: str, overrides: list[str], keys: list[str]) -> str:
    """`<num>_<model>_<runtime>` and `<key>=<value>` for each other varied key: short, filesystem-safe."""
    given = by_key(overrides)
    others = [k for k in keys if k not in IDENTITY]
    short = {k: k.rsplit(".", 1)[-1] for k in others}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    parts = [str(num), model, runtime]
    parts += [f"{k if short[k] in clash else short[k]}={given.get(k, 'default')}" for k in others]
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", "_".join(parts))[:120]


def swept_keys() -> set[str]:
    """In a sweep's job: the keys the sweep varies (from the sweep's multirun.yaml); else nothing."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or str(HydraConfig.get().mode) != "RunMode.MULTIRUN":
        return set()
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    path = os.path.join(HydraConfig.get().sweep.dir, "multirun.yaml")
    try:
        sweep = OmegaConf.load(path).hydra
        given = [*(f"{k}={v}" for k, v in (sweep.sweeper.get("params") or {}).items()),
                 *OmegaConf.to_container(sweep.overrides.task)]
        parsed = OverridesParser.create().parse_overrides(given)
    except Exception:  # no such file (another sweeper), or one we cannot read: nothing is known to vary
        return set()
    return {p.key_or_group for p in parsed if p.is_sweep_override()}


def differing_hparams(keys: set[str]) -> set[str]:
    """The HParams names that tell a sweep's runs apart: always model, runtime, framework and graph, and
    the ones the sweep varied (a different model has a different learning rate)."""
    out = {"model", "runtime", "framework", "graph"}
    for key in keys:
        if key == "model":
            out.add("lr")
        elif key != "runtime":
            out.add(key.rsplit(".", 1)[-1])
    return out
