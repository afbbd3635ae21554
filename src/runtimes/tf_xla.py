"""TensorFlow 2's static graph compiled by XLA: the tf_function step under tf.function(jit_compile=True).

Traced once with the same input_signature as tf_function (scalar int32 inputs: DynamicNet's depth is the
trip count of the in-graph while_loop, whose maximum_iterations bound is what lets XLA size it), then the
whole step, update included, is compiled by XLA into one executable: one compile per input shape, and
the shapes never change, so one.  XLA compiles at a function's first call, and TensorFlow has no call
that compiles without running; so the setup runs the step once on the start's weights and puts them
back: the compile (docs/measurements.md#tf-xla-compile) is setup, and step 1 is a step like the others."""
from __future__ import annotations

import time

import numpy as np

from src.frameworks import tf as tfw
from src.frameworks.tf import tf
from src.runtimes.base import train_calls, train_loop


def fit(problem, cfg, recorder, threads: int) -> None:
    start = tfw.begin(problem, cfg, recorder, threads)
    with tf.device(start.device):
        net = tfw.TF2Step(problem, start.model)
        per_call = cfg.trainer.steps_per_call
        run = tfw.traced_step(net, recorder, jit_compile=True, steps_per_call=per_call)
        weights, momentum = net.state()
        recorder.status("compiling the step with XLA (jit_compile=True)...")
        t = time.perf_counter()
        example = dict.fromkeys(problem.input_columns(0, 0), 0)
        if per_call > 1:  # K steps per call: compiled by a call that runs none of them
            run({name: np.zeros(0, np.int64) for name in example}, 0)
        else:
            run(example)  # XLA compiles here; the step it ran is undone
        seconds = time.perf_counter() - t  # TensorFlow has no Python-readable XLA clock: the call, timed
        recorder.graph_built(seconds, "XLA compile", count=False)["phases"] = {"xla_compile_ms": round(seconds * 1e3, 3)}
        for k, v in weights.items():
            net.params[k].assign(v)
        for k, v in momentum.items():
            net.buffers[k].assign(v)
        if per_call > 1:
            train_calls(problem, cfg, recorder, run, net.state, per_call)
        else:
            train_loop(problem, cfg, recorder, run, net.state)
