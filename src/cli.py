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
from src.overrides import interpreted
from src.overrides import parse as parse_override

# Options that ask Hydra for information instead of a run: left to Hydra as they are.
_INFO_FLAGS = ("help", "hydra_help", "cfg", "info", "shell_completion", "resolve", "package")

# train.py's @hydra.main: the file Hydra takes config_path relative to, the primary config's directory and
# name; the command line's --config-path, --config-name and --config-dir replace them (see preflight).
TRAIN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py")
MAIN = {"config_path": "conf", "config_name": "config", "config_dir": None}
primary = dict(MAIN)
composed = None  # the last single run's config the pre-flight composed and checked (without its hydra node)

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
    primary.update({k: getattr(args, k) if getattr(args, k) is not None else v for k, v in MAIN.items()})
    overrides = list(args.overrides)
    resume = _resume_dir(overrides)
    # resume=<a sweep's directory>, in a sweep: graphduel's sweeper continues that sweep (src/sweeps.py).
    sweep_resume = resume is not None and os.path.isfile(os.path.join(resume, "multirun.yaml"))
    if resume is not None and not sweep_resume:
        if args.multirun:
            raise ConfigError(f"resume={resume} continues one run: drop -m/--multirun.")
        from src.owner import probe

        probe(resume)  # a run still running there is refused first, whatever else is asked (src/owner.py)
        flags = list(argv[1:])  # -cd D, --config-name=alt...: the command line less its overrides
        for o in overrides:
            flags.remove(o)
        flags += _saved_primary(resume, args)  # the run's own --config-dir/-name/-path, unless given now
        overrides = _resume_overrides(resume, overrides)
        argv = [argv[0], *flags, *overrides]
    # Composed as Hydra composes a sweep's primary config (and as it finds the mode, Hydra.get_mode):
    # without its sweep values, whose every job graphduel's sweeper checks before any runs
    # (hydra_plugins/graphduel_sweeper).  A preset that sweeps (experiment=...) is a sweep without -m,
    # and more values may be swept beside it: `experiment=static_vs_dynamic seed=0,1,2`.
    fixed = _without_sweeps(overrides)
    cfg = _compose(fixed, hydra=True)
    if args.multirun or (str(cfg.hydra.mode) == "RunMode.MULTIRUN" and not args.run):
        _check_sweep_dir(cfg)
        if sweep_resume:  # the sweep's directory as typed, as Hydra will read it back
            argv = [a if not a.startswith("resume=") else override("resume", resume) for a in argv]
        return argv  # a sweep (-m), or a preset that sweeps (experiment=...)
    if sweep_resume:
        _resume_overrides(resume, overrides)  # refused: a sweep's directory, continued by a sweep only
    if fixed != overrides:
        cfg = _compose(overrides, hydra=True)  # a sweep value in a single run: Hydra's refusal, in a line
    task = _task(cfg)
    check_job(task, multirun=False)
    global composed
    composed = task
    if resume is not None:
        from src.problem import make_problem
        from src.run import resumed

        _check_same_run(resume, task)
        resumed(make_problem(task), task)  # refuses a checkpoint of another model, other sizes, no steps left
        check_writable(str(task.resume), "resume")
        return argv
    run_dir = str(cfg.hydra.run.dir)  # resolved now, ${now:...} and all: Hydra gets this very path
    check_writable(run_dir, "hydra.run.dir")
    new_dirs[:] = _missing_dirs(run_dir)
    if not any(o.startswith("hydra.run.dir=") for o in overrides):
        argv = [*argv, override("hydra.run.dir", run_dir)]
    return argv


def override(key: str, value: str) -> str:
    from src.shell import override

    return override(key, value)


# -- where a run writes -------------------------------------------------------------------------
def check_writable(path: str, key: str) -> None:
    """Refuses, in one line, a run directory that cannot be made or written: under a file, on a read-only
    filesystem, in /proc...  Tried for real (a directory made and removed where the run would make its
    own), since permissions alone do not tell (root, ACLs, read-only mounts)."""
    import errno
    import tempfile

    p = Path(path).absolute()
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = f"give {key} a directory you can write to" if key != "resume" else "copy the run somewhere writable"
    if not existing.is_dir():
        what = "it is" if existing == p else f"{existing} is"
        raise ConfigError(f"{key}={path} cannot be a run directory: {what} a file, not a directory: {fix}.")
    try:
        if existing == p:  # an existing directory (a resumed run's own): changed in no way by the check
            if not os.access(p, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
            if os.statvfs(p).f_flag & os.ST_RDONLY:
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        else:
            os.rmdir(tempfile.mkdtemp(prefix=".graphduel-check-", dir=existing))
    except OSError as e:
        where = "it" if existing == p else f"a directory in {existing}"
        raise ConfigError(f"{key}={path} cannot be written: {where} cannot be made or written "
                          f"({e.strerror or e}): {fix}.") from None


def _check_sweep_dir(cfg) -> None:
    try:
        sweep_dir = str(cfg.hydra.sweep.dir)
    except Exception:  # a sweep dir that only a job's config can resolve: Hydra's to refuse
        return
    check_writable(sweep_dir, "hydra.sweep.dir")


def _without_sweeps(overrides: list[str]) -> list[str]:
    kept = []
    for o in overrides:
        parsed = parse_override(o)  # a ConfigError if Hydra cannot read it
        if not parsed.sweep:
            kept.append(o)
        elif parsed.key.startswith("hydra."):
            raise ConfigError(f"{o}: Hydra cannot sweep over its own settings (hydra.*): give one value, "
                              "and run one sweep per value.")
    return kept


def check_job(cfg, multirun: bool) -> None:
    """graphduel's checks of one job's composed config (with or without its hydra node)."""
    from src.config import validate, warn_threads

    validate(_task(cfg))
    warn_threads(cfg)
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
    """The directory of the last resume=: the text after `resume=` when it is an existing directory (a path
    as the shell completed it, `=` and all, wins over Hydra's grammar), else that text as Hydra reads it
    (`resume='/my runs/a'`)."""
    values = [o.split("=", 1)[1] for o in overrides if o.startswith("resume=")]
    if not values or values[-1] in ("", "null"):
        return None
    raw = values[-1]
    if os.path.isdir(raw):
        return raw
    try:
        value = interpreted(f"resume={raw}")
    except Exception:
        return raw  # neither a directory nor a Hydra value: refused as "no run there"
    return value if isinstance(value, str) and value else raw


def _saved_primary(run_dir: str, args) -> list[str]:
    """The --config-name, --config-dir and --config-path the run was started with (its .hydra/hydra.yaml),
    as flags, for those the resuming command line does not give; `primary` is updated to match."""
    from omegaconf import OmegaConf

    try:
        hydra_cfg = OmegaConf.load(os.path.join(run_dir, ".hydra", "hydra.yaml")).hydra
        name = str(hydra_cfg.job.config_name)
        sources = OmegaConf.to_container(hydra_cfg.runtime.config_sources)
    except Exception:  # a run saved before hydra.yaml held these (or none at all): the defaults
        return []
    saved = {"config_name": name}
    for source in sources:
        if source.get("schema") == "file" and source.get("provider") == "command-line":
            saved["config_dir"] = source["path"]
        elif source.get("provider") == "main" and source.get("schema") == "file":
            # Another primary config dir than a graphduel checkout's conf/ (the run may come from another
            # checkout, whose conf/ this one's replaces).
            if not os.path.isfile(os.path.join(os.path.dirname(source["path"]), "train.py")):
                saved["config_path"] = source["path"]
    flags = []
    for key, value in saved.items():
        if getattr(args, key) is None and value != MAIN[key]:
            primary[key] = value
            flags += [f"--{key.replace('_', '-')}", value]
    return flags


def _check_same_run(run_dir: str, task) -> None:
    """A run continues as itself: under its own runtime (model and seed: checkpoint.check_fits).  Another
    runtime's steps in the same run would give medians and graph counts that are neither runtime's."""
    import json

    from omegaconf import OmegaConf

    saved = None
    try:
        saved = OmegaConf.select(OmegaConf.load(os.path.join(run_dir, ".hydra", "config.yaml")), "runtime.name")
    except Exception:
        pass
    if saved is None:
        try:
            with open(os.path.join(run_dir, "result.json")) as f:
                saved = json.load(f).get("runtime")
        except (OSError, ValueError, AttributeError):
            pass
    now = task.runtime.name
    if saved is not None and str(saved) != now:
        raise ConfigError(f"resume={run_dir}: that run trained under runtime={saved}, and a run continued under "
                          f"runtime={now} would time two runtimes' steps as one: resume it as runtime={saved} "
                          f"(drop runtime={now}), or start a new run.")


def _check_finite(run_dir: str) -> None:
    """A checkpoint whose weights blew up cannot continue: no setting of the resumed run can help."""
    import numpy as np

    from src import checkpoint

    ckpt = checkpoint.load(run_dir)  # a missing or damaged checkpoint is refused here
    bad = [k for k, v in {**ckpt.weights, **{f"momentum of {k}": v for k, v in ckpt.momentum.items()}}.items()
           if not np.isfinite(v).all()]
    if bad:
        shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise ConfigError(f"resume={run_dir}: its checkpoint (step {ckpt.step}) holds non-finite values "
                          f"({shown}): the run had diverged, and no setting can continue it: start a new run "
                          "(with a lower model.optimizer.lr).")


def _resume_overrides(run_dir: str, overrides: list[str]) -> list[str]:
    """The run's saved overrides merged with today's (they win), continuing in its own directory."""
    from omegaconf import OmegaConf

    saved = os.path.join(run_dir, ".hydra", "overrides.yaml")
    if not os.path.isfile(saved):
        jobs = sorted(str(p.parent.parent) for p in Path(run_dir).glob("*/.hydra/overrides.yaml"))
        if jobs:
            shown = ", ".join(jobs[:4]) + (f" (and {len(jobs) - 4} more)" if len(jobs) > 4 else "")
            raise ConfigError(f"resume={run_dir} is a sweep's directory: resume one of its {len(jobs)} jobs, "
                              f"e.g. {shown}, or continue the whole sweep: its command (with -m) and resume={run_dir}.")
        raise ConfigError(f"resume={run_dir}: no run there (no .hydra/overrides.yaml): "
                          "give the directory of a graphduel run, as its summary printed it.")
    _check_finite(run_dir)  # a missing, damaged or diverged checkpoint is refused now
    old = [o for o in OmegaConf.to_container(OmegaConf.load(saved))
           if not o.startswith(("resume=", "hydra.run.dir="))]
    new = [o for o in overrides if not o.startswith("resume=")]
    run_dir = os.path.abspath(run_dir)
    return [*_merge(old, new), override("resume", run_dir), override("hydra.run.dir", run_dir)]


def _merge(old: list[str], new: list[str]) -> list[str]:
    """Overrides by key, in order, a later one replacing an earlier one of the same key: resuming again
    and again never grows the list."""
    merged: dict[str, str] = {}
    for o in [*old, *new]:
        key = parse_override(o).key
        merged.pop(key, None)  # a replaced key moves to where it was given last
        merged[key] = o
    return list(merged.values())


# -- composing, and explaining what Hydra refused --------------------------------------------------
def _compose(overrides: list[str], hydra: bool):
    """The config Hydra composes for this command line: its primary config (--config-name), search path
    (--config-path, --config-dir) and overrides, through Hydra's compose API."""
    from hydra import compose

    from src.config import register_configs
    from src.hydra_private import main_search_path

    register_configs()
    try:
        with main_search_path(TRAIN_PY, primary["config_path"], primary["config_dir"]):
            return compose(primary["config_name"], overrides=overrides, return_hydra_config=hydra)
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
    return _hydra_lines(e) + (f": {_hydra_lines(cause)}" if cause else "")


def _hydra_lines(e: BaseException) -> str:
    """A Hydra error as Hydra prints it, remedy lines and all (`Or add a second + ...: '++seed=1'`,
    `Available options: ...`), without the config search path it may list after them."""
    text = str(e).split("\nConfig search path:")[0]
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip()) or type(e).__name__


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
