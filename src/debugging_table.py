"""The debugging table a sweep under probes and faults ends with (python train.py experiment=debugging):
rows the runtimes, columns the probes and the faults, each cell what happened, from the jobs' result.json
(src/debugging.py measured it).  Written as debugging.md into the sweep directory and printed with the
sweep summary; docs/debugging.md sets it beside what each framework documents.

A probe's cell: on how many of the run's steps it fired (and what it printed at the setup's trace or build),
whether it showed numbers or a symbolic tensor, the graph builds and breaks it added, and its ms per step
against the same runtime's job without it (the cost of looking).  A fault's cell: where it surfaced (the
setup's build, trace or compile, a step, or never), the error's type, and whether the error names the
model's line.
"""
from __future__ import annotations

from pathlib import Path

PROBES = ("print", "native", "breakpoint")
FAULTS = ("nan", "shape", "data_if", "index")


def _debug(r: dict) -> str:
    """The job's probe or fault; 'none' for a job with neither (a run without them records nothing of them)."""
    d = r.get("debug")
    if not isinstance(d, dict):
        return "none"
    if d.get("probe", "none") != "none":
        return d["probe"]
    return d.get("fault", "none")


def _probe_cell(r: dict, base: dict | None) -> str:
    if r.get("status") != "completed":
        return f"failed at {r.get('error_phase') or '?'}: {r.get('error_type') or r.get('status')}"
    steps, setup = r.get("probe_steps") or 0, r.get("probe_at_setup") or 0
    parts = [f"{steps}/{r.get('steps')} steps"]
    if setup:
        parts.append(f"{setup} at setup")
    parts.append(r.get("probe_shows") or "nothing")
    if base:
        extra = (r.get("compiles") or 0) - (base.get("compiles") or 0)
        if extra:
            parts.append(f"{extra:+d} builds")
    if r.get("graph_breaks"):
        parts.append(f"{len(r['graph_breaks'])} graph breaks")
    ms, base_ms = r.get("median_steady_ms"), base and base.get("median_steady_ms")
    if ms and base_ms and r.get("probe") != "breakpoint":  # a breakpoint's steps wait on pdb
        parts.append(f"{ms / base_ms:.3g}x ms/step ({ms:.3g} ms)")
    return ", ".join(parts)


def _fault_cell(r: dict) -> str:
    if r.get("status") == "completed":
        return "never (completed)"
    where = r.get("error_phase") or "?"
    if r.get("status") == "diverged":
        return f"{where}: loss NaN (graphduel's check)"
    named = "names the model's line" if r.get("error_names_model") else "no model line"
    return f"{where}: {r.get('error_type') or r.get('status')}, {named}"


def table(rows: list[dict]) -> str | None:
    """The markdown table, or None when no job ran under a probe or a fault."""
    jobs = [(r, _debug(r)) for r in rows]
    jobs = [(r, d) for r, d in jobs if d is not None]
    if not any(d != "none" for _, d in jobs):
        return None
    columns = [c for c in (*PROBES, *FAULTS) if any(d == c for _, d in jobs)]
    runtimes = list(dict.fromkeys(r.get("runtime") for r, _ in jobs))
    models = sorted({r.get("model") for r, _ in jobs})
    lines = []
    for model in models:
        by = {(r.get("runtime"), d): r for r, d in jobs if r.get("model") == model}
        if len(models) > 1:
            lines.append(f"\n{model}:\n")
        lines.append("| runtime | " + " | ".join(columns) + " |")
        lines.append("|---|" + "---|" * len(columns))
        for rt in runtimes:
            base = by.get((rt, "none"))
            cells = []
            for c in columns:
                r = by.get((rt, c))
                cells.append("" if r is None else _probe_cell(r, base) if c in PROBES else _fault_cell(r))
            lines.append(f"| {rt} | " + " | ".join(cells) + " |")
    return "\n".join(lines).strip()


def write(rows: list[dict], sweep_dir) -> str | None:
    """debugging.md into the sweep directory, when the sweep ran probes or faults; returns the table."""
    text = table(rows)
    if text is not None:
        Path(sweep_dir, "debugging.md").write_text(text + "\n")
    return text
