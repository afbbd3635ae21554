"""The Elman RNN in TensorFlow: the time loop is a tf.while_loop over the padded batch, run `longest` times.

One piece of code, three ways to run it: in graph mode (tf_session) the loop is built into the static
graph once, and a step feeds only the batch's index and its longest length (two int32 scalars); eagerly
(tf_eager) the loop runs in Python, op by op, `longest` times; under tf.function it is traced once into the
same in-graph loop, both inputs tensors.  Every tensor has the same shape whatever the length (the pool is
padded to max_len), and the loop has a `maximum_iterations` bound: gradients need it to size the loop's
history, and a compiler (XLA) needs both to compile the step once."""
from __future__ import annotations

from src.frameworks.tf import dense, hidden, tf


def loss(params: dict, data: dict, inputs: dict, problem) -> tf.Tensor:
    x = tf.gather(data["x"], inputs["batch"])  # (batch, max_len, d_in)
    lengths = tf.cast(tf.gather(data["lengths"], inputs["batch"]), tf.int32)[:, None]  # (batch, 1)
    h0 = tf.zeros([tf.shape(x)[0], problem.cfg.hidden], dtype=x.dtype)

    def body(t, h):
        h_next = tf.tanh(dense(x[:, t], params, "input") + dense(h, params, "recurrent"))
        return t + 1, tf.where(t < lengths, h_next, h)  # a finished sequence keeps its last valid state

    _, h = tf.while_loop(lambda t, h: t < inputs["longest"], body, (tf.constant(0), h0),
                         maximum_iterations=problem.cfg.max_len, name="time")
    h = hidden(h, inputs, problem)  # debug.probe, debug.fault; else h as it is
    y_pred = dense(h, params, "output")
    return tf.reduce_sum(tf.square(tf.gather(data["y"], inputs["batch"]) - y_pred))
