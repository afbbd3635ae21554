"""The seeds' two models as TensorFlow 1.x static graphs: built once, then run by a Session.

Built from variables and matmuls (tf.compat.v1.layers does not work under Keras 3).  Variables are
initialised by feeding the framework-neutral arrays (src/problem.py) once, so the GraphDef stays
small and every runtime starts from the same numbers.  The data lives in the graph too: a training
step feeds nothing but DynamicNet's depth.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from src.tf_import import tf

v1 = tf.compat.v1


@dataclass
class SeedGraph:
    loss: tf.Tensor
    train_op: tf.Operation
    depth: tf.Tensor | None  # DynamicNet's per-step trip count, a graph input
    params: dict[str, tf.Variable]  # by the names of src/problem.py
    init_feed: dict = field(default_factory=dict)  # initializer placeholder -> numpy array
    momentum: dict[str, tf.Variable] = field(default_factory=dict)  # SGD's momentum buffers, by param
    # Built before the graph is finalized, so a checkpoint's momentum can be loaded: name -> (feed, op)
    momentum_loaders: dict[str, tuple] = field(default_factory=dict)


def _variable(g: SeedGraph, key: str, value: np.ndarray, trainable: bool = True) -> tf.Variable:
    name = key.replace(".", "_")
    ph = v1.placeholder(tf.float32, shape=value.shape, name=f"{name}_init")
    g.init_feed[ph] = value
    var = v1.Variable(ph, name=name, trainable=trainable, use_resource=True)
    if trainable:
        g.params[key] = var
    return var


def _optimizer(lr: float, momentum: float):
    # Both apply torch's SGD rule: buf = momentum * buf + grad; w -= lr * buf (buf starts at grad).
    if momentum == 0:
        return v1.train.GradientDescentOptimizer(lr)
    return v1.train.MomentumOptimizer(lr, momentum)


def _dense(h: tf.Tensor, w: tf.Variable, b: tf.Variable) -> tf.Tensor:
    return tf.matmul(h, w, transpose_b=True) + b  # torch.nn.Linear's (out, in) weight layout


def build(problem) -> SeedGraph:
    """Adds the model, its loss and one SGD update to the default graph."""
    g = SeedGraph(loss=None, train_op=None, depth=None, params={})
    x = _variable(g, "x", problem.x, trainable=False)
    y = _variable(g, "y", problem.y, trainable=False)
    w = problem.weights
    if problem.model == "two_layer":
        # The seed's graph: h = x w1, relu, y_pred = h_relu w2, sum of squared errors.
        w1, w2 = _variable(g, "w1", w["w1"]), _variable(g, "w2", w["w2"])
        h_relu = tf.maximum(tf.matmul(x, w1), 0.0)
        y_pred = tf.matmul(h_relu, w2)
    else:
        p = {name: _variable(g, name, a) for name, a in w.items()}
        g.depth = v1.placeholder(tf.int32, shape=(), name="depth")
        h_relu = tf.nn.relu(_dense(x, p["input.weight"], p["input.bias"]))

        def body(i, h):  # the one middle layer, its variables shared by every trip
            return i + 1, tf.nn.relu(_dense(h, p["middle.weight"], p["middle.bias"]))

        # The loop is part of the static graph; its trip count is fed per step.
        _, h_relu = tf.while_loop(lambda i, h: i < g.depth, body, [tf.constant(0), h_relu],
                                  maximum_iterations=max(problem.max_depth, 1), name="reuse_middle")
        y_pred = _dense(h_relu, p["output.weight"], p["output.bias"])
    g.loss = tf.reduce_sum(tf.square(y - y_pred), name="loss")
    params = list(g.params.values())
    grads = tf.gradients(g.loss, params)
    optimizer = _optimizer(problem.lr, problem.momentum)
    g.train_op = optimizer.apply_gradients(zip(grads, params), name="sgd")
    for key, var in g.params.items():
        slot = optimizer.get_slot(var, "momentum") if problem.momentum else None
        if slot is not None:
            g.momentum[key] = slot
            feed = v1.placeholder(tf.float32, shape=var.shape, name=f"{var.op.name}_momentum_load")
            g.momentum_loaders[key] = (feed, slot.assign(feed))
    return g
