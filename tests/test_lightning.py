"""The lightning runtime through a real Lightning Trainer, read back from real event files."""
import json

import numpy as np
import pytest
import torch

from helpers import compose_cfg, losses, scalars, step_tags, train
from src.errors import ConfigError
from src.problem import make_problem

pytestmark = pytest.mark.contract

TAGS = {"train/loss", "time/step_ms", "time/compute_ms", "Overview/loss_log10", "Overview/step_ms"}
# steps 0 (setup) and on
GRAPH_TAGS = {"graph/compiles", "graph/compile_ms", "graph/nodes", "graph/build_s_total", "time/elapsed_s"}


@pytest.fixture(scope="module")
def two_layer_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("two_layer")
    return d, train(d, "trainer.accelerator=cpu")


@pytest.fixture(scope="module")
def dynamic_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("dynamic")
    return d, train(d, "model=dynamic", "trainer.accelerator=cpu")


def test_two_layer_fits_like_the_seed(two_layer_run):
    d, result = two_layer_run
    curve = losses(d)
    assert curve[0] > 1e6 and curve[-1] < 1e-2  # the seed: about 3e7 -> 1e-4
    assert result["first_loss"] == pytest.approx(curve[0], rel=1e-6)
    assert result["final_loss"] == pytest.approx(curve[-1], rel=1e-6)


def test_every_step_of_every_tag_is_logged(two_layer_run):
    d, _ = two_layer_run
    s = scalars(d)
    assert step_tags(d) == TAGS | GRAPH_TAGS  # no model/depth for two_layer
    for tag in TAGS:
        assert [step for step, _ in s[tag]] == list(range(1, 501)), tag
    step_ms = np.array([v for _, v in s["time/step_ms"]])
    compute_ms = np.array([v for _, v in s["time/compute_ms"]])
    assert (compute_ms > 0).all() and (step_ms > 0).all()
    # The whole step holds the compute: the median step can't be shorter than the median compute.
    assert np.median(step_ms) >= np.median(compute_ms)


def test_result_json_says_what_ran(two_layer_run):
    d, result = two_layer_run
    on_disk = json.loads((d / "result.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert {k: on_disk[k] for k in ("model", "runtime", "framework", "graph", "accelerator", "steps", "status")} == {
        "model": "two_layer", "runtime": "lightning", "framework": "torch", "graph": "dynamic",
        "accelerator": "cpu", "steps": 500, "status": "completed"}
    s = scalars(d)
    assert on_disk["median_step_ms"] == pytest.approx(np.median([v for _, v in s["time/step_ms"]]), rel=1e-3)
    assert on_disk["median_compute_ms"] == pytest.approx(np.median([v for _, v in s["time/compute_ms"]]), rel=1e-3)
    assert on_disk["setup_s"] > 0 and on_disk["import_s"] >= 0
    # The HParams tab's metrics are the same numbers, logged once at the last step (its final loss is the
    # last point of train/loss).
    for key in ("median_step_ms", "median_steady_ms", "median_compute_ms", "setup_s", "compiles", "compile_s"):
        ((step, value),) = s[f"trial/{key}"]
        assert step == 500 and value == pytest.approx(on_disk[key], rel=1e-6, abs=1e-9)
    assert s["train/loss"][-1] == (500, pytest.approx(on_disk["final_loss"], rel=1e-6))


def test_dynamic_net_fits_and_logs_its_depths(dynamic_run):
    d, result = dynamic_run
    s = scalars(d)
    assert step_tags(d) == TAGS | GRAPH_TAGS | {"model/depth"}
    curve = [v for _, v in s["train/loss"]]
    assert len(curve) == 500 and curve[0] / curve[-1] >= 100
    depths = [int(v) for _, v in s["model/depth"]]
    assert set(depths) == {0, 1, 2, 3}
    expected = make_problem(compose_cfg("model=dynamic")).input_columns(0, 500)["depth"].tolist()
    assert depths == expected  # the seeded sequence, step by step


def test_same_seed_same_curve_other_seed_other_curve(two_layer_run, dynamic_run, tmp_path):
    again = tmp_path / "again"
    train(again, "model=dynamic", "trainer.accelerator=cpu")
    assert losses(again) == losses(dynamic_run[0])
    other = tmp_path / "other"
    train(other, "trainer.accelerator=cpu", "seed=1", "trainer.max_steps=20")
    assert losses(other)[:20] != losses(two_layer_run[0])[:20]


def test_fixed_depth_is_used_every_step(tmp_path):
    train(tmp_path, "model=dynamic", "model.depth=2", "trainer.max_steps=10")
    assert [v for _, v in scalars(tmp_path)["model/depth"]] == [2.0] * 10


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error shown where there is no GPU")
def test_gpu_requested_without_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"trainer\.accelerator=gpu.*no CUDA GPU.*trainer\.accelerator=cpu"):
        train(tmp_path, "model=dynamic", "trainer.accelerator=gpu")
    assert list(tmp_path.iterdir()) == []  # refused before it started: nothing written


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model", ["two_layer", "dynamic"])
def test_trains_on_the_gpu(tmp_path, model):
    result = train(tmp_path, f"model={model}", "trainer.accelerator=gpu", "trainer.max_steps=200")
    assert result["accelerator"] == "gpu" and result["status"] == "completed"
    curve = losses(tmp_path)
    assert len(curve) == 200 and curve[-1] < curve[0] / 100
    cpu = tmp_path / "cpu"
    train(cpu, f"model={model}", "trainer.accelerator=cpu", "trainer.max_steps=20")
    np.testing.assert_allclose(losses(tmp_path)[:20], losses(cpu), rtol=1e-3)  # same start, same curve


def test_each_depths_graph_is_in_the_event_file_for_tensorboard(dynamic_run):
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.compat.proto.config_pb2 import RunMetadata

    acc = plugin_event_accumulator.EventAccumulator(str(dynamic_run[0]), size_guidance={"tensors": 0})
    acc.Reload()
    graphs = {tag: RunMetadata.FromString(acc.Tensors(tag)[0].tensor_proto.string_val[0])
              .function_graphs[0].pre_optimization_graph for tag in acc.Tags()["tensors"]
              if tag.startswith("step_graph/")}
    assert sorted(graphs) == [f"step_graph/depth_{d}" for d in range(4)]  # the Graphs tab's Tag menu
    for depth in range(4):
        nodes = graphs[f"step_graph/depth_{depth}"].node
        assert {n.name.split("/")[0] for n in nodes} == {"data", "parameters", "forward", "loss", "gradients",
                                                         "update"}
        # A dynamic graph: the shared middle layer appears once per use, each reading the one parameter.
        uses = [n for n in nodes if n.name.startswith("forward/middle") and "parameters/middle.weight" in n.input]
        assert len(uses) == depth
    run_graph = acc.Graph().node  # the run's own graph: its deepest step
    assert len(run_graph) == len(graphs["step_graph/depth_3"].node)
