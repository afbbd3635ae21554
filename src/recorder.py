"""The one place that writes what a run produced, for every runtime alike.

A runtime reports each step (loss, compute time, depth); the recorder times the whole step as the
loop sees it, writes TensorBoard events, drives the progress bar, and at the end writes result.json
and prints the summary.  It knows nothing about frameworks.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from typing import Any

from tensorboard.compat.proto.event_pb2 import Event

from src import hparams
from src.errors import GraphduelError
from src.event_file import EventFileWriter

FLUSH_EVERY = 100  # steps between flushes: an interrupted run keeps all but the last few steps


class Diverged(GraphduelError):
    exit_code = 1

    def __init__(self, step: int, loss: float, lr: float):
        self.step = step
        super().__init__(
            f"the loss became {loss} at step {step}: training diverged. "
            f"Try a lower learning rate, e.g. model.optimizer.lr={lr / 10:g}."
        )


class Recorder:
    def __init__(self, run_dir: str, cfg: Any, framework: str | None, graph: str | None, threads: int):
        self.run_dir = os.path.abspath(run_dir)
        self.threads = threads
        self.cfg = cfg
        self.info = {
            "model": cfg.model.name,
            "runtime": cfg.runtime.name,
            "framework": framework,
            "graph": graph,
            "accelerator": None,
            "seed": cfg.seed,
        }
        self.losses: list[float] = []
        self.step_ms: list[float] = []
        self.compute_ms: list[float] = []
        self.setup_s: float | None = None
        self.import_s: float | None = None
        self.step_no = 0
        self._t_start = time.perf_counter()
        self.start_time = time.time()
        self._t_last: float | None = None
        self._bar = None
        self._events: EventFileWriter | None = None
        os.makedirs(self.run_dir, exist_ok=True)
        self._write_result("running")

    def runtime_imported(self) -> None:
        """Framework imports are timed apart (import_s): setup_s starts after them."""
        now = time.perf_counter()
        self.import_s = now - self._t_start
        self._t_start = now

    # -- called by runtimes --------------------------------------------------------------
    def set_accelerator(self, accelerator: str) -> None:
        self.info["accelerator"] = accelerator

    def write_graph(self, graph_def_bytes: bytes) -> None:
        """A serialized GraphDef for TensorBoard's Graphs tab."""
        self._writer().write(Event(wall_time=time.time(), graph_def=graph_def_bytes))

    def loop_start(self, first_step: int = 0) -> None:
        """Marks the start of the training loop; step timings are measured from here on."""
        self.step_no = first_step
        for summary in hparams.start_summaries(self.hparams()):
            self._writer().write(Event(wall_time=time.time(), summary=summary))
        total = self.cfg.trainer.max_steps
        if self.cfg.trainer.progress_bar:
            from tqdm import tqdm

            desc = f"{self.info['model']} on {self.info['runtime']}"
            self._bar = tqdm(total=total, initial=first_step, desc=desc, unit="step", mininterval=0.25,
                             file=sys.stderr, dynamic_ncols=True)
        self._writer()
        self._t_last = time.perf_counter()

    def step(self, loss: float, compute_ms: float, depth: int | None = None) -> None:
        now = time.perf_counter()
        step_ms = (now - self._t_last) * 1e3
        self.step_no += 1
        if self.setup_s is None:
            self.setup_s = now - self._t_start
        self.losses.append(loss)
        self.step_ms.append(step_ms)
        self.compute_ms.append(compute_ms)
        values = {"train/loss": loss, "time/step_ms": step_ms, "time/compute_ms": compute_ms}
        if depth is not None:
            values["model/depth"] = depth
        self._events.scalars(self.step_no, values)
        if not math.isfinite(loss):
            raise Diverged(self.step_no, loss, self.cfg.model.optimizer.lr)
        if self.step_no % FLUSH_EVERY == 0:
            self._events.flush()
        if self._bar is not None:
            if self.step_no % 50 == 0:
                self._bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
            self._bar.update()
        # Taken last, so the recorder's own work is counted in the next step, as the loop sees it.
        self._t_last = time.perf_counter()

    # -- called by the orchestrator ------------------------------------------------------
    def finish(self, status: str, error: str | None = None) -> dict:
        if self._bar is not None:
            self._bar.close()
        result = self._write_result(status, error)
        if self._events is not None:
            # The HParams tab's metrics: the run's final numbers, as scalars at its last step.
            self._events.scalars(self.step_no, {f"hparams/{k}": result[k] for k in hparams.METRICS
                                                if result[k] is not None})
            self._events.write(Event(wall_time=time.time(), summary=hparams.end_summary(status)))
            self._events.close()
        return result

    def hparams(self) -> dict:
        m, t = self.cfg.model, self.cfg.trainer
        return {
            **{k: "" if self.info[k] is None else self.info[k]
               for k in ("model", "runtime", "framework", "graph", "accelerator", "seed")},
            "lr": m.optimizer.lr, "momentum": m.optimizer.momentum, "d_in": m.d_in, "hidden": m.hidden,
            "d_out": m.d_out, "batch_size": self.cfg.data.batch_size, "max_steps": t.max_steps,
            "threads": self.threads,
            "depth": "-" if m.name != "dynamic" else ("seeded per step" if m.depth is None else str(m.depth)),
        }

    def result(self, status: str, error: str | None = None) -> dict:
        def median(xs):
            return statistics.median(xs) if xs else None

        return {
            **self.info,
            "status": status,
            "steps": self.step_no,
            "first_loss": self.losses[0] if self.losses else None,
            "final_loss": self.losses[-1] if self.losses else None,
            "median_step_ms": median(self.step_ms),
            "median_compute_ms": median(self.compute_ms),
            "setup_s": self.setup_s,
            "import_s": self.import_s,
            "run_dir": self.run_dir,
            "threads": self.threads,
            "error": error,
            "start_time": self.start_time,  # epoch seconds
            "end_time": None if status == "running" else time.time(),
        }

    def _write_result(self, status: str, error: str | None = None) -> dict:
        result = self.result(status, error)
        tmp = os.path.join(self.run_dir, "result.json.tmp")
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2, allow_nan=True)
        os.replace(tmp, os.path.join(self.run_dir, "result.json"))  # never a half-written file
        return result

    def _writer(self) -> EventFileWriter:
        if self._events is None:
            self._events = EventFileWriter(self.run_dir)
        return self._events


def summary_text(result: dict) -> str:
    def fmt(v, spec):
        return "n/a" if v is None else format(v, spec)

    r = result
    return "\n".join([
        f"graphduel: {r['model']} on {r['runtime']} ({r['framework']}, {r['graph']} graph, "
        f"{r['accelerator']}): {r['status']} after {r['steps']} steps",
        f"  loss        {fmt(r['first_loss'], '.4g')} -> {fmt(r['final_loss'], '.4g')}",
        f"  per step    {fmt(r['median_step_ms'], '.3f')} ms median "
        f"({fmt(r['median_compute_ms'], '.3f')} ms compute)",
        f"  start       {fmt(r['setup_s'], '.2f')} s setup to the first step, "
        f"after {fmt(r['import_s'], '.2f')} s importing the framework",
        f"  logs        {r['run_dir']}",
        f"  view with   tensorboard --logdir {r['run_dir']}",
    ])
