"""Where a Lightning step's time goes, measured in one process:  python -m src.reference.lightning_overhead

The seed's two_layer step, timed five ways: the seed's own loop; our step arithmetic (Module, MSELoss,
SGD) in a tight loop; a Lightning Trainer with an empty training_step (its loop alone); Lightning
running our step through raw torch calls; and through Lightning's manual-optimization API
(manual_backward, LightningOptimizer.step), as the lightning runtime does.  The benchmark's
`lightning` ratio is the last over the first; the differences say which part costs what.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from src.config import compose_config, cpu_threads
from src.frameworks.torch import import_lightning
from src.models.two_layer.torch import Net
from src.problem import make_problem

pl = import_lightning()


class _Probe(pl.LightningModule):
    def __init__(self, problem, mode: str):
        super().__init__()
        self.automatic_optimization = False
        self.mode, self.net, self.ends = mode, Net(problem), []

    def configure_optimizers(self):
        return torch.optim.SGD(self.net.parameters(), lr=1e-6)

    def training_step(self, batch, batch_idx):
        self.ends.append(time.perf_counter())
        if self.mode == "empty":
            return None
        loss = self.net.loss({})
        if self.mode == "manual":
            opt = self.optimizers()
            opt.zero_grad(set_to_none=False)
            self.manual_backward(loss)
            opt.step()
        else:
            opt = self.optimizers(use_pl_optimizer=False)
            opt.zero_grad(set_to_none=False)
            loss.backward()
            opt.step()
        loss.item()


def measure(steps: int, warmup: int) -> dict[str, float]:
    problem = make_problem(compose_config())
    x, y = torch.from_numpy(problem.data["x"]), torch.from_numpy(problem.data["y"])
    out = {}

    def tight(name, step):
        for _ in range(warmup):
            step()
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        out[name] = (time.perf_counter() - t0) / steps * 1e3

    w1 = torch.from_numpy(problem.weights["w1"].copy()).requires_grad_()
    w2 = torch.from_numpy(problem.weights["w2"].copy()).requires_grad_()

    def seed_step():
        loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
        loss.item()
        loss.backward()
        with torch.no_grad():
            w1.sub_(problem.lr * w1.grad)
            w2.sub_(problem.lr * w2.grad)
            w1.grad.zero_()
            w2.grad.zero_()

    net = Net(problem)
    opt = torch.optim.SGD(net.parameters(), lr=problem.lr)

    def module_step():
        loss = net.loss({})
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()
        loss.item()

    tight("seed loop", seed_step)
    tight("our step math, tight loop", module_step)
    for mode, name in (("empty", "Lightning, empty training_step"), ("raw", "Lightning, raw torch calls"),
                       ("manual", "Lightning, manual-optimization API")):
        probe = _Probe(problem, mode)
        n = warmup + steps
        pl.Trainer(accelerator="cpu", max_steps=n, max_epochs=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False,
                   num_sanity_val_steps=0).fit(probe, train_dataloaders=list(range(n)))
        ends = probe.ends[warmup:]
        out[name] = (ends[-1] - ends[0]) / (len(ends) - 1) * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args()
    torch.set_num_threads(cpu_threads())
    result = measure(args.steps, args.warmup)
    if args.json:
        print(json.dumps(result))
        return
    for name, ms in result.items():
        print(f"{name:38s} {ms:7.3f} ms/step")


if __name__ == "__main__":
    main()
