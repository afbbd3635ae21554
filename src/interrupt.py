"""Ctrl-C and SIGTERM stop a run between two steps, never inside one.

The first signal sets a flag and says so at once, in one line: the step (or graph build, or framework
import) in flight finishes, so weights and momentum stay consistent, then the run checkpoints, flushes its
logs and exits 130 (SIGINT) or 143 (SIGTERM).  A second Ctrl-C stops at once."""
from __future__ import annotations

import os
import signal
import sys
import threading

from src.errors import GraphduelError


class Interrupted(GraphduelError):
    def __init__(self, signum: int, step: int):
        self.signum, self.step = signum, step
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
        self.signal_name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        super().__init__(f"interrupted by {signal.Signals(signum).name} after step {step}")


# Set when a second Ctrl-C stopped a run at once (train.py then says so, instead of a traceback).
stopped_now = False


class GracefulStop:
    """Installs the handlers while active (main thread only; elsewhere it does nothing)."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            global stopped_now
            stopped_now = True
            raise KeyboardInterrupt  # a second Ctrl-C: the user means it
        self.signum = signum
        acknowledge(signum)

    def __enter__(self) -> "GracefulStop":
        from src.requeue import preemption_signal  # a cluster job's warning of its end, too

        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM, *filter(None, [preemption_signal()])):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


def acknowledge(signum: int) -> None:
    """The one line a first signal gets at once: a framework import or a torch.compile build can take tens of
    seconds before the step in flight ends, and silence would read as a hang."""
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    again = "; Ctrl-C again stops now" if signum == signal.SIGINT else ""
    line = f"graphduel: {name}: stopping after the current step or build{again}.\n"
    tqdm = sys.modules.get("tqdm")
    bar_open = bool(tqdm and getattr(getattr(tqdm, "tqdm", None), "_instances", None))
    try:
        # os.write: safe wherever the handler runs (inside a print, a progress bar's write); a new line first
        # where a progress bar holds the current one.
        os.write(sys.stderr.fileno(), (("\n" if bar_open else "") + line).encode())
    except (OSError, ValueError, AttributeError):  # no usable stderr: stopping matters more than saying it
        pass
