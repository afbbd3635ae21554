"""DynamicNet in PyTorch, as the seed writes it: plain Python control flow in forward()."""
from __future__ import annotations

import torch
from torch import nn

from src.frameworks.torch import add_data, hidden, linear


class Net(nn.Module):
    def __init__(self, problem):
        super().__init__()
        self.problem = problem
        # Named as in the spec, so named_parameters() gives "input.weight", ... in every framework.
        self.input = linear(problem.weights, "input")
        self.middle = linear(problem.weights, "middle")
        self.output = linear(problem.weights, "output")
        add_data(self, problem)
        self.loss_fn = nn.MSELoss(reduction="sum")

    def forward(self, x: torch.Tensor, depth: int, inputs: dict) -> torch.Tensor:
        h_relu = self.input(x).clamp(min=0)
        # Each step's graph has exactly `depth` middle layers: a new graph whenever the depth changes.
        for _ in range(depth):
            h_relu = self.middle(h_relu).clamp(min=0)
        h_relu = hidden(h_relu, inputs, self.problem)  # debug.probe, debug.fault; else h_relu as it is
        return self.output(h_relu)

    def loss(self, inputs: dict) -> torch.Tensor:
        return self.loss_fn(self(self.x, inputs["depth"], inputs), self.y)
