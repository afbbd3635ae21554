"""The runtime contract, and the training loop of runtimes that own their loop.

A runtime is a module src/runtimes/<name>.py, listed in src/registry.py (its framework, graph kind, one line
of what it is, and multi_device), with conf/runtime/<name>.yaml, and one function:

    fit(problem, cfg, recorder, threads) -> None

It is given the Problem (src/problem.py: the seeded data, weights, optimizer, precision, per-step inputs,
and, when resuming, the step and momentum to start from), the composed config, the Recorder and the number
of CPU threads.  Every rule below is enforced by a test (named after it); tests/test_runtimes.py holds
every runtime to the ones a registry line is enough to check.

Imports.  It imports its own framework and nothing else's (test_cli: a run imports only its own framework),
through src/frameworks/<framework>.py; what runtimes of one framework share lives there, never in another
runtime's file.

1. Start: its first line is `start = <framework>.begin(problem, cfg, recorder, threads)` (src/frameworks/):
   `threads` set, the device picked (a ConfigError, one line, if trainer.accelerator cannot be honoured:
   test_lightning, test_cli), `recorder.start(start.accelerator)` called -- from then on the run owns its
   directory; nothing may be written before, so a refused run leaves nothing behind (test_trust) -- and the
   model's file for the framework imported (`start.model`; `start.device` is the framework's device).
2. Build what it trains from the problem, at problem.dtype: float64 end to end at trainer.precision=64
   (weights, momentum, loss: test_parity.test_precision_64_is_float64_end_to_end), computing torch's SGD
   rule (buf = momentum * buf + grad, w -= lr * buf; a layer a step does not use gets a zero gradient, so its
   momentum still moves it): at float64 its loss curve stays within 1e-9 of lightning's (test_parity).
3. Report every graph it builds, with recorder.graph_built(seconds, what, reason, nodes): the framework's own
   counters and hooks, not a guess.  Built in the setup (before loop_start) it is step 0's; built while a
   step runs (a compile on first use, a retrace) it is that step's, and the step's compute_ms excludes it.
   A static runtime builds at least one graph and reports graph nodes only at its builds; a dynamic runtime
   builds none ahead and reports, EVERY step, the nodes of the graph that step built, with
   recorder.graph_nodes(n), n > 0, the same n for the same kind of step (test_graph_builds,
   test_rnn.test_eager_graphs_grow_with_the_length).  A run that goes as planned warns of nothing
   (result.json's warnings == []); recorder.warn is for what the user must know (a fall back to eager).
4. Call `recorder.loop_start(problem.start_step)`, then for each of `problem.inputs(start_step, max_steps)`
   run one step and call `recorder.step(loss, compute_ms)`: the loss as a Python float (so the step has
   finished; on a GPU, synchronized) and compute_ms the time of forward + backward + update alone.  Every
   step is logged once, 1..max_steps, with the model's per-step tags (test_runtimes).  recorder.step raises
   Diverged (a non-finite loss) or Interrupted (SIGINT/SIGTERM during the step): let both through, the
   latter after a checkpoint (test_robustness: exit 130/143, the checkpoint at the last logged step).
5. Call `recorder.checkpoint(weights, momentum)` (numpy arrays by the problem's weight names; momentum empty
   without it) every trainer.checkpoint_every_n_steps steps, when interrupted and at the end.  A run resumed
   from any checkpoint continues exactly: the same losses and per-step inputs as a run that never stopped,
   also when the first resumed step skips a layer whose momentum must keep moving it (test_robustness).
6. Write the run's graph for TensorBoard's Graphs tab, `recorder.write_graph(graph_def_bytes)`, in readable
   scopes (forward/, gradients/, update/: test_sweeps), and `recorder.status(text)` before a slow part
   (tracing, compiling: test_cli.test_a_slow_start_says_what_it_is_doing).
7. Only a runtime with multi_device=True honours trainer.devices and trainer.strategy (validate refuses them
   elsewhere); under DDP only rank zero reports (test_robustness.test_ddp_on_two_cpu_processes_logs_one_run).

A value the runtime measures in a step (beyond the loss and times) is `recorder.scalar(tag, value)` before
that step's recorder.step; a value of the whole run `recorder.record(key, value)` (docs/architecture.md,
"Adding a per-step value").  `train_loop` below does 4 and 5 for a runtime that owns its loop: it needs only
a `step(inputs) -> float` and a `state() -> (weights, momentum)`.
8. A runtime listed with steps_per_call=True runs trainer.steps_per_call = K > 1 steps per graph call (an
   in-graph loop over the steps' inputs): `train_calls` gives its `call(columns, n) -> losses` the next
   n <= K steps' inputs as int arrays and records what it returns with `recorder.steps` (each step its own
   number; its time the call's over n); checkpoints and interrupts fall at call boundaries; at float64 its
   curve is K=1's to 1e-12 (test_steps_per_call).  validate refuses K > 1 for the others.
"""
from __future__ import annotations

import time
from collections.abc import Callable

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
