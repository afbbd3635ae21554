"""The plain TensorFlow Session loop of the seed: numpy arrays fed every step, as the seed does."""
from __future__ import annotations

from src.tf_import import tf

v1 = tf.compat.v1


def run(problem, steps: int, threads: int, on_step) -> None:
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, shape=(None, problem.x.shape[1]))
        y = v1.placeholder(tf.float32, shape=(None, problem.y.shape[1]))
        w = problem.weights
        feeds = {}
        if problem.model == "two_layer":  # autograd/tf_two_layer_net.py, weights from the shared start
            w1, w2 = v1.Variable(w["w1"]), v1.Variable(w["w2"])
            y_pred = tf.matmul(tf.maximum(tf.matmul(x, w1), tf.zeros(1)), w2)
            loss = tf.reduce_sum((y - y_pred) ** 2.0)
            grad_w1, grad_w2 = tf.gradients(loss, [w1, w2])
            fetches = [loss, w1.assign(w1 - problem.lr * grad_w1), w2.assign(w2 - problem.lr * grad_w2)]
        else:  # DynamicNet the seed's TensorFlow way: everything fed, the loop in the graph
            p = {k: v1.Variable(a) for k, a in w.items()}
            depth = v1.placeholder(tf.int32, shape=())
            feeds["depth"] = depth

            def dense(h, name):
                return tf.matmul(h, p[f"{name}.weight"], transpose_b=True) + p[f"{name}.bias"]

            h = tf.nn.relu(dense(x, "input"))
            _, h = tf.while_loop(lambda i, h: i < depth, lambda i, h: (i + 1, tf.nn.relu(dense(h, "middle"))),
                                 [tf.constant(0), h])
            loss = tf.reduce_sum(tf.square(y - dense(h, "output")))
            params = list(p.values())
            opt = v1.train.MomentumOptimizer(problem.lr, problem.momentum)
            fetches = [loss, opt.apply_gradients(zip(tf.gradients(loss, params), params))]
        init = v1.global_variables_initializer()
    config = v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1,
                            device_count={"GPU": 0})
    with v1.Session(graph=graph, config=config) as sess:
        sess.run(init)
        for d in problem.depths(0, steps).tolist():
            feed = {x: problem.x, y: problem.y}
            if "depth" in feeds:
                feed[feeds["depth"]] = d
            on_step(float(sess.run(fetches, feed_dict=feed)[0]))
