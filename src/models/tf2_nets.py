"""The seeds' two models in TensorFlow 2 style: variables and a training step written as plain
Python.  Run as it is, the step is eager (a new graph every step, like PyTorch); wrapped in
tf.function, it is traced once into a static graph, the depth loop becoming an in-graph while loop.
"""
from __future__ import annotations

import numpy as np
from src.tf_import import tf


class TF2Net(tf.Module):
    def __init__(self, problem):
        super().__init__()
        self.x, self.y = tf.constant(problem.x), tf.constant(problem.y)
        self.params = {k: tf.Variable(v, name=k.replace(".", "_")) for k, v in problem.weights.items()}
        self.lr, self.momentum = problem.lr, problem.momentum
        # torch's SGD rule: buf = momentum * buf + grad; w -= lr * buf (buf starts at 0, so at grad).
        self.buffers = {k: tf.Variable(problem.momentum_state.get(k, np.zeros_like(v)), trainable=False,
                                       name=k.replace(".", "_") + "_momentum")
                        for k, v in problem.weights.items()} if self.momentum else {}
        self.two_layer = problem.model == "two_layer"
        self.traces = 0  # how often Python ran step(): once per step eagerly, once in all under tf.function

    def _dense(self, h, name):
        return tf.matmul(h, self.params[f"{name}.weight"], transpose_b=True) + self.params[f"{name}.bias"]

    def forward(self, depth):
        p = self.params
        if self.two_layer:
            return tf.matmul(tf.nn.relu(tf.matmul(self.x, p["w1"])), p["w2"])
        h = tf.nn.relu(self._dense(self.x, "input"))
        # Eager: a Python loop, `depth` layers this step. Under tf.function, autograph turns this
        # loop over a tensor into one tf.while_loop: the trip count is an input of the traced graph.
        for _ in tf.range(depth):
            h = tf.nn.relu(self._dense(h, "middle"))
        return self._dense(h, "output")

    def step(self, depth):
        self.traces += 1
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(self.y - self.forward(depth)))
        grads = tape.gradient(loss, list(self.params.values()))
        for (name, w), g in zip(self.params.items(), grads):
            if g is None:  # eager, depth 0: the middle layer was not used; its momentum still moves it
                g = tf.zeros_like(w)
            if self.momentum:
                buf = self.buffers[name]
                buf.assign(self.momentum * buf + g)
                w.assign_sub(self.lr * buf)
            else:
                w.assign_sub(self.lr * g)
        return loss

    def state(self) -> tuple[dict, dict]:
        return ({k: v.numpy() for k, v in self.params.items()}, {k: v.numpy() for k, v in self.buffers.items()})
