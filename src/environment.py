"""What a reader needs to reproduce a timing: the versions, the CPU, the cores and threads, and the
thread-related environment.  Read without importing any framework (package metadata only), so a run
records the versions of frameworks it never imported at no cost."""
from __future__ import annotations

import os
import platform
from importlib import metadata

PACKAGES = ("torch", "pytorch-lightning", "tensorflow", "jax", "jaxlib", "numpy", "hydra-core", "tensorboard")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "KMP_BLOCKTIME", "KMP_AFFINITY", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS",
                    "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "CUDA_VISIBLE_DEVICES")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "packages": {p: v for p in PACKAGES if (v := _version(p)) is not None},
        "thread_env": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
    }
