"""The seeds' two models as torch modules, loaded from the framework-neutral start (src/problem.py)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _param(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(a.copy()))


class TwoLayerNet(nn.Module):
    """x @ w1 -> ReLU -> @ w2, no biases, as in the seed."""

    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__()
        self.w1 = _param(weights["w1"])
        self.w2 = _param(weights["w2"])

    def forward(self, x: torch.Tensor, depth: int = 0) -> torch.Tensor:
        return x.mm(self.w1).clamp(min=0).mm(self.w2)


class DynamicNet(nn.Module):
    """The seed's DynamicNet; the depth comes from the caller (the seeded sequence), not random."""

    def __init__(self, weights: dict[str, np.ndarray]):
        super().__init__()
        self.input_linear = self._linear(weights, "input")
        self.middle_linear = self._linear(weights, "middle")
        self.output_linear = self._linear(weights, "output")

    @staticmethod
    def _linear(weights: dict[str, np.ndarray], name: str) -> nn.Linear:
        out_f, in_f = weights[f"{name}.weight"].shape
        layer = nn.Linear(in_f, out_f)
        layer.weight = _param(weights[f"{name}.weight"])
        layer.bias = _param(weights[f"{name}.bias"])
        return layer

    def forward(self, x: torch.Tensor, depth: int) -> torch.Tensor:
        h_relu = self.input_linear(x).clamp(min=0)
        # Plain Python control flow: each step's graph has exactly `depth` middle layers.
        for _ in range(depth):
            h_relu = self.middle_linear(h_relu).clamp(min=0)
        return self.output_linear(h_relu)


def build_net(problem) -> nn.Module:
    return TwoLayerNet(problem.weights) if problem.model == "two_layer" else DynamicNet(problem.weights)
