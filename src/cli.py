"""What train.py checks before Hydra starts a run, so that a bad value is one line naming the key, the
value and what is allowed, with exit code 2, before any framework is imported and before anything is
written: Hydra itself would print a dozen lines and exit 1, after making the run's directory.

- A single run is composed here with Hydra's compose API and checked; its directory is resolved here and
  handed to Hydra (hydra.run.dir), so that if the run is refused later (say trainer.accelerator=gpu on a
  machine without one, which only the framework can tell), the directories made for it can be removed.
- A sweep (-m, or an experiment preset) is checked job by job by graphduel's sweeper
  (hydra_plugins/graphduel_sweeper), with Hydra's own expansion of the sweep.
- `resume=<run dir>` becomes that run's saved overrides, merged with the new ones (the new win), and its
  own directory; its checkpoint is checked against the config here, so a refused resume never touches it.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
import sys
from pathlib import Path

from src.errors import ConfigError

# Options that ask Hydra for information instead of a run: left to Hydra as they are.
_INFO_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion", "resolve", "package")

# The directories made for a single run (its run dir and any parent that did not exist): removed again if
# the run is refused before it starts (see remove_refused_run_dirs).
new_dirs: list[str] = []


def preflight(argv: list[str]) -> list[str]:
    """Returns the argv Hydra should run; raises ConfigError."""
    from src.hydra_private import args_parser

    args = args_parser().parse_args(argv[1:])
    if args.help:
        print(help_text())
        sys.exit(0)
    if any(getattr(args, flag, None) for flag in _INFO_FLAGS):
        return argv
    overrides = list(args.overrides)
    resume = _resume_dir(overrides)
    if resume is not None:
        if args.multirun:
            raise ConfigError(f"resume={resume} continues one run: drop -m/--multirun.")
        overrides = _resume_overrides(resume, overrides)
        argv = [argv[0], *overrides]
    # Composed as Hydra composes a sweep's primary config (and as it finds the mode, Hydra.get_mode):
    # without its sweep values, whose every job graphduel's sweeper checks before any runs
    # (hydra_plugins/graphduel_sweeper).  A preset that sweeps (experiment=...) is a sweep without -m,
    # and more values may be swept beside it: `experiment=static_vs_dynamic seed=0,1,2`.
    fixed = _without_sweeps(overrides)
    cfg = _compose(fixed, hydra=True)
    if args.multirun or (str(cfg.hydra.mode) == "RunMode.MULTIRUN" and not args.run):
        return argv  # a sweep (-m), or a preset that sweeps (experiment=...)
    if fixed != overrides:
        cfg = _compose(overrides, hydra=True)  # a sweep value in a single run: Hydra's refusal, in a line
    task = _task(cfg)
    check_job(task, multirun=False)
    if resume is not None:
        from src.problem import make_problem
        from src.run import resumed

        resumed(make_problem(task), task)  # refuses a checkpoint of another model, other sizes, no steps left
        return argv
    run_dir = str(cfg.hydra.run.dir)  # resolved now, ${now:...} and all: Hydra gets this very path
    new_dirs[:] = _missing_dirs(run_dir)
    if not any(o.startswith("hydra.run.dir=") for o in overrides):
        argv = [*argv, f"hydra.run.dir={run_dir}"]
    return argv


def _without_sweeps(overrides: list[str]) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    kept = []
    for o in overrides:
        try:
            parsed = parser.parse_overrides([o])[0]
        except Exception as e:
            raise ConfigError(f"{o} is not a valid override: {_first_line(e)}.") from None
        if not parsed.is_sweep_override():
            kept.append(o)
        elif parsed.key_or_group.startswith("hydra."):
            raise ConfigError(f"{o}: Hydra cannot sweep over its own settings (hydra.*): give one value, "
                              "and run one sweep per value.")
    return kept


def check_job(cfg, multirun: bool) -> None:
    """graphduel's checks of one job's composed config (with or without its hydra node)."""
    from src.config import validate

    validate(_task(cfg))
    t = cfg.trainer
    if multirun and (t.devices > 1 or "ddp" in str(t.strategy)):
        raise ConfigError(f"trainer.strategy={t.strategy} trainer.devices={t.devices} cannot run inside a sweep "
                          "(-m): Lightning's DDP starts its processes by re-running the command, which would "
                          "restart the whole sweep. Run each DDP job on its own, without -m.")


def _task(cfg):
    """The job's config without Hydra's own node, as the task function sees it."""
    if "hydra" not in cfg:
        return cfg
    from omegaconf import open_dict, read_write

    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def _missing_dirs(path: str) -> list[str]:
    """`path` and its ancestors that do not exist yet, deepest first."""
    out, p = [], Path(path).absolute()
    while not p.exists() and p != p.parent:
        out.append(str(p))
        p = p.parent
    return out


def remove_refused_run_dirs() -> None:
    """After a single run was refused before it started: remove the directories made for it, if empty."""
    for d in new_dirs:
        try:
            os.rmdir(d)
        except OSError:  # not empty (something else wrote there), or gone: leave it
            break


# -- resume -------------------------------------------------------------------------------------
def _resume_dir(overrides: list[str]) -> str | None:
    values = [o.split("=", 1)[1] for o in overrides if o.startswith("resume=")]
    return values[-1] if values and values[-1] not in ("", "null") else None


def _resume_overrides(run_dir: str, overrides: list[str]) -> list[str]:
    """The run's saved overrides merged with today's (they win), continuing in its own directory."""
    from omegaconf import OmegaConf

    from src import checkpoint

    saved = os.path.join(run_dir, ".hydra", "overrides.yaml")
    if not os.path.isfile(saved):
        jobs = sorted(str(p.parent.parent) for p in Path(run_dir).glob("*/.hydra/overrides.yaml"))
        if jobs:
            shown = ", ".join(jobs[:4]) + (f" (and {len(jobs) - 4} more)" if len(jobs) > 4 else "")
            raise ConfigError(f"resume={run_dir} is a sweep's directory: resume one of its {len(jobs)} jobs, "
                              f"e.g. {shown}.")
        raise ConfigError(f"resume={run_dir}: no run there (no .hydra/overrides.yaml): "
                          "give the directory of a graphduel run, as its summary printed it.")
    checkpoint.load(run_dir)  # a missing or damaged checkpoint is refused now
    old = [o for o in OmegaConf.to_container(OmegaConf.load(saved))
           if not o.startswith(("resume=", "hydra.run.dir="))]
    new = [o for o in overrides if not o.startswith("resume=")]
    run_dir = os.path.abspath(run_dir)
    return [*_merge(old, new), f"resume={run_dir}", f"hydra.run.dir={run_dir}"]


def _merge(old: list[str], new: list[str]) -> list[str]:
    """Overrides by key, in order, a later one replacing an earlier one of the same key: resuming again
    and again never grows the list."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    merged: dict[str, str] = {}
    for o in [*old, *new]:
        try:
            p = parser.parse_overrides([o])[0]
            key = p.key_or_group + (f"@{p.package}" if p.package else "")
        except Exception as e:
            raise ConfigError(f"{o} is not a valid override: {_first_line(e)}.") from None
        merged.pop(key, None)  # a replaced key moves to where it was given last
        merged[key] = o
    return list(merged.values())


# -- composing, and explaining what Hydra refused --------------------------------------------------
def _compose(overrides: list[str], hydra: bool):
    from hydra import compose, initialize_config_dir

    from src.config import CONF_DIR, register_configs

    register_configs()
    try:
        with initialize_config_dir(CONF_DIR, version_base="1.3"):
            return compose("config", overrides=overrides, return_hydra_config=hydra)
    except Exception as e:
        raise ConfigError(explain(e, overrides)) from None


def explain(e: BaseException, overrides: list[str] | None = None) -> str:
    """One line for a Hydra or OmegaConf composition error: the key, the value, what is allowed."""
    msg, cause = str(e), e.__cause__
    if m := re.search(r"Could not find '([^']+)/([^'/]+)'", msg):
        group, option = m.groups()
        options = re.findall(r"^\t(\S+)$", msg, re.M)
        allowed = f"use one of {', '.join(options)}" if options else "see python train.py --help"
        return f"{group}={option} is not known: {allowed}."
    if m := re.search(r"Could not override '([^']+)'", msg):
        return _unknown_key(m.group(1), overrides or [])
    if msg.startswith("Ambiguous value for argument"):
        return f"{_first_line(e)}: to sweep over the values, add -m (--multirun)."
    if m := re.search(r"Error merging override (\S+)", msg):
        key, _, value = m.group(1).partition("=")
        why = _first_line(cause or e)
        if "could not be converted to Integer" in why and re.fullmatch(r"[-+]?[0-9.]+(e[-+]?[0-9]+)?", value, re.I):
            number = float(value)
            if number.is_integer():
                return f"{key}={value} is not allowed: write it as a whole number, {key}={int(number)}."
            return f"{key}={value} is not allowed: use a whole number."
        return f"{key}={value} is not allowed: {why}."
    return _first_line(e) + (f": {_first_line(cause)}" if cause else "")


def _unknown_key(key: str, overrides: list[str]) -> str:
    """'<key> is not a known key', with the nearest keys that exist in the config being composed."""
    from omegaconf import OmegaConf

    others = [o for o in overrides if not o.lstrip("+~").startswith(f"{key}=")]
    try:
        cfg = OmegaConf.to_container(_compose(others, hydra=False), resolve=False)
    except ConfigError:
        return f"{key} is not a known key."
    keys = _dotted(cfg)
    parent, _, leaf = key.rpartition(".")
    siblings = sorted(k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent)
    same_leaf = [k for k in keys if k.rpartition(".")[2] == leaf]  # max_steps=... -> trainer.max_steps
    near = same_leaf[:3] or [f"{parent}.{m}" if parent else m for m in difflib.get_close_matches(leaf, siblings, n=1)] \
        or difflib.get_close_matches(key, keys, n=1)
    hint = f": did you mean {' or '.join(near)}?" if near else ""
    if parent and siblings:
        hint += f" ({parent} has {', '.join(siblings)})"
    return f"{key} is not a known key{hint}"


def _dotted(d: dict, prefix: str = "") -> list[str]:
    out = []
    for k, v in d.items():
        out.append(f"{prefix}{k}")
        if isinstance(v, dict):
            out += _dotted(v, f"{prefix}{k}.")
    return out


def _first_line(e: BaseException) -> str:
    return next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)


def help_text() -> str:
    """python train.py --help: what graphduel does, the config groups with their options, every key with its
    meaning and default (from the schemas: written once, in code), and examples."""
    import dataclasses
    import importlib

    from src import models
    from src.config import CONF_DIR, Config, DataConfig, DebugConfig, TrainerConfig
    from src.registry import MODELS, RUNTIMES

    def keys(obj, prefix: str, skip=("name",)) -> list[str]:
        """One line per key of a config object (a default instance of its schema), nested ones dotted."""
        out = []
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name in skip:
                continue
            if dataclasses.is_dataclass(value):
                out += keys(value, f"{prefix}{f.name}.", skip=())
            else:
                out.append(_key_line(f"{prefix}{f.name}", value, f.metadata.get("help", "")))
        return out

    experiments = sorted(p.stem for p in Path(CONF_DIR).glob("experiment/*.yaml"))
    lines = [
        "graphduel: train a small network under a runtime and see what a static computation graph buys and",
        "costs against a dynamic one: loss and timing of every step in TensorBoard, the graphs each runtime",
        "built, and a summary at the end.",
        "",
        "usage: python train.py [group=option] [key=value] ...          one run (its directory: outputs/)",
        "       python train.py -m key=a,b [key=value] ...               a sweep: every combination, then a summary",
        "       python train.py experiment=static_vs_dynamic             every model under every runtime",
        "",
        "Config groups (group=option):",
        f"  model=       {', '.join(MODELS)}   (default two_layer)",
        *[f"    {m:<12} {(importlib.import_module(f'src.models.{m}').__doc__ or '').strip()}" for m in MODELS],
        f"  runtime=     {', '.join(RUNTIMES)}   (default lightning)",
        *[f"    {name:<18} {rt.framework:<10} {rt.graph:<7}  {rt.what}" for name, rt in RUNTIMES.items()],
        f"  experiment=  {', '.join(experiments)}",
        "  hydra/launcher=  basic (default: one job after another), joblib (in parallel here), submitit_local,",
        "                   submitit_slurm (a Slurm cluster: docs/cluster.md)",
        "",
        "Keys (key=value), with their defaults:",
        *[line for m in MODELS for line in [f"  model={m}:", *keys(models.spec(m).Config(), "    model.")]],
        "  trainer:",
        *keys(TrainerConfig(), "    trainer."),
        "  data:",
        *keys(DataConfig(), "    data."),
        "  debug:   (or debug=probe_print, probe_native, probe_breakpoint, fault_nan, fault_shape, ...)",
        *keys(DebugConfig(), "    debug."),
        *keys(Config(), "  ", skip=("model", "runtime", "trainer", "data", "debug")),
        "",
        "Examples:",
        "  python train.py                                         two_layer under lightning, 500 steps",
        "  python train.py model=dynamic runtime=tf_session        DynamicNet as one static TF graph",
        "  python train.py trainer.precision=64 runtime=tf_function    float64 end to end",
        "  python train.py -m runtime=lightning,lightning_compile model.hidden=100,1000",
        "  python train.py experiment=static_vs_dynamic trainer.max_steps=200",
        "  python train.py resume=outputs/<date>/<run> trainer.max_steps=1000   continue a run",
        "  tensorboard --logdir outputs                            every run's charts, graphs and HParams",
        "",
        "A misspelled key or a bad value is refused in one line, before anything runs.",
        "More: python train.py --cfg job (the composed config), --hydra-help (Hydra's own flags), README.md, docs/.",
    ]
    return "\n".join(lines)


def _key_line(key: str, default, text: str) -> str:
    shown = "null" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
    return f"{key + '=' + shown:<42} {text}".rstrip()


def main_guard(argv: list[str]) -> list[str]:
    """preflight() for train.py: on a bad value, one line on stderr and exit 2."""
    try:
        return preflight(argv)
    except ConfigError as e:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
