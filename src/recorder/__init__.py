"""The one place that writes what a run produced, for every runtime alike.

A runtime reports each step (loss, compute time); the recorder times the whole step as the loop sees it,
writes TensorBoard events, drives the progress bar, saves checkpoints, and at the end writes result.json.
It knows nothing about frameworks.  In a multi-process (DDP) run only rank zero's recorder writes anything
(the others are Recorder(enabled=False), on which every call works and writes nothing).

`Recorder` is the facade runtimes and run.py call; each concern is a module of its own:

    stats.py    step timing and statistics: losses, times, graph builds, medians, spread, noise
    tblog.py    the TensorBoard log: scalars, graphs, HParams
    rundir.py   result.json, .hydra/, the checkpoint, resuming from the event files
    console.py  progress bar, status and warning lines, the summary a run ends with

A value a runtime measures in a step goes through `recorder.scalar(tag, value)` before that step's
`recorder.step(...)`: TensorBoard gets it under `tag` at that step, result.json's `summary[tag]` its median
and worst over the steady steps, the sweep summary a column `<tag> (median)`, and with metric=True the
HParams tab a metric.  A value of the whole run goes through `recorder.record(key, value)`: result.json
under `key`, and a column of the sweep summary.
"""
from __future__ import annotations

import math
import os
import time
from typing import Any

from src import contention, owner
from src.errors import GraphduelError
from src.interrupt import GracefulStop, Interrupted
from src.recorder import rundir
from src.recorder.console import Console, summary_text
from src.recorder.stats import MAX_BUILDS, NOISY, Steps, spread
from src.recorder.tblog import TBLog

__all__ = ["FLUSH_EVERY", "MAX_BUILDS", "NOISY", "Diverged", "Recorder", "spread", "summary_text"]

FLUSH_EVERY = 100  # steps between flushes to the OS: an interrupted run keeps all its steps
# The tags the recorder writes itself, every step (or at the setup, step 0): a runtime's scalar() may not
# take one of them, nor one of the model's step_scalars.
OWN_TAGS = frozenset({"time/step_ms", "time/compute_ms", "time/elapsed_s", "graph/compiles", "graph/compile_ms",
                      "graph/nodes", "graph/build_s_total", "Overview/loss_log10", "Overview/step_ms", "train/loss",
                      "train/loss_float64"})
OWN_PREFIXES = ("graph/phase_s/",)  # and the running totals of the builds' phases


def own_tag(tag: str) -> bool:
    return tag in OWN_TAGS or tag.startswith(OWN_PREFIXES)


class Diverged(GraphduelError):
    exit_code = 1

    def __init__(self, step: int, loss: float, lr: float, default_lr: float):
        self.step = step
        # The model's own default is known to train; below it, a decade down is a guess worth trying.
        suggest = default_lr if lr > default_lr else lr / 10
        super().__init__(
            f"the loss became {loss} at step {step}: training diverged. "
            f"Try a lower learning rate, e.g. model.optimizer.lr={suggest:g}."
        )


class Recorder:
    def __init__(self, run_dir: str, cfg: Any, framework: str | None, graph: str | None, threads: int,
                 stop: GracefulStop | None = None, enabled: bool = True, problem=None):
        self.run_dir = os.path.abspath(run_dir)
        self.problem = problem
        self.threads = threads
        self.cfg = cfg
        self.enabled = enabled
        self.stop = stop
        self.info = {
            "model": cfg.model.name,
            "runtime": cfg.runtime.name,
            "framework": framework,
            "graph": graph,
            "accelerator": None,
            "precision": cfg.trainer.precision,
            "seed": cfg.seed,
        }
        self.stats = Steps()
        self.tblog = TBLog(self.run_dir, enabled)
        self.console = Console(enabled, cfg.trainer.progress_bar)
        self.setup_s: float | None = None
        self.import_s: float | None = None
        self.checkpoint_step: int | None = None
        self.warnings: list[str] = []
        self.records: dict[str, Any] = {}  # record(key, value): result.json's own keys, in call order
        self.metrics: dict[str, None] = {}  # scalar(..., metric=True) tags, in order, for the HParams tab
        self.started = False
        self._t_start = time.perf_counter()
        self.start_time = time.time()
        self._t_last: float | None = None
        self._t_stepped: float | None = None  # when the last step ended: its time/elapsed_s, and result.json's
        self._elapsed_offset = 0.0  # a resumed run's elapsed time before this session
        self._phase_s: dict[str, float] = {}  # the builds' phases so far (graph/phase_s/...), in seconds
        self._phases_counted = 0  # builds looked at
        self._phases_due: list[int] = []  # builds looked at whose phases have not come yet
        self._scalars: dict = {}  # the model's per-step tags (DynamicNet: model/depth), as columns
        self._first = 0
        self._hparams_due = False  # the loop started, the HParams start not yet written (see _hparams_start)
        self._hparams_written = False
        self._watch: contention.Watch | None = None  # whether the machine was the run's own (loop_start on)
        self.contention: dict = {"contended": None, "contended_reason": None, "contention": None}
        self._watched: set[int] = set()

    # The statistics, by their old names (callers read them off the recorder).
    step_no = property(lambda self: self.stats.step_no)
    losses = property(lambda self: self.stats.losses)
    step_ms = property(lambda self: self.stats.step_ms)
    compute_ms = property(lambda self: self.stats.compute_ms)
    nodes = property(lambda self: self.stats.nodes)
    compiles = property(lambda self: self.stats.compiles)
    compile_s = property(lambda self: self.stats.compile_s)
    builds = property(lambda self: self.stats.builds)
    build_steps = property(lambda self: self.stats.build_steps)

    @property
    def stop_signal(self) -> int | None:
        return self.stop.signum if self.stop else None

    def runtime_imported(self) -> None:
        """Framework imports are timed apart (import_s): setup_s starts after them."""
        now = time.perf_counter()
        self.import_s = now - self._t_start
        self._t_start = now

    def start(self, accelerator: str | None) -> None:
        """The run is accepted: from here on it owns its directory.  Writes the config it runs with
        (.hydra/, under Hydra), result.json 'running', and for a resumed run keeps its logged steps up to
        the checkpoint.  Nothing is written before this, so a refused run leaves its directory as it was; and
        these files are written to temp names and renamed together, so a start that fails (a full disk) leaves
        it as it was too."""
        self.info["accelerator"] = accelerator
        if not self.enabled:
            self.started = True
            return
        os.makedirs(self.run_dir, exist_ok=True)
        events = None
        with owner.Staged("the run's files") as staged:
            rundir.save_hydra_config(self.run_dir, self.cfg, staged)
            if self.problem is not None and self.problem.start_step:
                step = self.problem.start_step
                model_tags = set(self.problem.step_scalars(0, 1))
                self._elapsed_offset, events, last = rundir.resume(
                    self.run_dir, step, self.stats, lambda tag: own_tag(tag) or tag in model_tags, staged)
                # The builds' running totals go on from the earlier sessions' (their builds are not kept).
                prefix = OWN_PREFIXES[0]
                self._phase_s = {t[len(prefix):]: v for t, v in last.items() if t.startswith(prefix)}
                self.checkpoint_step = step
            staged.write(os.path.join(self.run_dir, "result.json"), rundir.result_json(self.result("running")))
        if events is not None:
            self.tblog.append_to(events)
            rundir.then_keep_one(self.run_dir, events)
        self.started = True

    # -- called by runtimes --------------------------------------------------------------
    def graph_built(self, seconds: float, what: str, reason: str | None = None, nodes: int = 0,
                    count: bool = True) -> dict:
        """A graph build: a static graph built, a function traced or retraced, a graph compiled.  Reported
        before the loop, it is the setup's (TensorBoard step 0); inside the loop, it belongs to the step in
        flight, whose compute_ms then excludes it (the build happened inside the step's computation).
        count=False adds time to a build counted already (torch.compile's lazily compiled backward)."""
        step = self.step_no + 1 if self._t_last is not None else self.step_no  # in flight, or the setup
        # The runtime may add its reason to the returned build later, once the framework has it.
        return self.stats.build(step, seconds, what, reason, nodes, count)

    def graph_nodes(self, nodes: int) -> None:
        """An eager step's graph, rebuilt this step: its nodes (autograd nodes, or ops run and recorded)."""
        self.stats.pending_nodes += nodes

    def scalar(self, tag: str, value: float, *, metric: bool = False) -> None:
        """A value the runtime measured in the step in flight (call it before that step's step()): written to
        TensorBoard under `tag` at that step; result.json's summary[tag] holds its median and worst (largest)
        over the steady steps; the sweep summary shows `<tag> (median)`.  metric=True also makes its median a
        metric of the HParams tab (`trial/<tag>`); a metric is reported from the session's first step on,
        when the tab's list of metrics is written."""
        if own_tag(tag) or tag in self._scalars:
            raise ValueError(f"recorder.scalar({tag!r}): the recorder writes that tag itself; name yours apart")
        self.stats.pending_values[tag] = float(value)
        if metric and tag not in self.metrics:
            self.metrics[tag] = None
            if self._hparams_written:
                self.warn(f"{tag} became an HParams metric after the first step: the tab lists it from the "
                          "next run on (report a metric from the first step)")

    def record(self, key: str, value: Any) -> None:
        """A value of the whole run (JSON-able): result.json's `key`, and a column of the sweep summary."""
        if key in _RESULT_KEYS:
            raise ValueError(f"recorder.record({key!r}): result.json has that key already; name yours apart")
        self.records[key] = value

    def status(self, text: str) -> None:
        """A word on what a slow part of the run is doing now (importing, building, tracing, compiling): on
        the progress bar once there is one, else a line of its own.  Silent without a progress bar."""
        self.console.status(text)

    def warn(self, text: str, said: bool = False) -> None:
        """Something the user must know about the run (a compile that fell back to eager, say): in
        result.json, the summary, and on stderr now (unless `said` there already, by the pre-flight)."""
        if text not in self.warnings:
            self.warnings.append(text)
            if not said:
                self.console.warn(text)

    def write_graph(self, graph_def_bytes: bytes, tag: str | None = None) -> None:
        """A serialized GraphDef for TensorBoard's Graphs tab: the run's graph, or with a `tag` one more graph
        the tab's Tag menu offers (say, the graph of each DynamicNet depth)."""
        self.tblog.graph(graph_def_bytes, tag, step=self.step_no)

    def loop_start(self, first_step: int = 0) -> None:
        """Marks the start of the training loop; step timings are measured from here on."""
        self.stats.step_no = self._first = first_step
        self._watch = contention.Watch(first_step, self.cfg.trainer.max_steps)
        self._watched = self._watch.at
        self._t_last = time.perf_counter()
        if not self.enabled:
            return
        if self.problem is not None:  # the model's per-step tags (DynamicNet: model/depth), by position
            # drawn a block of steps at a time (src/problem.py): any max_steps costs no memory up front
            self._scalars = self.problem.step_scalars(first_step, self.cfg.trainer.max_steps)
        self._hparams_due = True
        if first_step == 0:  # the setup, as step 0: the graphs built before the first step, its time
            build_ms, nodes = self.stats.take_setup()
            self.tblog.scalars(0, {"graph/compiles": self.compiles, "graph/compile_ms": build_ms,
                                   "graph/nodes": nodes, "time/elapsed_s": time.perf_counter() - self._t_start,
                                   **self._build_totals()})
        self.console.open_bar(f"{self.info['model']} on {self.info['runtime']}", self.cfg.trainer.max_steps,
                              first_step)
        self._t_last = time.perf_counter()

    def steps(self, losses: list[float], compute_ms: float) -> None:
        """Records the steps one graph call ran (trainer.steps_per_call): each with its own step number and
        loss; a step's time is the call's (as the loop sees it) over its steps, since only the call can be
        timed.  A signal is acted on after the call's last step: Interrupted only ever at a call's boundary,
        where the weights are those of the last recorded step."""
        k = len(losses)
        t0 = self._t_last if self._t_last is not None else self._t_start
        per_ms = (time.perf_counter() - t0) * 1e3 / k
        for i, loss in enumerate(losses):
            self.step(loss, compute_ms / k, _step_ms=per_ms, _now=t0 + per_ms * (i + 1) / 1e3, _last=i == k - 1)

    def step(self, loss: float, compute_ms: float, _step_ms: float | None = None, _now: float | None = None,
             _last: bool = True) -> None:
        """Records one finished step; raises Diverged on a non-finite loss, and Interrupted after a
        step during which SIGINT or SIGTERM arrived.  (The underscored arguments are steps()'s.)"""
        now = time.perf_counter() if _now is None else _now
        self._t_stepped = now
        step_ms = (now - (self._t_last if self._t_last is not None else self._t_start)) * 1e3 \
            if _step_ms is None else _step_ms
        if self.setup_s is None:
            self.setup_s = now - self._t_start
        stats = self.stats
        compute_ms, build_ms, nodes, reported = stats.add(loss, step_ms, compute_ms)
        step_no = stats.step_no
        if self.enabled:
            values = {"time/step_ms": step_ms, "time/compute_ms": compute_ms,
                      "time/elapsed_s": self._elapsed_offset + (now - self._t_start),
                      "graph/compiles": stats.compiles, "graph/compile_ms": build_ms, "graph/nodes": nodes,
                      **self._build_totals()}
            for tag, col in self._scalars.items():
                values[tag] = col[step_no - 1 - self._first]
            if reported:
                values.update(reported)
            # TensorBoard opens its first two groups of charts (sorted by name, capitals first): "Overview"
            # holds what to look at first, the loss on a log scale (it falls from 3e7 to 1e-5) and the step time.
            values["Overview/loss_log10"] = math.log10(loss) if loss > 0 else float("nan")
            values["Overview/step_ms"] = step_ms
            values["train/loss"] = loss
            # At float64, the loss to its last digit too (TensorBoard's dashboards show the float32 one).
            doubles = {"train/loss_float64": loss} if self.info["precision"] == 64 else None
            self.tblog.scalars(step_no, values, doubles=doubles)
            if self._hparams_due:  # after the first step: its reported metrics are known
                self._hparams_start()
        if not math.isfinite(loss):
            from src import models

            raise Diverged(step_no, loss, self.cfg.model.optimizer.lr,
                           models.spec(self.cfg.model.name).Config().optimizer.lr)
        if step_no % FLUSH_EVERY == 0:
            self.tblog.flush()
        self.console.step(step_no, loss)
        if _last and self.stop is not None and self.stop.signum is not None:
            raise Interrupted(self.stop.signum, step_no)
        if step_no in self._watched:  # between two steps' timed spans: in neither
            self._watch.take(step_no)
        # Taken last, so the recorder's own work is counted in the next step, as the loop sees it.
        self._t_last = time.perf_counter()

    def _build_totals(self) -> dict[str, float]:
        """The builds so far as running totals, in seconds: all of them (graph/build_s_total) and each phase
        the framework accounts for (graph/phase_s/<phase>).  Totals, because a per-step build time is 0 on
        all but a few steps, which TensorBoard's outlier filter leaves off the chart's scale."""
        builds = self.stats.builds
        self._phases_due += range(self._phases_counted, len(builds))  # a build's phases may come a step later
        self._phases_counted = len(builds)
        waiting = []
        for i in self._phases_due:
            if "phases" not in builds[i]:
                waiting.append(i)
                continue
            for name, ms in builds[i]["phases"].items():
                phase = name[:-3] if name.endswith("_ms") else name
                self._phase_s[phase] = self._phase_s.get(phase, 0.0) + ms / 1e3
        self._phases_due = waiting[-100:]
        return {"graph/build_s_total": self.stats.compile_s,
                **{f"graph/phase_s/{k}": v for k, v in self._phase_s.items()}}

    def checkpoint(self, weights: dict, momentum: dict) -> None:
        """Saves the state after the last recorded step (once per step), and flushes the events."""
        if not self.enabled or self.checkpoint_step == self.step_no:
            return
        self.tblog.flush()  # first: a checkpoint is never ahead of the steps logged
        rundir.save_checkpoint(self.run_dir, self.step_no, weights, momentum, model=self.info["model"])
        self.checkpoint_step = self.step_no

    def abandon_events(self) -> None:
        """The disk is full: write no more events (the event file keeps its whole records)."""
        self.tblog.abandon()

    # -- called by the orchestrator ------------------------------------------------------
    def finish(self, status: str, error: str | None = None) -> dict:
        from src import hparams
        from src.environment import describe

        if self._watch is not None:  # whether the machine was the run's own while it was timed
            figures, contended, reason = self._watch.verdict(self.threads, self.step_no)
            self.contention = {"contended": contended, "contended_reason": reason, "contention": figures}
        result = self.result(status, error)
        result["environment"] = describe()  # what reproducing its timings needs (read at the end: ~0.1 s)
        if not self.enabled:
            return result
        self.console.close()
        rundir.write_result(self.run_dir, result)
        if self._hparams_due:  # the loop started, but no step was recorded
            self._hparams_start()
        if self.started:  # (the tblog writes them only into a log already begun)
            # The HParams tab's metrics: the run's final numbers, as scalars at its last step.
            final = {tag: result[tag.split("/")[1]] for tag, _ in hparams.METRICS
                     if tag.startswith("trial/") and result.get(tag.split("/")[1]) is not None}
            final.update({f"trial/{tag}": result["summary"][tag]["median"] for tag in self.metrics
                          if result["summary"].get(tag, {}).get("median") is not None})
            self.tblog.hparams_end(self.step_no, final, status)
        self.tblog.close()
        return result

    def _hparams_start(self) -> None:
        from src import hparams
        from src.sweeps import experiment

        self._hparams_due, self._hparams_written = False, True
        metrics = hparams.METRICS + tuple((f"trial/{tag}", f"{tag} (median)") for tag in self.metrics)
        values = self.hparams()
        every, differs = experiment(values)  # in a sweep, every job's hparams: the table has every column
        self.tblog.hparams_start(values, differs, metrics, every)

    def hparams(self) -> dict:
        """The run's settings for the HParams tab (src/hparams.py)."""
        from src import hparams

        return hparams.values(self.cfg, self.info, self.threads)

    def result(self, status: str, error: str | None = None) -> dict:
        return {
            **self.info,
            "status": status,
            **self.stats.fields(),
            "elapsed_s": None if self._t_last is None
            else self._elapsed_offset + ((self._t_stepped or self._t_last) - self._t_start),
            "warnings": self.warnings,
            "setup_s": self.setup_s,
            "import_s": self.import_s,
            "run_dir": self.run_dir,
            "threads": self.threads,
            "checkpoint_step": self.checkpoint_step,
            "error": error,
            "start_time": self.start_time,  # epoch seconds
            "end_time": None if status == "running" else time.time(),
            **self.contention,  # contended, why, and the figures it rests on (src/contention.py)
            **self.records,
            "recorded": list(self.records),  # which keys came from record(): the sweep summary's columns
        }


# result.json's keys that record() may not take.
_RESULT_KEYS = frozenset({"model", "runtime", "framework", "graph", "accelerator", "precision", "seed", "status",
                          "steps", "first_loss", "final_loss", "median_step_ms", "median_compute_ms",
                          "median_steady_ms", "iqr_steady_ms", "noisy", "compiles", "compile_s", "nodes_per_step",
                          "builds", "summary", "elapsed_s", "warnings", "setup_s", "import_s", "run_dir", "threads",
                          "checkpoint_step", "error", "start_time", "end_time", "recorded", "environment", "job",
                          "break_even_step", "break_even_vs", "contended", "contended_reason", "contention"})
