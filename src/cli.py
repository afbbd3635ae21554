"""What train.py checks before Hydra starts a run or a sweep.

Hydra reports a typo in a dozen lines and exits 1.  Here every job's config is composed up front
with Hydra's own parser and sweeper, so a bad value is one line naming the key, the value and what
is allowed, with exit code 2, before any framework is imported or any job has run.  It also turns
`resume=<run dir>` into that run's saved overrides plus the new ones, continuing in its directory.
"""
from __future__ import annotations

import dataclasses
import os
import re
import sys

from src.errors import ConfigError

# Options that ask Hydra for information instead of a run: left to Hydra as they are.
_INFO_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion", "resolve", "package")


def preflight(argv: list[str]) -> list[str]:
    """Returns the argv Hydra should run (changed only for resume=); raises ConfigError."""
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(argv[1:])
    if any(getattr(args, flag, None) for flag in _INFO_FLAGS):
        return argv
    overrides = list(args.overrides)
    resume = _resume_dir(overrides)
    if resume is not None:
        if args.multirun:
            raise ConfigError(f"resume={resume} continues one run: drop -m/--multirun.")
        overrides = _resume_overrides(resume, overrides)
        argv = [argv[0], *overrides]
    jobs = _jobs(overrides, args.multirun)
    for job in jobs:
        _check_job(job, multirun=args.multirun or len(jobs) > 1)
    return argv


def _resume_dir(overrides: list[str]) -> str | None:
    values = [o.split("=", 1)[1] for o in overrides if o.startswith("resume=")]
    return values[-1] if values and values[-1] not in ("", "null") else None


def _resume_overrides(run_dir: str, overrides: list[str]) -> list[str]:
    """The run's saved overrides, then today's (they win), then its own directory as the run dir."""
    from omegaconf import OmegaConf

    from src import checkpoint

    saved = os.path.join(run_dir, ".hydra", "overrides.yaml")
    if not os.path.isfile(saved):
        raise ConfigError(f"resume={run_dir}: no run there (no .hydra/overrides.yaml): "
                          "give the directory of a graphduel run, as its summary printed it.")
    checkpoint.load(run_dir, expected=None)  # a missing or damaged checkpoint is refused now
    old = [o for o in OmegaConf.to_container(OmegaConf.load(saved))
           if not o.startswith(("resume=", "hydra.run.dir="))]
    return [*old, *overrides, f"hydra.run.dir={os.path.abspath(run_dir)}"]


def _jobs(overrides: list[str], multirun: bool) -> list[list[str]]:
    """Every job's overrides, as Hydra's basic sweeper would expand them."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for o in overrides:  # one at a time, to name the one Hydra's grammar refuses
        try:
            parser.parse_overrides([o])
        except Exception as e:
            raise ConfigError(f"{o} is not a valid override: {_first_line(e)}.") from None
    parsed = parser.parse_overrides(overrides)
    preset = _preset_sweep([p.input_line for p in parsed if not p.is_sweep_override()])
    if not multirun and not preset:
        return [overrides]  # one job; a sweep value without -m gets Hydra's own advice when composed
    parsed = parser.parse_overrides([*preset, *overrides])
    batches = BasicSweeper.split_arguments(parsed, max_batch_size=None)
    return [job for batch in batches for job in batch]


def _preset_sweep(overrides: list[str]) -> list[str]:
    """A preset (experiment=...) may make the run a sweep itself, through hydra.sweeper.params."""
    cfg = _compose(overrides, hydra=True)
    if str(cfg.hydra.mode) != "RunMode.MULTIRUN":
        return []
    params = cfg.hydra.sweeper.get("params") or {}
    given = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    return [f"{k}={v}" for k, v in params.items() if k not in given]


def _check_job(overrides: list[str], multirun: bool) -> None:
    from src import runtimes
    from src.config import validate

    cfg = _compose(overrides, hydra=False)
    validate(cfg)
    runtimes.check(cfg)
    t = cfg.trainer
    if multirun and (t.devices > 1 or "ddp" in str(t.strategy)):
        raise ConfigError(f"trainer.strategy={t.strategy} trainer.devices={t.devices} cannot run inside a sweep "
                          "(-m): Lightning's DDP starts its processes by re-running the command, which would "
                          "restart the whole sweep. Run each DDP job on its own, without -m.")


def _compose(overrides: list[str], hydra: bool):
    from hydra import compose, initialize_config_dir

    from src.config import CONF_DIR, register_configs

    register_configs()
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=hydra)
    except Exception as e:
        raise ConfigError(explain(e)) from None


def explain(e: BaseException) -> str:
    """One line for a Hydra or OmegaConf composition error: the key, the value, what is allowed."""
    msg, cause = str(e), e.__cause__
    if m := re.search(r"Could not find '([^']+)/([^'/]+)'", msg):
        group, option = m.groups()
        options = re.findall(r"^\t(\S+)$", msg, re.M)
        allowed = f"use one of {', '.join(options)}" if options else "see python train.py --help"
        return f"{group}={option} is not known: {allowed}."
    if m := re.search(r"Could not override '([^']+)'", msg):
        key = m.group(1)
        known = _schema_fields(str(cause or ""))
        allowed = f": use one of {', '.join(known)}" if known else ""
        return f"{key} is not a known key{allowed}."
    if msg.startswith("Ambiguous value for argument"):
        return f"{_first_line(e)}: to sweep over the values, add -m (--multirun)."
    if m := re.search(r"Error merging override (\S+)", msg):
        return f"{m.group(1)} is not allowed: {_first_line(cause or e)}."
    return _first_line(e) + (f": {_first_line(cause)}" if cause else "")


def _schema_fields(cause: str) -> list[str]:
    from src import config

    m = re.search(r"not in '(\w+)'", cause)
    schema = getattr(config, m.group(1), None) if m else None
    return sorted(f.name for f in dataclasses.fields(schema)) if dataclasses.is_dataclass(schema) else []


def _first_line(e: BaseException) -> str:
    return next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)


def main_guard(argv: list[str]) -> list[str]:
    """preflight() for train.py: on a bad value, one line on stderr and exit 2."""
    try:
        return preflight(argv)
    except ConfigError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
