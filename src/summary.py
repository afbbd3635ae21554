"""The answer a sweep ends with: one row per job, as a table (csv, md, console) and a plot.

Rebuilt from the jobs' result.json and event files on disk, so it is right whichever launcher ran the
jobs, and can be rebuilt after the fact:  python -m src.summary <sweep dir>

It answers the seeds' question with numbers: a static graph is built once and then reused, a dynamic
one is rebuilt every step; so does the static runtime pay for its builds?  For each static runtime's job,
`break_even_step` is the step from which its total time (setup, graph builds and steps, after the
framework import) stays below that of the dynamic runtime of the same framework in the same sweep, with
everything else equal; "never" if it does not within the run, with the step where the steady-state step
times say it would.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import shlex
import sys
import textwrap
from pathlib import Path

from src import answer, debugging_table
from src.answer import cell
from src.overrides import by_key

COLUMNS = ["model", "runtime", "framework", "graph", "accelerator", "steps", "final_loss",
           "median_step_ms", "median_steady_ms", "iqr_steady_ms", "noisy", "median_compute_ms", "setup_s",
           "compiles", "compile_s", "build_phases", "compile_cache", "cache_hits", "break_even_step", "break_even_vs",
           "vs_dynamic", "flops_per_step", "gflops_per_s", "x_floor", "contended", "status", "why"]
# The console's table: what the answer rests on, in 120 columns (every column is in summary.csv and .md).
CONSOLE = [("job", "job"), ("status", "status"), ("steps", "steps"), ("median_steady_ms", "steady ms"),
           ("vs_dynamic", "x dyn"), ("compiles", "builds"), ("compile_s", "build s"),
           ("break_even_step", "break-even step")]
WIDTH = 120


def columns(rows: list[dict], recorded: bool = False) -> list[str]:
    """COLUMNS, then `<tag> (median)` for each per-step value a runtime reported (Recorder.scalar), and with
    `recorded` the keys of its per-run values (Recorder.record), as the jobs first name them."""
    extra = [f"{tag} (median)" for r in rows for tag in (r.get("summary") or {})]
    if recorded:
        extra += [key for r in rows for key in (r.get("recorded") or [])]
    return [*COLUMNS, *dict.fromkeys(c for c in extra if c not in COLUMNS)]


def load_results(sweep_dir: str | os.PathLike) -> list[dict]:
    rows = []
    for path in Path(sweep_dir).glob("**/result.json"):
        try:
            r = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            r = {"status": "unreadable"}
        r.setdefault("run_dir", str(path.parent))
        r["job"] = str(path.parent.relative_to(sweep_dir))
        r["why"] = _why(r)
        r["build_phases"] = build_phases(r)
        for tag, stats in (r.get("summary") or {}).items():
            r[f"{tag} (median)"] = stats.get("median")
        rows.append(r)
    # In job order: 2_... before 10_...
    rows.sort(key=lambda r: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", r["job"])])
    _add_break_even(rows)
    return rows


def build_phases(r: dict) -> str | None:
    """The run's build time by phase, summed over its builds, in seconds: "dynamo 0.1 + aot_autograd 0.3 +
    inductor 3 s" (the phases each framework accounts for: docs/graph-builds.md)."""
    total: dict[str, float] = {}
    for b in r.get("builds") or []:
        for name, ms in (b.get("phases") or {}).items():
            total[name.removesuffix("_ms")] = total.get(name.removesuffix("_ms"), 0.0) + ms / 1e3
    return " + ".join(f"{k} {cell(float(v))}" for k, v in total.items()) + " s" if total else None


def _why(r: dict) -> str | None:
    """Why a job did not complete, in a line: its error's first line, or its status."""
    if r.get("status") == "completed":
        return None
    first = str(r.get("error") or "").strip().splitlines()
    text = first[0] if first else {"running": "still running, or killed without a word (no end recorded)",
                                   "unreadable": "its result.json could not be read"}.get(r.get("status"), "")
    return text[:200] or None


# -- break-even ---------------------------------------------------------------------------------------
def elapsed(run_dir: str) -> list[float]:
    """Seconds from the end of the framework import to the end of each step (index 0: the setup)."""
    from src.event_file import read_scalars

    points = dict(read_scalars(run_dir).get("time/elapsed_s", [])) if os.path.isdir(run_dir) else {}
    return [points[s] for s in range(len(points))] if all(s in points for s in range(len(points))) else []


def break_even(static: list[float], dynamic: list[float], static_ms: float | None,
               dynamic_ms: float | None) -> tuple[int | None, float | None]:
    """(step, None): from `step` on the static run's total time stays below the dynamic one's; (None,
    projected step): it does not within the run, but its faster steady state would catch up there;
    (None, None): never.  Curves are elapsed seconds per step, index 0 the setup."""
    n = min(len(static), len(dynamic))
    if n == 0:
        return None, None
    behind = [s for s in range(n) if static[s] >= dynamic[s]]
    if not behind:
        return 0, None  # ahead from the setup on
    if behind[-1] < n - 1:
        return behind[-1] + 1, None
    if static_ms is None or dynamic_ms is None or static_ms >= dynamic_ms:
        return None, None
    gap_ms = (static[n - 1] - dynamic[n - 1]) * 1e3
    return None, (n - 1) + gap_ms / (dynamic_ms - static_ms)


def _overrides(r: dict) -> dict:
    path = Path(r.get("run_dir", "")) / ".hydra" / "overrides.yaml"
    try:
        from omegaconf import OmegaConf

        items = OmegaConf.to_container(OmegaConf.load(path))
    except Exception:
        items = []
    given = by_key([str(o) for o in items], strict=False)  # as Hydra reads them
    return {k: v for k, v in given.items() if v is not None}


def _add_break_even(rows: list[dict]) -> None:
    """Pairs each static job with the dynamic job of its framework that differs only in the runtime."""
    def key(r):
        # A runtime's own options (runtime.backend) belong to it: its partner has none of them.
        o = {k: v for k, v in _overrides(r).items() if k not in ("runtime", "resume") and not k.startswith("runtime.")}
        o.update(model=r.get("model"), seed=str(r.get("seed")))
        return r.get("framework"), tuple(sorted(o.items()))

    dynamic = {key(r): r for r in rows if r.get("graph") == "dynamic" and r.get("status") == "completed"}
    for r in rows:
        r["break_even_step"] = None
        partner = dynamic.get(key(r))
        if r.get("graph") != "static" or r.get("status") != "completed" or partner is None:
            continue
        step, projected = break_even(elapsed(r["run_dir"]), elapsed(partner["run_dir"]),
                                     r.get("median_steady_ms"), partner.get("median_steady_ms"))
        r["break_even_vs"], r["break_even_job"] = partner["runtime"], partner["job"]
        if r.get("median_steady_ms") and partner.get("median_steady_ms"):
            r["vs_dynamic"] = r["median_steady_ms"] / partner["median_steady_ms"]  # steady time, static / dynamic
        if step is not None:
            r["break_even_step"] = step
        elif projected is not None:
            r["break_even_step"] = f"never (~{math.ceil(projected):,} projected)"
        else:
            r["break_even_step"] = "never"


# -- tables ---------------------------------------------------------------------------------------------
def _cell(value, column: str = "noisy") -> str:
    """A cell as answer.cell writes it (the answer's sentences write every number as the tables do), but a
    flag column's True as its own name (noisy, contended)."""
    return column if value is True else cell(value)


def _csv(value):
    """A csv cell: a recorded list or dict as its JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def table_markdown(rows: list[dict]) -> str:
    cols = ["job", *columns(rows)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_cell(r.get(c), c) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def table_text(rows: list[dict], width: int = WIDTH) -> str:
    """The console's table (CONSOLE's columns) in `width` columns: long job names are cut in the middle."""
    cells = [[title for _, title in CONSOLE]] + [[_cell(r.get(c), c) for c, _ in CONSOLE] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(CONSOLE))]
    over = sum(widths) + 2 * (len(widths) - 1) - width
    if over > 0:  # the job name gives way: its number and model lead, what varied trails
        keep = max(widths[0] - over, 12)
        for row in cells[1:]:
            if len(row[0]) > keep:
                row[0] = row[0][:keep - 1 - (keep - 1) // 3] + "~" + row[0][len(row[0]) - (keep - 1) // 3:]
        widths[0] = keep
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells)


def answer_text(rows: list[dict], width: int | None = None) -> str:
    return answer.text(rows, {r["job"]: _overrides(r) for r in rows}, width)


# -- the plot -----------------------------------------------------------------------------------------
def _varying(rows: list[dict]) -> dict[str, str]:
    """job -> the values that vary between its model's jobs, besides the runtime: how to tell them apart."""
    overrides = {r["job"]: _overrides(r) for r in rows}
    keys = {k for o in overrides.values() for k in o} - {"model", "runtime", "resume"}  # resume: a continued sweep
    varying = sorted(k for k in keys if len({o.get(k) for o in overrides.values()}) > 1)
    return {job: " ".join(f"{k.rsplit('.', 1)[-1]}={o.get(k)}" for k in varying) for job, o in overrides.items()}


def plot(rows: list[dict], path: str) -> None:
    """One row of panels per model: its loss curves (log scale), its total time against the step (where a
    static runtime pays for its builds), and its steady-state time per step.  A colour per runtime, the
    same in every panel; static graphs dashed, dynamic solid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    from src.event_file import read_scalars
    from src.registry import RUNTIMES

    models = list(dict.fromkeys(r.get("model") for r in rows))
    runtimes = [rt for rt in RUNTIMES if any(r.get("runtime") == rt for r in rows)]
    runtimes += sorted({r.get("runtime") for r in rows} - set(runtimes), key=str)
    color = {rt: plt.cm.tab10(i % 10) for i, rt in enumerate(runtimes)}
    # Curves that coincide (every runtime's loss, from the same seeded start) stay told apart: a marker per
    # runtime, each runtime's markers at other steps than the others'.
    marker = {rt: "osD^vP*Xh<>p"[i % 12] for i, rt in enumerate(runtimes)}
    offset = {rt: i / max(len(runtimes), 1) for i, rt in enumerate(runtimes)}
    style = {"static": "--", "dynamic": "-"}

    def marks(rt, n):
        every = max(n // 8, 1)
        return (int(offset.get(rt, 0) * every), every)
    label_of = _varying(rows)
    fig, axes = plt.subplots(len(models), 3, figsize=(17, 4.2 * len(models)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1, 0.9]})
    for row_axes, model in zip(axes, models):
        ax_loss, ax_time, ax_ms = row_axes
        jobs = [r for r in rows if r.get("model") == model]
        bars = []
        even: dict = {}  # runtime -> its jobs' break-even points: one label each (seeds would overlap)
        for r in jobs:
            c, ls = color.get(r.get("runtime")), style.get(r.get("graph"), ":")
            scalars = read_scalars(r["run_dir"]) if os.path.isdir(r.get("run_dir", "")) else {}
            loss = scalars.get("train/loss", [])
            rt = r.get("runtime")
            if loss:
                ax_loss.plot([s for s, _ in loss], [v for _, v in loss], ls, color=c, linewidth=1.3,
                             marker=marker.get(rt), markevery=marks(rt, len(loss)), markersize=4, fillstyle="none")
            curve = elapsed(r["run_dir"])
            if curve:
                ax_time.plot(range(len(curve)), curve, ls, color=c, linewidth=1.3, marker=marker.get(rt),
                             markevery=marks(rt, len(curve)), markersize=4, fillstyle="none")
                k = r.get("break_even_step")
                if isinstance(k, int) and k < len(curve):
                    ax_time.plot([k], [curve[k]], "o", color=c, markersize=6)
                    even.setdefault(r.get("runtime"), []).append((k, curve[k], c))
            name = " ".join(filter(None, [r.get("runtime"), label_of.get(r["job"])]))
            if r.get("status") != "completed":
                name += f" ({r.get('status')})"
            ms = r.get("median_steady_ms") or r.get("median_step_ms")
            done = r.get("status") == "completed" and ms is not None  # else no bar: it has no time to show
            bars.append((name, ms if done else None, (r.get("median_compute_ms") or 0.0) if done else None, c,
                         r.get("graph"), r.get("status")))
        # The break-even labels, one line per runtime stacked in the panel's corner, each in its runtime's
        # colour (the points themselves are marked on the curves): labels at the points overlapped.
        for j, (rt, points) in enumerate(even.items()):
            steps = ", ".join(str(p[0]) for p in points)
            ax_time.text(0.98, 0.04 + 0.075 * j, f"{rt}: breaks even at step{'s' if len(points) > 1 else ''} {steps}",
                         transform=ax_time.transAxes, ha="right", va="bottom", fontsize=8, color=points[0][2],
                         bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
        ax_loss.set(yscale="log", xlabel="step", ylabel="loss (log scale)", title=f"{model}: loss per step")
        ax_time.set(yscale="log", xlabel="step", ylabel="seconds since the framework import (log scale)",
                    title=f"{model}: total time (setup, graph builds, steps)")
        y = range(len(bars))
        drawn = [i for i, b in enumerate(bars) if b[1] is not None]
        ax_ms.barh(drawn, [bars[i][1] for i in drawn], color=[bars[i][3] for i in drawn], alpha=0.85,
                   edgecolor="black", linewidth=0.3)
        ax_ms.barh(drawn, [bars[i][2] for i in drawn], height=0.35, color="white", alpha=0.6)
        for i, b in enumerate(bars):
            if b[1] is None:  # a job that did not complete: said, not drawn as a 0 ms bar
                ax_ms.text(0, i, f" no steady time: {b[5]}", va="center", fontsize=8, color="dimgray", style="italic")
            else:
                ax_ms.text(b[1], i, f" {b[1]:.3g} ms", va="center", fontsize=8)
        ax_ms.set_yticks(list(y), [b[0] for b in bars], fontsize=8)
        ax_ms.invert_yaxis()
        ax_ms.set_xlim(0, max([bars[i][1] for i in drawn] + [1e-3]) * 1.35)
        ax_ms.set(xlabel="steady ms per step (white: compute)", title=f"{model}: time per step")
        for ax in (ax_loss, ax_time):
            ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=color[rt], linestyle=style.get(RUNTIMES[rt].graph if rt in RUNTIMES else "", ":"),
                      marker=marker[rt], fillstyle="none",
                      label=f"{rt} ({RUNTIMES[rt].framework}, {RUNTIMES[rt].graph})" if rt in RUNTIMES else rt)
               for rt in runtimes]
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / (4.2 * len(models)) * (1 + (len(handles) - 1) // 4)))
    fig.savefig(path, dpi=100, bbox_inches="tight")  # no label cut at the figure's edge
    plt.close(fig)


def write_summary(sweep_dir: str | os.PathLike) -> list[dict]:
    """Writes summary.csv, summary.md and summary.png into `sweep_dir`; returns the rows."""
    sweep_dir = Path(sweep_dir)
    rows = load_results(sweep_dir)
    cols = ["job", *columns(rows, recorded=True)]
    with open(sweep_dir / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({c: _csv(r.get(c)) for c in cols} for r in rows)
    (sweep_dir / "summary.md").write_text(table_markdown(rows) + "\n\n" + answer_text(rows) + "\n")
    debugging_table.write(rows, sweep_dir)  # debugging.md, for a sweep under probes or faults
    if rows:
        plot(rows, str(sweep_dir / "summary.png"))
    points = roofline_points(rows)
    if points:  # a sweep over sizes (experiment=scaling): the roofline, and its table
        from src import roofline

        roofline.plot(points, str(sweep_dir / "roofline.png"))
        (sweep_dir / "roofline.md").write_text(roofline.table(points) + "\n\n" + floors_sentence(points) + "\n")
    return rows


def roofline_points(rows: list[dict]) -> list[dict]:
    """The roofline's points, for a sweep that varies the size (size=..., model.hidden or data.batch_size)."""
    from src import roofline

    sizes = {r["job"]: _overrides(r) for r in rows}

    def size_of(r):
        o = sizes[r["job"]]
        return o.get("size") or "x".join(o.get(k, "default") for k in ("model.hidden", "data.batch_size"))

    if len({size_of(r) for r in rows}) < 2:
        return []
    return roofline.from_results(rows, size_of)


def floors_sentence(points: list[dict]) -> str:
    """Which framework's floor each runtime is measured against (never another framework's)."""
    by_fw: dict = {}
    for p in points:
        by_fw.setdefault(p["framework"], (set(), p.get("peak_gflops")))[0].add(p["runtime"])
    parts = [f"{', '.join(sorted(rts))} against {fw}'s GEMM floor" + (f" ({peak:.0f} GFLOP/s)" if peak else
                                                                        " (not measured: python bench.py --peak)")
             for fw, (rts, peak) in by_fw.items()]
    return "Floors: " + "; ".join(parts) + ". A kernel library's difference between frameworks is not a graph's."


def _wrapped(line: str) -> str:
    """A console line in the table's 120 columns, continued indented; a path or command is never split."""
    return textwrap.fill(line, WIDTH, subsequent_indent="    ", break_long_words=False, break_on_hyphens=False)


def report(sweep_dir: str | os.PathLike) -> int:
    """Writes and prints the summary; returns the exit code: 1 if any job did not complete."""
    rows = write_summary(sweep_dir)
    print(f"\ngraphduel sweep summary: {len(rows)} jobs in {Path(sweep_dir).resolve()}")
    print(table_text(rows))
    for r in rows:
        for warning in r.get("warnings") or []:
            print(_wrapped(f"  warning, {r['job']}: {warning}"))
    debugging = debugging_table.table(rows)
    if debugging:
        print(f"\nwhat each probe and fault did (debugging.md; docs/debugging.md):\n{debugging}")
    print(f"  plot: {Path(sweep_dir).resolve() / 'summary.png'}")
    if (Path(sweep_dir) / "roofline.png").exists() and roofline_points(rows):
        print(_wrapped(f"  roofline: {Path(sweep_dir).resolve() / 'roofline.png'} (table: roofline.md); "
                       f"{floors_sentence(roofline_points(rows))}"))
    print(f"  view with   tensorboard --logdir {shlex.quote(str(Path(sweep_dir).resolve()))}")  # pastes into bash
    noisy = [r["job"] for r in rows if r.get("noisy")]
    if noisy:  # by name when a few; a count when most are (a shared machine), the table marks each
        which = ", ".join(noisy) if len(noisy) <= 4 else f"{len(noisy)} of {len(rows)} jobs, marked in the table"
        print(textwrap.fill(f"  noisy timings (interquartile range over 10% of the median): {which}; compare runtimes "
                            "side by side with python bench.py, which interleaves them (docs/benchmark.md)",
                            WIDTH, subsequent_indent="    ", break_on_hyphens=False))
    contended = [r["job"] for r in rows if r.get("contended")]
    if contended:  # a uniformly slowed run is not noisy: the contention check (src/contention.py) catches it
        which = (", ".join(contended) if len(contended) <= 4 else
                 f"{len(contended)} of {len(rows)} jobs, marked in the table")
        print(textwrap.fill(f"  contended timings (other work competed for their cores: result.json says how): "
                            f"{which}; their times and break-evens are not the runtimes' own: rerun them on a quiet "
                            "machine",
                            WIDTH, subsequent_indent="    ", break_on_hyphens=False))
    print(f"  every column: {Path(sweep_dir).resolve() / 'summary.csv'} (and summary.md)")
    print()
    print(answer_text(rows, WIDTH))
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
