"""Measurement tools, run from the repository root as `python -m tools.<name>`: what graphduel's own parts
cost (recorder_cost, lightning_overhead, jax_overhead, and xla_idle: what a pause between two jitted steps
costs; `python bench.py --own-cost` runs them), what the runtimes build as the RNN's length changes
(rnn_lengths), and why torch's GEMM trails on some CPUs (kernel_gap).  They use the project (src/) and are
no part of it."""
import argparse
import json
import random
import statistics
from collections.abc import Callable


def output_options(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--json-out", help="also write the results as JSON to this file")


def output(result: dict, table, args) -> int:
    """Prints the table (or JSON), and writes the JSON where --json-out says."""
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump(result, f)
    print(json.dumps(result) if args.json else table(result))
    return 0


def ladder(ways: list[str], floor: str, rounds: int, seed: int, one: Callable[[str], float]) -> dict:
    """A ladder of ways measured side by side: every round runs every way once (one(way) -> ms per step), in
    a shuffled order, so the machine's noise hits them alike.  way -> {ms (median of rounds), iqr_ms,
    rounds_ms, ratio (median of the per-round ratios to `floor`'s), ratio_range}."""
    from src.recorder import spread

    per_round: dict[str, list[float]] = {w: [] for w in ways}
    order = random.Random(seed)
    for _ in range(rounds):
        shuffled = list(per_round)
        order.shuffle(shuffled)
        for way in shuffled:
            per_round[way].append(one(way))
    out = {}
    for way, ms in per_round.items():
        ratios = [a / b for a, b in zip(ms, per_round[floor])]
        out[way] = {"ms": statistics.median(ms), "iqr_ms": spread(ms), "rounds_ms": ms,
                    "ratio": statistics.median(ratios), "ratio_range": [min(ratios), max(ratios)]}
    return out


def ladder_table(result: dict, rungs: tuple[str, ...]) -> str:
    """ladder()'s result as a table; `rungs` (cumulative ways) also get the cost of their piece, the
    difference to the rung before; the other ways are context."""
    lines = ["| way | ms/step | IQR ms | x floor (median of rounds) | range over rounds | this piece, ms |",
             "|---|---|---|---|---|---|"]
    previous = None
    for way, r in result.items():
        piece = "" if previous is None or way not in rungs else f"{r['ms'] - result[previous]['ms']:+.3f}"
        iqr = "" if r["iqr_ms"] is None else f"{r['iqr_ms']:.3f}"  # (fewer than 4 rounds: none)
        lines.append(f"| {way} | {r['ms']:.3f} | {iqr} | {r['ratio']:.2f} | "
                     f"{r['ratio_range'][0]:.2f}-{r['ratio_range'][1]:.2f} | {piece} |")
        previous = way if way in rungs else previous
    return "\n".join(lines)
