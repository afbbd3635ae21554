"""The two-layer net in TensorFlow, as the seed writes it: graph mode and eager alike."""
from __future__ import annotations

from src.frameworks.tf import hidden, tf


def loss(params: dict, data: dict, inputs: dict, problem) -> tf.Tensor:
    h_relu = tf.maximum(tf.matmul(data["x"], params["w1"]), 0.0)
    h_relu = hidden(h_relu, inputs, problem)  # debug.probe, debug.fault; else h_relu as it is
    y_pred = tf.matmul(h_relu, params["w2"])
    return tf.reduce_sum(tf.square(data["y"] - y_pred))
