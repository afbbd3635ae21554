"""What the lightning runtime's step costs beyond the cheapest correct Lightning step, piece by piece:

    python -m tools.lightning_overhead            # (python bench.py --own-cost runs it too)

The seeds' two_layer step, driven through a PyTorch Lightning Trainer in nine ways, side by side in one
process: the floor is a barebones Trainer (Trainer(barebones=True): no logger, checkpointing, progress bar
or summaries) with manual optimization through raw torch calls (the unwrapped optimizer, loss.backward());
each next way adds one piece the lightning runtime has, up to the runtime's own LightningModule and
Trainer as `python train.py` runs them, timed independently from its event file's wall times (as a user
reads them in TensorBoard; by default steps 300 to 3300, as issue 26 measures it).  Every way runs in every
round, in a shuffled order, so the shared machine's noise hits them alike; a way's ms/step is the median
over rounds, with its interquartile range, and its ratio to the floor is the median of the per-round
ratios, with their range.  The seed's own loop, without Lightning, is the context.
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time

import torch

from src.config import compose_config, cpu_threads
from src.frameworks.torch import import_lightning
from src.frameworks.torch_graph import autograd_nodes, step_graph
from src.models.two_layer.torch import Net
from src.problem import make_problem
from src.recorder import Recorder
from tools import ladder, ladder_table, output, output_options

pl = import_lightning()

# Cumulative: each way is the previous one plus one piece.
WAYS = ("floor: barebones Trainer, raw torch calls", "+ LightningOptimizer wrapper", "+ manual_backward",
        "+ the step's inputs as a dict", "+ graph capture (autograd nodes)", "+ the recorder (events, checks)",
        "+ the progress bar", "+ the runtime's Trainer settings", "lightning runtime, as run")
FLOOR, RUNTIME = WAYS[0], WAYS[-1]
SEED = "seed loop, no Lightning"  # context, not a rung


class _Probe(pl.LightningModule):
    """A step that adds the runtime's pieces one by one; the entry time of every step is kept."""

    def __init__(self, problem, level: int, recorder):
        super().__init__()
        self.automatic_optimization = False
        self.net, self.level, self.recorder, self.starts = Net(problem), level, recorder, []
        self.params = {id(p): n for n, p in self.net.named_parameters()}
        self.graphed = False

    def configure_optimizers(self):
        return torch.optim.SGD(self.net.parameters(), lr=1e-6)

    def training_step(self, batch, batch_idx):
        self.starts.append(time.perf_counter())
        opt = self.optimizers() if self.level >= 1 else self.optimizers(use_pl_optimizer=False)
        t0 = time.perf_counter()
        loss = self.net.loss(batch if isinstance(batch, dict) else {})
        if self.level >= 4:
            t = time.perf_counter()
            autograd_nodes(loss)
            if not self.graphed:
                step_graph(loss, self.params)
                self.graphed = True
            t0 += time.perf_counter() - t
        opt.zero_grad(set_to_none=False)
        if self.level >= 2:
            self.manual_backward(loss)
        else:
            loss.backward()
        opt.step()
        compute_ms = (time.perf_counter() - t0) * 1e3
        value = loss.item()
        if self.level >= 5:
            self.recorder.step(value, compute_ms)


def _one(way: str, problem, n: int, run_dir: str) -> float:
    """ms per step of one way, over its steps after the first `warmup` (the caller's slice)."""
    level = WAYS.index(way)
    cfg = compose_config(f"trainer.progress_bar={str(level >= 6).lower()}", f"trainer.max_steps={n}",
                         "trainer.checkpoint_every_n_steps=0")
    recorder = Recorder(run_dir, cfg, "torch", "dynamic", threads=cpu_threads(), enabled=level >= 5, problem=problem)
    if way == RUNTIME:  # the runtime itself, timed from its event file, not by its own recorder
        from src.benchmark import _event_wall_times
        from src.runtimes import lightning as runtime

        runtime.fit(problem, cfg, recorder, cpu_threads())
        recorder.finish("completed")
        ends = _event_wall_times(run_dir)  # each step's event, written as the step ended
        return [(b - a) * 1e3 for a, b in itertools.pairwise(ends)]
    module = _Probe(problem, level, recorder)
    if level >= 5:
        recorder.start("cpu")
        recorder.loop_start(0)
    if level >= 7:  # the Trainer as the runtime makes it
        trainer = pl.Trainer(accelerator="cpu", devices=1, max_steps=n, max_epochs=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             num_sanity_val_steps=0)
    else:
        trainer = pl.Trainer(barebones=True, accelerator="cpu", devices=1, max_steps=n, max_epochs=1)
    trainer.fit(module, train_dataloaders=problem.inputs(0, n) if level >= 3 else list(range(n)))
    if level >= 5:
        recorder.finish("completed")
    return [(b - a) * 1e3 for a, b in zip(module.starts, module.starts[1:])]


def measure(steps: int = 3000, warmup: int = 300, rounds: int = 5, seed: int = 0) -> dict:
    """way -> {ms, iqr_ms, ratio, ratio_range} (the floor's ratio is 1), and the seed loop's ms."""
    problem = make_problem(compose_config())
    torch.set_num_threads(cpu_threads())

    def one(way: str) -> float:
        if way == SEED:
            return _seed_loop(problem, warmup + steps, warmup)
        with tempfile.TemporaryDirectory() as d:
            return statistics.fmean(_one(way, problem, warmup + steps, d)[warmup:])

    return ladder([*WAYS, SEED], FLOOR, rounds, seed, one)


def _seed_loop(problem, n: int, warmup: int) -> float:
    """The seeds' own loop, no Lightning: ms per step after the warm-up."""
    x, y = torch.from_numpy(problem.data["x"]), torch.from_numpy(problem.data["y"])
    w1 = torch.from_numpy(problem.weights["w1"].copy()).requires_grad_()
    w2 = torch.from_numpy(problem.weights["w2"].copy()).requires_grad_()
    for i in range(n):
        if i == warmup:
            t0 = time.perf_counter()
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        loss.item()
        loss.backward()
        with torch.no_grad():
            w1.sub_(problem.lr * w1.grad)
            w2.sub_(problem.lr * w2.grad)
            w1.grad.zero_()
            w2.grad.zero_()
    return (time.perf_counter() - t0) / (n - warmup) * 1e3


def table(result: dict) -> str:
    return ladder_table(result, WAYS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.lightning_overhead", description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000, help="steps timed, after the warm-up")
    ap.add_argument("--warmup", type=int, default=300, help="steps not timed (the first ones)")
    ap.add_argument("--rounds", type=int, default=5)
    output_options(ap)
    args = ap.parse_args(argv)
    return output(measure(args.steps, args.warmup, args.rounds), table, args)


if __name__ == "__main__":
    sys.exit(main())
