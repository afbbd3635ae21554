"""The plain TensorFlow Session loop of the seeds (tf_two_layer_net.py): a TF 1.x graph, the data fed as
numpy arrays through placeholders on every step (feed_dict), the benchmark's TensorFlow baseline."""
from __future__ import annotations

import importlib

from src.frameworks import tf as tfw
from src.frameworks.tf import tf, v1
from src.registry import model_module


def run(problem, steps: int, threads: int, on_step) -> None:
    model = importlib.import_module(model_module(problem.model, "tensorflow"))
    graph = tf.Graph()
    with graph.as_default():
        data = {k: v1.placeholder(tf.as_dtype(v.dtype), shape=(None, *v.shape[1:]), name=k)
                for k, v in problem.data.items()}
        inputs = {k: v1.placeholder(tf.int32, shape=(), name=k) for k in problem.input_columns(0, 0)}
        params = {k: v1.Variable(v) for k, v in problem.weights.items()}
        loss = model.loss(params, data, inputs, problem)
        opt = tfw.sgd(problem)
        train = opt.apply_gradients(zip(tf.gradients(loss, list(params.values())), params.values()))
        init = v1.global_variables_initializer()
    with v1.Session(graph=graph, config=tfw.session_config(threads, "cpu")) as sess:
        sess.run(init)
        for step_inputs in problem.inputs(0, steps):
            feed = {ph: problem.data[k] for k, ph in data.items()}
            feed.update({inputs[k]: v for k, v in step_inputs.items()})
            on_step(float(sess.run([loss, train], feed_dict=feed)[0]))
