"""Compile caches as a setting (trainer.compile_cache): what a run's builds cost must not depend on what ran before.

torch.compile (Inductor's FX-graph, AOTAutograd and autotuning caches; Triton's on a GPU), JAX (its
persistent compilation cache) and TensorFlow's XLA (its persistent cache, where one is set) keep compiled
code on disk, and in memory, across runs: measured here, torch.compile on DynamicNet built in 3.5 s for a
sweep's first seed and 0.34 s for the next.  So:

- `cold` (the default): each run compiles with empty caches of its own, in a fresh temporary directory
  removed at its end (and the frameworks' in-memory caches cleared): every run pays what a first run pays,
  and a sweep's numbers do not depend on job order or on the machine's history.
- `warm`: a persistent cache in `trainer.compile_cache_dir`, so a repeated run pays what a repeated run pays.

Framework-free: this sets the environment the frameworks read their cache directories from (for the run's
duration); the frameworks' helpers (src/frameworks/torch.py, jax.py) clear their in-memory caches, point
their configs at `current().dir`, and count the run's cache hits, which the run records (`cache_hits`)."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass

MODES = ("cold", "warm")
DEFAULT_DIR = os.path.join("outputs", "compile_cache")  # relative to where train.py runs (no chdir)
_XLA_FLAG = re.compile(r"--tf_xla_persistent_cache_directory=\S*")


@dataclass(frozen=True)
class Cache:
    mode: str  # cold | warm
    dir: str  # the cache's root: a fresh temporary directory (cold) or trainer.compile_cache_dir (warm)

    def sub(self, name: str) -> str:
        """The directory of one framework's cache (inductor, triton, jax, tf_xla)."""
        path = os.path.join(self.dir, name)
        os.makedirs(path, exist_ok=True)
        return path


_current: Cache | None = None


def current() -> Cache | None:
    """The run's cache while it runs (None outside a run: the frameworks' own defaults)."""
    return _current


def directory(cfg) -> str:
    return os.path.abspath(cfg.trainer.compile_cache_dir or DEFAULT_DIR)


@contextlib.contextmanager
def active(cfg):
    """The run's compile cache, set up for the frameworks it will import, and undone after it."""
    global _current
    mode = cfg.trainer.compile_cache
    root = tempfile.mkdtemp(prefix="graphduel-cold-cache-") if mode == "cold" else directory(cfg)
    os.makedirs(root, exist_ok=True)
    cache = Cache(mode, root)
    names = ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "TF_XLA_FLAGS")
    saved = {k: os.environ.get(k) for k in names}
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache.sub("inductor")
    os.environ["TRITON_CACHE_DIR"] = cache.sub("triton")
    # TensorFlow reads TF_XLA_FLAGS once, when XLA first starts in the process: a run that starts it gets
    # its cache (warm) or none (cold, TensorFlow's default); a later run in the same process keeps the first's.
    flags = _XLA_FLAG.sub("", os.environ.get("TF_XLA_FLAGS", "")).strip()
    if mode == "warm":
        flags = f"{flags} --tf_xla_persistent_cache_directory={cache.sub('tf_xla')}".strip()
    if flags:
        os.environ["TF_XLA_FLAGS"] = flags
    else:
        os.environ.pop("TF_XLA_FLAGS", None)
    _current = cache
    try:
        yield cache
    finally:
        _current = None
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if mode == "cold":
            shutil.rmtree(root, ignore_errors=True)

