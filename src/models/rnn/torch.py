"""The Elman RNN in PyTorch, the dynamic-graph way: a Python loop over time, as long as the step's batch.

Eagerly (lightning), the loop runs exactly `longest` times: each length builds its own graph, for free.
torch.compile (lightning_compile) cannot keep a loop inside a graph: dynamo unrolls `for t in range(T)`,
so each distinct T is a separate graph to compile (whatever `dynamic=` says: range() needs the value),
and past torch's recompile limit (8) it silently runs the function eagerly.  So, when compiling, the
loop runs to the batch's bucket length instead (spec.compiled_length: one bucket by default, max_len):
a few graphs, compiled once each, at the price of masked steps that compute and change nothing.
docs/rnn.md measures both sides of that trade."""
from __future__ import annotations

import torch
from torch import nn

from src.frameworks.torch import add_data, hidden, linear, parameter
from src.models.rnn.spec import compiled_length


class Net(nn.Module):
    def __init__(self, problem):
        super().__init__()
        self.cfg, self.problem = problem.cfg, problem
        # Named as in the spec: input.weight (W_xh), input.bias (b_h), recurrent.weight (W_hh), output.*.
        self.input = linear(problem.weights, "input")
        self.recurrent = nn.Linear(self.cfg.hidden, self.cfg.hidden, bias=False)
        self.recurrent.weight = parameter(problem.weights["recurrent.weight"])
        self.output = linear(problem.weights, "output")
        add_data(self, problem)  # x (pool, batch, max_len, d_in), lengths (pool, batch), y (pool, batch, d_out)
        self.loss_fn = nn.MSELoss(reduction="sum")

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, steps: int, inputs: dict) -> torch.Tensor:
        h = x.new_zeros(x.shape[0], self.cfg.hidden)
        for t in range(steps):
            h_next = torch.tanh(self.input(x[:, t]) + self.recurrent(h))
            # A sequence already at its end keeps its last valid state: padding changes nothing.
            h = torch.where((t < lengths).unsqueeze(1), h_next, h)
        h = hidden(h, inputs, self.problem)  # debug.probe, debug.fault; else h as it is
        return self.output(h)

    def loss(self, inputs: dict) -> torch.Tensor:
        steps = inputs["longest"]
        if torch.compiler.is_compiling():
            steps = compiled_length(self.cfg, steps)
        # The batch picked with an index tensor, not x[int]: under torch.compile(dynamic=True) the int
        # stays symbolic either way, but x[int] adds a guard (offset != 0) that compiles batch 0 apart.
        batch = torch.tensor([inputs["batch"]], device=self.x.device)
        x, lengths, y = (a.index_select(0, batch).squeeze(0) for a in (self.x, self.lengths, self.y))
        return self.loss_fn(self(x, lengths, steps, inputs), y)
