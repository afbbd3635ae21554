"""A sweep over several models as TensorBoard serves it, from its Python loader (--load_fast=false) and its
Rust data server (--load_fast=true), over HTTP: every graph of every run, and one HParams experiment with
every job's columns (issue 22, items 3 and 4)."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT, TensorBoard, compose_cfg, env_without_full_error
from src import hparams

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MODELS = ("two_layer", "dynamic", "rnn")  # rnn's options (max_len, pool, compile_buckets) only rnn has


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", f"model={','.join(MODELS)}",
                          "runtime=lightning", "trainer.max_steps=6", "trainer.progress_bar=false",
                          f"hydra.sweep.dir={d}"], cwd=d, capture_output=True, text=True, timeout=600,
                         env=env_without_full_error())
    assert out.returncode == 0, out.stderr[-3000:]
    runs = sorted(p.name for p in d.iterdir() if (p / "result.json").exists())
    assert len(runs) == len(MODELS)
    return d, runs


@pytest.fixture(scope="module", params=[False, True], ids=["load_fast=false", "load_fast=true"])
def board(request, sweep):
    d, runs = sweep
    with TensorBoard(d, runs=len(runs), load_fast=request.param) as tb:
        yield tb, d, runs


def test_every_graph_of_every_run_is_served(board):
    """The run graph and each per-kind graph (step_graph/depth_k, step_graph/length_n) answer 200 with a
    GraphDef, whichever loader reads the files."""
    tb, d, runs = board
    info = tb.get("/data/plugin/graphs/info")
    assert sorted(info) == runs
    tagged = 0
    for run in runs:
        assert info[run]["run_graph"], run
        status, body = tb.get_raw(f"/data/plugin/graphs/graph?run={run}&conceptual=false")
        assert status == 200 and b"node {" in body, (run, status, body[:300])
        for tag in info[run]["tags"]:
            status, body = tb.get_raw(f"/data/plugin/graphs/graph?run={run}&tag={tag}&conceptual=false")
            assert status == 200 and b"node {" in body, (run, tag, status, body[:300])
            tagged += 1
    # DynamicNet's depths and the rnn's lengths: one graph per kind of step they met
    assert any(t.startswith("step_graph/") for r in runs if "_dynamic_" in r for t in info[r]["tags"])
    assert any(t.startswith("step_graph/") for r in runs if "_rnn_" in r for t in info[r]["tags"])
    assert tagged >= 3


def test_hparams_has_every_jobs_columns(board):
    """Every run describes the sweep's experiment: the HParams table has the columns of every model, and
    each row its own model's values."""
    tb, d, runs = board
    experiment = tb.get("/data/plugin/hparams/experiment", {"experimentName": ""})
    names = {h["name"] for h in experiment["hparamInfos"]}
    every = set()
    for m in MODELS:
        every |= set(hparams.values(compose_cfg(f"model={m}"), {}, threads=1))
    assert every <= names, sorted(every - names)
    assert {"max_len", "pool", "compile_buckets", "max_depth"} <= names
    groups = tb.get("/data/plugin/hparams/session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100,
        "allowedStatuses": ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING", "STATUS_UNKNOWN"]})
    by_run = {g["name"]: g["hparams"] for g in groups["sessionGroups"]}
    assert sorted(by_run) == runs
    for run in runs:
        result = json.loads((d / run / "result.json").read_text())
        cfg = compose_cfg(f"model={result['model']}")
        assert by_run[run]["model"] == result["model"]
        if result["model"] == "rnn":
            assert by_run[run]["max_len"] == cfg.model.max_len and by_run[run]["pool"] == cfg.model.pool
        else:
            assert "max_len" not in by_run[run]  # a column it does not have stays empty in its row
