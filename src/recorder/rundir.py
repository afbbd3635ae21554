"""The run directory's files besides the event log: result.json, Hydra's .hydra/, the checkpoint, and
resuming: a resumed run keeps its earlier session's logged steps up to its checkpoint, re-read from its
event files, so that its TensorBoard run and result.json cover the whole run, each step once."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from src import checkpoint, event_file, owner
from src.event_file import iter_records, scalar_values


def result_json(result: dict) -> str:
    return json.dumps(result, indent=2, allow_nan=True)


def write_result(run_dir: str, result: dict) -> None:
    with owner.Staged("result.json") as staged:  # never a half-written file, nor a temp one left (a full disk)
        staged.write(os.path.join(run_dir, "result.json"), result_json(result))


def save_hydra_config(run_dir: str, cfg: Any, staged: owner.Staged) -> None:
    """What Hydra would have saved in .hydra/: the job's config, Hydra's, and the overrides.  graphduel turns
    Hydra's own saving off (hydra.output_subdir=null in conf/config.yaml) and saves them here, once the run is
    accepted, so that a refused command never writes into a run directory."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    if not HydraConfig.initialized():  # run() called directly (tests, the benchmark): no Hydra job
        return
    hydra_cfg = HydraConfig.instance().cfg
    out = os.path.join(run_dir, ".hydra")
    os.makedirs(out, exist_ok=True)
    for name, node in (("config.yaml", cfg), ("hydra.yaml", hydra_cfg),
                       ("overrides.yaml", hydra_cfg.hydra.overrides.task)):
        staged.write(os.path.join(out, name), OmegaConf.to_yaml(node))


def save_checkpoint(run_dir: str, step: int, weights: dict, momentum: dict, model: str) -> None:
    checkpoint.save(run_dir, step, weights, momentum, model=model)


def keep_steps(payloads: Iterable[bytes], step: int, steps, own_tags: set[str]) -> tuple[list[bytes], float]:
    """Of an earlier session's events, those to keep when resuming from its checkpoint at `step`: its setup
    (step 0) and steps 1..step, each one event holding train/loss and its other per-step tags.  Later steps
    are dropped (they will be trained and logged again), and so are graphs (the resumed session writes its
    own) and the earlier session's hparams.  `steps` (stats.Steps) gets the kept steps' numbers back; a tag
    not in `own_tags` (the recorder's own and the model's) is a runtime's value (Recorder.scalar).  A step
    found twice (a resume killed between renaming its new file and removing the others) is kept once.
    Returns the kept payloads and the elapsed seconds at the last kept one."""
    from tensorboard.compat.proto.event_pb2 import Event

    kept, elapsed, seen = [], 0.0, set()
    for payload in payloads:
        event = Event.FromString(payload)
        values = scalar_values(event)
        if not (0 <= event.step <= step and ("train/loss" in values or "graph/compiles" in values)) \
                or event.step in seen:
            continue
        seen.add(event.step)
        kept.append(payload)
        steps.compiles = int(values.get("graph/compiles", steps.compiles))
        steps.compile_s += values.get("graph/compile_ms", 0.0) / 1e3
        elapsed = values.get("time/elapsed_s", elapsed)
        if values.get("graph/compile_ms"):
            steps.build_steps.add(event.step)
        if "train/loss" not in values:
            continue  # the setup (step 0): its builds, no step
        steps.losses.append(values.get("train/loss_float64", values["train/loss"]))
        steps.step_ms.append(values["time/step_ms"])
        steps.compute_ms.append(values["time/compute_ms"])
        steps.nodes.append(int(values.get("graph/nodes", 0)))
        for tag, v in values.items():
            if tag not in own_tags:
                steps.values.setdefault(tag, {})[event.step] = v
    steps.step_no = step
    return kept, elapsed


def resume(run_dir: str, step: int, steps, own_tags: set[str], staged: owner.Staged) -> tuple[float, str]:
    """Continues this directory's run after its checkpoint at `step` (see keep_steps): the kept steps are
    written to a temp file (in `staged`), renamed over the run's (first) event file when the start commits,
    so the only copy of a step is never deleted; the run then appends to that file (then_keep_one removes
    any other).  Returns the earlier sessions' elapsed seconds and that file's path."""
    old = sorted(n for n in os.listdir(run_dir) if n.startswith("events.out.tfevents."))
    kept, elapsed = keep_steps(iter_records(run_dir), step, steps, own_tags)
    path = os.path.join(run_dir, old[0] if old else event_file.file_name())
    frames = [event_file.frame(event_file.version_event().SerializeToString())]
    frames += [event_file.frame(payload) for payload in kept]
    staged.write(path, b"".join(frames), tmp=os.path.join(run_dir, ".events.tmp"))
    return elapsed, path


def then_keep_one(run_dir: str, path: str) -> None:
    """After a resume's start committed: the other event files' kept steps are in `path` now."""
    for name in os.listdir(run_dir):
        if name.startswith("events.out.tfevents.") and os.path.join(run_dir, name) != path:
            os.remove(os.path.join(run_dir, name))
