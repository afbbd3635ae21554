"""The recorder on its own, without any framework: a loop of fake steps through the real Recorder, its files
read back as TensorBoard reads them (its EventAccumulator) and as the sweep summary does."""
import csv
import dataclasses
import json
import math
import os

import numpy as np
import pytest

from helpers import compose_cfg, scalars
from src import summary
from src.problem import make_problem
from src.recorder import Diverged, Recorder, summary_text

pytestmark = pytest.mark.unit

STEPS = 8


@pytest.fixture(scope="module")
def cfg():
    return compose_cfg("model=dynamic", "trainer.progress_bar=false", f"trainer.max_steps={STEPS}")


def _recorder(run_dir, cfg, problem=None, **kw) -> Recorder:
    return Recorder(str(run_dir), cfg, "none", "static", threads=1, problem=problem or make_problem(cfg), **kw)


def _hparams(run_dir):
    """The HParams plugin's data in the run's events, by tag, as TensorBoard reads it."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata, plugin_data_pb2

    acc = EventAccumulator(str(run_dir))
    acc.Reload()
    return {tag: plugin_data_pb2.HParamsPluginData.FromString(content)
            for tag, content in acc.PluginTagToContent(metadata.PLUGIN_NAME).items()}


def _run(run_dir, cfg, values, start=0, stop=STEPS, build_at=3, problem=None, metric=True):
    """Fake steps start+1..stop, each reporting values[step] as probe/error; a graph built in step build_at."""
    r = _recorder(run_dir, cfg, problem)
    r.start("cpu")
    r.loop_start(start)
    for step in range(start + 1, stop + 1):
        if step == build_at:
            r.graph_built(0.002, "trace")
        r.scalar("probe/error", values[step], metric=metric)
        r.step(1.0 / step, 0.1)
        if step % 4 == 0:
            r.checkpoint({"w": np.zeros(2)}, {})
    return r


def test_a_per_step_value_reaches_tensorboard_result_json_hparams_and_the_sweep_summary(tmp_path, cfg):
    values = {1: 0.5, 2: 0.25, 3: 99.0, 4: 0.75, 5: 1.5, 6: 0.125, 7: 0.5, 8: 2.0}  # step 3 built a graph
    run_dir = tmp_path / "0_dynamic_x"
    r = _run(run_dir, cfg, values)
    r.record("probe/first_error", values[1])
    r.record("probe/per_depth", {"0": 1, "3": 2})
    result = r.finish("completed")

    s = scalars(run_dir)
    assert s["probe/error"] == [(step, v) for step, v in values.items()]  # float32-exact values, every step once
    saved = json.loads((run_dir / "result.json").read_text())
    steady = [v for step, v in values.items() if step != 3]
    assert saved["summary"]["probe/error"] == {"median": float(np.median(steady)), "worst": 2.0, "steps": STEPS}
    assert saved["probe/first_error"] == 0.5 and saved["probe/per_depth"] == {"0": 1, "3": 2}
    assert saved["recorded"] == ["probe/first_error", "probe/per_depth"] and saved == json.loads(json.dumps(result))
    # HParams: the experiment lists it as a metric, and its value is the median, at the run's last step.
    experiment = _hparams(run_dir)["_hparams_/experiment"].experiment
    shown = {m.name.tag: m.display_name for m in experiment.metric_infos}
    assert shown["trial/probe/error"] == "probe/error (median)" and "trial/median_step_ms" in shown
    assert s["trial/probe/error"] == [(STEPS, float(np.median(steady)))]
    assert "probe/error" in summary_text(result)

    # The sweep summary: a column of its median in summary.md and the csv (the console table keeps to 120
    # columns), and the recorded values in the csv.
    other = _run(tmp_path / "1_dynamic_y", cfg, {k: 2 * v for k, v in values.items()}, metric=False)
    other.finish("completed")
    rows = summary.write_summary(tmp_path)
    with open(tmp_path / "summary.csv") as f:
        table = list(csv.DictReader(f))
    assert [float(row["probe/error (median)"]) for row in table] == [np.median(steady), 2 * np.median(steady)]
    assert table[0]["probe/first_error"] == "0.5" and json.loads(table[0]["probe/per_depth"]) == {"0": 1, "3": 2}
    assert table[1]["probe/first_error"] == ""
    assert [r["probe/error (median)"] for r in rows] == [np.median(steady), 2 * np.median(steady)]
    assert "probe/error (median)" in (tmp_path / "summary.md").read_text().splitlines()[0]  # the table's columns
    # Not a metric there: the HParams tab lists only the recorder's own.
    assert "trial/probe/error" not in {m.name.tag for m in
                                        _hparams(tmp_path / "1_dynamic_y")["_hparams_/experiment"].experiment.metric_infos}


def test_a_value_first_made_a_metric_after_the_first_step_is_warned_about(tmp_path, cfg):
    r = _recorder(tmp_path, cfg)
    r.start("cpu")
    r.loop_start(0)
    r.step(1.0, 0.1)
    r.scalar("late", 1.0, metric=True)
    r.step(0.5, 0.1)
    assert any("late became an HParams metric after the first step" in w for w in r.finish("completed")["warnings"])


def test_a_resumed_run_keeps_its_earlier_values_and_summarises_the_whole_run(tmp_path, cfg):
    values = {step: float(step) for step in range(1, STEPS + 1)}
    _run(tmp_path, cfg, values, stop=6, build_at=0)  # hard-killed after step 6: its checkpoint is at step 4
    resumed = dataclasses.replace(make_problem(cfg), start_step=4)
    r = _run(tmp_path, cfg, values, start=4, stop=STEPS, build_at=0, problem=resumed)
    result = r.finish("completed")
    assert [step for step, _ in scalars(tmp_path)["probe/error"]] == list(range(1, STEPS + 1))  # each step once
    assert [step for step, _ in scalars(tmp_path)["model/depth"]] == list(range(1, STEPS + 1))
    assert result["summary"]["probe/error"] == {"median": 4.5, "worst": 8.0, "steps": STEPS}
    assert len([n for n in os.listdir(tmp_path) if n.startswith("events.out")]) == 1


def test_the_recorders_own_tags_and_keys_are_refused(tmp_path, cfg):
    r = _recorder(tmp_path, cfg)
    r.loop_start(0)
    for tag in ("train/loss", "time/step_ms", "model/depth"):
        with pytest.raises(ValueError, match="writes that tag itself"):
            r.scalar(tag, 1.0)
    with pytest.raises(ValueError, match="has that key already"):
        r.record("final_loss", 1.0)


def test_a_disabled_recorder_takes_every_call_and_writes_nothing(tmp_path, cfg):
    run_dir = tmp_path / "run"
    r = _recorder(run_dir, cfg, enabled=False)
    r.runtime_imported()
    r.status("working...")
    r.warn("a warning")
    r.start("cpu")
    r.graph_built(0.01, "trace", nodes=5)
    r.write_graph(b"", tag="step_graph/x")
    r.write_graph(b"")
    r.loop_start(0)
    for step in range(1, 4):
        r.graph_nodes(7)
        r.scalar("probe/x", step, metric=True)
        r.record("probe/y", step)
        r.step(1.0 / step, 0.1)
        r.checkpoint({"w": np.zeros(2)}, {})
    result = r.finish("completed")
    assert not run_dir.exists()
    assert result["steps"] == 3 and result["nodes_per_step"] == 7 and result["summary"]["probe/x"]["median"] == 2
    assert result["probe/y"] == 3 and result["warnings"] == ["a warning"]


def test_a_step_without_loop_start_still_records(tmp_path, cfg):
    r = _recorder(tmp_path, cfg)
    r.start("cpu")
    r.step(2.0, 0.1)
    assert r.finish("completed")["steps"] == 1 and scalars(tmp_path)["train/loss"] == [(1, 2.0)]


def test_a_non_finite_loss_raises_diverged_after_logging_its_step(tmp_path, cfg):
    r = _recorder(tmp_path, cfg)
    r.start("cpu")
    r.loop_start(0)
    r.step(1.0, 0.1)
    with pytest.raises(Diverged, match="at step 2: training diverged. Try a lower learning rate, e.g. model.opt"):
        r.step(math.inf, 0.1)
    r.finish("diverged")
    assert [step for step, _ in scalars(tmp_path)["train/loss"]] == [1, 2]


def test_a_start_refused_run_listed_in_a_sweep_writes_result_json_alone(tmp_path, cfg):
    r = _recorder(tmp_path, cfg)
    r.start(None)
    r.finish("failed", "refused")
    assert sorted(os.listdir(tmp_path)) == ["result.json"]
