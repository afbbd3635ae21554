"""The plain PyTorch loop of the seeds, no framework around it: the benchmark's torch baseline.

The seeds' autograd loop (autograd/two_layer_net_autograd.py), for any model: the forward pass builds
the graph, loss.item() reads it out (the seeds print it), loss.backward(), then a hand-written SGD update
(with torch's momentum rule when the model uses momentum) under no_grad, and the gradients zeroed."""
from __future__ import annotations

import importlib

import torch

from src.frameworks import torch as torchw
from src.registry import model_module


def run(problem, steps: int, threads: int, on_step) -> None:
    """Runs `steps` steps, calling on_step(loss) after each."""
    torchw.set_threads(threads)
    net = importlib.import_module(model_module(problem.model, "torch")).Net(problem)
    params = list(net.parameters())
    for p in params:
        p.grad = torch.zeros_like(p)  # zeros, not None: an unused layer's momentum still moves it
    bufs = [torch.zeros_like(p) for p in params] if problem.momentum else None
    lr, mom = problem.lr, problem.momentum
    for inputs in problem.inputs(0, steps):
        loss = net.loss(inputs)
        on_step(loss.item())
        loss.backward()
        with torch.no_grad():
            for i, p in enumerate(params):
                if bufs is None:
                    p -= lr * p.grad
                else:
                    bufs[i].mul_(mom).add_(p.grad)
                    p -= lr * bufs[i]
                p.grad.zero_()
