"""Typed schemas for every config group, registered in Hydra's ConfigStore, and the checks no type can make.

A schema is written once, in code, with its defaults and what each key means (the models' own schemas live
in their folders: src/models/<name>/spec.py); conf/<group>/<option>.yaml selects one and writes no value
again.  Hydra merges the command line onto these dataclasses, so a misspelled key or a value of the wrong
type is refused by Hydra itself; what a type cannot say (a size of 0, momentum of 1.5, a runtime that
cannot honour trainer.devices=2) is refused by `validate`, before any framework is imported.
"""
from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf

from src import models, registry
from src.errors import ConfigError

ACCELERATORS = ("auto", "cpu", "gpu")
PRECISIONS = (32, 64)
PROBES = ("none", "print", "native", "breakpoint")
FAULTS = ("none", "nan", "shape", "data_if", "index")
CONF_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "conf")


def _help(default, text: str, **kw):
    return field(default=default, metadata={"help": text}, **kw)


@dataclass
class RuntimeConfig:
    name: str = _help(MISSING, "how the model is trained: framework and graph kind (src/registry.py)")


COMPILE_BACKENDS = ("inductor", "aot_eager", "eager")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


@dataclass
class CompileRuntimeConfig(RuntimeConfig):
    """runtime=lightning_compile: torch.compile's stack, a layer at a time (docs/graph-builds.md)."""
    backend: str = _help("inductor", "torch.compile's backend: inductor (Dynamo, AOTAutograd, Inductor's generated "
                                     "code), aot_eager (Dynamo and AOTAutograd, run by eager kernels), eager "
                                     "(Dynamo's capture only)")
    mode: str = _help("default", "torch.compile's mode (inductor only): default, reduce-overhead (CUDA graphs), "
                                 "max-autotune (kernels autotuned, CUDA graphs)")


@dataclass
class TrainerConfig:
    max_steps: int = _help(500, "optimizer steps")
    accelerator: str = _help("auto", "auto, cpu or gpu")
    devices: int = _help(1, "devices (Lightning's meaning; lightning runtimes only)")
    strategy: str = _help("auto", "Lightning's strategy, e.g. ddp (lightning runtimes only)")
    num_threads: int | None = _help(None, "CPU threads for either framework; null: all cores (split "
                                             "between jobs that run side by side)")
    precision: int = _help(32, "32 or 64: float32 or float64 end to end (data, weights, momentum, loss)")
    progress_bar: bool = _help(True, "show the progress bar")
    checkpoint_every_n_steps: int = _help(100, "steps between checkpoints (also at the end and when "
                                               "interrupted; 0: only then)")
    steps_per_call: int = _help(1, "training steps per graph call, an in-graph loop over the steps' inputs (Keras' "
                                   "steps_per_execution): tf_session, tf_function, tf_xla, jax_jit; each step still "
                                   "logged, its time the call's over K")
    peak_file: str | None = _help("~/.cache/graphduel/peak.json", "this machine's GEMM rates (python bench.py "
                                     "--peak writes it): each run's floor; null: report no floor")
    compile_cache: str = _help("cold", "cold: every run compiles with empty caches of its own (torch.compile's, "
                                       "JAX's, XLA's), as a first run does; warm: a persistent cache in "
                                       "compile_cache_dir, as a repeated run does")
    compile_cache_dir: str | None = _help(None, "the warm cache's directory; null: outputs/compile_cache "
                                                   "where train.py runs")


@dataclass
class DataConfig:
    name: str = _help("random", "the data: a seeded random batch (the seeds' data)")
    batch_size: int = _help(64, "examples per step (the seeds' N)")


@dataclass
class DebugConfig:
    """Looking inside a step, or breaking it, to see what a user sees in each runtime (docs/debugging.md)."""
    probe: str = _help("none", "look at the hidden layer's mean and norm every step (docs/debugging.md): none; print "
                               "(Python's print in the forward); native (the framework's own way: tf.print, "
                               "jax.debug.print, a Session fetch, Dynamo's reorderable print); breakpoint "
                               "(Python's breakpoint() in the forward)")
    fault: str = _help("none", "a user's bug in the forward, to see where and how it surfaces: none; nan (the "
                               "hidden layer NaN from fault_step on); shape (one unit short at fault_step); "
                               "data_if (a Python if on a tensor's value); index (one past the end at fault_step)")
    fault_step: int = _help(3, "the step at which debug.fault=nan, shape or index strikes")
    pdb_commands: str | None = _help(None, "with debug.probe=breakpoint: pdb commands run at every stop instead "
                                              "of reading the terminal, ';;'-separated (e.g. 'p h.mean();;c'); "
                                              "null: the terminal (stdin), as Python's breakpoint() does")


@dataclass
class Config:
    model: Any = MISSING
    runtime: RuntimeConfig = MISSING
    trainer: TrainerConfig = MISSING
    data: DataConfig = MISSING
    debug: DebugConfig = MISSING
    seed: int = _help(0, "0 or more: seeds the data, the initial weights and the per-step inputs, in every runtime "
                         "alike")
    resume: str | None = _help(None, "a run directory to continue from its last checkpoint")


def register_configs() -> None:
    cs = ConfigStore.instance()
    cs.store(name="config_schema", node=Config)
    # Under schema/, not in the groups themselves, so `model=` lists only real choices.
    for name in registry.MODELS:
        cs.store(group="schema/model", name=name, node=models.spec(name).Config)
    cs.store(group="schema/runtime", name="runtime", node=RuntimeConfig)
    cs.store(group="schema/runtime", name="lightning_compile", node=CompileRuntimeConfig)
    cs.store(group="schema/trainer", name="trainer", node=TrainerConfig)
    cs.store(group="schema/data", name="data", node=DataConfig)
    cs.store(group="schema/debug", name="debug", node=DebugConfig)


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


_warned_threads: set[int] = set()


def warn_threads(cfg: Any) -> None:
    """One line (once per value) when trainer.num_threads asks for more threads than this process may run on:
    they would take turns on the cores, and every step would wait for the slowest (16x slower measured with
    64 threads on 2 cores)."""
    n, cores = cfg.trainer.num_threads, cpu_threads()
    if n is not None and n > cores and n not in _warned_threads:
        _warned_threads.add(n)
        print(f"graphduel: warning: trainer.num_threads={n} is more than the {cores} cores this process can use "
              f"(os.sched_getaffinity): threads will take turns and steps run slower; use "
              f"trainer.num_threads={cores} or null.", file=sys.stderr)


def refuse(key: str, value: Any, allowed: str) -> None:
    raise ConfigError(f"{key}={value} is not allowed: {allowed}.")


def validate(cfg: Any) -> None:
    """Refuse values no type can rule out, naming the key, the value and what is allowed."""
    _refuse_unknown_keys(cfg)
    m, t = cfg.model, cfg.trainer

    def need(ok: bool, key: str, value: Any, allowed: str) -> None:
        if not ok:
            refuse(key, value, allowed)

    for key, value in m.items():  # every size a model has (d_in, hidden, ...) is an int of 1 or more
        if key in ("d_in", "hidden", "d_out"):
            need(value >= 1, f"model.{key}", value, "use a size of 1 or more")
    need(cfg.data.batch_size >= 1, "data.batch_size", cfg.data.batch_size, "use 1 or more")
    need(t.max_steps >= 1, "trainer.max_steps", t.max_steps, "use 1 or more")
    need(t.devices >= 1, "trainer.devices", t.devices, "use 1 or more")
    need(t.accelerator in ACCELERATORS, "trainer.accelerator", t.accelerator, "use one of " + ", ".join(ACCELERATORS))
    need(t.precision in PRECISIONS, "trainer.precision", t.precision, "use 32 or 64")
    need(t.checkpoint_every_n_steps >= 0, "trainer.checkpoint_every_n_steps", t.checkpoint_every_n_steps,
         "use 0 (only at the end) or more")
    if "backend" in cfg.runtime:
        r = cfg.runtime
        need(r.backend in COMPILE_BACKENDS, "runtime.backend", r.backend, "use one of " + ", ".join(COMPILE_BACKENDS))
        need(r.mode in COMPILE_MODES, "runtime.mode", r.mode, "use one of " + ", ".join(COMPILE_MODES))
        need(r.mode == "default" or r.backend == "inductor", "runtime.mode", r.mode,
             f"a mode is Inductor's: use runtime.mode=default with runtime.backend={r.backend}, or runtime.backend=inductor")
    need(t.steps_per_call >= 1, "trainer.steps_per_call", t.steps_per_call, "use 1 or more")
    need(t.compile_cache in ("cold", "warm"), "trainer.compile_cache", t.compile_cache, "use cold or warm")
    if t.num_threads is not None:
        need(t.num_threads >= 1, "trainer.num_threads", t.num_threads, "use 1 or more, or null for all cores")
    d = cfg.get("debug")
    if d is not None:
        need(d.probe in PROBES, "debug.probe", d.probe, "use one of " + ", ".join(PROBES))
        need(d.fault in FAULTS, "debug.fault", d.fault, "use one of " + ", ".join(FAULTS))
        need(d.fault_step >= 1, "debug.fault_step", d.fault_step, "use a step of 1 or more")
    # numpy's generators take no negative seed: refused here rather than as numpy's traceback.
    need(cfg.seed >= 0, "seed", cfg.seed, "use a seed of 0 or more")
    lr, mom = m.optimizer.lr, m.optimizer.momentum
    # inf, like nan, turns every weight non-finite at the first step.
    need(lr > 0 and math.isfinite(lr), "model.optimizer.lr", lr, "use a finite learning rate above 0")
    need(0 <= mom < 1, "model.optimizer.momentum", mom, "use a momentum in [0, 1)")
    spec = models.spec(m.name)
    if hasattr(spec, "check"):
        spec.check(m, refuse)
    _check_runtime(cfg)


def _check_runtime(cfg: Any) -> None:
    """Refuse what the chosen runtime cannot honour: several devices, a model with no implementation for it."""
    name, t = cfg.runtime.name, cfg.trainer
    rt = registry.runtime(name)
    if not rt.multi_device:
        if t.devices != 1:
            raise ConfigError(f"trainer.devices={t.devices} is not supported by runtime={name}, which trains on "
                              "one device: use trainer.devices=1, or runtime=lightning.")
        if t.strategy != "auto":
            raise ConfigError(f"trainer.strategy={t.strategy} is not supported by runtime={name}: "
                              "use trainer.strategy=auto, or runtime=lightning.")
    if t.steps_per_call > 1 and not rt.steps_per_call:
        able = ", ".join(n for n, r in registry.RUNTIMES.items() if r.steps_per_call)
        why = ("it runs every op from Python, one step at a time" if rt.graph == "dynamic" else
               "torch.compile compiles the model's forward; K steps in one call would need the whole step "
               "(backward, by compiled autograd, and the optimizer's update) inside one graph with a loop over K "
               "steps' inputs, which dynamo unrolls K times (torch's in-graph while_loop runs no autograd in its body)")
        raise ConfigError(f"trainer.steps_per_call={t.steps_per_call} is not supported by runtime={name}: {why}; "
                          f"use trainer.steps_per_call=1, or one of {able}.")
    registry.model_module(cfg.model.name, rt.framework)


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
