"""The seeds' two-layer net, framework-free: x @ w1 -> ReLU -> @ w2, no biases, N(0, 1) weights, plain
SGD on one fixed batch of N(0, 1) data, the sum of squared errors as the loss. Nothing changes from
step to step: every step sees the same graph."""
from __future__ import annotations

from dataclasses import dataclass, field

from src.models.base import DATA, WEIGHTS, ModelConfig, OptimizerConfig, gemm, stream


@dataclass
class Config(ModelConfig):
    name: str = "two_layer"
    d_in: int = field(default=1000, metadata={"help": "input features (the seed's D_in)"})
    hidden: int = field(default=100, metadata={"help": "hidden units (H)"})
    d_out: int = field(default=10, metadata={"help": "outputs (D_out)"})
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=1e-6, momentum=0.0))


def start(cfg: Config, batch_size: int, seed: int):
    data = stream(seed, DATA)
    x = data.standard_normal((batch_size, cfg.d_in))
    y = data.standard_normal((batch_size, cfg.d_out))
    w = stream(seed, WEIGHTS)
    return {"x": x, "y": y}, {"w1": w.standard_normal((cfg.d_in, cfg.hidden)),
                              "w2": w.standard_normal((cfg.hidden, cfg.d_out))}


def flops(cfg: Config, batch_size: int, inputs: dict):
    """FLOPs of one step, by its matrix products (src/flops.py says what is counted): the forward x @ w1 and
    h @ w2, then backward the two weight gradients and the one to h between them (none to the data x).
    At the seeds' sizes (64 x 1000 -> 100 -> 10): 2 x 12.8 + 3 x 0.128 = 26.0 MFLOP."""
    n, d, h, o = batch_size, cfg.d_in, cfg.hidden, cfg.d_out
    forward = gemm(n, d, h) + gemm(n, h, o)
    return forward + gemm(d, n, h) + gemm(h, n, o) + gemm(n, o, h)
