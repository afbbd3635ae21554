"""The training loop shared by runtimes that own their loop (no Trainer around them): one step,
its report to the recorder, checkpoints every N steps, at the end and when interrupted."""
from __future__ import annotations

import time
from typing import Callable

from src.interrupt import Interrupted


def train_loop(problem, cfg, recorder, step: Callable[[int], float], state: Callable[[], tuple[dict, dict]]) -> None:
    """step(depth) runs one training step and returns its loss as a float (so it has finished);
    state() returns (weights, momentum) as numpy arrays by the names of src/problem.py."""
    dynamic = problem.model == "dynamic"
    every = cfg.trainer.checkpoint_every_n_steps
    depths = problem.depths(problem.start_step, cfg.trainer.max_steps).tolist()
    recorder.loop_start(first_step=problem.start_step)
    try:
        for depth in depths:
            t0 = time.perf_counter()
            loss = step(depth)
            recorder.step(loss, (time.perf_counter() - t0) * 1e3, depth if dynamic else None)
            if every and recorder.step_no % every == 0:
                recorder.checkpoint(*state())
    except Interrupted:
        recorder.checkpoint(*state())
        raise
    recorder.checkpoint(*state())
