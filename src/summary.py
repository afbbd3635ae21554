"""The answer a sweep ends with: one row per job, as a table (csv, md, console) and a plot.

Rebuilt from the jobs' result.json files on disk, so it is right whichever launcher ran the jobs,
and can be rebuilt after the fact:  python -m src.summary <sweep dir>
"""
from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

COLUMNS = ["model", "runtime", "framework", "graph", "accelerator", "steps", "final_loss",
           "median_step_ms", "median_compute_ms", "setup_s", "status"]


def load_results(sweep_dir: str | os.PathLike) -> list[dict]:
    rows = []
    for path in sorted(Path(sweep_dir).glob("**/result.json")):
        try:
            r = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            r = {"status": "unreadable"}
        r.setdefault("run_dir", str(path.parent))
        r["job"] = str(path.parent.relative_to(sweep_dir))
        rows.append(r)
    return rows


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_markdown(rows: list[dict]) -> str:
    cols = ["job", *COLUMNS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def table_text(rows: list[dict]) -> str:
    cols = ["job", *COLUMNS]
    cells = [cols] + [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from src.event_file import read_scalars

    fig, (ax_loss, ax_ms) = plt.subplots(1, 2, figsize=(13, 5))
    labels, step_ms, compute_ms = [], [], []
    for r in rows:
        label = f"{r.get('model')} / {r.get('runtime')}"
        curve = read_scalars(r["run_dir"]).get("train/loss", []) if os.path.isdir(r["run_dir"]) else []
        if curve:  # runtimes in parity draw the same curve: dashes keep both visible
            style = "--" if r.get("graph") == "static" else "-"
            ax_loss.plot([s for s, _ in curve], [v for _, v in curve], style, label=label, linewidth=1.2)
        labels.append(label if r.get("status") == "completed" else f"{label} ({r.get('status')})")
        step_ms.append(r.get("median_step_ms") or 0.0)
        compute_ms.append(r.get("median_compute_ms") or 0.0)
    ax_loss.set(yscale="log", xlabel="step", ylabel="loss (log scale)", title="Loss per step")
    ax_loss.legend(fontsize=8)
    y = range(len(rows))
    ax_ms.barh(y, step_ms, color="tab:blue", label="whole step (median)")
    ax_ms.barh(y, compute_ms, height=0.4, color="tab:orange", label="forward+backward+update (median)")
    fastest = {}  # model -> index of its fastest completed job
    for i, r in enumerate(rows):
        if r.get("status") == "completed" and r.get("median_step_ms") is not None:
            j = fastest.get(r.get("model"))
            if j is None or r["median_step_ms"] < rows[j]["median_step_ms"]:
                fastest[r.get("model")] = i
    for i, v in enumerate(step_ms):
        mark = f"  fastest for {rows[i].get('model')}" if fastest.get(rows[i].get("model")) == i else ""
        ax_ms.text(v, i, f" {v:.3g} ms{mark}", va="center", fontsize=8, fontweight="bold" if mark else None)
    ax_ms.set_xlim(0, max(step_ms + [1e-3]) * 1.45)
    ax_ms.set_yticks(list(y), labels, fontsize=8)
    ax_ms.invert_yaxis()
    ax_ms.set(xlabel="ms per step (lower is faster)", title="Time per step")
    ax_ms.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_summary(sweep_dir: str | os.PathLike) -> list[dict]:
    """Writes summary.csv, summary.md and summary.png into `sweep_dir`; returns the rows."""
    sweep_dir = Path(sweep_dir)
    rows = load_results(sweep_dir)
    with open(sweep_dir / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["job", *COLUMNS], extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: r.get(c) for c in ["job", *COLUMNS]} for r in rows)
    (sweep_dir / "summary.md").write_text(table_markdown(rows) + "\n")
    if rows:
        plot(rows, str(sweep_dir / "summary.png"))
    return rows


def report(sweep_dir: str | os.PathLike) -> int:
    """Writes and prints the summary; returns the exit code: 1 if any job did not complete."""
    rows = write_summary(sweep_dir)
    print(f"\ngraphduel sweep summary: {len(rows)} jobs in {Path(sweep_dir).resolve()}")
    print(table_text(rows))
    print(f"  plot: {Path(sweep_dir).resolve() / 'summary.png'}")
    print(f"  view with   tensorboard --logdir {Path(sweep_dir).resolve()}")
    bad = [r for r in rows if r.get("status") != "completed"]
    if bad:
        print(f"{len(bad)} of {len(rows)} jobs did not complete: " +
              ", ".join(f"{r['job']} ({r.get('status')})" for r in bad), file=sys.stderr)
    return 1 if bad or not rows else 0


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not os.path.isdir(argv[0]):
        print("usage: python -m src.summary <sweep dir>   (a directory holding jobs' result.json)",
              file=sys.stderr)
        return 2
    return report(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
