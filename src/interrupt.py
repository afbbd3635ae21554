"""Ctrl-C and SIGTERM stop a run between two steps, never inside one.

The first signal only sets a flag: the step in flight finishes (weights and momentum stay
consistent), then the run checkpoints, flushes its logs and exits 130 (SIGINT) or 143 (SIGTERM).
A second Ctrl-C stops at once."""
from __future__ import annotations

import signal
import threading

from src.errors import GraphduelError


class Interrupted(GraphduelError):
    def __init__(self, signum: int, step: int):
        self.signum, self.step = signum, step
        self.exit_code = 128 + signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM
        super().__init__(f"interrupted by {signal.Signals(signum).name} after step {step}")


class GracefulStop:
    """Installs the handlers while active (main thread only; elsewhere it does nothing)."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the user means it
        self.signum = signum

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
