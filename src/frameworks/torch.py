"""PyTorch helpers shared by every torch runtime and model file: the device, threads, precision, loading a
Problem's arrays, and importing Lightning quietly."""
from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from torch import nn

from src.errors import ConfigError
from src.frameworks import Start, started


def begin(problem, cfg, recorder, threads: int) -> Start:
    """What every torch runtime does first: its threads, its device (a one-line error if it cannot have
    it), recorder.start, and the model's torch.py."""
    set_threads(threads)
    acc = accelerator(cfg.trainer.accelerator)
    return started("torch", problem, recorder, acc, torch.device("cuda" if acc == "gpu" else "cpu"))


def accelerator(requested: str) -> str:
    """'cpu' or 'gpu' for trainer.accelerator (auto, cpu, gpu); a one-line error if a GPU is asked for and absent."""
    has_gpu = torch.cuda.is_available()
    if requested == "gpu" and not has_gpu:
        raise ConfigError("trainer.accelerator=gpu, but PyTorch sees no CUDA GPU here "
                          "(torch.cuda.is_available() is False): use trainer.accelerator=cpu or auto.")
    return ("gpu" if has_gpu else "cpu") if requested == "auto" else requested


def set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def parameter(a: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(a.copy()))


def linear(weights: dict[str, np.ndarray], name: str) -> nn.Linear:
    """An nn.Linear holding the spec's `<name>.weight` (out, in) and `<name>.bias`."""
    out_f, in_f = weights[f"{name}.weight"].shape
    layer = nn.Linear(in_f, out_f)
    layer.weight = parameter(weights[f"{name}.weight"])
    layer.bias = parameter(weights[f"{name}.bias"])
    return layer


def add_data(module: nn.Module, problem) -> None:
    """The problem's data as buffers: they move with the module to the device, so a step feeds nothing."""
    for name, a in problem.data.items():
        module.register_buffer(name, torch.from_numpy(a.copy()), persistent=False)


def import_lightning():
    """pytorch_lightning, without its start-up banner or torch's pytree warning (nothing a user can act on:
    docs/measurements.md#torch-warnings)."""
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # Where Slurm is installed, Lightning suggests srun even for a run that does not want a cluster.
    warnings.filterwarnings("ignore", message=r"The `srun` command is available")
    import pytorch_lightning as pl

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)  # no "GPU available: ..." banner per run
    return pl


class CacheHits:
    """torch.compile's caches for this run (src/compile_cache.py): its in-memory caches are cleared, so
    that a compile is served only by the on-disk caches of the run's directory (TORCHINDUCTOR_CACHE_DIR,
    TRITON_CACHE_DIR, set by the run); `hits()` counts the hits this run had, from torch's own counters:
    Inductor's FX-graph cache and AOTAutograd's cache (torch._dynamo.utils.counters)."""

    def __init__(self):
        from torch._dynamo.utils import counters
        from torch._inductor.utils import clear_caches

        clear_caches()  # Inductor's in-memory caches (compiled modules, code) of earlier runs in this process
        self._counters = counters
        self._base = self._total()

    def _total(self) -> int:
        return self._counters["inductor"]["fxgraph_cache_hit"] + self._counters["aot_autograd"]["autograd_cache_hit"]

    def hits(self) -> int:
        return self._total() - self._base


class CompileWatch:
    """Counts and times torch.compile's graph builds, from Dynamo's own compile callbacks, and reports each
    to the recorder with the guard that failed (why it recompiled) from Dynamo's compilation metrics.

    A compile of the forward (Dynamo tracing a new frame or a new specialisation) counts as one graph build;
    the backward graph that AOTAutograd compiles lazily at the first .backward() adds its time to it (with a
    warm inductor cache on disk it may not happen at all).  Dynamo gives up after
    torch._dynamo.config.recompile_limit compiles of one function and silently runs eager from then on:
    `check()` notices that (Dynamo's `unimplemented` counter) and the recorder warns.  These are torch's
    private hooks (torch._dynamo), the only ones it has; pinned by tests/test_graph_builds.py."""

    def __init__(self, recorder, aot: bool = True):
        import torch._dynamo.callback as callback
        from torch._dynamo.utils import counters

        self.recorder, self._callback, self._counters = recorder, callback, counters
        self.aot = aot  # the backend runs AOTAutograd (inductor, aot_eager; not eager)
        self._started: dict[str, tuple[float, int]] = {}  # compile id -> (its start, inductor's cache hits then)
        self._pending: dict[str, dict] = {}  # compile id -> its build, awaiting Dynamo's metrics
        self._pending_backward: dict[str, dict] = {}  # the same for lazily compiled backward graphs
        self._unimplemented = len(counters["unimplemented"])
        # Graph breaks: where Dynamo stopped a graph (a print, a .item(), ...) and ran Python, then started a
        # new graph after it.  Dynamo counts each by its reason (counters["graph_break"]), process-wide.
        self._breaks_seen = dict(counters["graph_break"])
        self.breaks: list[dict] = []  # this run's, each with the step whose forward found it
        self._graphs_before = counters["stats"]["unique_graphs"]
        # Dynamo numbers compiles afresh after torch._dynamo.reset() (0/0, 0/1, ...) but keeps the metrics of
        # its last 64 across it: check() would take an earlier run's metrics (its recompile reasons) for this
        # run's compiles of the same number.  This run's metrics only, then.
        from torch._dynamo.utils import clear_compilation_metrics

        clear_compilation_metrics()
        callback.callback_handler.register_start_callback(self._start)
        callback.callback_handler.register_end_callback(self._end)

    def _start(self, args) -> None:
        import time

        self._started[str(args.compile_id)] = (time.perf_counter(), self._cache_hits())
        if args.callback_trigger.name == "DYNAMO":
            self.recorder.status("torch.compile: compiling a graph for a new kind of step...")

    def _end(self, args) -> None:
        import time

        started = self._started.pop(str(args.compile_id), None)
        if started is None:
            return
        seconds = time.perf_counter() - started[0]
        # Inductor keeps compiled graphs on disk (and in memory) across runs: a hit makes a compile cheap.
        cached = " from inductor's cache" if self._cache_hits() > started[1] else ""
        if args.callback_trigger.name != "DYNAMO":  # the lazily compiled backward of a graph counted already
            build = self.recorder.graph_built(seconds, f"compile (backward){cached}", count=False)
            self._pending_backward[str(args.compile_id)] = build  # its phases: in its metrics, at the next check()
            return
        # Its reason and size are in Dynamo's metrics, recorded after this callback: check() adds them.
        self._pending[str(args.compile_id)] = self.recorder.graph_built(seconds, f"compile{cached}")

    def _cache_hits(self) -> int:
        return self._counters["inductor"]["fxgraph_cache_hit"]

    def check(self) -> None:
        """After a step's forward pass: the reasons and sizes of the graphs it compiled, and whether Dynamo
        gave up on a function (its recompile limit) and fell back to eager."""
        if self._pending or self._pending_backward:
            from torch._dynamo.utils import get_compilation_metrics

            for metric in get_compilation_metrics():
                if not metric.is_forward:  # a backward compiled at its first .backward(): AOTAutograd, Inductor
                    build = self._pending_backward.pop(str(metric.compile_id), None)
                    if build is not None:
                        build["phases"] = _backward_phases(metric, build["ms"])
                    continue
                build = self._pending.pop(str(metric.compile_id), None)
                if build is None:
                    continue
                self.recorder.graph_nodes(metric.graph_op_count or 0)
                if metric.recompile_reason:
                    build["reason"] = _guard_failed(metric.recompile_reason)
                build["phases"] = _phases(metric, self.aot, build["ms"])
            self._pending.clear()
        self._check_breaks()
        unimplemented = self._counters["unimplemented"]
        if len(unimplemented) == self._unimplemented:
            return
        self._unimplemented = len(unimplemented)
        if any("recompile limit" in str(key).lower() for key in unimplemented):
            import torch._dynamo

            limit = torch._dynamo.config.recompile_limit
            self.recorder.warn(f"torch.compile hit its recompile limit ({limit} graphs of one function) at step "
                               f"{self.recorder.step_no + 1}: from then on, steps of a kind it has not compiled run "
                               "eagerly, uncompiled and uncounted (torch._dynamo.config.recompile_limit)")

    def _check_breaks(self) -> None:
        now = self._counters["graph_break"]
        for reason, n in now.items():
            for _ in range(n - self._breaks_seen.get(reason, 0)):
                self.breaks.append({"step": self.recorder.step_no + 1, "reason": _break_reason(reason)})
        self._breaks_seen = dict(now)

    def graphs(self) -> int:
        """The graphs Dynamo made in this run (one per compiled frame or specialisation, a break's two
        halves two): counters["stats"]["unique_graphs"]."""
        return self._counters["stats"]["unique_graphs"] - self._graphs_before

    def close(self) -> None:
        self.check()  # the last step's backward compile, if any, gets its phases
        self._callback.callback_handler.remove_start_callback(self._start)
        self._callback.callback_handler.remove_end_callback(self._end)


def _phases(metric, aot: bool, build_ms: float) -> dict[str, float]:
    """One compile's time by phase, milliseconds: AOTAutograd (tracing the joint forward and backward graph and
    partitioning it) and Inductor (lowering, code generation, the C++/Triton compile) from Dynamo's compilation
    metrics (its nested clocks: `aot_autograd_cumulative_compile_time_us` times the backend call, which holds
    `inductor_cumulative_compile_time_us`), and Dynamo's capture (bytecode tracing, guards) the rest of the
    build as its compile callbacks timed it.  Dynamo's own whole-frame clock starts a little before the start
    callback and ends after the end one (10 ms more on a 200 ms build, under load), so the remainder, not that
    clock, makes the phases add up to the build.  Under the eager backend, which runs no AOTAutograd (it hands
    the graph back as it is), its backend call is Dynamo's; a backend without Inductor has 0 there."""
    def us(name):
        return float(getattr(metric, name, None) or 0)

    backend = us("aot_autograd_cumulative_compile_time_us") / 1e3 if aot else 0.0
    inductor = min(us("inductor_cumulative_compile_time_us") / 1e3, backend)
    backend = min(backend, build_ms)
    inductor = min(inductor, backend)
    return {"dynamo_ms": round(build_ms - backend, 3), "aot_autograd_ms": round(backend - inductor, 3),
            "inductor_ms": round(inductor, 3)}


def _backward_phases(metric, build_ms: float) -> dict[str, float]:
    """A lazily compiled backward's time by phase: Inductor's (from its metrics' clock) and AOTAutograd's, the
    rest of the build as the callbacks timed it.  Dynamo has no part in it (0)."""
    inductor = min(float(getattr(metric, "inductor_cumulative_compile_time_us", None) or 0) / 1e3, build_ms)
    return {"dynamo_ms": 0.0, "aot_autograd_ms": round(build_ms - inductor, 3), "inductor_ms": round(inductor, 3)}


def _break_reason(text: str) -> str:
    """Dynamo's graph-break reason in a line: its title and explanation ("Failed to trace builtin operator:
    Dynamo does not know how to trace builtin operator `print` ...")."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    if not lines:
        return "graph break"
    explanation = next((line.split(":", 1)[1].strip() for line in lines[1:] if line.startswith("Explanation:")), "")
    return f"{lines[0]}: {explanation}" if explanation else lines[0]


def _guard_failed(text: str) -> str:
    """Dynamo's recompile reason, in a line: "0/1: inputs['depth'] == 1  # for _ in range(depth):  #
    src/models/dynamic/torch.py:23 in forward\n..." -> "recompiled: guard inputs['depth'] == 1 failed (for _ in
    range(depth): src/models/dynamic/torch.py:23 in forward)"."""
    parts = [" ".join(p.split()) for p in text.splitlines()[0].split("#")]
    guard = parts[0].split(": ", 1)[-1]
    where = " ".join(p for p in parts[1:] if p)
    why = f"guard {guard} failed" if any(op in guard for op in ("==", "<", ">", " is ")) else guard
    return f"recompiled: {why}" + (f" ({where})" if where else "")


def hidden(h: torch.Tensor, inputs: dict, problem) -> torch.Tensor:
    """A model's hidden layer as a user looking inside the step, or a user's bug, leaves it (debug.probe,
    debug.fault: docs/debugging.md); without either, h itself.  Written as a PyTorch user writes them:
    Python's print and breakpoint() (eager PyTorch has no other way: `native` is the same print, which
    torch.compile may defer to after its graph: lightning_compile lists print in Dynamo's
    reorderable_logging_functions), and plain Python ifs on the step's number."""
    if problem.probe in ("print", "native"):
        print("probe: hidden mean", h.mean(), "norm", h.norm())
    elif problem.probe == "breakpoint":
        stop_here(h)
    fault, step, k = problem.fault, inputs.get("step"), problem.fault_step
    if fault == "nan" and step >= k:
        h = h * float("nan")  # the hidden layer NaN from step k on
    elif fault == "shape" and step == k:
        h = h[:, :-1]  # one unit short: the next layer's matmul cannot take it
    elif fault == "data_if":
        if h.sum() < 0:  # a Python if on a tensor's value (never true after a ReLU; tanh: it may be)
            h = -h
    elif fault == "index":
        h = h + 0 * h[:, h.shape[1] - 1 + (step >= k)][:, None]  # one past the last unit from step k on
    return h


def stop_here(h) -> None:
    """debug.probe=breakpoint: Python's breakpoint() with the hidden layer in scope (`p h.mean()`).  A
    function of its own, called only by that probe: AutoGraph warns of any breakpoint() in a function it converts."""
    breakpoint()


def dynamo_settings(problem):
    """torch.compile's settings for a run's probe: with debug.probe=native, print listed in Dynamo's
    reorderable_logging_functions (PyTorch's own way to print from a compiled region: the call is taken out
    of the graph and made after it, with the values it computed, instead of breaking the graph there)."""
    import contextlib

    if problem.probe != "native":
        return contextlib.nullcontext()
    return torch._dynamo.config.patch(reorderable_logging_functions={print})
