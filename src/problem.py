"""The framework-neutral start of a run, made once in numpy from `seed`: the Problem every runtime trains.

Every runtime loads these exact arrays, so two runtimes given the same seed start from the same numbers
and their loss curves can be compared step by step.  At trainer.precision=64 they are float64 end to
end; at 32, the same numbers rounded to float32.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import numpy as np
from omegaconf import OmegaConf

from src import models

DTYPES = {32: np.float32, 64: np.float64}
STEP_FAULTS = ("nan", "shape", "index")  # the debug.fault values that strike at debug.fault_step


@dataclass(frozen=True)
class Problem:
    model: str
    cfg: Any  # the model's Config (src/models/<model>/spec.py): its sizes and options
    data: dict[str, np.ndarray]  # what a step computes on (x, y), by the model's names
    weights: dict[str, np.ndarray]  # the initial parameters, by the model's names
    lr: float
    momentum: float
    seed: int = 0
    precision: int = 32
    batch_size: int = 0  # data.batch_size, which the model's FLOPs per step depend on (src/flops.py)
    # Where training starts: 0, or a checkpoint's step, with its SGD momentum buffers (by weight name).
    start_step: int = 0
    momentum_state: dict[str, np.ndarray] = field(default_factory=dict)
    # What a user adds to look inside a step, or breaks it with (debug.*: docs/debugging.md); the model files
    # apply them at their hidden layer (src/frameworks/<framework>.py hidden).  A fault that strikes at a
    # step gets the step's number as one more per-step input, `step`: only then, so a run without one
    # feeds and builds exactly what it did before.
    probe: str = "none"
    fault: str = "none"
    fault_step: int = 0

    @property
    def dtype(self) -> type:
        return DTYPES[self.precision]

    @property
    def spec(self):
        return models.spec(self.model)

    def input_columns(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The per-step inputs of steps start+1..stop, as columns by name (none for most models), drawn now:
        for a whole run, use inputs() and step_scalars(), which draw a block at a time."""
        fn = getattr(self.spec, "step_inputs", None)
        cols = fn(self.cfg, self.seed, start, stop) if fn else {}
        if self.fault in STEP_FAULTS:
            cols = {**cols, "step": np.arange(start + 1, stop + 1)}
        return {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}

    def inputs(self, start: int, stop: int) -> "StepInputs":
        """Step start+1..stop's inputs, each a dict of Python ints, drawn a block of steps at a time."""
        return StepInputs(_Blocks(self.input_columns, start, stop))

    def step_scalars(self, start: int, stop: int) -> dict[str, "Column"]:
        """What TensorBoard shows per step about the inputs of steps start+1..stop, by tag: columns drawn a
        block of steps at a time, position i for step start+1+i."""
        fn = getattr(self.spec, "step_scalars", None)
        if not fn:
            return {}
        blocks = _Blocks(lambda a, b: fn(self.cfg, self.data, self.input_columns(a, b)), start, stop)
        return {tag: Column(blocks, tag) for tag in blocks.names}


# Steps of per-step inputs drawn at once: a run holds one block whatever trainer.max_steps is (1e10 would be
# 75 GiB of depths drawn up front), and a block costs about a millisecond to draw.
BLOCK = 1 << 16


class _Blocks:
    """Columns of steps start+1..stop made by `make(a, b)` (the columns of steps a+1..b) one block at a time:
    the block in use is kept, so a run walking its steps in order draws each block once."""

    def __init__(self, make: Callable[[int, int], dict], start: int, stop: int):
        self.make, self.start, self.n = make, start, max(stop - start, 0)
        self._k, self._cols = 0, self._block(0)
        self.names = list(self._cols)

    def _block(self, k: int) -> dict[str, list]:
        a = self.start + k * BLOCK
        cols = self.make(a, min(a + BLOCK, self.start + self.n))
        return {name: np.asarray(col).tolist() for name, col in cols.items()}

    def value(self, name: str, i: int):
        if not 0 <= i < self.n:
            raise IndexError(i)
        k, j = divmod(i, BLOCK)
        if k != self._k:
            self._k, self._cols = k, self._block(k)
        return self._cols[name][j]

    def row(self, i: int) -> dict[str, Any]:
        return {name: self.value(name, i) for name in self.names}


class Column(Sequence):
    """One per-step column, its values made on access (a block at a time)."""

    def __init__(self, blocks: _Blocks, name: str):
        self.blocks, self.name = blocks, name

    def __len__(self) -> int:
        return self.blocks.n

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.blocks.value(self.name, i + len(self) if i < 0 else i)

    def tolist(self) -> list:
        return self[:]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.tolist(), dtype=dtype)


class StepInputs(Sequence):
    """Step i's input as a dict of Python ints, made on access (a run of any length holds one block)."""

    def __init__(self, blocks: _Blocks):
        self.blocks = blocks

    def __len__(self) -> int:
        return self.blocks.n

    def __getitem__(self, i: int) -> dict[str, int]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self.blocks.row(i % len(self))

    def __iter__(self) -> Iterator[dict[str, int]]:
        return (self.blocks.row(i) for i in range(len(self)))


def make_problem(cfg) -> Problem:
    spec = models.spec(cfg.model.name)
    model_cfg = OmegaConf.to_object(cfg.model) if OmegaConf.is_config(cfg.model) else cfg.model
    data, weights = spec.start(model_cfg, cfg.data.batch_size, cfg.seed)
    dtype = DTYPES[cfg.trainer.precision]

    def cast(arrays: dict) -> dict:  # floats to the run's precision; integers (say, lengths) stay as they are
        return {k: np.ascontiguousarray(v, dtype=dtype if np.issubdtype(np.asarray(v).dtype, np.floating) else None)
                for k, v in arrays.items()}

    debug = cfg.get("debug") or {}
    return Problem(model=cfg.model.name, cfg=model_cfg, data=cast(data), weights=cast(weights),
                   lr=model_cfg.optimizer.lr, momentum=model_cfg.optimizer.momentum, seed=cfg.seed,
                   precision=cfg.trainer.precision, probe=debug.get("probe", "none"),
                   fault=debug.get("fault", "none"), fault_step=debug.get("fault_step", 0),
                   batch_size=cfg.data.batch_size)
