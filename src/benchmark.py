"""The benchmark: per-step cost of every runtime against the seeds' plain loops.

Every measurement runs in a fresh process (honest setup time and peak memory, one framework
imported).  Steady state: after `warmup` steps, `repeats` blocks of `steps` steps each; a block's
ms/step is its wall time over its steps, and a row reports the median block.  In the same block,
the median `time/step_ms` the runtime logged is set against it, so the logged timing is checked too.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from src.registry import FRAMEWORKS, MODELS  # the registry alone: no framework imported
from src.registry import RUNTIMES as _SPECS

# Each framework's plain loop, then its runtimes, each measured against that loop: all from the registry,
# so a new runtime or framework needs no entry here.
RUNTIMES = tuple(_SPECS)
RUNNERS = tuple(r for fw, spec in FRAMEWORKS.items()
                for r in (spec.reference, *(n for n in RUNTIMES if _SPECS[n].framework == fw)))
FRAMEWORK = {**{f.reference: fw for fw, f in FRAMEWORKS.items()}, **{r: s.framework for r, s in _SPECS.items()}}
GRAPH = {**{f.reference: f.graph for f in FRAMEWORKS.values()}, **{r: s.graph for r, s in _SPECS.items()}}
REFERENCE = {r: FRAMEWORKS[FRAMEWORK[r]].reference for r in RUNNERS}
ROOT = Path(__file__).resolve().parents[1]


# -- one measurement, in its own process -------------------------------------------------------
def _overrides(spec: dict) -> list[str]:
    rung = f"{spec['hidden']}x{spec['batch']}"  # a rung of the ladder (conf/size/) sets the rnn's lengths too
    size = [f"size={rung}"] if (ROOT / "conf" / "size" / f"{rung}.yaml").exists() else [
        f"model.hidden={spec['hidden']}", f"data.batch_size={spec['batch']}"]
    out = [f"model={spec['model']}", *size,
           f"trainer.max_steps={spec['warmup'] + spec['repeats'] * spec['steps']}",
           f"trainer.num_threads={spec['threads']}", "trainer.accelerator=cpu", "trainer.progress_bar=false"]
    if spec["runner"] in RUNTIMES:
        out.append(f"runtime={spec['runner']}")
    if spec.get("steps_per_call", 1) > 1:
        out.append(f"trainer.steps_per_call={spec['steps_per_call']}")
    if spec.get("lr") is not None:
        out.append(f"model.optimizer.lr={spec['lr']}")
    return out


def _blocks(spec: dict) -> list[tuple[int, int]]:
    """(first, last) step-end indices bounding each steady-state block."""
    w, k = spec["warmup"], spec["steps"]
    return [(w + i * k - 1, w + (i + 1) * k - 1) for i in range(spec["repeats"])]


def measure(spec: dict) -> dict:
    t0 = time.perf_counter()
    runner = spec["runner"]
    from src import contention
    from src.config import compose_config
    from src.problem import make_problem

    cfg = compose_config(*_overrides(spec))
    out: dict = {}
    # Each block's contention check: a sample at its first and last step's end (src/contention.py); the
    # sample's own time is taken out of its block.
    contention.EXTRA = {i + 1 for block in _blocks(spec) for i in block}
    if runner in RUNTIMES:
        from src.event_file import read_scalars
        from src.run import run

        with tempfile.TemporaryDirectory() as run_dir:
            with contextlib.redirect_stdout(io.StringIO()):  # the run's own summary: not the bench's
                result = run(cfg, run_dir)
            scalars = read_scalars(run_dir)
            # Each step's event is written as the step is recorded: its wall time marks the step's end.
            ends = _event_wall_times(run_dir)
        logged = [v for _, v in scalars["time/step_ms"]]
        out.update({k: result.get(k) for k in ("flops_per_step", "gflops_per_s", "x_floor", "peak_gflops",
                                                "steps_per_call")})
        out.update(setup_s=result["setup_s"], import_s=result["import_s"], final_loss=result["final_loss"],
                   builds=result["compiles"], build_s=result["compile_s"],
                   elapsed_s=[v for _, v in sorted(scalars["time/elapsed_s"])],
                   # Like for like: the mean of the logged step times over the same blocks.
                   logged_step_ms=statistics.median(
                       statistics.fmean(logged[a + 1:b + 1]) for a, b in _blocks(spec)))
    else:
        problem = make_problem(cfg)
        t_import = time.perf_counter()
        module = __import__(f"src.reference.{runner}", fromlist=["run"])
        t_setup = time.perf_counter()
        ends: list[float] = []
        losses: list[float] = []

        def on_step(loss: float) -> None:
            ends.append(time.perf_counter())
            losses.append(loss)
            if len(ends) in contention.EXTRA:
                t = time.perf_counter()
                contention.TAKEN[len(ends)] = contention.sample()
                contention.COST[len(ends)] = time.perf_counter() - t

        module.run(problem, cfg.trainer.max_steps, spec["threads"], on_step)
        out.update(setup_s=ends[0] - t_setup, import_s=t_setup - t_import, final_loss=losses[-1],
                   logged_step_ms=None)
    per_block = [(ends[b] - ends[a] - contention.COST.get(a + 1, 0.0)) / (b - a) * 1e3 for a, b in _blocks(spec)]
    verdicts = contention.blocks(contention.TAKEN, _blocks(spec), spec["threads"])
    out.update(blocks_contended=[c for c, _ in verdicts], blocks_reason=[why for _, why in verdicts])
    out.update(ms_per_step=statistics.median(per_block), blocks_ms=per_block,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               wall_s=time.perf_counter() - t0)
    return out


def _event_wall_times(run_dir: str) -> list[float]:
    from tensorboard.compat.proto.event_pb2 import Event

    from src.event_file import iter_records

    times = []
    for payload in iter_records(run_dir):
        event = Event.FromString(payload)
        if any(v.tag == "train/loss" for v in event.summary.value):
            times.append(event.wall_time)
    return times


def run_worker(spec: dict) -> dict:
    """Measures `spec` in a fresh Python process."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
        proc = subprocess.run([sys.executable, "-m", "src.benchmark", "--worker", json.dumps(spec), f.name],
                              cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {**spec, "error": tail}
        with open(f.name) as result:
            return {**spec, **json.load(result)}


def disturbed(result: dict) -> int:
    """How many of a measurement's blocks other work disturbed (src/contention.py)."""
    return sum(bool(c) for c in result.get("blocks_contended") or [])


def measured(spec: dict, remeasure: int) -> dict:
    """A measurement, re-measured (a fresh process) up to `remeasure` times while some of its blocks were
    contended; the least disturbed one is kept, and says how many blocks stayed disturbed and after how many
    re-measurements."""
    tries = [run_worker(spec)]
    while disturbed(tries[-1]) and len(tries) <= remeasure and "error" not in tries[-1]:
        tries.append(run_worker(spec))
    best = min(tries, key=lambda r: ("error" in r, disturbed(r)))
    return {**best, "remeasured": len(tries) - 1}


# -- the comparison -----------------------------------------------------------------------------
def _key(r: dict, runner: str | None = None) -> tuple:
    return r["model"], r["hidden"], r["batch"], r["threads"], runner or r["runner"]


def aggregate(results: list[dict]) -> dict:
    """One row from a runner's rounds: its steady-state blocks pooled over the rounds, their median (ms/step),
    their interquartile range, and the flag `noisy` where that range is over 10% of the median (the practice
    of torch.utils.benchmark); setup and import times are the rounds' medians."""
    from src.recorder import NOISY, spread

    ok = [r for r in results if "error" not in r]
    if not ok:
        return results[0]
    blocks = [b for r in ok for b in r["blocks_ms"]]
    median = statistics.median(blocks)
    iqr = spread(blocks)
    typical = min(ok, key=lambda r: abs(r["ms_per_step"] - median))  # its elapsed curve, peak memory, ...
    contended = sum(disturbed(r) for r in ok)
    reasons = [why for r in ok for c, why in zip(r.get("blocks_contended") or [], r.get("blocks_reason") or []) if c]
    return {**typical, "ms_per_step": median, "iqr_ms": iqr, "noisy": iqr is not None and iqr > NOISY * median,
            # Blocks other work competed with, after re-measuring: the row says so rather than pass them off.
            "contended_blocks": contended, "contended_reason": reasons[0] if reasons else None,
            "remeasured": sum(r.get("remeasured", 0) for r in ok),
            "blocks_ms": blocks, "rounds_ms": [r["ms_per_step"] for r in results if "error" not in r],
            "round_ok": ["error" not in r for r in results],
            **{k: statistics.median(r[k] for r in ok) for k in ("setup_s", "import_s")}}


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each runner against the plain loop of its framework, measured side by side: the ratio of the medians,
    and the range of the ratios round by round (a round runs every runner once, interleaved)."""
    key = {_key(r): r for r in rows}
    for r in rows:
        ref = key.get(_key(r, REFERENCE[r["runner"]]))
        ok = ref and "error" not in ref and "error" not in r
        r["ratio_to_plain"] = r["ms_per_step"] / ref["ms_per_step"] if ok else None
        if ok:
            mine, theirs = iter(r["rounds_ms"]), iter(ref["rounds_ms"])
            pairs = [(next(mine) if a else None, next(theirs) if b else None)
                     for a, b in zip(r["round_ok"], ref["round_ok"])]
            per_round = [m / t for m, t in pairs if m is not None and t is not None]
            r["ratio_range"] = [min(per_round), max(per_round)] if per_round else None
        if r.get("logged_step_ms") and "error" not in r:
            r["logged_vs_measured"] = r["logged_step_ms"] / r["ms_per_step"] - 1
    # A static runtime against the dynamic runtime of its framework at the same size: the step from which
    # its total time (setup, builds, steps) stays below (src/summary.py break_even).
    from src.summary import break_even

    for r in rows:
        spec = _SPECS.get(r["runner"])
        if spec is None or spec.graph != "static" or "error" in r:
            continue
        for other in rows:
            o = _SPECS.get(other["runner"])
            if (o and o.framework == spec.framework and o.graph == "dynamic" and "error" not in other
                    and _key(other, r["runner"]) == _key(r)):
                step, projected = break_even(r["elapsed_s"], other["elapsed_s"], r["ms_per_step"],
                                             other["ms_per_step"])
                r["break_even"] = (str(step) if step is not None else
                                   f"never (~{projected:,.0f})" if projected is not None else "never")
                r["break_even_vs"] = other["runner"]
    return rows


def table(rows: list[dict]) -> str:
    head = ["model", "hidden", "batch", "threads", "runner", "framework", "graph", "ms/step", "IQR ms", "x plain loop",
            "x per round", "logged ms/step", "logged vs measured", "setup s", "builds", "build s",
            "breaks even at step", "import s", "peak MB", "contended"]

    def f(v, spec):
        return "" if v is None else format(v, spec)

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['model']} | {r['hidden']} | {r['batch']} | {r['threads']} | {r['runner']} | "
                         f"error: {r['error']} |")
            continue
        noisy = " (noisy)" if r.get("noisy") else ""
        rng = r.get("ratio_range")
        lines.append("| " + " | ".join([
            r["model"], str(r["hidden"]), str(r["batch"]), str(r["threads"]), r["runner"], FRAMEWORK[r["runner"]],
            GRAPH[r["runner"]], f(r["ms_per_step"], ".3f"), f(r.get("iqr_ms"), ".3f") + noisy,
            f(r.get("ratio_to_plain"), ".2f"), f"{rng[0]:.2f}-{rng[1]:.2f}" if rng else "",
            f(r.get("logged_step_ms"), ".3f"),
            f(r.get("logged_vs_measured"), "+.1%"), f(r["setup_s"], ".2f"), f(r.get("builds"), "d"),
            f(r.get("build_s"), ".2f"), r.get("break_even", ""), f(r["import_s"], ".2f"),
            f(r["peak_rss_mb"], ".0f"), _contended(r)]) + " |")
    return "\n".join(lines)


def _contended(r: dict) -> str:
    """'3 of 15 blocks, re-measured 2x: <why>' for a row other work disturbed; '' for a quiet one."""
    n = r.get("contended_blocks")
    if not n:
        return ""
    total = len(r.get("blocks_ms") or [])
    again = f", still after re-measuring {r['remeasured']}x" if r.get("remeasured") else ""
    return f"{n} of {total} blocks{again}: {r.get('contended_reason')}"


def plot_scaling(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_ms, ax_ratio) = plt.subplots(1, 2, figsize=(13, 5))
    sizes = sorted({(r["hidden"], r["batch"]) for r in rows})
    labels = [f"{h}x{b}" for h, b in sizes]
    for model in sorted({r["model"] for r in rows}):
        for runner in RUNNERS:
            pts = {(r["hidden"], r["batch"]): r for r in rows
                   if r["model"] == model and r["runner"] == runner and "error" not in r}
            if not pts:
                continue
            xs = [i for i, s in enumerate(sizes) if s in pts]
            style = "--" if GRAPH[runner] == "static" else "-"
            ax_ms.plot(xs, [pts[sizes[i]]["ms_per_step"] for i in xs], style, marker="o",
                       label=f"{model} / {runner}")
            if runner in RUNTIMES:
                ax_ratio.plot(xs, [pts[sizes[i]]["ratio_to_plain"] or float("nan") for i in xs], style,
                              marker="o", label=f"{model}: {runner} / its plain loop")
        static = {(r["hidden"], r["batch"]): r["ms_per_step"] for r in rows
                  if r["model"] == model and r["runner"] == "tf_session" and "error" not in r}
        dynamic = {(r["hidden"], r["batch"]): r["ms_per_step"] for r in rows
                   if r["model"] == model and r["runner"] == "lightning" and "error" not in r}
        xs = [i for i, s in enumerate(sizes) if s in static and s in dynamic]
        ax_ratio.plot(xs, [static[sizes[i]] / dynamic[sizes[i]] for i in xs], ":", marker="s", color="black",
                      label=f"{model}: tf_session / lightning (static / dynamic)")
    ax_ms.set(yscale="log", xlabel="hidden x batch", ylabel="ms per step (log)",
              title="Cost per step as the model grows")
    ax_ratio.axhline(1.0, color="grey", linewidth=0.8)
    ax_ratio.set(xlabel="hidden x batch", ylabel="ratio", title="Overheads fade as compute grows (1 = no difference)")
    for ax in (ax_ms, ax_ratio):
        ax.set_xticks(range(len(sizes)), labels)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def roofline_points(rows: list[dict]) -> list[dict]:
    """The runtimes' rows as roofline points (src/roofline.py): the median over rounds' blocks, the range of the
    rounds' medians as the spread."""
    return [dict(model=r["model"], runtime=r["runner"], framework=FRAMEWORK[r["runner"]], graph=GRAPH[r["runner"]],
                 size=f"{r['hidden']}x{r['batch']}", flops=r["flops_per_step"], ms=r["ms_per_step"],
                 lo=min(r["rounds_ms"]), hi=max(r["rounds_ms"]), peak_gflops=r.get("peak_gflops"),
                 break_even=r.get("break_even"))
            for r in rows if "error" not in r and r.get("flops_per_step") and r["runner"] in RUNTIMES]


def thread_table(rows: list[dict]) -> str:
    """Each runner at 1 thread and at all cores, side by side."""
    by = {}
    for r in rows:
        by.setdefault((r["model"], r["hidden"], r["batch"], r["runner"]), {})[r["threads"]] = r
    counts = sorted({r["threads"] for r in rows})
    head = ["model", "runner", "graph", *[f"{t} thread{'s' * (t > 1)}: ms/step (IQR)" for t in counts],
            f"{counts[-1]} / {counts[0]}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (model, _, _, runner), at in by.items():
        cells = [f"{at[t]['ms_per_step']:.3f} ({at[t]['iqr_ms']:.3f})" + " contended" * bool(at[t]["contended_blocks"])
                 if t in at and "error" not in at[t] and at[t].get("iqr_ms") is not None else "" for t in counts]
        ok = all(t in at and "error" not in at[t] for t in (counts[0], counts[-1]))
        ratio = f"{at[counts[-1]]['ms_per_step'] / at[counts[0]]['ms_per_step']:.2f}" if ok else ""
        lines.append("| " + " | ".join([model, runner, GRAPH[runner], *cells, ratio]) + " |")
    return "\n".join(lines)


def own_cost(out: Path) -> int:
    """graphduel's own per-step cost, each in a fresh process: the recorder, the lightning runtime's step
    against the cheapest Lightning loop of the same math, jax_jit's against the same math jitted bare, piece
    by piece, and what a pause between two jitted steps costs on XLA's CPU pool (the rest of jax_jit's)."""
    out.mkdir(parents=True, exist_ok=True)
    results, md = {}, []
    for name, module in (("recorder", "tools.recorder_cost"), ("lightning", "tools.lightning_overhead"),
                         ("jax", "tools.jax_overhead"), ("xla_idle", "tools.xla_idle")):
        print(f"benchmark: {name} ...", file=sys.stderr, flush=True)
        with tempfile.NamedTemporaryFile("r", suffix=".json") as f:
            proc = subprocess.run([sys.executable, "-m", module, "--json-out", f.name], cwd=ROOT, capture_output=True,
                                  text=True)
            if proc.returncode != 0:
                print(f"error: {module}: {(proc.stderr.strip().splitlines() or ['(no output)'])[-1]}", file=sys.stderr)
                return 1
            results[name] = json.load(f)
        md.append(proc.stdout.strip())
    from src.environment import describe

    (out / "own_cost.json").write_text(json.dumps({"environment": describe(), **results}, indent=2))
    text = "\n\n".join(md)
    (out / "own_cost.md").write_text(text + "\n")
    print(text)
    print(f"results: {(out / 'own_cost.json').resolve()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python bench.py", description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--runners", default=",".join(RUNNERS))
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100, help="steps per repeat")
    ap.add_argument("--rounds", type=int, default=3,
                    help="measure every runner this many times, interleaved (a round runs each once, in a shuffled "
                         "order): on a shared machine, noise then hits every runner alike")
    ap.add_argument("--thread-study", action="store_true",
                    help="every runner at 1 thread and at all cores, side by side")
    ap.add_argument("--own-cost", action="store_true",
                    help="graphduel's own cost per step: the recorder, and the lightning runtime against the "
                         "cheapest Lightning loop of the same math")
    ap.add_argument("--peak", action="store_true",
                    help="this machine's best GEMM rate per framework (torch, tensorflow, jax; numpy for reference), "
                         "each in its own process, into --peak-file: every later run's floor (src/peak.py)")
    ap.add_argument("--frameworks", default="torch,tensorflow,jax,numpy", help="--peak: the frameworks to measure")
    ap.add_argument("--peak-file", default=None, help="where --peak writes (default: trainer.peak_file's default, "
                                                      "~/.cache/graphduel/peak.json)")
    ap.add_argument("--remeasure", type=int, default=1,
                    help="re-measure a runner (a fresh process) up to this many times while other work disturbed "
                         "some of its blocks (src/contention.py); the row says how many blocks stayed disturbed")
    ap.add_argument("--threads", type=int, default=None, help="CPU threads for every runner (default: all cores)")
    ap.add_argument("--scaling", action="store_true", help="grow hidden and batch size instead")
    ap.add_argument("--sizes", default="100x64,300x256,1000x1024,2000x2048,4000x4096",
                    help="scaling mode: hidden x batch sizes")
    ap.add_argument("--steps-per-call", type=int, default=1,
                    help="trainer.steps_per_call for the runtimes that take it (blocks and warm-up: multiples of it)")
    ap.add_argument("--out", default="bench_results", help="directory for the JSON, markdown and plot")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        spec, path = json.loads(args.worker[0]), args.worker[1]
        with open(path, "w") as f:
            json.dump(measure(spec), f)
        return 0
    if args.own_cost:
        return own_cost(Path(args.out))
    if args.peak:
        from src import peak
        from src.flops import DEFAULT_PEAK_FILE

        path = os.path.expanduser(args.peak_file or DEFAULT_PEAK_FILE)
        result = peak.run(path, frameworks=args.frameworks.split(","), rounds=args.rounds)
        print(peak.table(result))
        print(f"results: {path}")
        return 1 if any("error" in r for r in result["frameworks"].values()) else 0

    from src.config import cpu_threads

    models, runners = args.models.split(","), args.runners.split(",")
    bad = [r for r in runners if r not in RUNNERS] + [m for m in models if m not in MODELS]
    if bad:
        print(f"error: unknown {', '.join(bad)}: runners are {', '.join(RUNNERS)}; models {', '.join(MODELS)}",
              file=sys.stderr)
        return 2
    try:
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")] if args.scaling else [(100, 64)]
    except ValueError:
        print(f"error: --sizes={args.sizes} is not a list like 100x64,1000x1024", file=sys.stderr)
        return 2
    if args.scaling:  # a ladder takes half an hour or more: say now if it will have no floor to be set against
        from src.flops import DEFAULT_PEAK_FILE, load_peak

        for fw in sorted({FRAMEWORK[r] for r in runners if r in RUNTIMES}):
            rate, why = load_peak(DEFAULT_PEAK_FILE, fw)
            if rate is None:  # one line, for the first framework without a floor
                print(f"benchmark: warning: {why}: the roofline will draw no floor and no run its x floor; "
                      "run `python bench.py --peak` first (~1 min)", file=sys.stderr)
                break
    if args.steps_per_call > 1:  # a block's time is between step ends: blocks and warm-up whole calls
        k = args.steps_per_call
        args.warmup, args.steps = -(-args.warmup // k) * k, -(-args.steps // k) * k
    threads = sorted({1, cpu_threads()}) if args.thread_study else [args.threads or cpu_threads()]
    specs = [dict(runner=r, model=m, hidden=h, batch=b, warmup=args.warmup, repeats=args.repeats,
                  steps=args.steps, threads=t,
                  steps_per_call=args.steps_per_call if r in RUNTIMES and _SPECS[r].steps_per_call else 1,
                  lr=1e-12 if args.scaling else None)  # scaling times steps; a tiny lr keeps big sizes finite
             for (h, b) in sizes for m in models for t in threads for r in runners]
    from tqdm import tqdm

    rounds: list[list[dict]] = [[] for _ in specs]
    shuffle = random.Random(0)
    with tqdm(total=len(specs) * args.rounds, desc="benchmark", unit="run", file=sys.stderr) as bar:
        for _ in range(max(1, args.rounds)):
            order = list(range(len(specs)))
            shuffle.shuffle(order)  # every round runs every runner, in its own order: noise hits all alike
            for i in order:
                rounds[i].append(measured(specs[i], args.remeasure))
                bar.update()
    rows = with_ratios([aggregate(r) for r in rounds])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "scaling" if args.scaling else "threads" if args.thread_study else "bench"
    from src.environment import describe

    (out / f"{name}.json").write_text(json.dumps({"environment": describe(), "arguments": vars(args), "rows": rows},
                                                 indent=2))
    md = thread_table(rows) if args.thread_study else table(rows)
    (out / f"{name}.md").write_text(md + "\n")
    print(md)
    if args.scaling:
        plot_scaling(rows, str(out / "scaling.png"))
        print(f"plot: {(out / 'scaling.png').resolve()}")
        points = roofline_points(rows)
        if points:
            from src import roofline
            from src.summary import floors_sentence

            roofline.plot(points, str(out / "roofline.png"))
            text = roofline.table(points) + "\n\n" + floors_sentence(points)
            (out / "roofline.md").write_text(text + "\n")
            print(text)
            print(f"roofline: {(out / 'roofline.png').resolve()}")
    print(f"results: {(out / (name + '.json')).resolve()}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
