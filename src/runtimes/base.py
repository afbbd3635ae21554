"""The runtime contract, and the training loop of runtimes that own their loop.

A runtime is a module src/runtimes/<name>.py, listed in src/registry.py with its framework and graph kind
(read before the runtime is imported), with conf/runtime/<name>.yaml, and one function:

    fit(problem, cfg, recorder, threads) -> None

It is given the Problem (src/problem.py: the seeded data, weights, optimizer, precision, per-step inputs,
and, when resuming, the step and momentum to start from), the composed config, the Recorder and the
number of CPU threads to use.  It imports its framework (and only its own), gets the model's file for
its framework (registry.model_module), and, in this order:

1. picks the device with its framework's helper (src/frameworks/<framework>.py `accelerator`), which raises
   ConfigError if it cannot honour trainer.accelerator, then calls `recorder.start(accelerator)`: from then
   on the run owns its directory.  Nothing may be written before: a refused run leaves nothing behind.
2. builds what it trains from the problem, float32 or float64 as problem.dtype says.
3. calls `recorder.loop_start(problem.start_step)`, then for each of `problem.inputs(start_step, max_steps)`
   runs one step and calls `recorder.step(loss, compute_ms)`, with the loss as a float (so the step has
   finished) and the time of forward + backward + update alone.  recorder.step raises Diverged or
   Interrupted; the runtime lets them through after a checkpoint for Interrupted.
4. calls `recorder.checkpoint(weights, momentum)` (numpy arrays by the problem's weight names) every
   trainer.checkpoint_every_n_steps steps, when interrupted, and at the end.

It may call `recorder.write_graph(graph_def_bytes)` for TensorBoard's Graphs tab.  `train_loop` below does
3 and 4 for a runtime that owns its loop: it only needs a `step(inputs) -> float` and a `state()`.  A runtime
listed with steps_per_call=True runs trainer.steps_per_call = K steps per graph call when K > 1: `train_calls`
gives its `call(columns, n) -> losses` the next n <= K steps' inputs as int arrays and records what it
returns with `recorder.steps`; checkpoints and interrupts fall at call boundaries.
"""
from __future__ import annotations

import time
from typing import Callable

from src.interrupt import Interrupted


def train_loop(problem, cfg, recorder, step: Callable[[dict], float], state: Callable[[], tuple[dict, dict]]) -> None:
    """step(inputs) runs one training step and returns its loss as a float; state() returns
    (weights, momentum) as numpy arrays by the problem's names."""
    every = cfg.trainer.checkpoint_every_n_steps
    recorder.loop_start(first_step=problem.start_step)
    try:
        for inputs in problem.inputs(problem.start_step, cfg.trainer.max_steps):
            t0 = time.perf_counter()
            loss = step(inputs)
            recorder.step(loss, (time.perf_counter() - t0) * 1e3)
            if every and recorder.step_no % every == 0:
                recorder.checkpoint(*state())
    except Interrupted:
        recorder.checkpoint(*state())
        raise
    recorder.checkpoint(*state())


def train_calls(problem, cfg, recorder, call: Callable[[dict, int], list], state: Callable[[], tuple[dict, dict]],
                k: int) -> None:
    """train_loop for K steps per call: call(columns, n) runs the next n (<= k, fewer only for the run's last
    call) steps in one graph call, given their inputs as int arrays by name, and returns their n losses.  A
    checkpoint is taken after the call in which a multiple of trainer.checkpoint_every_n_steps was passed."""
    every, stop = cfg.trainer.checkpoint_every_n_steps, cfg.trainer.max_steps
    recorder.loop_start(first_step=problem.start_step)
    columns = problem.input_columns(problem.start_step, stop)
    try:
        for a in range(0, stop - problem.start_step, k):
            n = min(k, stop - problem.start_step - a)
            t0 = time.perf_counter()
            losses = call({name: col[a:a + n] for name, col in columns.items()}, n)
            recorder.steps(losses, (time.perf_counter() - t0) * 1e3)
            if every and recorder.step_no // every > (recorder.step_no - n) // every:
                recorder.checkpoint(*state())
    except Interrupted:
        recorder.checkpoint(*state())
        raise
    recorder.checkpoint(*state())
