"""graphduel's own cost per step: what Recorder.step() adds to every step of every runtime.

    python -m tools.recorder_cost            # (python bench.py --own-cost runs it too)

The recorder is called once per step by every runtime: it times the step, writes its TensorBoard event
(loss, times, graph builds, the model's per-step tags), checks for divergence and signals, flushes every
100 steps, and moves the progress bar.  Measured here without any framework, on fake steps, in blocks;
each way's cost per call is the median over blocks, with its interquartile range.  The target: at most
10 us per step, a percent of the seeds' ~1 ms step.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time

from src.config import compose_config
from src.problem import make_problem
from src.recorder import Recorder, spread
from tools import output, output_options

WAYS = {  # way -> (model, progress bar)
    "events and checks (two_layer)": ("two_layer", False),
    "+ the model's per-step tag (dynamic: model/depth)": ("dynamic", False),
    "+ the progress bar (to stderr)": ("dynamic", True),
}


def _block(model: str, bar: bool, steps: int) -> float:
    """us per Recorder.step() call over `steps` calls, on a fresh recorder."""
    cfg = compose_config(f"model={model}", f"trainer.max_steps={steps}", f"trainer.progress_bar={str(bar).lower()}",
                         "trainer.checkpoint_every_n_steps=0")
    with tempfile.TemporaryDirectory() as d:
        recorder = Recorder(d, cfg, "none", "dynamic", threads=1, problem=make_problem(cfg))
        recorder.start("cpu")
        recorder.loop_start(0)
        t0 = time.perf_counter()
        for i in range(steps):
            recorder.step(1.0 / (i + 1), 0.5)
        us = (time.perf_counter() - t0) / steps * 1e6
        recorder.finish("completed")
    return us


def measure(steps: int = 5000, blocks: int = 9, seed: int = 0) -> dict:
    per_way: dict[str, list[float]] = {w: [] for w in WAYS}
    order = random.Random(seed)
    for _ in range(blocks):
        ways = list(WAYS)
        order.shuffle(ways)  # interleaved: the machine's noise hits every way alike
        for way in ways:
            per_way[way].append(_block(*WAYS[way], steps))
    return {w: {"us": statistics.median(v), "iqr_us": spread(v), "blocks_us": v} for w, v in per_way.items()}


def table(result: dict) -> str:
    lines = ["| recorder, per step | us (median of blocks) | IQR us |", "|---|---|---|"]
    # (fewer than 4 blocks have no interquartile range: blank)
    lines += [f"| {w} | {r['us']:.2f} | {'' if r['iqr_us'] is None else format(r['iqr_us'], '.2f')} |"
              for w, r in result.items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.recorder_cost", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=5000, help="Recorder.step() calls per block")
    ap.add_argument("--blocks", type=int, default=9)
    output_options(ap)
    args = ap.parse_args(argv)
    return output(measure(args.steps, args.blocks), table, args)


if __name__ == "__main__":
    sys.exit(main())
