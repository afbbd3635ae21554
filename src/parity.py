"""Same seed, same numbers: how closely every runtime's loss curve follows `lightning`'s.

    python -m src.parity                          # float32, seeds 0-9, 500 steps: the drift table
    python -m src.parity --precision 64 --seeds 0-4

Each (model, runtime, seed) is trained in this process from the same seeded start, and its per-step
loss, read back from its event files at full precision, is compared with lightning's: the relative gap
|loss - loss_lightning| / |loss_lightning|, its largest value over steps 1-100, and its value at the
last step, as the median and the worst over the seeds.  At float64 the runtimes compute the same thing
up to rounding, and stay within 1e-9 (tests/test_parity.py); at float32 rounding differences of 1e-7
are amplified by training (a ReLU that flips on one side, a depth-0 step that skips a layer), and the
gap grows with the steps.
"""
from __future__ import annotations

import argparse
import sys
import tempfile

import numpy as np

from src.registry import MODELS, RUNTIMES

BASELINE = "lightning"


def curve(model: str, runtime: str, seed: int, precision: int, steps: int, *extra: str) -> np.ndarray:
    """The per-step loss of one run, as its event files hold it."""
    from src.config import compose_config
    from src.event_file import read_scalars
    from src.run import run

    cfg = compose_config(f"model={model}", f"runtime={runtime}", f"seed={seed}", f"trainer.precision={precision}",
                         f"trainer.max_steps={steps}", "trainer.accelerator=cpu", "trainer.progress_bar=false",
                         "trainer.checkpoint_every_n_steps=0", *extra)
    with tempfile.TemporaryDirectory() as d:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            run(cfg, d)
        scalars = read_scalars(d)  # at float64, the loss to its last digit; else the float32 one
        return np.array([v for _, v in scalars.get("train/loss_float64", scalars["train/loss"])], dtype=np.float64)


def gaps(model: str, seeds, precision: int, steps: int, runtimes=None, extra=()) -> dict[str, np.ndarray]:
    """runtime -> (seeds, steps) relative gaps to the baseline; `extra`: overrides for every run."""
    runtimes = [r for r in (runtimes or RUNTIMES) if r != BASELINE]
    out = {r: [] for r in runtimes}
    for seed in seeds:
        base = curve(model, BASELINE, seed, precision, steps, *extra)
        for r in runtimes:
            out[r].append(np.abs(curve(model, r, seed, precision, steps, *extra) - base) / np.abs(base))
    return {r: np.array(v) for r, v in out.items()}


def table(models, seeds, precision: int, steps: int, runtimes=None) -> str:
    early = min(100, steps)
    lines = [f"| model | runtime | max gap, steps 1-{early}: median | worst | at step {steps}: median | worst |",
             "|---|---|---|---|---|---|"]
    for model in models:
        for runtime, g in gaps(model, seeds, precision, steps, runtimes).items():
            first, last = g[:, :early].max(axis=1), g[:, -1]
            lines.append(f"| {model} | {runtime} | {np.median(first):.1e} | {first.max():.1e} | "
                         f"{np.median(last):.1e} | {last.max():.1e} |")
    return "\n".join(lines)


def _seeds(text: str) -> list[int]:
    if "-" in text:
        a, b = text.split("-")
        return list(range(int(a), int(b) + 1))
    return [int(s) for s in text.split(",")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m src.parity", description=__doc__.splitlines()[0])
    ap.add_argument("--precision", type=int, choices=(32, 64), default=32)
    ap.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,3,7")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--runtimes", default=",".join(r for r in RUNTIMES if r != BASELINE))
    args = ap.parse_args(argv)
    models, runtimes = args.models.split(","), args.runtimes.split(",")
    bad = [m for m in models if m not in MODELS] + [r for r in runtimes if r not in RUNTIMES]
    if bad:
        print(f"error: unknown {', '.join(bad)}: models are {', '.join(MODELS)}; runtimes {', '.join(RUNTIMES)}",
              file=sys.stderr)
        return 2
    print(f"relative loss gap to {BASELINE}, float{args.precision}, seeds {args.seeds}, {args.steps} steps")
    print(table(models, _seeds(args.seeds), args.precision, args.steps, runtimes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
