"""PyTorch eager under a PyTorch Lightning Trainer: the dynamic graph, built anew by every forward pass.

It builds no graph ahead of time, so it compiles nothing; instead it reports, every step, the nodes of
the autograd graph that step recorded (and throws away after backward).  It also writes to TensorBoard's
Graphs tab the graph of the first step of each kind (each DynamicNet depth: the Tag menu lists them, the
deepest is the run's default), walked without TensorFlow (src/frameworks/torch_graph.py)."""
from __future__ import annotations

import time

from src.frameworks import lightning
from src.frameworks.torch_graph import autograd_nodes, step_graph


def fit(problem, cfg, recorder, threads: int) -> None:
    start = lightning.begin(problem, cfg, recorder, threads)
    graphs = {}  # kind of step (its per-step tags' values) -> its graph
    scalars = problem.step_scalars(problem.start_step, cfg.trainer.max_steps)
    module = None

    def inspect(loss, inputs) -> float:
        """Counts the step's graph, and keeps the first of each kind; returns the seconds it spent."""
        t = time.perf_counter()
        recorder.graph_nodes(autograd_nodes(loss))
        i = recorder.step_no - problem.start_step  # this step's position in the run's columns
        kind = "_".join(f"{tag.split('/')[-1]}_{int(col[i])}" for tag, col in scalars.items()) or "step"
        if kind not in graphs:
            graphs[kind] = step_graph(loss, {id(p): n for n, p in module.net.named_parameters()})
        return time.perf_counter() - t

    module = lightning.StepModule(problem, recorder, start.model, cfg.trainer.checkpoint_every_n_steps,
                                  on_step=inspect)
    try:
        lightning.fit(module, cfg, start.accelerator)
    finally:
        if module.global_rank == 0 and graphs:
            biggest = max(graphs.values(), key=lambda g: len(g.node))
            recorder.write_graph(biggest.SerializeToString())
            if len(graphs) > 1:
                for kind in sorted(graphs):
                    recorder.write_graph(graphs[kind].SerializeToString(), tag=f"step_graph/{kind}")
