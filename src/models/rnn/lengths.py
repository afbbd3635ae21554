"""What torch.compile and tf.function build when the sequence length changes from step to step: graphs or
traces, the seconds spent building them, and the steady ms per step, for each way of handling the lengths.

    python -m src.models.rnn.lengths             # the default rnn, 200 steps, 1 thread
    python -m src.models.rnn.lengths --cold      # torch.compile with an empty inductor cache (a fresh clone)

Each case trains the model's own torch Net or TF loss as the runtimes do (torch.compile of Net.loss with every
kind of step compiled first, as lightning_compile does; TF2Step under tf.function, as tf_function does), in
this process, one after the other.  docs/rnn.md reports its output."""
from __future__ import annotations

import argparse
import os
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


def torch_cases(args) -> list[str]:
    import torch
    import torch._dynamo
    from torch._dynamo.utils import counters

    from src.models.rnn.torch import Net

    torch.set_num_threads(args.threads)
    default_limit = torch._dynamo.config.recompile_limit
    max_len = _problem(args).cfg.max_len

    def case(label, compiled=True, dynamic=True, buckets=1, limit=default_limit):
        torch._dynamo.reset()
        counters.clear()
        torch._dynamo.config.recompile_limit = limit
        problem = _problem(args, compile_buckets=buckets)
        net = Net(problem)
        loss_of = torch.compile(net.loss, dynamic=dynamic) if compiled else net.loss
        steps = _steps(problem, args.steps)
        t0 = time.perf_counter()
        for inputs in {tuple(s.items()): s for s in steps}.values():  # every kind once, as lightning_compile
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
        return (f"| {label} | {graphs if compiled else '-'} | {'yes' if eager_after else 'no'} | "
                f"{build_s:.1f} | {np.median(ms):.2f} |")

    rows = ["| torch | graphs | fell back to eager | warm-up s (compiling) | ms/step, median |", "|---|---|---|---|---|",
            case("eager (lightning's way): a Python loop of `longest` steps", compiled=False),
            case("compile, dynamic=False, padded to max_len", dynamic=False),
            case("compile, dynamic=True, one graph per length (limit 8)", buckets=max_len),
            case(f"compile, dynamic=True, one graph per length (limit raised to {max_len})", buckets=max_len,
                 limit=max_len)]
    for b in (8, 4, 2, 1):
        rows.append(case(f"compile, dynamic=True, compile_buckets={b}" + (" (graphduel's default)" if b == 1 else ""),
                         buckets=b))
    torch._dynamo.config.recompile_limit = default_limit
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
    ap = argparse.ArgumentParser(prog="python -m src.models.rnn.lengths", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cold", action="store_true", help="torch.compile with an empty inductor cache")
    ap.add_argument("--only", choices=("torch", "tf"))
    args = ap.parse_args(argv)
    if args.cold:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor_cold_")
    print(f"rnn defaults, seed {args.seed}, {args.steps} steps, {args.threads} thread(s)"
          f"{', inductor cache empty' if args.cold else ''}\n")
    if args.only != "tf":
        print("\n".join(torch_cases(args)) + "\n")
    if args.only != "torch":
        print("\n".join(tf_cases(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
