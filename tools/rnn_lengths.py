"""What torch.compile and tf.function build when the sequence length changes from step to step: graphs or
traces, the seconds spent building them, and the steady ms per step, for each way of handling the lengths.

    python -m tools.rnn_lengths             # the default rnn, 200 steps, 1 thread
    python -m tools.rnn_lengths --cold      # each torch case in a new process, inductor's cache empty

Each case trains the model's own torch Net or TF loss as the runtimes do: torch.compile(Net.loss, dynamic=...)
as in lightning_compile, TF2Step under tf.function as in tf_function, in this process, one case after the
other.  torch: the first step of every kind (each (batch, longest) the run will see) runs first, timed
apart, since that is where graphs are compiled (lightning_compile compiles lazily, at those same steps);
the median ms/step is over the steps after.  TensorFlow: the calls that traced are timed apart from the
others.  docs/rnn.md reports its output."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace

import numpy as np


def _problem(args, **model):
    from src.config import compose_config
    from src.problem import make_problem

    problem = make_problem(compose_config("model=rnn", f"seed={args.seed}"))
    return replace(problem, cfg=replace(problem.cfg, **model)) if model else problem


def _steps(problem, n):
    return list(problem.inputs(0, n))


def _torch_cases(max_len: int) -> list[tuple[str, dict]]:
    cases = [("eager (lightning's way): a Python loop of `longest` steps", dict(compiled=False)),
             ("compile, dynamic=False, padded to max_len", dict(dynamic=False)),
             ("compile, dynamic=True, one graph per length (limit 8)", dict(buckets=max_len)),
             (f"compile, dynamic=True, one graph per length (limit raised to {max_len})",
              dict(buckets=max_len, limit=max_len))]
    return cases + [(f"compile, dynamic=True, compile_buckets={b}" + (" (graphduel's default)" if b == 1 else ""),
                     dict(buckets=b)) for b in (8, 4, 2, 1)]


def torch_case(args, compiled=True, dynamic=True, buckets=1, limit=None) -> str:
    """One way of running the torch Net: its graphs, whether Dynamo gave up, the seconds of every kind's first
    step (where the compiling happens), and the median ms of the steps after."""
    import torch
    import torch._dynamo
    from torch._dynamo.utils import counters

    from src.models.rnn.torch import Net

    torch.set_num_threads(args.threads)
    default_limit = torch._dynamo.config.recompile_limit
    torch._dynamo.reset()
    counters.clear()
    torch._dynamo.config.recompile_limit = limit or default_limit
    try:
        problem = _problem(args, compile_buckets=buckets)
        net = Net(problem)
        loss_of = torch.compile(net.loss, dynamic=dynamic) if compiled else net.loss
        steps = _steps(problem, args.steps)
        t0 = time.perf_counter()
        for inputs in {tuple(s.items()): s for s in steps}.values():  # every kind of step once
            loss_of(inputs).backward()
        build_s = time.perf_counter() - t0
        opt = torch.optim.SGD(net.parameters(), lr=problem.lr, momentum=problem.momentum)
        ms = []
        for inputs in steps:
            t = time.perf_counter()
            loss = loss_of(inputs)
            opt.zero_grad()
            loss.backward()
            opt.step()
            ms.append((time.perf_counter() - t) * 1e3)
        graphs = counters["stats"]["unique_graphs"]
        eager_after = any("recompile limit" in k for k in counters["unimplemented"])
    finally:
        torch._dynamo.config.recompile_limit = default_limit
    return f"{graphs if compiled else '-'} | {'yes' if eager_after else 'no'} | {build_s:.1f} | {np.median(ms):.2f} |"


def torch_cases(args) -> list[str]:
    """Every case, in this process (inductor's cache on disk as it is), or with --cold each in a fresh
    process with an empty cache: a first run from a fresh clone."""
    cases = _torch_cases(_problem(args).cfg.max_len)
    rows = ["| torch | graphs | fell back to eager | first step of every kind, s (compiling) | ms/step, median |",
            "|---|---|---|---|---|"]
    for i, (label, kw) in enumerate(cases):
        if not args.cold:
            rows.append(f"| {label} | {torch_case(args, **kw)}")
            continue
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": tempfile.mkdtemp(prefix="inductor_cold_")}
        out = subprocess.run([sys.executable, "-m", "tools.rnn_lengths", "--case", str(i),
                              f"--steps={args.steps}", f"--seed={args.seed}", f"--threads={args.threads}"],
                             env=env, capture_output=True, text=True, check=True)
        rows.append(f"| {label} | {out.stdout.strip().splitlines()[-1]}")
    return rows


def tf_cases(args) -> list[str]:
    from src.frameworks import tf as tfw
    from src.frameworks.tf import TF2Step, tf
    from src.models.rnn import tf as model

    tfw.set_threads(args.threads)
    problem = _problem(args)
    steps = _steps(problem, args.steps)

    def case(label, signature: bool, as_tensors: bool, traced=True):
        net = TF2Step(problem, model)
        step = net.step
        if traced:
            step = tf.function(step, input_signature=net.input_signature() if signature else None)
        feed = [{k: tf.constant(v, tf.int32) for k, v in s.items()} if as_tensors else s for s in steps]
        ms, tracing = [], []
        for inputs in feed:
            before, t = net.traces, time.perf_counter()
            float(step(inputs))
            (tracing if traced and net.traces > before else ms).append((time.perf_counter() - t) * 1e3)
        # A call that traced: the trace (and its graph's first run) over a plain step of the same kind.
        trace_s = (sum(tracing) - len(tracing) * float(np.median(ms))) / 1e3
        return f"| {label} | {net.traces if traced else '-'} | {trace_s:.2f} | {np.median(ms):.2f} |"

    return ["| TensorFlow | traces | tracing s | ms/step, median (steps that did not trace) |", "|---|---|---|---|",
            case("eager (tf_eager): a Python loop of `longest` steps", False, False, traced=False),
            case("tf.function, input_signature of int32 scalars (tf_function)", True, True),
            case("tf.function, no signature, int32 tensors", False, True),
            case("tf.function, no signature, Python ints", False, False)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.rnn_lengths", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="each torch case in a new process, inductor's cache empty")
    ap.add_argument("--only", choices=("torch", "tf"))
    ap.add_argument("--case", type=int, help=argparse.SUPPRESS)  # one torch case, for --cold
    args = ap.parse_args(argv)
    if args.case is not None:
        print(torch_case(args, **_torch_cases(_problem(args).cfg.max_len)[args.case][1]))
        return 0
    print(f"rnn defaults, seed {args.seed}, {args.steps} steps, {args.threads} thread(s)"
          f"{', inductor cache empty' if args.cold else ''}\n")
    if args.only != "tf":
        print("\n".join(torch_cases(args)) + "\n")
    if args.only != "torch":
        print("\n".join(tf_cases(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
