"""The two-layer net in TensorFlow, as the seed writes it: graph mode and eager alike."""
from __future__ import annotations

from src.frameworks.tf import tf


def loss(params: dict, data: dict, inputs: dict, problem) -> tf.Tensor:
    h_relu = tf.maximum(tf.matmul(data["x"], params["w1"]), 0.0)
    y_pred = tf.matmul(h_relu, params["w2"])
    return tf.reduce_sum(tf.square(data["y"] - y_pred))
