"""TensorFlow 2 eager with GradientTape: TensorFlow's dynamic graph, rebuilt every step like PyTorch's."""
from __future__ import annotations

from src.tf_import import tf

from src.models.tf2_nets import TF2Net
from src.runtimes.loop import train_loop
from src.runtimes.tf_session import tf_accelerator


def set_threads(threads: int) -> None:
    try:  # like the torch runtime: `threads` for one op, ops one at a time
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow's eager context already started in this process: it keeps its own
        pass


def train_tf2(problem, cfg, recorder, threads: int, as_function: bool) -> TF2Net:
    set_threads(threads)
    accelerator = tf_accelerator(cfg.trainer.accelerator)
    recorder.set_accelerator(accelerator)
    with tf.device("/GPU:0" if accelerator == "gpu" else "/CPU:0"):
        net = TF2Net(problem)
        if as_function:
            # One signature, the depth a tensor: traced once, whatever the depth of a step.
            step = tf.function(net.step, input_signature=[tf.TensorSpec([], tf.int32)])
            graph = step.get_concrete_function().graph  # traced here, as part of the setup
            recorder.write_graph(graph.as_graph_def().SerializeToString())
            run = lambda depth: float(step(tf.constant(depth, tf.int32)))  # noqa: E731
        else:
            run = lambda depth: float(net.step(depth))  # noqa: E731  (float(): wait for the result)
        train_loop(problem, cfg, recorder, run, net.state)
    return net


def fit(problem, cfg, recorder, threads: int) -> None:
    train_tf2(problem, cfg, recorder, threads, as_function=False)
