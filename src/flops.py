"""FLOPs per step and the arithmetic floor: how far a run is from what this machine can do.

What is counted (each model's spec.py `flops(cfg, batch_size, inputs)`): the matrix products of one step,
2mkn each -- the forward ones, and backward those the weight gradients need (each weight's gradient, the
gradient to every hidden state; none to the data).  Elementwise work (activations, the loss, masks, the
SGD update) is left out: it is what a GEMM floor does not measure, and XLA's own count of the jax_jit step
(cost_analysis) is above the spec's by just that, 0.4-14% (tests/test_flops.py pins both).

The floor of a step is its FLOPs at its framework's best GEMM rate on this machine, measured by
`python bench.py --peak` (src/peak.py) into trainer.peak_file: a framework's own kernels, so a kernel
library's difference is never read as a graph's.  A run reports its achieved GFLOP/s (median over its
steady steps of FLOPs / step time) and its multiple of the floor (step time / floor, the median), in
result.json, the printed summary and the sweep summary; blank where no peak was measured here.

Framework-free: numpy and the standard library only.
"""
from __future__ import annotations

import json
import os
import statistics

import numpy as np

DEFAULT_PEAK_FILE = "~/.cache/graphduel/peak.json"
KEYS = ("flops_per_step", "gflops_per_s", "floor_ms", "x_floor", "peak_gflops", "floor_of")


def step_flops(problem, start: int, stop: int) -> np.ndarray:
    """FLOPs of each of steps start+1..stop (None if the model's spec does not count them)."""
    fn = getattr(problem.spec, "flops", None)
    if fn is None:
        return None
    flops = fn(problem.cfg, problem.batch_size, problem.input_columns(start, stop))
    return np.broadcast_to(np.asarray(flops, dtype=np.float64), (stop - start,)).copy()


def load_peak(path: str | None, framework: str | None) -> tuple[float | None, str | None]:
    """(GFLOP/s, what it is) of `framework`'s large-square GEMM from the peak file, or (None, why not): no
    file, or one measured on another machine (another CPU model or core count)."""
    if not path or not framework:
        return None, None
    path = os.path.expanduser(path)
    try:
        with open(path) as f:
            peak = json.load(f)
    except FileNotFoundError:
        return None, f"no peak measured (python bench.py --peak writes {path})"
    except (OSError, json.JSONDecodeError) as e:
        return None, f"peak file {path} unreadable: {e}"
    from src.environment import describe

    here, there = describe(), peak.get("machine", {})
    if (here["cpu"], here["cores"]) != (there.get("cpu"), there.get("cores")):
        return None, (f"peak file {path} was measured on another machine ({there.get('cpu')}, "
                      f"{there.get('cores')} cores)")
    fw = peak.get("frameworks", {}).get(framework, {})
    if "gflops" not in fw:
        return None, f"peak file {path} has no rate for {framework}"
    when = str(peak.get("measured_at", ""))[:10]
    return float(fw["gflops"]), f"{framework}'s 2048^3 GEMM peak, {fw['gflops']:.0f} GFLOP/s, measured {when}"


def report(flops: np.ndarray | None, step_ms: list[float], steady: list[bool], peak_gflops: float | None,
           floor_of: str | None) -> dict:
    """The run's arithmetic numbers, by KEYS, from each step's FLOPs and time (steady: the steps that built no
    graph).  None where there is nothing to say."""
    out = dict.fromkeys(KEYS)
    if flops is None or not len(step_ms):
        return out
    pairs = [(f, ms) for f, ms, ok in zip(flops, step_ms, steady) if ok and ms > 0]
    out["flops_per_step"] = float(statistics.median(flops))
    if not pairs:
        return out
    out["gflops_per_s"] = statistics.median(f / (ms * 1e-3) / 1e9 for f, ms in pairs)
    if peak_gflops:
        out["peak_gflops"], out["floor_of"] = peak_gflops, floor_of
        out["floor_ms"] = out["flops_per_step"] / (peak_gflops * 1e9) * 1e3
        out["x_floor"] = statistics.median(ms / (f / (peak_gflops * 1e9) * 1e3) for f, ms in pairs if f > 0)
    else:
        out["floor_of"] = floor_of  # why there is none
    return out


def record(recorder, problem, peak_file: str | None) -> None:
    """Puts the run's arithmetic numbers into result.json (recorder.record), from what the recorder holds."""
    n = len(recorder.step_ms)
    if not n:
        return
    first = recorder.step_no - n  # steps first+1..step_no are the ones held
    flops = step_flops(problem, first, recorder.step_no)
    steady = [s not in recorder.build_steps for s in range(first + 1, recorder.step_no + 1)]
    peak, what = load_peak(peak_file, recorder.info.get("framework"))
    for k, v in report(flops, recorder.step_ms, steady, peak, what).items():
        recorder.record(k, v)


def summary_line(result: dict) -> str | None:
    """The printed summary's line on arithmetic: FLOPs per step, the rate achieved, and the floor."""
    if result.get("flops_per_step") is None:
        return None
    rate = result.get("gflops_per_s")
    line = f"  arithmetic  {result['flops_per_step'] / 1e6:.1f} MFLOP per step"
    if rate is not None:
        line += f", {rate:.3g} GFLOP/s"
    if result.get("x_floor") is not None:
        line += f": {result['x_floor']:.2f}x the floor ({result['floor_ms']:.3g} ms at {result['floor_of']})"
    elif result.get("floor_of"):
        line += f" (no floor: {result['floor_of']})"
    return line
