"""The ~100 ms steps reproduced: a run alone and beside a busy loop per core, interleaved, for a few thread
settings (docs/benchmark.md#contention).

    python -m src.reference.contention_study --rounds 3 --steps 300
    python -m src.reference.contention_study --runs "lightning" "lightning;2" "lightning;2;OMP_WAIT_POLICY=passive"

A run is `runtime[;threads[;VAR=value,...]]` (threads empty: graphduel's default).  Each is `python train.py` in
its own session (process group and scheduler autogroup); `--quiet-nice -20` (root) raises the alone runs'
autogroup priority so that other work on a shared machine yields to them: the nearest to a quiet machine one
gets there.  Prints one line per run and, per setting, the median over the rounds of: each run's median step
(`median ms`) and its whole steady window over its steps (`mean ms`: what the run really took per step).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOG = "import time\nend = time.time() + 600\nwhile time.time() < end: pass"  # bounded, and killed after each run


def once(run: str, steps: int, beside: int, nice: int | None) -> dict:
    runtime, threads, env = ([*run.split(";"), "", ""])[:3]
    extra = dict(kv.split("=", 1) for kv in env.split(",") if kv)
    hogs = [subprocess.Popen([sys.executable, "-c", HOG], start_new_session=True) for _ in range(beside)]

    def priority():
        if nice is not None and not beside:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))

    try:
        with tempfile.TemporaryDirectory() as d:
            args = [sys.executable, "train.py", f"runtime={runtime}", f"trainer.max_steps={steps}",
                    "trainer.progress_bar=false", f"hydra.run.dir={d}"]
            if threads:
                args.append(f"trainer.num_threads={threads}")
            proc = subprocess.run(args, cwd=ROOT, env={**os.environ, **extra}, capture_output=True, text=True,
                                  start_new_session=True, preexec_fn=priority, timeout=900)
            if proc.returncode != 0:
                raise SystemExit(f"error: {' '.join(args)}: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
            r = json.loads((Path(d) / "result.json").read_text())
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    f = r["contention"] or {}
    return {"run": run, "beside": beside, "threads": r["threads"], "median_ms": r["median_steady_ms"],
            "mean_ms": 1e3 * f["window_s"] / f["steps"] if f else None, "wait": f.get("wait_per_wall"),
            "cpu": f.get("cpu_per_wall"), "others": f.get("others_cores"), "contended": r["contended"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.reference.contention_study", description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", default=["lightning", "lightning;2", "lightning;2;OMP_WAIT_POLICY=passive",
                                                  "lightning;1"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--quiet-nice", type=int, default=None, help="the alone runs' autogroup nice (root: -20)")
    args = ap.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    results = []
    for _ in range(args.rounds):  # interleaved: each round runs every setting alone, then beside the loops
        for beside in (0, cores):
            for run in args.runs:
                r = once(run, args.steps, beside, args.quiet_nice)
                results.append(r)
                print(f"{'busy' if beside else 'alone':5}  {run:40}  threads {r['threads']}  median "
                      f"{r['median_ms']:8.3f} ms  mean {r['mean_ms']:8.3f} ms  waited {r['wait']:.0%}  "
                      f"cpu {r['cpu']:.2f}  others "
                      f"{r['others']:.2f}  contended {r['contended']}", flush=True)
    print("\n| run | threads | alone: median ms | alone: mean ms | beside busy loops: median ms | mean ms |")
    print("|---|---|---|---|---|---|")
    for run in args.runs:
        cells = []
        for beside in (0, cores):
            mine = [r for r in results if r["run"] == run and r["beside"] == beside]
            cells += [f"{statistics.median(r['median_ms'] for r in mine):.3f}",
                      f"{statistics.median(r['mean_ms'] for r in mine):.2f}"]
        threads = "/".join(sorted({str(r["threads"]) for r in results if r["run"] == run}))
        print(f"| {run} | {threads} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
