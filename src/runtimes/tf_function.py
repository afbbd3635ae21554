"""TensorFlow 2's static graph: the eager step traced once by tf.function, then run every step."""
from __future__ import annotations

from src.runtimes.tf_eager import train_tf2


def fit(problem, cfg, recorder, threads: int) -> None:
    train_tf2(problem, cfg, recorder, threads, as_function=True)
