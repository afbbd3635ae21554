"""What every model's spec shares: the base of its config schema, and how its seeded numbers are drawn."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from omegaconf import MISSING


@dataclass
class OptimizerConfig:
    lr: float = field(default=MISSING, metadata={"help": "SGD learning rate"})
    momentum: float = field(default=0.0, metadata={"help": "SGD momentum (torch's rule), in [0, 1)"})


@dataclass
class ModelConfig:
    """The base of every model's schema; each declares its sizes, then `optimizer` with its defaults."""

    name: str = MISSING


# Separate random streams, so that, e.g., a longer run does not change the data or the weights.
DATA, WEIGHTS, INPUTS = 0, 1, 2


def stream(seed: int, which: int) -> np.random.Generator:
    return np.random.default_rng([seed, which])


def linear(rng: np.random.Generator, fan_in: int, fan_out: int) -> tuple[np.ndarray, np.ndarray]:
    """torch.nn.Linear's default start: weight (out, in) and bias uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=(fan_out, fan_in)), rng.uniform(-bound, bound, size=(fan_out,))


def uniform_ints(rng: np.random.Generator, stop: int, low: int, high: int, start: int = 0) -> np.ndarray:
    """Positions start..stop-1 of a sequence of integers in low..high, drawn position by position (a prefix
    never depends on `stop`): one uint32 each, mapped by multiply-shift (bias below 1e-9).  Numpy draws two
    uint32 from each 64-bit output of the stream, so the first `start` are skipped by advancing the stream,
    in no time and memory whatever `start` is (tests/test_problem.py holds this to drawing them all)."""
    if start:
        rng.bit_generator.advance(start // 2)
        if start % 2:
            rng.integers(0, 2**32, size=1, dtype=np.uint64)  # the first half of the output `start` is in
    raw = rng.integers(0, 2**32, size=stop - start, dtype=np.uint64)
    return (low + ((raw * np.uint64(high - low + 1)) >> np.uint64(32))).astype(np.int64)


def gemm(m, k, n):
    """FLOPs of an (m, k) @ (k, n) matrix product: a multiply and an add per term, 2mkn (numpy arrays broadcast)."""
    return 2 * m * k * n
