"""Looking inside a step, and a step that breaks, measured: what a user sees (debug.probe, debug.fault).

The probe and the fault are written in the model files, at their hidden layer, the way a user of each
framework writes them (src/frameworks/<framework>.py `hidden`).  This module, framework-free, measures
what came of them, for every runtime alike, and records it in result.json (docs/debugging.md):

- a probe's output is counted where the user sees it, on the process's stdout: file descriptor 1 is
  passed through a pipe (a tee: every byte still reaches the terminal at once), so that Python's print,
  tf.print (written by TensorFlow's C++) and jax.debug.print (a host callback) are counted alike, each
  line `probe: ...` once, by the step it fell in; whether it showed numbers or a symbolic tensor (a
  TensorFlow graph tensor, a JAX tracer) is read from the line itself.  A breakpoint's stops are counted
  by Python's own hook for it (sys.breakpointhook), which then starts pdb in the frame that called
  breakpoint(), as the default hook does; what pdb printed is read from the same stdout.
- a run that failed gets where it surfaced (the setup's build, trace or compile, or step k), its error's
  first line, whether its traceback (or the error's text: TensorFlow puts the op's creation stack
  there) names the model's file and line, its frames by whose they are, and the seconds from start.

Nothing here runs for a run with neither (debug.probe=none, debug.fault=none): it is not entered.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import sys
import termios
import threading
import time
import traceback

PREFIX = "probe: "
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(ROOT, "src", "models") + os.sep
SYMBOLIC = re.compile(r"Traced<|Tensor\(\"|<tf.Tensor '|SymbolicTensor|FakeTensor|Proxy\(|SymFloat|Tracer")
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|nan|inf")
SAMPLE = 160  # characters kept of a line shown


def used(cfg) -> bool:
    d = cfg.get("debug")
    return d is not None and (d.probe != "none" or d.fault != "none")


def record(recorder, key: str, value) -> None:
    """A per-run value for result.json (and the sweep summary)."""
    if hasattr(recorder, "record"):
        recorder.record(key, value)
    else:  # until the recorder has its own per-run channel: result.json is made from recorder.info
        recorder.info[key] = value


class Tap:
    """File descriptor 1 through a pipe while a probe runs: a thread forwards every byte to where fd 1 went
    before (the terminal, a file, a test's capture) as it comes, and reads the lines as they pass."""

    def __init__(self):
        self.lines: list[str] = []  # every complete line that passed
        self._partial = ""
        self._busy = False

    def start(self) -> None:
        sys.stdout.flush()
        self._saved_stdout = sys.stdout
        self._out = os.dup(1)  # where the bytes go on to
        self._r, w = os.pipe()
        os.dup2(w, 1)
        os.close(w)
        # Python's prints go to fd 1 too (under a test's capture, sys.stdout is not fd 1): line-buffered, as on
        # a terminal, so that each line reaches the pipe when it is printed.
        sys.stdout = open(os.dup(1), "w", buffering=1, encoding="utf-8", errors="replace")  # noqa: SIM115  (closed by stop)
        self._thread = threading.Thread(target=self._pump, name="graphduel-probe-tap", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while True:
            chunk = os.read(self._r, 65536)
            if not chunk:
                return
            self._busy = True
            os.write(self._out, chunk)
            text = self._partial + chunk.decode("utf-8", errors="replace")
            *done, self._partial = text.split("\n")
            self.lines.extend(done)
            self._busy = False

    def sync(self) -> None:
        """Waits (at most 0.1 s) until what has been written to fd 1 so far has passed through."""
        sys.stdout.flush()
        deadline = time.perf_counter() + 0.1
        buf = bytearray(4)
        idle = 0
        while time.perf_counter() < deadline:
            fcntl.ioctl(self._r, termios.FIONREAD, buf)
            # Idle twice, 1 ms apart: a chunk the pump has read but not yet counted (between its read and
            # `_busy`, waiting for the GIL) shows as an empty pipe once, not after the pump has had its turn.
            idle = idle + 1 if int.from_bytes(buf, sys.byteorder) == 0 and not self._busy else 0
            if idle == 2:
                return
            time.sleep(0.001 if idle else 0.0002)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        with contextlib.suppress(Exception):
            sys.stdout.close()
        sys.stdout = self._saved_stdout
        os.dup2(self._out, 1)  # the last write end of the pipe closed: the thread reads its end
        self._thread.join(timeout=5)
        if self._partial:
            self.lines.append(self._partial)
        os.close(self._out)
        os.close(self._r)


def shown(line: str) -> tuple[str, list[float]]:
    """('symbolic', []) for a line showing a graph tensor or a tracer, else ('numbers', its mean and norm)."""
    if "primal=" in line and not re.search(r"primal=[A-Za-z]", line):  # JAX's eager grad: a tracer holding its value
        return "numbers in a tracer", [float(v) for v in re.findall(r"primal=(" + NUMBER.pattern + ")", line)][:2]
    if SYMBOLIC.search(line):
        return "symbolic", []
    values = []
    for part in re.split(r"\bnorm\b", line.split("mean", 1)[-1])[:2]:
        m = NUMBER.search(part.replace("Traced", ""))
        if m:
            values.append(float(m.group()))
    return ("numbers", values) if values else ("text", [])


@contextlib.contextmanager
def session(cfg, recorder):
    """Around a run's fit, for a run with a probe: counts what it showed, step by step, into result.json
    (and TensorBoard's debug/probe_lines, once the recorder has a per-step channel)."""
    probe = cfg.debug.probe
    if probe == "none":
        yield
        return
    tap, stops, per_step = Tap(), [], []
    said: list[str] = []  # what pdb printed (its answers to `p`, its errors, where it stopped), as it said it
    seen = {"lines": 0, "setup": 0}

    def probe_lines() -> list[str]:
        return [line for line in tap.lines if line.startswith(PREFIX)]

    original_step, original_loop_start = recorder.step, recorder.loop_start

    def count() -> int:
        return len(probe_lines()) if probe != "breakpoint" else len(stops)

    def loop_start(*args, **kwargs):  # what the setup showed (a trace, a graph build) is its own
        tap.sync()
        seen["lines"] = seen["setup"] = count()
        seen["said_setup"] = seen["said_loop"] = len(said)
        return original_loop_start(*args, **kwargs)

    def step(loss, compute_ms):  # each step's probe lines, counted when the step is recorded
        tap.sync()
        n = count()
        per_step.append(n - seen["lines"])
        seen["lines"], seen["said_loop"] = n, len(said)
        if hasattr(recorder, "scalar"):
            recorder.scalar("debug/probe_lines", per_step[-1])
        return original_step(loss, compute_ms)

    def breakpointhook(*args, **kwargs):
        import pdb

        class Pdb(pdb.Pdb):  # pdb as it is, its every message also kept
            def message(self, msg):
                said.extend(str(msg).splitlines()[:1])
                super().message(msg)

            def error(self, msg):
                said.append(f"*** {msg}")
                super().error(msg)

        stops.append(time.perf_counter())
        debugger = Pdb()  # stdin and stdout: the process's, as the default hook's
        if cfg.debug.pdb_commands:
            debugger.rcLines.extend(c.strip() for c in cfg.debug.pdb_commands.split(";;"))
        debugger.set_trace(sys._getframe(1))

    recorder.step, recorder.loop_start = step, loop_start
    hook = sys.breakpointhook
    if probe == "breakpoint":
        sys.breakpointhook = breakpointhook
    tap.start()
    try:
        yield
    finally:
        jax = sys.modules.get("jax")
        if jax is not None and hasattr(jax, "effects_barrier"):  # jax.debug.print's callbacks all run
            with contextlib.suppress(Exception):
                jax.effects_barrier()
        tap.stop()
        sys.breakpointhook = hook
        recorder.__dict__.pop("step", None)
        recorder.__dict__.pop("loop_start", None)
        lines = probe_lines()
        in_loop = lines[seen["setup"]:seen["setup"] + sum(per_step)]
        kinds = [shown(line) for line in (in_loop or lines)]  # what the steps showed; else the setup's
        record(recorder, "probe", probe)
        record(recorder, "probe_lines", len(lines))
        record(recorder, "probe_steps", sum(1 for n in per_step if n))  # steps on which it fired
        # Lines outside any step: the setup's (a trace, a graph build), or after the loop (tf_eager traces its
        # step once more at the end, for the Graphs tab).
        record(recorder, "probe_at_setup", seen["setup"])
        record(recorder, "probe_after_loop", count() - seen["setup"] - sum(per_step))
        if probe == "breakpoint":
            record(recorder, "probe_stops", len(stops))
            in_steps = said[seen.get("said_setup", 0):seen.get("said_loop", 0)]  # what pdb said during the steps
            pdb_out = [line for line in in_steps or said
                       if line.strip() and not line.startswith(("--Return--", "--Call--", "> ", "-> "))]
            where = [line for line in in_steps or said if line.startswith("> ")]
            record(recorder, "pdb_shows", pdb_out[0][:SAMPLE] if pdb_out else None)
            record(recorder, "pdb_stopped_in", _relative(where[0][2:]) if where else None)
            kinds = [shown(line) for line in pdb_out]
        record(recorder, "probe_shows", "+".join(sorted({k for k, _ in kinds})) or "nothing")
        record(recorder, "probe_sample", (in_loop or lines or [None])[0] and (in_loop or lines)[0][:SAMPLE])
        record(recorder, "probe_values", [v for _, v in kinds if v][:5])  # the first steps' (mean, norm)


# -- a run that failed -------------------------------------------------------------------------------------
def _relative(path: str) -> str:
    return path.replace(ROOT + os.sep, "")


USER_HELPERS = ("hidden", "stop_here")  # src/frameworks/<framework>.py: the probe and fault lines models call


def whose(frame) -> str:
    """'model' (src/models/, and the probe and fault lines the model files call: the code a user writes),
    'graphduel' (the rest of the project), or 'framework' (everything else: the frameworks, Python's own)."""
    path = os.path.abspath(frame.filename)
    if path.startswith(MODELS_DIR) or (path.startswith(os.path.join(ROOT, "src", "frameworks") + os.sep)
                                       and frame.name in USER_HELPERS):
        return "model"
    if path.startswith(ROOT + os.sep) and "site-packages" not in path:
        return "graphduel"
    return "framework"


class Phase:
    """Where a run is: what its recorder was last told (building, tracing, compiling), before its loop."""

    def __init__(self, recorder):
        self.text, self.recorder = "setup", recorder
        original = recorder.status

        def status(text: str) -> None:
            self.text = text
            original(text)

        recorder.status = status

    def now(self, frames) -> str:
        r = self.recorder
        if r._t_last is None:  # before the loop: the setup, by what it was doing
            t = self.text.lower()
            return "trace" if "trac" in t else "compile" if "compil" in t else "build" if "build" in t else "setup"
        where = f"step {r.step_no + 1}"
        if any("torch/_dynamo" in f.filename or "torch/_inductor" in f.filename for f in frames):
            where += " (compiling)"  # torch.compile compiles lazily, inside the step that first needs it
        return where


def failure(cfg, recorder, phase: Phase | None, error: BaseException) -> None:
    """What a user sees of a run that failed under a probe or a fault, into result.json."""
    from src.recorder import Diverged

    frames = traceback.extract_tb(error.__traceback__)
    text = str(error)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    counts = {"model": 0, "graphduel": 0, "framework": 0}
    for f in frames:
        counts[whose(f)] += 1
    model_dir = os.path.join(MODELS_DIR, cfg.model.name) + os.sep
    at = [f"{_relative(f.filename)}:{f.lineno}" for f in frames if os.path.abspath(f.filename).startswith(model_dir)]
    if not at:  # TensorFlow's graph errors name where the op was made in their text
        m = re.search(re.escape(model_dir) + r"[^\"\s:]+\.py\"?, line (\d+)|" + re.escape(model_dir) +
                      r"[^\"\s:]+\.py:(\d+)", text)
        if m:
            at = [_relative(m.group(0).replace('", line ', ":"))]
    where = "step " + str(error.step) if isinstance(error, Diverged) else phase.now(frames) if phase else "setup"
    record(recorder, "error_phase", where)
    record(recorder, "error_type", type(error).__name__)
    record(recorder, "error_first_line", f"{type(error).__name__}: {first}"[:SAMPLE])
    record(recorder, "error_names_model", at[0] if at else None)
    record(recorder, "error_frames", counts)
    # From the end of the framework's import (a sweep's later jobs import nothing): the setup, then the steps.
    record(recorder, "error_s", round(time.perf_counter() - recorder._t_start, 3))
