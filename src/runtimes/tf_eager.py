"""TensorFlow 2 eager with GradientTape: TensorFlow's dynamic graph, every op run (and recorded) from
Python, every step, like PyTorch.  It builds no graph ahead of time; instead it reports, every step, the
ops that step ran and recorded (src/frameworks/tf.py OpCounter)."""
from __future__ import annotations

from src.frameworks import tf as tfw
from src.frameworks.tf import tf
from src.runtimes.base import train_loop


def fit(problem, cfg, recorder, threads: int) -> None:
    start = tfw.begin(problem, cfg, recorder, threads)
    with tf.device(start.device):
        net = tfw.TF2Step(problem, start.model)
        ops = tfw.OpCounter()

        def run(inputs):
            loss = float(net.step(inputs))
            recorder.graph_nodes(ops.take())
            return loss

        try:
            train_loop(problem, cfg, recorder, run, net.state)
        finally:
            ops.close()
        # For the Graphs tab: the graph an eager step runs op by op, traced once after training, untimed.
        display = tf.function(net.step, input_signature=net.input_signature()).get_concrete_function()
        recorder.write_graph(display.graph.as_graph_def().SerializeToString())
