"""What a sweep varies, and what a sweep keeps beside its jobs: their names, which settings tell its runs
apart in TensorBoard's HParams, how a sweep stops on Ctrl-C and how it is continued.

A sweep job's directory (and so its TensorBoard run) is `<num>_<model>_<runtime>`, followed by
`<key>-<value>` for the other values the sweep varies: `-m model.optimizer.lr=1e-6,10` gives
`0_two_layer_lightning_lr-1e-06` and `1_two_layer_lightning_lr-10`.  Numbers are zero-padded to the sweep's
width (`00` .. `10` for 11 jobs) so that `ls` and TensorBoard list jobs in order, and every character
outside `A-Za-z0-9._+-` becomes `-`: a job's path pastes into bash and into a Hydra override (`resume=`)
without quoting.  graphduel's sweeper names jobs so when the user names nothing (hydra.sweep.subdir left
at conf/config.yaml's value); a subdir the user gives is used as it is.

Beside its jobs a sweep directory holds `.graphduel/`: `experiment.json` (every hparam of every job, so
that each run describes the same HParams experiment) and, while a stopped sweep winds down, `stopped`
(the signal: jobs that have not started yet do not start).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
from pathlib import Path

from src.overrides import by_key

IDENTITY = ("model", "runtime")  # always in a job's name
STATE_DIR = ".graphduel"
FINISHED = ("completed", "diverged", "failed")  # a job in one of these states is kept when a sweep continues


def varying(jobs: list[list[str]]) -> list[str]:
    """The keys whose value differs between the jobs' overrides, in the order they first appear."""
    given = [by_key(job) for job in jobs]
    keys = list(dict.fromkeys(k for job in given for k in job))
    return [k for k in keys if len({job.get(k) for job in given}) > 1 and not k.startswith("hydra.")]


def safe(text: str) -> str:
    """`text` with every character a shell or a Hydra override would need quoted mapped to `-`."""
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text)


def job_name(num: int, jobs: int, model: str, runtime: str, overrides: list[str], keys: list[str]) -> str:
    """`<num>_<model>_<runtime>` and `<key>-<value>` for each other varied key, `num` zero-padded to the
    width of the sweep's last job number: short, and safe unquoted in bash and in Hydra overrides."""
    given = by_key(overrides)
    others = [k for k in keys if k not in IDENTITY]
    short = {k: k.rsplit(".", 1)[-1] for k in others}
    clash = {s for s in short.values() if list(short.values()).count(s) > 1}
    parts = [f"{num:0{len(str(max(jobs - 1, 0)))}d}", model, runtime]
    parts += [f"{k if short[k] in clash else short[k]}-{given.get(k, 'default')}" for k in others]
    return safe("_".join(parts))[:120]


def quoted(value: str) -> str:
    """`value` as a Hydra override's quoted string."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- what a sweep varied, for HParams --------------------------------------------------------------
def swept_keys() -> set[str]:
    """In a sweep's job: the keys the sweep varies (from the sweep's multirun.yaml); else nothing."""
    sweep_dir = _sweep_dir()
    if sweep_dir is None:
        return set()
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    try:
        sweep = OmegaConf.load(os.path.join(sweep_dir, "multirun.yaml")).hydra
        given = [*(f"{k}={v}" for k, v in (sweep.sweeper.get("params") or {}).items()),
                 *OmegaConf.to_container(sweep.overrides.task)]
        parsed = OverridesParser.create().parse_overrides(given)
    except Exception:  # no such file (another sweeper), or one we cannot read: nothing is known to vary
        return set()
    return {p.key_or_group for p in parsed if p.is_sweep_override()}


def differing_hparams(keys: set[str]) -> set[str]:
    """The HParams names that tell a sweep's runs apart: always model, runtime, framework and graph, and
    the ones the sweep varied (a different model has a different learning rate)."""
    out = {"model", "runtime", "framework", "graph"}
    for key in keys:
        if key == "model":
            out.add("lr")
        elif key != "runtime":
            out.add(key.rsplit(".", 1)[-1])
    return out


def _sweep_dir() -> str | None:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized() or str(HydraConfig.get().mode) != "RunMode.MULTIRUN":
        return None
    return str(HydraConfig.get().sweep.dir)


def write_experiment(sweep_dir: str, jobs_hparams: list[dict], differs: set[str]) -> None:
    """The sweep's HParams experiment: every hparam any job has (the first value seen gives its type)."""
    names: dict = {}
    for values in jobs_hparams:
        for k, v in values.items():
            names.setdefault(k, v)
    _write_json(Path(sweep_dir) / STATE_DIR / "experiment.json",
                {"hparams": names, "differs": sorted(differs)})


def experiment(values: dict) -> tuple[dict, set[str]]:
    """What a run tells HParams its experiment is: (an example value of every hparam, the differing ones).
    In a sweep, the whole sweep's (the sweeper wrote it), with this run's own values; else the run's own."""
    sweep_dir = _sweep_dir()
    if sweep_dir is not None:
        try:
            sweep = json.loads((Path(sweep_dir) / STATE_DIR / "experiment.json").read_text())
            return {**sweep["hparams"], **values}, set(sweep["differs"])
        except (OSError, ValueError, KeyError):  # another sweeper, or an older sweep: what the job knows
            pass
    return values, differing_hparams(swept_keys())


# -- stopping a sweep, and continuing it ---------------------------------------------------------------
def _stop_file(sweep_dir) -> Path:
    return Path(sweep_dir) / STATE_DIR / "stopped"


def stop_sweep(sweep_dir, signum: int) -> None:
    """No job of this sweep starts from now on (the jobs running stop after their step: they got the signal)."""
    path = _stop_file(sweep_dir)
    if not path.exists():
        _write_json(path, {"signal": signum})


def stopped(sweep_dir) -> int | None:
    """The signal that stopped the sweep, if it was stopped."""
    try:
        return int(json.loads(_stop_file(sweep_dir).read_text())["signal"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def clear_stop(sweep_dir) -> None:
    _stop_file(sweep_dir).unlink(missing_ok=True)


class SweepStop:
    """In the sweeper's process, while a sweep runs: the first SIGINT or SIGTERM stops the sweep (running
    jobs stop after their current step, as a run does; no new job starts); a second Ctrl-C stops now.
    While the default launcher runs a job here, the job's own handler (src/interrupt.py) takes the signal
    and the job stops the sweep when it stops."""

    def __init__(self, sweep_dir):
        self.sweep_dir = sweep_dir
        self._previous: dict = {}

    @property
    def signum(self) -> int | None:
        return stopped(self.sweep_dir)

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        stop_sweep(self.sweep_dir, signum)
        print(f"graphduel: {signal.Signals(signum).name}: stopping the sweep: running jobs stop after their "
              "current step and save a checkpoint, no other job starts (Ctrl-C again stops now)",
              file=sys.stderr, flush=True)

    def __enter__(self) -> SweepStop:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()


def job_state(job_dir) -> tuple[str, dict | None]:
    """('finished' | 'resume' | 'start', its result.json): how a continued sweep treats this job's directory.
    Finished jobs (completed, diverged, failed, refused) are kept; a job that stopped with a checkpoint
    resumes from it; one that never started, or stopped before its first checkpoint, starts again."""
    from src import checkpoint

    try:
        result = json.loads((Path(job_dir) / "result.json").read_text())
    except (OSError, ValueError):
        result = None
    if result is not None and result.get("status") in FINISHED:
        return "finished", result
    if (Path(job_dir) / checkpoint.FILE).exists():
        return "resume", result
    return "start", result


def clear_for_restart(job_dir) -> None:
    """A job that stopped before its first checkpoint starts again: its partial logs go (every step in them
    will be trained and logged again), so that TensorBoard holds each step once."""
    d = Path(job_dir)
    if not d.is_dir():
        return
    for p in d.iterdir():
        if p.name.startswith("events.out.tfevents.") or p.name in ("result.json", "result.json.tmp"):
            p.unlink()


def continue_command(argv: list[str], sweep_dir) -> str:
    """The command that continues this sweep: the same command line, with resume=<the sweep's directory>,
    as bash reads it back word for word (src/shell.py) and Hydra reads the directory back exactly."""
    from src.shell import command, override_word

    args = [a for a in argv[1:] if not a.startswith("resume=")]
    script = argv[0] if argv and argv[0].endswith(".py") else "train.py"
    return f"{command('python', script, *args)} {override_word('resume', str(Path(sweep_dir).resolve()))}"


def _write_json(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)


def not_started(job_dir) -> None:
    """A job of a stopped sweep does not start: the directory Hydra made for it goes again, if empty."""
    with contextlib.suppress(OSError):  # not empty (it holds a run), or gone
        os.rmdir(job_dir)
