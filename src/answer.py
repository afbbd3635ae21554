"""The sweep's answer in words: does each static graph pay for itself against its framework's dynamic one?

Pure logic on the summary's rows (src/summary.py: one per job, with `break_even_step`, the partner it was
measured against, `vs_dynamic`): per model, one sentence per static runtime saying what it built and what
that cost, from which step it had spent less time in total than the dynamic runtime, its steady ms/step
against the dynamic one's, and where it never catches up, why.  Every number in a sentence is written as
the summary table writes it (`cell`), so the sentences and the table never disagree (tests/test_answer.py).

Jobs that differ only by seed make one sentence, each number listed per seed where they differ; jobs that
differ in anything else (trainer.compile_cache=cold,warm, say) make one sentence each, named by it.
"""
from __future__ import annotations

import re

SEED = "seed"
IGNORED = ("model", "runtime", "resume")  # never what tells two jobs of a sentence apart


def cell(value) -> str:
    """A value as the summary table shows it (src/summary.py uses this too)."""
    if value is None or value is False:
        return ""
    if value is True:
        return "noisy"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def caveats(row: dict, partner: dict | None) -> list[str]:
    """What makes this comparison less trustworthy than its numbers look, each a clause appended to the
    sentence: a job or its partner measured while other work competed for its cores (src/contention.py)."""
    from src.contention import caveat

    note = caveat(row, partner)
    return [note] if note else []


def _listed(values: list[str]) -> str:
    """One value if the jobs agree, else each job's, in job order."""
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else ", ".join(values)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _built(rows: list[dict]) -> str:
    """'built 4 graphs (compile) in 3.535 s': the graph count, the kinds of build, their total time."""
    kinds = []
    for r in rows:
        for b in r.get("builds") or []:
            what = re.sub(r" from .* cache$", "", str(b.get("what", ""))).strip()
            what = {"compile (backward)": "backward compile", "graph": "graph construction"}.get(what, what)
            if what and what not in kinds:
                kinds.append(what)
    counts = _listed([cell(r.get("compiles")) for r in rows])
    graphs = "graph" if counts == "1" else "graphs"
    kind = f" ({', '.join(kinds)})" if kinds else ""
    cache = _listed([_cache(r) for r in rows])
    phases = _listed([cell(r.get("build_phases")) for r in rows])
    phases = f" ({phases})" if phases else ""
    breaks = [b for r in rows for b in r.get("graph_breaks") or []]
    broke = ""
    if breaks:
        broke = (f"; Dynamo broke the graph {_plural(len(breaks), 'time')}, first at step {breaks[0].get('step')}: "
                 f"{str(breaks[0].get('reason'))[:100]}")
    return (f"built {counts} {graphs}{kind} in {_listed([cell(r.get('compile_s')) for r in rows])} s{phases}{cache}"
            f"{broke}")


def _cache(r: dict) -> str:
    """', cold caches' / ', warm cache, 3 hits': which compile cache the run had, where it says."""
    mode, hits = r.get("compile_cache"), r.get("cache_hits")
    if not mode or hits is None:  # a runtime with no compile cache it counts (tf_session, tf_function)
        return ""
    return f", {mode} cache{'s' if mode == 'cold' else ''}: {_plural(int(hits), 'hit')}"


def _catch_up(r: dict, partner: dict) -> str:
    """From which step the static job's total time stays below the dynamic one's, or why never."""
    k = r.get("break_even_step")
    if isinstance(k, int):
        return "setup included, it is ahead from the start" if k == 0 else f"it has spent less time in total from step {k}"
    if k is None:
        return "no break-even (no time curve to compare)"
    text = str(k)
    if "projected" in text:
        projected = re.search(r"~[\d,]+", text)
        return (f"it never caught up within its {r.get('steps')} steps: the run ended before its faster steps "
                f"paid its builds back" + (f", projected at step {projected.group(0)}" if projected else ""))
    return "it never catches up: its steps are slower, so its builds are never paid back"


def _job_sentence(r: dict, partner: dict) -> str:
    """The catch-up, the steady times and their ratio, for one job."""
    ratio = cell(r.get("vs_dynamic"))
    steady = (f"steady {cell(r.get('median_steady_ms'))} ms/step against {partner.get('runtime')}'s "
              f"{cell(partner.get('median_steady_ms'))} ms ({ratio}x)")
    return f"{_catch_up(r, partner)}; {steady}"


def sentence(rows: list[dict], by_job: dict[str, dict], label: str = "") -> str:
    """One static runtime on one model (its jobs: seeds, or a single job) against its dynamic partner."""
    first = rows[0]
    name = f"{first.get('model')}, {first.get('runtime')}" + (f" ({label})" if label else "")
    done = [r for r in rows if r.get("status") == "completed"]
    if not done:
        return f"{name}: did not complete ({_listed([str(r.get('status')) for r in rows])}): no answer."
    partners = [by_job.get(r.get("break_even_job")) for r in done]
    if any(p is None for p in partners):
        return f"{name}: {_built(done)}; {_missing_partner(first, by_job)}."
    vs = _listed([p.get("runtime") for p in partners])
    parts = [_job_sentence(r, p) for r, p in zip(done, partners)]
    if len(parts) > 1:
        seeds = [str(r.get(SEED)) for r in done]
        body = "; ".join(f"seed {s}: {p}" for s, p in zip(seeds, parts))
    else:
        body = parts[0]
    notes = [c for r, p in zip(done, partners) for c in caveats(r, p)]
    skipped = len(rows) - len(done)
    if skipped:
        notes.append(f"{skipped} of its {len(rows)} jobs did not complete")
    return f"{name} against {vs}: {_built(done)}; {body}" + "".join(f"; {n}" for n in dict.fromkeys(notes)) + "."


def _missing_partner(r: dict, by_job: dict[str, dict]) -> str:
    """Which dynamic runtime the sweep lacks for this framework, and how to add it."""
    from src.registry import RUNTIMES

    framework = r.get("framework")
    dynamic = [n for n, rt in RUNTIMES.items() if rt.framework == framework and rt.graph == "dynamic"]
    if not dynamic:
        return (f"no break-even: {framework} has no dynamic runtime in src/registry.py to compare against "
                f"(add one, e.g. {framework}_eager: its ops run one by one)")
    same = [j for j in by_job.values() if j.get("runtime") in dynamic and j.get("model") == r.get("model")]
    if same and not any(j.get("status") == "completed" for j in same):
        return f"no break-even: its dynamic partner {same[0].get('runtime')} did not complete ({same[0].get('status')})"
    return f"no break-even: add runtime={dynamic[0]} to the sweep, the dynamic {framework} runtime it is measured against"


def groups(rows: list[dict], overrides: dict[str, dict]) -> list[tuple[str, list[dict]]]:
    """Static jobs grouped into sentences: same model, runtime and everything else but the seed.
    `overrides`: job -> its overrides (key -> value).  Returns (label, jobs) in job order."""
    keys = {k for o in overrides.values() for k in o} - set(IGNORED) - {SEED}
    varying = sorted(k for k in keys if len({o.get(k) for o in overrides.values()}) > 1)
    out: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("graph") != "static":
            continue
        o = overrides.get(r.get("job"), {})
        key = (r.get("model"), r.get("runtime"), tuple(o.get(k, "default") for k in varying))
        out.setdefault(key, []).append(r)
    return [(" ".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(varying, key[2])), jobs)
            for key, jobs in out.items()]


def answer(rows: list[dict], overrides: dict[str, dict] | None = None) -> list[str]:
    """The sentences, per model in job order: one per static runtime (and per setting the sweep varied)."""
    overrides = overrides if overrides is not None else {r.get("job"): {} for r in rows}
    by_job = {r.get("job"): r for r in rows}
    lines = []
    for label, jobs in groups(rows, overrides):
        lines.append(sentence(jobs, by_job, label))
    # Models in job order, static runtimes in job order within each: groups() keeps that.
    models = list(dict.fromkeys(r.get("model") for r in rows))
    return sorted(lines, key=lambda s: models.index(s.split(",", 1)[0]) if s.split(",", 1)[0] in models else 0)


def text(rows: list[dict], overrides: dict[str, dict] | None = None, width: int | None = None) -> str:
    """The answer as the console and summary.md end with it; each sentence wrapped at `width` if given."""
    import textwrap

    lines = answer(rows, overrides)
    if not lines:
        return "The answer: this sweep ran no static runtime, so there is nothing to break even."
    out = ["The answer (does each static graph pay for itself against its framework's dynamic one?):"]
    for line in lines:
        out += textwrap.wrap(f"- {line}", width, subsequent_indent="  ", break_on_hyphens=False) if width \
            else [f"- {line}"]
    return "\n".join(out)
