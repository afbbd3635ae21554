"""The lightning runtime with the model under torch.compile: PyTorch's static graph, one per step kind.

Python ints are symbolic (dynamic=True), so a step input that only picks data (rnn's batch index) never
recompiles, while one whose value shapes the graph, a loop's trip count (DynamicNet's depth), is still
specialised by dynamo (range() needs the value): one graph per depth.  dynamic=False would specialise the
batch index too: one graph per batch of rnn's pool, past torch's recompile limit (8), after which it
silently runs eagerly.  All of them are compiled before the loop, on the device, by a warm-up forward and
backward at every kind of step the run will see: compile time counts as setup, not as the first steps' time."""
from __future__ import annotations

import numpy as np
import torch

from src.frameworks import lightning, torch as torchw


def _kinds(problem, stop: int) -> list[dict]:
    """One input of each distinct kind the run will see (DynamicNet: each depth)."""
    cols = problem.input_columns(problem.start_step, stop)
    if not cols:
        return [{}]
    rows = np.unique(np.stack(list(cols.values()), axis=1), axis=0)
    return [dict(zip(cols, map(int, row))) for row in rows]


def fit(problem, cfg, recorder, threads: int) -> None:
    torchw.set_threads(threads)
    accelerator = torchw.accelerator(cfg.trainer.accelerator)
    recorder.start(accelerator)

    def compile_all(module) -> None:
        compiled = torch.compile(module.net.loss, dynamic=True)
        for inputs in _kinds(problem, cfg.trainer.max_steps):
            compiled(inputs).backward()  # compiles forward and backward
        module.net.zero_grad(set_to_none=False)  # the warm-up's gradients are not a training step's
        module.loss_of = compiled

    module = lightning.StepModule(problem, recorder, cfg.trainer.checkpoint_every_n_steps, before_loop=compile_all)
    lightning.fit(module, cfg, accelerator)
