"""DynamicNet, framework-free: an input Linear, one middle Linear reused `depth` times, an output Linear,
ReLUs between, MSELoss(sum), SGD with momentum, torch.nn.Linear's default start.

The seed draws the depth with `random.randint(0, 3)` inside forward(); here it is a per-step input drawn
from the seed, so every runtime trains on the same sequence of depths (and a resumed run continues it).
Each depth is a different graph: a dynamic graph is rebuilt every step, a static one needs the loop
inside it (TensorFlow's while_loop) or one graph per depth (torch.compile)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from src.models.base import DATA, INPUTS, WEIGHTS, ModelConfig, OptimizerConfig, gemm, linear, stream, uniform_ints

LAYERS = ("input", "middle", "output")


@dataclass
class Config(ModelConfig):
    name: str = "dynamic"
    d_in: int = field(default=1000, metadata={"help": "input features"})
    hidden: int = field(default=100, metadata={"help": "hidden units, the width of the shared middle layer"})
    d_out: int = field(default=10, metadata={"help": "outputs"})
    max_depth: int = field(default=3, metadata={"help": "most reuses of the middle layer in one step"})
    depth: Optional[int] = field(default=None, metadata={
        "help": "null: a depth per step, drawn from the seed; an int: the same depth every step"})
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-4, momentum=0.9))


def check(cfg: Config, refuse) -> None:
    if cfg.max_depth < 0:
        refuse("model.max_depth", cfg.max_depth, "use 0 or more")
    if cfg.depth is not None and not 0 <= cfg.depth <= cfg.max_depth:
        refuse("model.depth", cfg.depth, f"use null or 0..model.max_depth ({cfg.max_depth})")


def start(cfg: Config, batch_size: int, seed: int):
    data = stream(seed, DATA)
    x = data.standard_normal((batch_size, cfg.d_in))
    y = data.standard_normal((batch_size, cfg.d_out))
    w = stream(seed, WEIGHTS)
    weights = {}
    for layer, (fan_in, fan_out) in zip(LAYERS, ((cfg.d_in, cfg.hidden), (cfg.hidden, cfg.hidden),
                                                  (cfg.hidden, cfg.d_out))):
        weights[f"{layer}.weight"], weights[f"{layer}.bias"] = linear(w, fan_in, fan_out)
    return {"x": x, "y": y}, weights


def step_inputs(cfg: Config, seed: int, start: int, stop: int):
    if cfg.depth is not None:
        return {"depth": np.full(stop - start, cfg.depth)}
    return {"depth": uniform_ints(stream(seed, INPUTS), stop, 0, cfg.max_depth, start=start)}


def step_scalars(cfg: Config, data, inputs):
    return {"model/depth": inputs["depth"]}


def flops(cfg: Config, batch_size: int, inputs: dict):
    """FLOPs of each step, by its matrix products (src/flops.py), for its depth: forward the input layer, the
    middle one `depth` times and the output layer; backward every weight gradient and the gradient to each
    hidden state (none to the data x).  Biases and ReLUs are elementwise: not counted."""
    n, d, h, o = batch_size, cfg.d_in, cfg.hidden, cfg.d_out
    depth = np.asarray(inputs["depth"])
    forward = gemm(n, d, h) + depth * gemm(n, h, h) + gemm(n, h, o)
    backward = gemm(d, n, h) + depth * 2 * gemm(n, h, h) + gemm(h, n, o) + gemm(n, o, h)
    return forward + backward
