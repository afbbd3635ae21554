"""What probes cost, and what their lines cost when unused: each runtime's steady ms per step with the model
files' hidden() replaced by the identity (the model files before probes and faults), as it is (no probe, no
fault), and under debug.probe=print and native.

    python -m src.reference.probe_cost                       # every runtime, two_layer, 3 rounds of 200 steps
    python -m src.reference.probe_cost --runtimes lightning,jax_jit --model dynamic

One process, rounds interleaved (each round runs every runtime's variants, in alternating order), at one
thread: on a shared machine the noise then hits every variant alike.  Each ratio is to the identity's run
in the same round; the graph columns give the nodes the setup built (static runtimes) or each step rebuilt
(eager ones), and the graph builds, with hidden() as it is and replaced.  docs/debugging.md reports it.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import statistics
import sys
import tempfile

from src.registry import FRAMEWORKS, RUNTIMES

VARIANTS = ("identity", "none", "print", "native")


def _run(run_dir: str, model: str, runtime: str, steps: int, variant: str) -> dict:
    from src.config import compose_config
    from src.event_file import read_scalars
    from src.run import run

    module = importlib.import_module(f"src.models.{model}.{FRAMEWORKS[RUNTIMES[runtime].framework].model_file}")
    real = module.__dict__.setdefault("_hidden_as_written", module.hidden)
    module.hidden = real if variant != "identity" else (lambda h, inputs, problem: h)
    probe = variant if variant in ("print", "native") else "none"
    cfg = compose_config(f"model={model}", f"runtime={runtime}", f"trainer.max_steps={steps}", "trainer.num_threads=1",
                         "trainer.checkpoint_every_n_steps=0", "trainer.progress_bar=false", f"debug.probe={probe}")
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)  # the probes' lines (and the run's summary) are not the point here
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115  (closed by the interpreter)
            result = run(cfg, run_dir)
    except Exception as e:  # tf_xla cannot compile tf.print: a row says so
        result = {"status": "failed", "error": str(e)}
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        module.hidden = real
    if result.get("status") == "completed":
        nodes = read_scalars(run_dir).get("graph/nodes", [])
        result["graph_nodes"] = max(v for _, v in nodes) if nodes else 0
    return result


def table(runtimes, model: str, rounds: int, steps: int) -> str:
    results: dict = {}
    with tempfile.TemporaryDirectory() as d:
        for i in range(rounds):
            for runtime in runtimes:
                for variant in VARIANTS if i % 2 == 0 else VARIANTS[::-1]:
                    run_dir = os.path.join(d, f"{runtime}_{variant}_{i}")
                    results.setdefault((runtime, variant), []).append(_run(run_dir, model, runtime, steps, variant))
    lines = ["| runtime | no hidden(), ms | as is, ms | as is / no hidden(): median | range | print, ms (x) | "
             "native, ms (x) | graph nodes, builds: as is / no hidden() |", "|---|---|---|---|---|---|---|---|"]
    for runtime in runtimes:
        ms = {v: [r.get("median_steady_ms") for r in results[(runtime, v)]] for v in VARIANTS}
        base = ms["identity"]

        def cell(v):
            if None in ms[v]:
                return "fails: " + next(r["error"] for r in results[(runtime, v)] if r.get("error"))[:40]
            return f"{statistics.median(ms[v]):.3f} ({statistics.median([a / b for a, b in zip(ms[v], base)]):.2f}x)"

        ratios = [a / b for a, b in zip(ms["none"], base)]
        a, b = results[(runtime, "none")][0], results[(runtime, "identity")][0]
        lines.append(f"| {runtime} | {statistics.median(base):.3f} | {statistics.median(ms['none']):.3f} | "
                     f"{statistics.median(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} | {cell('print')} | "
                     f"{cell('native')} | {a['graph_nodes']:.0f}, {a['compiles']} / {b['graph_nodes']:.0f}, "
                     f"{b['compiles']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.reference.probe_cost", description=__doc__.splitlines()[0])
    ap.add_argument("--runtimes", default=",".join(RUNTIMES))
    ap.add_argument("--model", default="two_layer")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args(argv)
    runtimes = args.runtimes.split(",")
    bad = [r for r in runtimes if r not in RUNTIMES]
    if bad:
        print(f"error: unknown runtime {', '.join(bad)}: use some of {', '.join(RUNTIMES)}", file=sys.stderr)
        return 2
    print(table(runtimes, args.model, args.rounds, args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
