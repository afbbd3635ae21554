"""The one place that writes what a run produced, for every runtime alike.

A runtime reports each step (loss, compute time); the recorder times the whole step as the
loop sees it, writes TensorBoard events, drives the progress bar, saves checkpoints, and at the end
writes result.json.  It knows nothing about frameworks.  In a multi-process (DDP) run only rank
zero's recorder writes anything.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from typing import Any

from omegaconf import OmegaConf
from tensorboard.compat.proto.event_pb2 import Event

from src import checkpoint, hparams
from src.errors import GraphduelError
from src.event_file import EventFileWriter, iter_records, scalar_values
from src.interrupt import GracefulStop, Interrupted

FLUSH_EVERY = 100  # steps between flushes to the OS: an interrupted run keeps all its steps
NOISY = 0.10  # an interquartile range over this share of the median marks a timing noisy (torch.utils.benchmark's)
MAX_BUILDS = 100  # builds listed in result.json (all are counted)


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
        self.losses: list[float] = []
        self.step_ms: list[float] = []
        self.compute_ms: list[float] = []
        self.setup_s: float | None = None
        self.import_s: float | None = None
        self.step_no = 0
        self.checkpoint_step: int | None = None
        self._t_start = time.perf_counter()
        self.start_time = time.time()
        self._t_last: float | None = None
        self._bar = None
        self._events: EventFileWriter | None = None
        self.started = False
        self._scalars: dict = {}
        # Graph builds (traces, compiles), as the runtime reports them: counted, timed, and the steps
        # they fell in; for eager runtimes, the nodes of the graph each step rebuilt.
        self.compiles = 0
        self.compile_s = 0.0
        self.builds: list[dict] = []  # the first MAX_BUILDS, with their step, time, kind and reason
        self.build_steps: set[int] = set()
        self.nodes: list[int] = []  # graph nodes built per step (eager: every step; static: at builds)
        self.warnings: list[str] = []
        self._pending_ms = 0.0  # build time reported since the last step (or before the loop)
        self._pending_nodes = 0
        self._elapsed_offset = 0.0  # a resumed run's elapsed time before this session

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
        the checkpoint.  Nothing is written before this, so a refused run leaves its directory as it was."""
        self.info["accelerator"] = accelerator
        self.started = True
        if not self.enabled:
            return
        os.makedirs(self.run_dir, exist_ok=True)
        _save_hydra_config(self.run_dir, self.cfg)
        if self.problem is not None and self.problem.start_step:
            self._resume_from(self.problem.start_step)
        self._write(self.result("running"))

    def _resume_from(self, step: int) -> None:
        """Continue this directory's run after its checkpoint at `step`: its logged steps 1..step are
        kept (re-read, so result.json covers the whole run), later ones dropped, since they will be
        trained and logged again; the TensorBoard run then holds each step once."""
        if not self.enabled:
            return
        old = [n for n in os.listdir(self.run_dir) if n.startswith("events.out.tfevents.")]
        kept = []
        for payload in iter_records(self.run_dir):
            event = Event.FromString(payload)
            values = scalar_values(event)
            # A step's event holds train/loss and all its other per-step tags; graphs are not kept (the
            # resumed session writes its own), nor the hparams of the earlier session.
            if 0 <= event.step <= step and ("train/loss" in values or "graph/compiles" in values):
                kept.append(payload)
                self.compiles = int(values.get("graph/compiles", self.compiles))
                self.compile_s += values.get("graph/compile_ms", 0.0) / 1e3
                self._elapsed_offset = values.get("time/elapsed_s", self._elapsed_offset)
                if values.get("graph/compile_ms"):
                    self.build_steps.add(event.step)
                if "train/loss" not in values:
                    continue  # the setup (step 0): its builds, no step
                self.losses.append(values.get("train/loss_float64", values["train/loss"]))
                self.step_ms.append(values["time/step_ms"])
                self.compute_ms.append(values["time/compute_ms"])
                self.nodes.append(int(values.get("graph/nodes", 0)))
        writer = self._writer()
        for payload in kept:
            writer.write_payload(payload)
        writer.flush()  # the kept steps are safe in the new file before the old files go
        for name in old:
            os.remove(os.path.join(self.run_dir, name))
        self.step_no = self.checkpoint_step = step

    # -- called by runtimes --------------------------------------------------------------
    def graph_built(self, seconds: float, what: str, reason: str | None = None, nodes: int = 0,
                    count: bool = True) -> dict:
        """A graph build: a static graph built, a function traced or retraced, a graph compiled.  Reported
        before the loop, it is the setup's (TensorBoard step 0); inside the loop, it belongs to the step in
        flight, whose compute_ms then excludes it (the build happened inside the step's computation).
        count=False adds time to a build counted already (torch.compile's lazily compiled backward)."""
        self.compiles += count
        self.compile_s += seconds
        self._pending_ms += seconds * 1e3
        self._pending_nodes += nodes
        step = self.step_no + 1 if self._t_last is not None else self.step_no  # in flight, or the setup
        self.build_steps.add(step)
        build = {"step": step, "ms": round(seconds * 1e3, 3), "what": what, "reason": reason}
        if len(self.builds) < MAX_BUILDS:
            self.builds.append(build)
        return build  # the runtime may add its reason later, once the framework has it

    def graph_nodes(self, nodes: int) -> None:
        """An eager step's graph, rebuilt this step: its nodes (autograd nodes, or ops run and recorded)."""
        self._pending_nodes += nodes

    def status(self, text: str) -> None:
        """A word on what a slow part of the run is doing now (importing, building, tracing, compiling): on
        the progress bar once there is one, else a line of its own.  Silent without a progress bar."""
        if not self.enabled or not self.cfg.trainer.progress_bar:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
        else:
            print(f"graphduel: {text}", file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        """Something the user must know about the run (a compile that fell back to eager, say): in
        result.json, the summary, and on stderr now."""
        if text not in self.warnings:
            self.warnings.append(text)
            if self.enabled:
                print(f"graphduel: warning: {text}", file=sys.stderr, flush=True)

    def write_graph(self, graph_def_bytes: bytes, tag: str | None = None) -> None:
        """A serialized GraphDef for TensorBoard's Graphs tab: the run's graph, or with a `tag` one more graph
        the tab's Tag menu offers (say, the graph of each DynamicNet depth)."""
        if not self.enabled:
            return
        if tag is None:
            self._writer().write(Event(wall_time=time.time(), graph_def=graph_def_bytes))
            return
        from tensorboard.compat.proto.config_pb2 import RunMetadata
        from tensorboard.compat.proto.graph_pb2 import GraphDef
        from tensorboard.compat.proto.summary_pb2 import DataClass, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboard.compat.proto.types_pb2 import DT_STRING
        from tensorboard.compat.proto.summary_pb2 import Summary

        run_metadata = RunMetadata()
        run_metadata.function_graphs.add().pre_optimization_graph.CopyFrom(GraphDef.FromString(graph_def_bytes))
        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="graph_run_metadata_graph",
                                                                      content=b"1"),
                               data_class=DataClass.DATA_CLASS_BLOB_SEQUENCE)
        # Shape [1], as tf.summary's graph writer makes it: TensorBoard's Python loader serves a blob
        # sequence of rank 1 only (its data migration adds the dimension only to what tf.summary wrote).
        tensor = TensorProto(dtype=DT_STRING, tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
                             string_val=[run_metadata.SerializeToString()])
        self._writer().write(Event(wall_time=time.time(), step=self.step_no,
                                   summary=Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])))

    def loop_start(self, first_step: int = 0) -> None:
        """Marks the start of the training loop; step timings are measured from here on."""
        self.step_no = first_step
        if not self.enabled:
            return
        if self.problem is not None:  # the model's per-step tags (DynamicNet: model/depth), by position
            self._scalars = {tag: col.tolist() for tag, col in
                             self.problem.step_scalars(first_step, self.cfg.trainer.max_steps).items()}
        self._first = first_step
        from src.sweeps import experiment

        values = self.hparams()
        every, differs = experiment(values)  # in a sweep, every job's hparams: the table has every column
        for summary in hparams.start_summaries(values, differs, every):
            self._writer().write(Event(wall_time=time.time(), summary=summary))
        if first_step == 0:  # the setup, as step 0: the graphs built before the first step, its time
            self._writer().scalars(0, {"graph/compiles": self.compiles, "graph/compile_ms": self._pending_ms,
                                     "graph/nodes": self._pending_nodes,
                                     "time/elapsed_s": time.perf_counter() - self._t_start})
            self._pending_ms, self._pending_nodes = 0.0, 0
        if self.cfg.trainer.progress_bar:
            from tqdm import tqdm

            desc = f"{self.info['model']} on {self.info['runtime']}"
            self._bar = tqdm(total=self.cfg.trainer.max_steps, initial=first_step, desc=desc, unit="step",
                             mininterval=0.25, file=sys.stderr, dynamic_ncols=True)
        self._t_last = time.perf_counter()

    def step(self, loss: float, compute_ms: float) -> None:
        """Records one finished step; raises Diverged on a non-finite loss, and Interrupted after a
        step during which SIGINT or SIGTERM arrived."""
        now = time.perf_counter()
        step_ms = (now - self._t_last) * 1e3
        self.step_no += 1
        if self.setup_s is None:
            self.setup_s = now - self._t_start
        in_step_ms = self._pending_ms if self.step_no in self.build_steps else 0.0  # builds inside this step
        compute_ms = max(compute_ms - in_step_ms, 0.0)
        self.losses.append(loss)
        self.step_ms.append(step_ms)
        self.compute_ms.append(compute_ms)
        self.nodes.append(self._pending_nodes)
        values = {"time/step_ms": step_ms, "time/compute_ms": compute_ms,
                  "time/elapsed_s": self._elapsed_offset + (now - self._t_start),
                  "graph/compiles": self.compiles, "graph/compile_ms": self._pending_ms,
                  "graph/nodes": self._pending_nodes}
        self._pending_ms, self._pending_nodes = 0.0, 0
        for tag, col in self._scalars.items():
            values[tag] = col[self.step_no - 1 - self._first]
        # TensorBoard opens its first two groups of charts (sorted by name, capitals first): "Overview" holds
        # what to look at first, the loss on a log scale (it falls from 3e7 to 1e-5) and the step time.
        values["Overview/loss_log10"] = math.log10(loss) if loss > 0 else float("nan")
        values["Overview/step_ms"] = step_ms
        values["train/loss"] = loss
        # At float64, the loss to its last digit too (TensorBoard's dashboards show the float32 one).
        doubles = {"train/loss_float64": loss} if self.info["precision"] == 64 else None
        self._events.scalars(self.step_no, values, doubles=doubles)
        if not math.isfinite(loss):
            from src import models

            raise Diverged(self.step_no, loss, self.cfg.model.optimizer.lr,
                           models.spec(self.cfg.model.name).Config().optimizer.lr)
        if self.step_no % FLUSH_EVERY == 0:
            self._events.flush()
        if self._bar is not None:
            if self.step_no % 50 == 0:
                self._bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
            self._bar.update()
        if self.stop is not None and self.stop.signum is not None:
            raise Interrupted(self.stop.signum, self.step_no)
        # Taken last, so the recorder's own work is counted in the next step, as the loop sees it.
        self._t_last = time.perf_counter()

    def checkpoint(self, weights: dict, momentum: dict) -> None:
        """Saves the state after the last recorded step (once per step), and flushes the events."""
        if not self.enabled or self.checkpoint_step == self.step_no:
            return
        checkpoint.save(self.run_dir, self.step_no, weights, momentum, model=self.info["model"])
        self.checkpoint_step = self.step_no
        if self._events is not None:
            self._events.flush()

    # -- called by the orchestrator ------------------------------------------------------
    def finish(self, status: str, error: str | None = None) -> dict:
        from src.environment import describe

        result = self.result(status, error)
        result["environment"] = describe()  # what reproducing its timings needs (read at the end: ~0.1 s)
        if not self.enabled:
            return result
        if self._bar is not None:
            self._bar.close()
        self._write(result)
        if self._events is not None:
            # The HParams tab's metrics: the run's final numbers, as scalars at its last step.
            self._events.scalars(self.step_no, {tag: result[tag.split("/")[1]] for tag, _ in hparams.METRICS
                                                if tag.startswith("trial/") and result[tag.split("/")[1]] is not None})
            self._events.write(Event(wall_time=time.time(), summary=hparams.end_summary(status)))
            self._events.close()
        return result

    def hparams(self) -> dict:
        """The run's settings for the HParams tab (src/hparams.py)."""
        return hparams.values(self.cfg, self.info, self.threads)

    def result(self, status: str, error: str | None = None) -> dict:
        def median(xs):
            return statistics.median(xs) if xs else None

        # The steady state: the steps that built no graph (a static runtime's first steps of each kind).
        first = self.step_no - len(self.step_ms) + 1
        steady = [ms for i, ms in enumerate(self.step_ms, first) if i not in self.build_steps]
        iqr = spread(steady)

        return {
            **self.info,
            "status": status,
            "steps": self.step_no,
            "first_loss": self.losses[0] if self.losses else None,
            "final_loss": self.losses[-1] if self.losses else None,
            "median_step_ms": median(self.step_ms),
            "median_compute_ms": median(self.compute_ms),
            "median_steady_ms": median(steady),
            # How far the steady-state times can be trusted: their interquartile range, and whether it is
            # over NOISY of their median (then compare runs only side by side, as the benchmark does).
            "iqr_steady_ms": iqr,
            "noisy": None if iqr is None else iqr > NOISY * statistics.median(steady),
            "compiles": self.compiles,
            "compile_s": self.compile_s,
            "nodes_per_step": median(self.nodes),
            "elapsed_s": None if self._t_last is None else self._elapsed_offset + (self._t_last - self._t_start),
            "builds": self.builds,
            "warnings": self.warnings,
            "setup_s": self.setup_s,
            "import_s": self.import_s,
            "run_dir": self.run_dir,
            "threads": self.threads,
            "checkpoint_step": self.checkpoint_step,
            "error": error,
            "start_time": self.start_time,  # epoch seconds
            "end_time": None if status == "running" else time.time(),
        }

    def _write(self, result: dict) -> None:
        tmp = os.path.join(self.run_dir, "result.json.tmp")
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2, allow_nan=True)
        os.replace(tmp, os.path.join(self.run_dir, "result.json"))  # never a half-written file

    def _writer(self) -> EventFileWriter:
        if self._events is None:
            self._events = EventFileWriter(self.run_dir)
        return self._events


def spread(xs: list[float]) -> float | None:
    """The interquartile range of xs (None for fewer than 4)."""
    if len(xs) < 4:
        return None
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q3 - q1


def _save_hydra_config(run_dir: str, cfg: Any) -> None:
    """What Hydra would have saved in .hydra/: the job's config, Hydra's, and the overrides.  graphduel turns
    Hydra's own saving off (hydra.output_subdir=null in conf/config.yaml) and saves them here, once the run is
    accepted, so that a refused command never writes into a run directory."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():  # run() called directly (tests, the benchmark): no Hydra job
        return
    hydra_cfg = HydraConfig.instance().cfg
    out = os.path.join(run_dir, ".hydra")
    os.makedirs(out, exist_ok=True)
    for name, node in (("config.yaml", cfg), ("hydra.yaml", hydra_cfg),
                       ("overrides.yaml", hydra_cfg.hydra.overrides.task)):
        tmp = os.path.join(out, name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(OmegaConf.to_yaml(node))
        os.replace(tmp, os.path.join(out, name))


def _noise(r: dict) -> str:
    """The steady-state times' interquartile range, as a share of their median; 'noisy' past NOISY."""
    if r.get("iqr_steady_ms") is None or not r.get("median_steady_ms"):
        return ""
    share = r["iqr_steady_ms"] / r["median_steady_ms"]
    word = "noisy: " if r.get("noisy") else ""
    return f", {word}IQR {r['iqr_steady_ms']:.3f} ms ({share:.0%})"


def summary_text(result: dict) -> str:
    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)

    r = result
    if r["compiles"]:
        graphs = (f"{r['compiles']} built ({r['compile_s']:.2f} s), then reused: "
                  f"{fmt(r['median_steady_ms'], '.3f')} ms per step without builds")
    else:
        graphs = f"none built ahead; each step built a new one of {fmt(r['nodes_per_step'], '.0f')} nodes"
    lines = [
        f"graphduel: {r['model']} on {r['runtime']} ({r['framework']}, {r['graph']} graph, "
        f"{r['accelerator']}): {r['status']} after {r['steps']} steps",
        f"  loss        {fmt(r['first_loss'], '.4g')} -> {fmt(r['final_loss'], '.4g')}",
        f"  per step    {fmt(r['median_step_ms'], '.3f')} ms median ({fmt(r['median_compute_ms'], '.3f')} ms "
        f"compute){_noise(r)}",
        f"  graphs      {graphs}",
        f"  start       {fmt(r['setup_s'], '.2f')} s setup to the first step, "
        f"after {fmt(r['import_s'], '.2f')} s importing the framework",
        *[f"  warning     {w}" for w in r.get("warnings") or []],
        f"  logs        {r['run_dir']}",
        f"  view with   tensorboard --logdir {r['run_dir']}",
    ]
    return "\n".join(lines)
