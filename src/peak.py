"""This machine's best GEMM rate per framework: the floor every run's FLOPs are set against.

    python bench.py --peak                    # torch, tensorflow, jax (and numpy for reference), ~1 min
    python bench.py --peak --peak-file p.json

Each framework is measured in a process of its own (one framework imported, its own thread pool, all
cores as a run uses by default): a float32 matrix product C = A @ B at a large square (2048^3, where
every kernel library runs at its best) and at the seeds' own shapes (two_layer's 64x1000 @ 1000x100 and
its weight gradient 1000x64 @ 64x100, where a call's overhead and the cache count too), each the best of
a few rounds of repeated calls (the best: on a shared machine, noise only ever slows a round down).
The file holds the machine's description (CPU model, cores, library versions), so a run on another
machine does not use it (src/flops.py).  A run's floor is its FLOPs over its framework's large-square
rate: what the machine's best kernel for that framework would take, with no overhead at all.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

FRAMEWORKS = ("torch", "tensorflow", "jax", "numpy")
LARGE = (2048, 2048, 2048)
SHAPES = {"2048x2048x2048": LARGE, "64x1000x100": (64, 1000, 100), "1000x64x100": (1000, 64, 100)}
ROUNDS = 5
ROUND_S = 0.25  # seconds of calls per round
ROOT = Path(__file__).resolve().parents[1]


def _matmul(framework: str, m: int, k: int, n: int):
    """A zero-argument call that runs one (m, k) @ (k, n) float32 product to completion, in `framework`."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    if framework == "numpy":
        return lambda: a @ b
    if framework == "torch":
        import torch

        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        return lambda: torch.mm(ta, tb)  # synchronous on a CPU
    if framework == "tensorflow":
        from src.frameworks.tf import tf

        fa, fb = tf.constant(a), tf.constant(b)
        return lambda: tf.linalg.matmul(fa, fb)  # an eager op on a CPU runs before it returns
    if framework == "jax":
        from src.frameworks.jax import jax

        ja, jb = jax.device_put(a), jax.device_put(b)
        mm = jax.jit(lambda x, y: x @ y)
        return lambda: mm(ja, jb).block_until_ready()
    raise ValueError(framework)


def _versions(framework: str) -> dict:
    from src.environment import _version

    packages = {"torch": ("torch",), "tensorflow": ("tensorflow",), "jax": ("jax", "jaxlib"), "numpy": ("numpy",)}
    return {p: _version(p) for p in packages[framework]}


def measure(framework: str, rounds: int = ROUNDS) -> dict:
    """Best GFLOP/s of each of SHAPES in `framework`, in this process."""
    out = {"versions": _versions(framework), "shapes": {}}
    for name, (m, k, n) in SHAPES.items():
        call = _matmul(framework, m, k, n)
        for _ in range(3):
            call()  # warm: a first call allocates, compiles (jax), picks its kernel
        t = time.perf_counter()
        call()
        reps = max(1, int(ROUND_S / max(time.perf_counter() - t, 1e-6)))
        rates = []
        for _ in range(rounds):
            t, done = time.perf_counter(), 0
            while done < reps and (done == 0 or time.perf_counter() - t < 4 * ROUND_S):  # a slowed round ends
                call()
                done += 1
            rates.append(2 * m * k * n * done / (time.perf_counter() - t) / 1e9)
        out["shapes"][name] = {"gflops": max(rates), "rounds_gflops": rates, "calls_per_round": reps}
    out["gflops"] = out["shapes"]["x".join(map(str, LARGE))]["gflops"]
    return out


def run(path: str, frameworks=FRAMEWORKS, rounds: int = ROUNDS) -> dict:
    """Measures every framework, each in a fresh process, and writes `path`; returns what it wrote."""
    from src.config import cpu_threads
    from src.environment import describe

    result = {"machine": describe(), "threads": cpu_threads(), "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "what": "best float32 GEMM rate, GFLOP/s, per framework (src/peak.py)", "frameworks": {}}
    for fw in frameworks:
        print(f"peak: {fw} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([sys.executable, "-m", "src.peak", "--worker", fw, str(rounds)], cwd=ROOT,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            result["frameworks"][fw] = {"error": tail}
            continue
        result["frameworks"][fw] = json.loads(proc.stdout.strip().splitlines()[-1])
    path = os.path.expanduser(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, path)
    return result


def table(result: dict) -> str:
    names = list(SHAPES)
    lines = ["| framework | versions | " + " | ".join(f"{s} GFLOP/s (best; rounds' range)" for s in names) + " |",
             "|" + "---|" * (2 + len(names))]
    for fw, r in result["frameworks"].items():
        if "error" in r:
            lines.append(f"| {fw} | error: {r['error']} |")
            continue
        cells = [f"{r['shapes'][s]['gflops']:.0f} ({min(r['shapes'][s]['rounds_gflops']):.0f}-"
                 f"{max(r['shapes'][s]['rounds_gflops']):.0f})" for s in names]
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        lines.append(f"| {fw} | {versions} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(measure(sys.argv[2], int(sys.argv[3]))))
    else:
        print("usage: python bench.py --peak [--peak-file PATH]", file=sys.stderr)
        sys.exit(2)
