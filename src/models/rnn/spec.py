"""The Elman RNN, framework-free: h_t = tanh(x_t W_xh + b_h + h_{t-1} W_hh), h_0 = 0, read out by a Linear
from each sequence's last valid hidden state; MSELoss(sum), SGD with momentum, torch's default start.

The data is a fixed, seeded pool of `pool` batches of sequences, padded with zeros to `max_len` steps:
every sequence has its own length (1..max_len), and every batch its own longest one.  A step trains on
one batch of the pool (every batch once per pass, in a seeded order), so the number of time steps the
network is unrolled for changes from step to step: the seeds' example of "a recurrent network unrolled
for different numbers of time steps for each data point".  Its per-step inputs are the batch's index
in the pool and its longest length: eager frameworks loop that many times in Python (a new graph for
every length); static graphs keep one loop inside the graph and are fed the length.  A sequence shorter
than its batch's longest keeps its hidden state through the padded steps (a mask), so padding never
changes the loss or the gradients.

The task: regress a fading sum of the whole sequence, y = sum_t DECAY^(L-1-t) x_t A, for a fixed random
A (the last input counts fully, each earlier one DECAY times less): learnable by an Elman RNN, whose
recurrent weights can learn the fade."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from src.models.base import DATA, INPUTS, WEIGHTS, ModelConfig, OptimizerConfig, gemm, linear, stream, uniform_ints

DECAY = 0.7  # the target's fade per time step
# torch._dynamo.config.recompile_limit's default: past that many graphs of one function, torch.compile
# silently runs it eagerly (docs/rnn.md).  Written out here because the spec imports no framework.
TORCH_RECOMPILE_LIMIT = 8
# tests/test_parity.py holds every runtime to lightning's float64 loss curve over this many steps (200, the
# issue's bar, not the 500 of the other models): an eager step here loops over time in Python, and 500 steps
# x 5 seeds x 5 runtimes took 6 minutes on this 2-core machine.  `python -m src.parity --precision 64
# --models rnn --steps 500` measures 500 (docs/rnn.md).
PARITY_STEPS = 200


@dataclass
class Config(ModelConfig):
    name: str = "rnn"
    d_in: int = field(default=8, metadata={"help": "input features per time step"})
    hidden: int = field(default=32, metadata={"help": "hidden units of the recurrent state"})
    d_out: int = field(default=1, metadata={"help": "outputs, read from the last valid hidden state"})
    max_len: int = field(default=20, metadata={"help": "the longest sequence; each has its own length, 1..max_len"})
    pool: int = field(default=16, metadata={"help": "batches in the fixed, seeded pool the steps draw from"})
    compile_buckets: int = field(default=1, metadata={
        "help": "torch.compile only (runtime=lightning_compile), which unrolls the time loop into one graph per "
                "length: lengths are padded up to this many evenly spaced lengths, each one graph (1: every "
                "batch padded to max_len, one graph; at most 8, torch's recompile limit)"})
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(lr=3e-4, momentum=0.9))


def check(cfg: Config, refuse) -> None:
    if cfg.max_len < 1:
        refuse("model.max_len", cfg.max_len, "use a sequence length of 1 or more")
    if cfg.pool < 1:
        refuse("model.pool", cfg.pool, "use 1 or more batches")
    most = min(TORCH_RECOMPILE_LIMIT, cfg.max_len)
    if not 1 <= cfg.compile_buckets <= most:
        refuse("model.compile_buckets", cfg.compile_buckets,
               f"use 1..{most} (at most model.max_len, and at most torch.compile's recompile limit of "
               f"{TORCH_RECOMPILE_LIMIT}, past which it silently stops compiling)")


def compiled_length(cfg: Config, longest: int) -> int:
    """The length a batch whose longest sequence is `longest` is padded to under torch.compile: the smallest
    of `compile_buckets` evenly spaced lengths that holds it (1 bucket: max_len)."""
    width = -(-cfg.max_len // cfg.compile_buckets)  # ceil
    return min(cfg.max_len, -(-longest // width) * width)


def _longest(cfg: Config, rng: np.random.Generator) -> np.ndarray:
    """Each batch's longest sequence: the data stream's first draws, so step_inputs can redraw them
    without knowing the batch size."""
    return uniform_ints(rng, cfg.pool, 1, cfg.max_len)


def start(cfg: Config, batch_size: int, seed: int):
    data = stream(seed, DATA)
    longest = _longest(cfg, data)
    # Each sequence's length, uniform in 1..its batch's longest, one sequence per batch exactly that long.
    raw = data.integers(0, 2**32, size=(cfg.pool, batch_size), dtype=np.uint64)
    lengths = (1 + ((raw * longest[:, None].astype(np.uint64)) >> np.uint64(32))).astype(np.int64)
    lengths[np.arange(cfg.pool), uniform_ints(data, cfg.pool, 0, batch_size - 1)] = longest
    valid = np.arange(cfg.max_len) < lengths[..., None]  # (pool, batch, max_len)
    x = data.standard_normal((cfg.pool, batch_size, cfg.max_len, cfg.d_in)) * valid[..., None]  # zero padding
    a = data.standard_normal((cfg.d_in, cfg.d_out)) / np.sqrt(cfg.d_in)
    fade = np.where(valid, DECAY ** (lengths[..., None] - 1 - np.arange(cfg.max_len)), 0.0)
    y = np.einsum("pbt,pbti,io->pbo", fade, x, a)

    w = stream(seed, WEIGHTS)
    weights = {}
    weights["input.weight"], weights["input.bias"] = linear(w, cfg.d_in, cfg.hidden)  # W_xh, b_h
    bound = 1.0 / np.sqrt(cfg.hidden)
    weights["recurrent.weight"] = w.uniform(-bound, bound, size=(cfg.hidden, cfg.hidden))  # W_hh, no bias
    weights["output.weight"], weights["output.bias"] = linear(w, cfg.hidden, cfg.d_out)
    return {"x": x, "lengths": lengths, "y": y}, weights


def step_inputs(cfg: Config, seed: int, start: int, stop: int):
    """Step s trains on pass (s-1)//pool's seeded permutation of the pool: each pass's order depends only on
    its own draws, so a prefix never depends on `stop` and a resumed run continues the same order."""
    first, last = start // cfg.pool, -(-stop // cfg.pool)  # the passes steps start+1..stop fall in
    rng = stream(seed, INPUTS)
    rng.bit_generator.advance(first * cfg.pool)  # one 64-bit output per draw of random(): earlier passes skipped
    order = rng.random((last - first, cfg.pool)).argsort(axis=1, kind="stable").ravel()
    order = order[start - first * cfg.pool:stop - first * cfg.pool]
    longest = _longest(cfg, stream(seed, DATA))
    return {"batch": order, "longest": longest[order]}


def step_scalars(cfg: Config, data, inputs):
    return {"model/max_len": inputs["longest"]}


def flops(cfg: Config, batch_size: int, inputs: dict):
    """FLOPs of each step, by its matrix products (src/flops.py), for its batch's longest length L: forward
    x_t W_xh and h_{t-1} W_hh for each of L time steps (at t=0 h is zeros, still multiplied) and the readout;
    backward the readout's weight gradient and its gradient to h, then for each time step both weight
    gradients and, for all but the first, the gradient to h_{t-1} (h_0 is a constant).  Elementwise work
    (tanh, the mask, biases) is not counted: at hidden=32 it is about a tenth of XLA's count."""
    n, d, h, o = batch_size, cfg.d_in, cfg.hidden, cfg.d_out
    length = np.asarray(inputs["longest"])
    forward = length * (gemm(n, d, h) + gemm(n, h, h)) + gemm(n, h, o)
    backward = gemm(h, n, o) + gemm(n, o, h) + length * (gemm(d, n, h) + gemm(h, n, h)) + (length - 1) * gemm(n, h, h)
    return forward + backward
