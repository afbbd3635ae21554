"""What the jax_jit runtime's step costs beyond the same math jitted bare, piece by piece:

    python -m tools.jax_overhead            # (python bench.py --own-cost runs it too)

The seeds' two_layer step in JAX, run in several ways side by side in one process.  The floor is the
seed's step (plain SGD) as one bare `jax.jit` function called in a Python loop, its loss never read (so
JAX queues the steps back to back); each next way adds one piece the jax_jit runtime has, up to the
runtime itself as `python train.py runtime=jax_jit` runs it, timed from its event file's wall times (steps
`warmup` to `warmup + steps`, as a user would read them in TensorBoard).  Every way runs in every round, in
a shuffled order, so the machine's noise hits them alike; a way's ms/step is the median over rounds, its
ratio to the floor the median of the per-round ratios, with their range.  The same for 100 steps per call
(a bare `lax.fori_loop` against `trainer.steps_per_call=100`) is the context.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time

from src.config import compose_config, cpu_threads
from src.problem import make_problem
from src.recorder import Recorder
from tools import ladder, ladder_table, output, output_options

# Cumulative: each way is the previous one plus one piece.
WAYS = ("floor: the seed's step jitted bare, loss not read", "+ momentum (torch's SGD rule, as graphduel runs it)",
        "+ ahead-of-time compile, donated weights (jax_jit's executable)", "+ the loss read every step (float)",
        "+ the recorder (events, checks, time/dispatch_ms)", "jax_jit runtime, as run (event wall times)")
FLOOR, RUNTIME = WAYS[0], WAYS[-1]
CONTEXT = ("the seed's step jitted bare, loss read every step", "100 steps per call, bare (lax.fori_loop)",
           "jax_jit runtime, steps_per_call=100, as run")


def _runtime(n: int, warmup: int, k: int = 1, threads: int | None = None) -> float:
    """ms per step of the jax_jit runtime from its event file: wall time of step warmup+steps minus step warmup's."""
    from src.benchmark import _event_wall_times
    from src.run import run

    cfg = compose_config("runtime=jax_jit", f"trainer.max_steps={n}", "trainer.progress_bar=false",
                         "trainer.checkpoint_every_n_steps=0", *([f"trainer.steps_per_call={k}"] * (k > 1)),
                         *([f"trainer.num_threads={threads}"] * (threads is not None)))
    with tempfile.TemporaryDirectory() as d:
        with contextlib.redirect_stdout(io.StringIO()):
            run(cfg, d)
        ends = _event_wall_times(d)
    return (ends[n - 1] - ends[warmup - 1]) / (n - warmup) * 1e3


def _seed_loss(w1, w2, x, y):
    """The seed's two-layer loss, as the seed writes it."""
    import jax.numpy as jnp

    return jnp.sum(jnp.square(y - jnp.maximum(x @ w1, 0.0) @ w2))


def _bare(problem, level: int, n: int, warmup: int, read: bool) -> float:
    import jax

    from src.frameworks import jax as jaxw
    from src.models.two_layer import jax as model
    from src.runtimes.jax_jit import compile_step

    dev = jax.devices("cpu")[0]
    state, data = jaxw.start_state(problem, dev)
    if level == 0:  # the seed's step: plain SGD on w1, w2
        lr = problem.lr

        @jax.jit
        def step(w1, w2, x, y):
            value, (g1, g2) = jax.value_and_grad(_seed_loss, argnums=(0, 1))(w1, w2, x, y)
            return w1 - lr * g1, w2 - lr * g2, value

        w1, w2 = state["params"]["w1"], state["params"]["w2"]
        for i in range(n):
            if i == warmup:
                jax.block_until_ready(w1)
                t0 = time.perf_counter()
            w1, w2, loss = step(w1, w2, data["x"], data["y"])
            if read:
                float(loss)
        jax.block_until_ready((w1, w2))
        return (time.perf_counter() - t0) / (n - warmup) * 1e3
    if level == 1:
        step = jax.jit(jaxw.train_step(problem, model))
    else:
        step = compile_step(problem, model, state["params"], state["buffers"], data)
    recorder = None
    if level >= 4:
        cfg = compose_config(f"trainer.max_steps={n}", "trainer.progress_bar=false",
                             "trainer.checkpoint_every_n_steps=0")
        tmp = tempfile.TemporaryDirectory()
        recorder = Recorder(tmp.name, cfg, "jax", "static", threads=1, problem=problem)
        recorder.start("cpu")
        recorder.loop_start(0)
    params, buffers = state["params"], state["buffers"]
    for i in range(n):
        if i == warmup:
            jax.block_until_ready(params)
            t0 = time.perf_counter()
        t = time.perf_counter()
        params, buffers, loss = step(params, buffers, data, {})
        if recorder is not None:
            recorder.scalar("time/dispatch_ms", (time.perf_counter() - t) * 1e3)
        if level >= 3:
            value = float(loss)
            if recorder is not None:
                recorder.step(value, (time.perf_counter() - t) * 1e3)
    jax.block_until_ready(params)
    ms = (time.perf_counter() - t0) / (n - warmup) * 1e3
    if recorder is not None:
        recorder.finish("completed")
        tmp.cleanup()
    return ms


def _fori(problem, n: int, warmup: int, k: int = 100) -> float:
    """The seed's step, k of them per call in a bare jitted fori_loop."""
    import jax

    from src.frameworks import jax as jaxw

    lr = problem.lr
    state, data = jaxw.start_state(problem, jax.devices("cpu")[0])

    @jax.jit
    def steps(w1, w2, x, y):
        def body(_, carry):
            w1, w2 = carry
            g1, g2 = jax.grad(_seed_loss, argnums=(0, 1))(w1, w2, x, y)
            return w1 - lr * g1, w2 - lr * g2
        return jax.lax.fori_loop(0, k, body, (w1, w2))

    w = (state["params"]["w1"], state["params"]["w2"])
    for i in range(n // k):
        if i == warmup // k:
            jax.block_until_ready(w)
            t0 = time.perf_counter()
        w = steps(*w, data["x"], data["y"])
    jax.block_until_ready(w)
    return (time.perf_counter() - t0) / (n - warmup // k * k) * 1e3


def measure(steps: int = 3000, warmup: int = 300, rounds: int = 5, seed: int = 0) -> dict:
    """way -> {ms, iqr_ms, rounds_ms, ratio, ratio_range} (the floor's ratio is 1)."""
    from src.frameworks import jax as jaxw

    n = warmup + steps
    problem = make_problem(compose_config("runtime=jax_jit"))
    jaxw.set_threads(cpu_threads())  # the pool the runtime would start (once per process: every way shares it)

    def one(way: str) -> float:
        if way == RUNTIME:
            return _runtime(n, warmup)
        if way == CONTEXT[2]:
            return _runtime(n, warmup, k=100)
        if way == CONTEXT[1]:
            return _fori(problem, n, warmup)
        if way == CONTEXT[0]:
            return _bare(problem, 0, n, warmup, read=True)
        return _bare(problem, WAYS.index(way), n, warmup, read=False)

    return ladder([*WAYS, *CONTEXT], FLOOR, rounds, seed, one)


def table(result: dict) -> str:
    return ladder_table(result, WAYS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.jax_overhead", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    output_options(ap)
    args = ap.parse_args(argv)
    return output(measure(args.steps, args.warmup, args.rounds), table, args)


if __name__ == "__main__":
    sys.exit(main())
