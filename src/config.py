"""Typed schemas for every config group, registered in Hydra's ConfigStore.

Hydra merges conf/*.yaml onto these dataclasses, so a misspelled key or a value of the wrong type is
refused by Hydra itself.  What a type cannot say (a size of 0, momentum of 1.5) is checked by
`validate`, before any framework is imported.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from src.errors import ConfigError

ACCELERATORS = ("auto", "cpu", "gpu")
CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


@dataclass
class OptimizerConfig:
    lr: float = 1e-6
    momentum: float = 0.0


@dataclass
class ModelConfig:
    name: str = MISSING
    d_in: int = 1000
    hidden: int = 100
    d_out: int = 10
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class TwoLayerConfig(ModelConfig):
    name: str = "two_layer"


@dataclass
class DynamicConfig(ModelConfig):
    name: str = "dynamic"
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, momentum=0.9))
    max_depth: int = 3
    # None: a depth per step from the seeded sequence; an int: the same depth every step.
    depth: Optional[int] = None


@dataclass
class RuntimeConfig:
    name: str = MISSING  # framework and graph kind: src/runtimes/__init__.py


@dataclass
class TrainerConfig:
    max_steps: int = 500
    accelerator: str = "auto"
    devices: int = 1
    strategy: str = "auto"
    # None: every core this process may use.
    num_threads: Optional[int] = None
    progress_bar: bool = True
    # Weights, momentum and step saved every N steps (0: only at the end) and when interrupted.
    checkpoint_every_n_steps: int = 100


@dataclass
class DataConfig:
    name: str = "random"
    batch_size: int = 64


@dataclass
class Config:
    model: Any = MISSING
    runtime: RuntimeConfig = MISSING
    trainer: TrainerConfig = MISSING
    data: DataConfig = MISSING
    seed: int = 0
    # A run directory to continue from its last checkpoint, with its saved config (see train.py).
    resume: Optional[str] = None


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    # Under schema/, not in the groups themselves, so `model=` lists only real choices.
    cs.store(group="schema/model", name="two_layer", node=TwoLayerConfig)
    cs.store(group="schema/model", name="dynamic", node=DynamicConfig)
    cs.store(group="schema/runtime", name="runtime", node=RuntimeConfig)
    cs.store(group="schema/trainer", name="trainer", node=TrainerConfig)
    cs.store(group="schema/data", name="data", node=DataConfig)


def compose_config(*overrides: str) -> Any:
    """The config train.py would see for these overrides, without starting a Hydra app."""
    from hydra import compose, initialize_config_dir

    register_configs()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        return compose("config", overrides=list(overrides))


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def validate(cfg: Any) -> None:
    """Refuse values no type can rule out, naming the key, the value and what is allowed."""
    _refuse_unknown_keys(cfg)
    m, t = cfg.model, cfg.trainer

    def need(ok: bool, key: str, value: Any, allowed: str) -> None:
        if not ok:
            raise ConfigError(f"{key}={value} is not allowed: {allowed}.")

    for key in ("d_in", "hidden", "d_out"):
        need(m[key] >= 1, f"model.{key}", m[key], "use a size of 1 or more")
    need(cfg.data.batch_size >= 1, "data.batch_size", cfg.data.batch_size, "use 1 or more")
    need(t.max_steps >= 1, "trainer.max_steps", t.max_steps, "use 1 or more")
    need(t.devices >= 1, "trainer.devices", t.devices, "use 1 or more")
    need(t.accelerator in ACCELERATORS, "trainer.accelerator", t.accelerator, "use one of " + ", ".join(ACCELERATORS))
    need(t.checkpoint_every_n_steps >= 0, "trainer.checkpoint_every_n_steps", t.checkpoint_every_n_steps,
         "use 0 (only at the end) or more")
    if t.num_threads is not None:
        need(t.num_threads >= 1, "trainer.num_threads", t.num_threads, "use 1 or more, or null for all cores")
    lr, mom = m.optimizer.lr, m.optimizer.momentum
    need(lr > 0, "model.optimizer.lr", lr, "use a learning rate above 0")
    need(0 <= mom < 1, "model.optimizer.momentum", mom, "use a momentum in [0, 1)")
    if m.name == "dynamic":
        need(m.max_depth >= 0, "model.max_depth", m.max_depth, "use 0 or more")
        if m.depth is not None:
            need(0 <= m.depth <= m.max_depth, "model.depth", m.depth, f"use null or 0..model.max_depth ({m.max_depth})")


def _refuse_unknown_keys(node: Any, path: str = "") -> None:
    """Hydra lets `+key=value` add keys even to a structured config; no runtime would read them."""
    schema = OmegaConf.get_type(node)
    if not dataclasses.is_dataclass(schema):
        return
    known = {f.name for f in dataclasses.fields(schema)}
    for key in node:
        if key not in known:
            raise ConfigError(f"{path}{key} is not a known key: use one of {', '.join(sorted(known))}.")
        child = node._get_node(key)
        if isinstance(child, DictConfig):
            _refuse_unknown_keys(child, f"{path}{key}.")
