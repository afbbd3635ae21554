"""What a pause between two jitted steps costs on XLA's CPU backend: more than the pause.

    python -m tools.xla_idle            # every core, then one thread; a process each

The seeds' two_layer step as the jax_jit runtime compiles it, its loss read after every step (as every
runtime reads it, to log it), then the host busy for a fixed time before the next step: the time a
recorder, a progress bar or any Python between two steps takes.  XLA's CPU thread pool keeps its workers
spinning for a moment after a step, then puts them to sleep; a step that comes later waits for them to
wake.  So with a pool of several workers a pause costs the step tens of microseconds on top of itself
(33-71 us for pauses of 2-100 us, measured on a 2-core AMD EPYC: docs/scaling.md), while with one worker a
pause mostly costs only itself.  The runtime as run, `python train.py runtime=jax_jit`, is timed from its
event file at each thread count too.  Each figure is the median of interleaved rounds, with their range.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

GAPS_US = (0, 2, 5, 10, 20, 50, 100)


def _steps(step, params, buffers, data, n: int, warmup: int, gap_s: float) -> tuple[float, tuple]:
    """us per step (beyond the warm-up) of n steps with the host busy gap_s seconds between two steps."""
    for i in range(n):
        if i == warmup:
            t0 = time.perf_counter()
        params, buffers, loss = step(params, buffers, data, {})
        float(loss)
        until = time.perf_counter() + gap_s
        while time.perf_counter() < until:
            pass
    return (time.perf_counter() - t0) / (n - warmup) * 1e6, (params, buffers)


def measure_here(threads: int, steps: int, warmup: int, rounds: int, seed: int = 0) -> dict:
    """In this process (XLA's pool is sized once per process): gap -> us/step over rounds, and the runtime."""
    from src.config import compose_config
    from src.frameworks import jax as jaxw

    jaxw.set_threads(threads)
    import jax

    from src.models.two_layer import jax as model
    from src.problem import make_problem
    from src.runtimes.jax_jit import compile_step
    from tools import ladder
    from tools.jax_overhead import _runtime

    problem = make_problem(compose_config("runtime=jax_jit"))
    state, data = jaxw.start_state(problem, jax.devices("cpu")[0])
    step = compile_step(problem, model, state["params"], state["buffers"], data)
    weights = (state["params"], state["buffers"])

    def one(way) -> float:  # us per step (ladder() is unit-blind: its "ms" keys hold these us)
        nonlocal weights
        if way == "runtime":  # ms from the event file, as us
            return _runtime(warmup + steps, warmup, threads=threads) * 1e3
        us, weights = _steps(step, *weights, data, warmup + steps, warmup, way / 1e6)
        return us

    per = ladder([*GAPS_US, "runtime"], 0, rounds, seed, one)
    return {str(w): {"us": r["ms"], "range_us": [min(r["rounds_ms"]), max(r["rounds_ms"])]} for w, r in per.items()}


def measure(steps: int = 2000, warmup: int = 300, rounds: int = 5) -> dict:
    """threads -> measure_here's result, each thread count in a process of its own: every core, and one."""
    from src.config import cpu_threads

    out = {}
    for threads in sorted({cpu_threads(), 1}, reverse=True):
        proc = subprocess.run([sys.executable, "-m", "tools.xla_idle", "--here", str(threads), "--steps", str(steps),
                               "--warmup", str(warmup), "--rounds", str(rounds), "--json"],
                              capture_output=True, text=True, check=True)
        out[str(threads)] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def table(result: dict) -> str:
    counts = list(result)
    head = " | ".join(f"{t} thread{'s' * (t != '1')}: us/step | beyond the pause" for t in counts)
    lines = [f"| host busy between steps | {head} |", "|---|" + "---|---|" * len(counts)]
    for gap in [*map(str, GAPS_US), "runtime"]:
        cells = []
        for t in counts:
            r = result[t][gap]
            beyond = r["us"] - (0 if gap == "runtime" else float(gap)) - result[t]["0"]["us"]
            cells.append(f"{r['us']:.0f} ({r['range_us'][0]:.0f}-{r['range_us'][1]:.0f}) | {beyond:+.0f}")
        name = "jax_jit runtime, as run (event wall times)" if gap == "runtime" else f"{gap} us"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    from tools import output, output_options

    ap = argparse.ArgumentParser(prog="python -m tools.xla_idle", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="steps timed, after the warm-up")
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--here", type=int, metavar="THREADS", help=argparse.SUPPRESS)  # one thread count, this process
    output_options(ap)
    args = ap.parse_args(argv)
    if args.here:
        print(json.dumps(measure_here(args.here, args.steps, args.warmup, args.rounds)))
        return 0
    return output(measure(args.steps, args.warmup, args.rounds), table, args)


if __name__ == "__main__":
    sys.exit(main())
