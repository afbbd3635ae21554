"""The framework-neutral start of a run, made once in numpy from `seed`.

Every runtime loads these exact arrays, so two runtimes given the same seed start from the same
numbers and their loss curves can be compared step by step.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Separate streams, so that e.g. a longer run does not change the data or the weights.
_DATA, _WEIGHTS, _DEPTHS = 0, 1, 2


@dataclass(frozen=True)
class Problem:
    model: str
    x: np.ndarray  # (batch, d_in) float32
    y: np.ndarray  # (batch, d_out) float32
    # two_layer: w1 (d_in, hidden), w2 (hidden, d_out), as in the seed.
    # dynamic: {input,middle,output}.{weight,bias} in torch.nn.Linear's (out, in) layout.
    weights: dict[str, np.ndarray]
    lr: float
    momentum: float
    max_depth: int = 0
    fixed_depth: int | None = None
    seed: int = 0
    # Where training starts: 0, or a checkpoint's step with its SGD momentum buffers (same names).
    start_step: int = 0
    momentum_state: dict[str, np.ndarray] = field(default_factory=dict)

    def depths(self, start: int, stop: int) -> np.ndarray:
        """DynamicNet's reuse counts for steps start+1..stop (0-based positions start..stop-1).

        Drawn position by position from its own stream, so a position's depth never depends on
        how many steps the run asked for (a resumed or longer run sees the same sequence).
        """
        if self.model != "dynamic":
            return np.zeros(stop - start, dtype=np.int32)
        if self.fixed_depth is not None:
            return np.full(stop - start, self.fixed_depth, dtype=np.int32)
        rng = np.random.default_rng([self.seed, _DEPTHS])
        # One uint32 per position; mapped to 0..max_depth with a multiply-shift (bias < 1e-9).
        raw = rng.integers(0, 2**32, size=stop, dtype=np.uint64)
        return ((raw[start:] * (self.max_depth + 1)) >> 32).astype(np.int32)


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    bound = 1.0 / np.sqrt(fan_in)  # torch.nn.Linear's default init
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def make_problem(cfg) -> Problem:
    m = cfg.model
    n, d_in, h, d_out = cfg.data.batch_size, m.d_in, m.hidden, m.d_out
    data = np.random.default_rng([cfg.seed, _DATA])
    x = data.standard_normal((n, d_in), dtype=np.float32)
    y = data.standard_normal((n, d_out), dtype=np.float32)
    rng = np.random.default_rng([cfg.seed, _WEIGHTS])
    if m.name == "two_layer":
        weights = {
            "w1": rng.standard_normal((d_in, h), dtype=np.float32),
            "w2": rng.standard_normal((h, d_out), dtype=np.float32),
        }
        extra = {}
    elif m.name == "dynamic":
        weights = {}
        for layer, (fan_in, fan_out) in {"input": (d_in, h), "middle": (h, h), "output": (h, d_out)}.items():
            weights[f"{layer}.weight"] = _uniform(rng, (fan_out, fan_in), fan_in)
            weights[f"{layer}.bias"] = _uniform(rng, (fan_out,), fan_in)
        extra = {"max_depth": m.max_depth, "fixed_depth": m.depth}
    else:  # the ConfigStore only offers the two, so this is a programming error
        raise ValueError(f"unknown model {m.name!r}")
    return Problem(model=m.name, x=x, y=y, weights=weights, lr=m.optimizer.lr,
                   momentum=m.optimizer.momentum, seed=cfg.seed, **extra)
