"""Hydra callback: when a multirun ends, summarise it (src/summary.py) and fail if a job failed."""
import sys

from hydra.experimental.callback import Callback


class SweepSummary(Callback):
    def on_multirun_end(self, config, **kwargs) -> None:
        from src.summary import report

        code = report(config.hydra.sweep.dir)
        if code:
            sys.exit(code)  # SystemExit passes through Hydra: the sweep's exit code says a job failed
