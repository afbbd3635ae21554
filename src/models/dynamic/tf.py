"""DynamicNet in TensorFlow: the middle layer's reuse is a tf.while_loop whose trip count is the step's depth.

One piece of code, three ways to run it: in graph mode (tf_session) it builds the loop into the static graph
once, and a step feeds only the depth; eagerly (tf_eager) the loop runs in Python, op by op, every step;
under tf.function it is traced once into the same in-graph loop, the depth a tensor argument."""
from __future__ import annotations

from src.frameworks.tf import dense, hidden, tf


def loss(params: dict, data: dict, inputs: dict, problem) -> tf.Tensor:
    h_relu = tf.nn.relu(dense(data["x"], params, "input"))
    _, h_relu = tf.while_loop(
        lambda i, h: i < inputs["depth"],
        lambda i, h: (i + 1, tf.nn.relu(dense(h, params, "middle"))),  # the one middle layer, shared
        (tf.constant(0), h_relu),
        maximum_iterations=max(problem.cfg.max_depth, 1),  # a bound lets gradients (and XLA) size the loop
        name="reuse_middle")
    h_relu = hidden(h_relu, inputs, problem)  # debug.probe, debug.fault; else h_relu as it is
    y_pred = dense(h_relu, params, "output")
    return tf.reduce_sum(tf.square(data["y"] - y_pred))
