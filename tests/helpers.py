"""Shared test helpers: compose the real Hydra config, run it, read the real event files back."""
from __future__ import annotations

import os
from pathlib import Path

from src.config import compose_config as compose_cfg  # noqa: F401  (the tests' name for it)

ROOT = Path(__file__).resolve().parents[1]


def train(run_dir, *overrides: str) -> dict:
    from src.run import run

    return run(compose_cfg("trainer.progress_bar=false", *overrides), str(run_dir))


def scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series in the run's event files, as TensorBoard itself reads them (its scalars plugin's
    accumulator)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    acc = EventAccumulator(str(run_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto).item()) for e in acc.Tensors(tag)]
            for tag in acc.Tags()["tensors"] if acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"}


def step_tags(run_dir) -> set[str]:
    """The per-step tags (the trial/ ones are a run's final numbers, logged once)."""
    return {tag for tag in scalars(run_dir) if not tag.startswith("trial/")}


def losses(run_dir) -> list[float]:
    return [v for _, v in scalars(run_dir)["train/loss"]]


def env_without_full_error() -> dict:
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)
    return env


def one_line_error(out) -> str:
    """A refusal as a user sees it: one line, `error: ...`, and no traceback; beside it at most the word a
    run says while it imports its framework (a refusal only the framework can make comes after it)."""
    assert "Traceback" not in out.stderr + out.stdout
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    status = [line for line in lines if line.startswith("graphduel: ") and line.endswith("...")]
    assert len(errors) == 1 and len(errors) + len(status) == len(lines) and len(status) <= 1, out.stderr
    return errors[0]
