"""Measurement tools, run from the repository root as `python -m tools.<name>`: what graphduel's own parts
cost (recorder_cost, lightning_overhead: `python bench.py --own-cost` runs both) and what the runtimes build
as the RNN's length changes (rnn_lengths).  They use the project (src/) and are no part of it."""
import argparse
import json


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
