"""The plain PyTorch loops of the seeds, no framework around them: the benchmark's reference."""
from __future__ import annotations

import torch

from src.models.torch_nets import DynamicNet


def run(problem, steps: int, threads: int, on_step) -> None:
    """Runs `steps` steps the seeds' way, calling on_step(loss) after each (the seeds print it)."""
    torch.set_num_threads(threads)
    x, y = torch.from_numpy(problem.x), torch.from_numpy(problem.y)
    depths = problem.depths(0, steps).tolist()
    if problem.model == "two_layer":  # autograd/two_layer_net_autograd.py
        w1 = torch.from_numpy(problem.weights["w1"].copy()).requires_grad_()
        w2 = torch.from_numpy(problem.weights["w2"].copy()).requires_grad_()
        lr = problem.lr
        for _ in range(steps):
            loss = (x.mm(w1).clamp(min=0).mm(w2) - y).pow(2).sum()
            on_step(loss.item())
            loss.backward()
            with torch.no_grad():
                w1 -= lr * w1.grad
                w2 -= lr * w2.grad
                w1.grad.zero_()
                w2.grad.zero_()
    else:  # nn/dynamic_net.py
        model = DynamicNet(problem.weights)
        criterion = torch.nn.MSELoss(reduction="sum")
        optimizer = torch.optim.SGD(model.parameters(), lr=problem.lr, momentum=problem.momentum)
        for depth in depths:
            loss = criterion(model(x, depth), y)
            on_step(loss.item())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
