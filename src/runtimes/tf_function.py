"""TensorFlow 2's static graph: the eager step traced once by tf.function, then run as a graph every step.

The step's inputs are declared as scalar int32 tensors (input_signature), so one trace serves every
value: DynamicNet's depth becomes the trip count of an in-graph loop, never a reason to retrace.  The
trace is made, timed and counted during setup; a retrace (there should be none) would be counted by
TensorFlow's own trace counter (src/frameworks/tf.py TraceWatch)."""
from __future__ import annotations

from src.frameworks import tf as tfw
from src.frameworks.tf import tf
from src.runtimes.base import train_calls, train_loop


def fit(problem, cfg, recorder, threads: int) -> None:
    start = tfw.begin(problem, cfg, recorder, threads)
    with tf.device(start.device):
        net = tfw.TF2Step(problem, start.model)
        k = cfg.trainer.steps_per_call
        run = tfw.traced_step(net, recorder, steps_per_call=k)
        if k > 1:
            train_calls(problem, cfg, recorder, run, net.state, k)
        else:
            train_loop(problem, cfg, recorder, run, net.state)
