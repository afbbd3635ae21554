"""The lightning runtime with the model under torch.compile: PyTorch's static graphs, compiled on first use.

torch.compile traces the step's Python into a graph (Dynamo), specialising it on the Python ints it
branches on: each DynamicNet depth is its own graph, compiled (with its backward) the first time a step
of that depth runs -- a recompile whose reason is the guard that failed (`inputs['depth'] == 1`).
Later steps of a known depth reuse their graph.  An int the graph only computes with stays symbolic
(dynamic=True): rnn's batch index, which picks a batch from its pool, never recompiles.  Every compile is
counted and timed from Dynamo's own callbacks (src/frameworks/torch.py CompileWatch), each split into
Dynamo's capture, AOTAutograd and Inductor; a fall back to eager at Dynamo's recompile limit, and every
graph break, is reported.  runtime.backend peels torch.compile's stack a layer at a time (inductor; aot_eager:
no code generation; eager: Dynamo's capture only), runtime.mode sets Inductor's (default, reduce-overhead,
max-autotune)."""
from __future__ import annotations

import torch

from src.frameworks import lightning
from src.frameworks import torch as torchw
from src.frameworks.torch_graph import fx_graph


def fit(problem, cfg, recorder, threads: int) -> None:
    start = lightning.begin(problem, cfg, recorder, threads)
    # Dynamo's in-memory cache would serve a later run in this process (a sweep's next job) the graphs of an
    # earlier one, its builds then unseen: each run starts without it.  Inductor's caches are the run's
    # (trainer.compile_cache: empty for a cold run, src/compile_cache.py); a build served from them says so.
    torch._dynamo.reset()
    hits = torchw.CacheHits()  # and Inductor's in-memory caches cleared: only trainer.compile_cache serves
    watch = torchw.CompileWatch(recorder, aot=cfg.runtime.backend != "eager")

    def after_forward(loss, inputs) -> float:
        watch.check()
        return 0.0

    graphs = []

    backend, mode = cfg.runtime.backend, cfg.runtime.mode
    recorder.record("compile_backend", backend)
    recorder.record("compile_mode", mode)

    def backend_keeping_the_graph(gm, example_inputs):
        """torch.compile's backend (runtime.backend: inductor, aot_eager or eager; Inductor with runtime.mode's
        settings), keeping each graph Dynamo traced for the Graphs tab."""
        graphs.append(fx_graph(gm))
        if backend == "inductor":
            from torch._inductor import list_mode_options
            from torch._inductor.compile_fx import compile_fx

            return compile_fx(gm, example_inputs, config_patches=list_mode_options(mode, dynamic=True))
        from torch._dynamo.backends.registry import lookup_backend

        return lookup_backend(backend)(gm, example_inputs)

    module = lightning.StepModule(problem, recorder, start.model, cfg.trainer.checkpoint_every_n_steps,
                                  on_step=after_forward)
    # dynamic=True: the step's Python ints are symbolic unless the graph needs their value, as a loop's trip
    # count does (range(depth) still specialises: one graph per depth, as dynamic=False gives).  With
    # dynamic=False every int is a constant: rnn would compile a graph per batch of its pool, and past the
    # recompile limit (8) run eagerly.  The data are buffers, whose shapes stay static either way.
    # Compiled lazily, by the step that first needs it.
    module.loss_of = torch.compile(module.net.loss, dynamic=True, backend=backend_keeping_the_graph)
    try:
        with torchw.dynamo_settings(problem):
            lightning.fit(module, cfg, start.accelerator)
    finally:
        watch.close()
        recorder.record("cache_hits", hits.hits())
        recorder.record("dynamo_graphs", watch.graphs())
        recorder.record("graph_breaks", watch.breaks)
        if watch.breaks:
            first = watch.breaks[0]
            recorder.warn(f"torch.compile broke the graph {len(watch.breaks)} time(s), first at step {first['step']}: "
                          f"{first['reason'][:160]} (result.json graph_breaks; each break is a graph more, and "
                          "Python in between)")
        if module.global_rank == 0 and graphs:
            recorder.write_graph(max(graphs, key=lambda g: len(g.node)).SerializeToString())
            if len(graphs) > 1:
                for i, g in enumerate(graphs):
                    recorder.write_graph(g.SerializeToString(), tag=f"compiled_graph/{i}")
