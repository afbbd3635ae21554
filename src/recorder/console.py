"""What a run says on the console: the progress bar, a status word while a slow part runs, warnings, and
the summary it ends with.  Everything goes to stderr except the summary (run.py prints it)."""
from __future__ import annotations

import shlex
import sys

from src import contention, flops


class Console:
    def __init__(self, enabled: bool, progress_bar: bool):
        self.enabled, self.progress_bar = enabled, progress_bar
        self._bar = None

    def status(self, text: str) -> None:
        """On the progress bar once there is one, else a line of its own; silent without a progress bar."""
        if not self.enabled or not self.progress_bar:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=True)
        else:
            print(f"graphduel: {text}", file=sys.stderr, flush=True)

    def warn(self, text: str) -> None:
        if self.enabled:
            print(f"graphduel: warning: {text}", file=sys.stderr, flush=True)

    def open_bar(self, desc: str, total: int, initial: int) -> None:
        if not self.enabled or not self.progress_bar or self._bar is not None:
            return
        from tqdm import tqdm

        self._bar = tqdm(total=total, initial=initial, desc=desc, unit="step", mininterval=0.25, file=sys.stderr,
                         dynamic_ncols=True)

    def step(self, step_no: int, loss: float) -> None:
        if self._bar is not None:
            if step_no % 50 == 0:
                self._bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)
            self._bar.update()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


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
        *([f"  per call    {r['steps_per_call']} steps in one graph call: a step's time is the call's over "
           f"{r['steps_per_call']}"] if (r.get("steps_per_call") or 1) > 1 else []),
        f"  graphs      {graphs}",
        f"  start       {fmt(r['setup_s'], '.2f')} s setup to the first step, "
        f"after {fmt(r['import_s'], '.2f')} s importing the framework",
        *filter(None, [flops.summary_line(r)]),
        # The runtime's own per-step values (Recorder.scalar), over the steady steps.
        *[f"  {tag:<11} {fmt(v['median'], '.4g')} median, {fmt(v['worst'], '.4g')} worst"
          for tag, v in (r.get("summary") or {}).items()],
        *filter(None, [contention.summary_line(r)]),  # a timing the machine disturbed says so
        *[f"  warning     {w}" for w in r.get("warnings") or []],
        f"  logs        {r['run_dir']}",
        f"  view with   tensorboard --logdir {shlex.quote(r['run_dir'])}",  # pastes into bash, whatever the path
    ]
    return "\n".join(lines)
