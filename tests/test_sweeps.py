"""Sweeps as users run them: real subprocesses, real launchers, a real TensorBoard server."""
import csv
import json
import math
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from helpers import ROOT, compose_cfg, env_without_full_error, losses
from src.config import cpu_threads
from src.problem import make_problem
from src.registry import MODELS, RUNTIMES

JOBS = len(MODELS) * len(RUNTIMES)  # the experiment: every model under every runtime

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sweep(tmp_path, *args, timeout=900):
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", *args, "trainer.progress_bar=false",
                          f"hydra.sweep.dir={tmp_path}"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=timeout, env=env_without_full_error())
    results = {p.parent.name: json.loads(p.read_text()) for p in tmp_path.glob("*/result.json")}
    return out, results


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """python train.py experiment=static_vs_dynamic: every model under every runtime."""
    d = tmp_path_factory.mktemp("static_vs_dynamic")
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "experiment=static_vs_dynamic",
                          "trainer.max_steps=40", "trainer.progress_bar=false", f"hydra.sweep.dir={d}"],
                         cwd=d, capture_output=True, text=True, timeout=900, env=env_without_full_error())
    assert out.returncode == 0, out.stderr[-3000:]
    return d, out


def test_experiment_runs_every_model_under_every_runtime(experiment):
    d, out = experiment
    jobs = sorted((p.name for p in d.iterdir() if (p / "result.json").exists()), key=lambda j: int(j.split("_")[0]))
    results = [json.loads((d / j / "result.json").read_text()) for j in jobs]
    assert len(jobs) == JOBS
    assert {(r["model"], r["runtime"]) for r in results} == {(m, r) for m in MODELS for r in RUNTIMES}
    assert all(r["status"] == "completed" for r in results)
    width = len(str(JOBS - 1))  # job numbers zero-padded: `ls` lists jobs in job order
    assert all(j == f"{i:0{width}d}_{r['model']}_{r['runtime']}" for i, (j, r) in enumerate(zip(jobs, results)))
    assert sorted(jobs) == jobs
    # Frameworks share the process (one job after another): none lets another's C++ start-up logs through.
    assert not re.search(r"^[IWE]\d{4} \d\d:\d\d:\d\d", out.stderr, re.M), out.stderr[-2000:]


def test_summary_files_match_the_jobs_results(experiment):
    d, out = experiment
    with open(d / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == JOBS
    for row in rows:
        result = json.loads((d / row["job"] / "result.json").read_text())
        for key in ("model", "runtime", "framework", "graph", "accelerator", "status"):
            assert row[key] == str(result[key])
        assert int(row["steps"]) == 40
        assert float(row["final_loss"]) == pytest.approx(result["final_loss"])
        assert float(row["median_step_ms"]) == pytest.approx(result["median_step_ms"])
        assert row["job"] in out.stdout  # the printed table
    md = (d / "summary.md").read_text().splitlines()
    assert md[0].startswith("| job | model | runtime |") and all(line.startswith("|") for line in md[:2 + JOBS])
    # Both end with the answer in words: a sentence per static runtime per model (src/answer.py).
    static = sum(1 for r in rows if r["graph"] == "static")
    answer_md = md[md.index(next(x for x in md if x.startswith("The answer"))):]
    assert sum(1 for x in answer_md if x.startswith("- ")) == static
    printed = out.stdout.rstrip().splitlines()
    start = max(i for i, x in enumerate(printed) if x.startswith("The answer"))
    assert sum(1 for x in printed[start:] if x.startswith("- ")) == static
    assert max(len(x) for x in printed[printed.index(next(x for x in printed if x.startswith("job "))):]) <= 120
    png = (d / "summary.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_every_static_runtime_is_paired_with_its_frameworks_dynamic_one(experiment):
    """Every framework has a dynamic and a static runtime (jax: jax_eager and jax_jit), so every static
    job gets a break-even against the dynamic job of its framework, model and seed."""
    d, _ = experiment
    dynamic = {spec.framework: name for name, spec in RUNTIMES.items() if spec.graph == "dynamic"}
    assert set(dynamic) == {spec.framework for spec in RUNTIMES.values()}
    results = [json.loads(p.read_text()) for p in d.glob("*/result.json")]
    with open(d / "summary.csv") as f:
        rows = {(r["model"], r["runtime"]): r for r in csv.DictReader(f)}
    for r in results:
        if r["graph"] == "static":
            assert rows[(r["model"], r["runtime"])]["break_even_step"] != "", (r["model"], r["runtime"])
    from src.summary import load_results

    pairs = {(r["runtime"], r.get("break_even_vs")) for r in load_results(d) if r["graph"] == "static"}
    assert pairs == {(name, dynamic[spec.framework]) for name, spec in RUNTIMES.items() if spec.graph == "static"}


def test_summary_is_rebuilt_by_its_command(experiment):
    d, _ = experiment
    before = (d / "summary.csv").read_text()
    for name in ("summary.csv", "summary.md", "summary.png"):
        (d / name).unlink()
    out = subprocess.run([sys.executable, "-m", "src.summary", str(d)], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (d / "summary.csv").read_text() == before and (d / "summary.png").exists()


def test_a_failing_job_is_listed_and_the_sweep_fails(tmp_path):
    out, results = sweep(tmp_path, "model.optimizer.lr=1e-6,10", "trainer.max_steps=30")
    assert out.returncode != 0
    # Job names carry what the sweep varies.
    ok, bad = results["0_two_layer_lightning_lr-1e-06"], results["1_two_layer_lightning_lr-10"]
    assert ok["status"] == "completed" and ok["steps"] == 30
    assert bad["status"] == "diverged" and bad["steps"] < 30 and "lower learning rate" in bad["error"]
    assert len(losses(tmp_path / "1_two_layer_lightning_lr-10")) == bad["steps"]  # logs kept up to the divergence
    with open(tmp_path / "summary.csv") as f:
        assert {r["job"]: r["status"] for r in csv.DictReader(f)} == {
            "0_two_layer_lightning_lr-1e-06": "completed", "1_two_layer_lightning_lr-10": "diverged"}
    assert "did not complete: 1_two_layer_lightning_lr-10 (diverged)" in out.stderr
    md = (tmp_path / "summary.md").read_text().splitlines()
    header = [c.strip() for c in md[0].strip("|").split("|")]
    failed = next([c.strip() for c in x.strip("|").split("|")] for x in md if "1_two_layer_lightning_lr-10" in x)
    assert "lower learning rate" in failed[header.index("why")]  # why it did not complete
    assert "Traceback" not in out.stderr


def test_joblib_runs_jobs_in_parallel_splitting_the_cores(tmp_path):
    out, results = sweep(tmp_path, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=two_layer,dynamic",
                         "trainer.max_steps=20")
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(results) == ["0_two_layer_lightning", "1_dynamic_lightning"]
    assert all(r["status"] == "completed" for r in results.values())
    assert {r["threads"] for r in results.values()} == {max(1, cpu_threads() // 2)}
    # The jobs really ran side by side, in two processes: their spans overlap in time.
    a, b = results.values()
    assert a["start_time"] < b["end_time"] and b["start_time"] < a["end_time"]
    pids = {p.name.rsplit(".", 1)[-1] for p in tmp_path.glob("*/events.out.tfevents.*")}
    assert len(pids) == 2
    assert (tmp_path / "summary.csv").exists()


def test_submitit_local_runs_the_jobs(tmp_path):
    out, results = sweep(tmp_path, "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10",
                         "model=two_layer,dynamic", "runtime=tf_session", "trainer.max_steps=20")
    assert out.returncode == 0, out.stderr[-3000:]
    assert sorted(results) == ["0_two_layer_tf_session", "1_dynamic_tf_session"]
    assert all(r["status"] == "completed" and r["steps"] == 20 for r in results.values())
    assert list(tmp_path.glob(".submitit/*/*_log.out"))  # submitit really ran them
    assert (tmp_path / "summary.csv").exists()


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path):
    cmd = [sys.executable, str(ROOT / "train.py"), "trainer.max_steps=2", "trainer.progress_bar=false"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env_without_full_error()) for _ in range(3)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    assert len(list(tmp_path.glob("outputs/*/*_two_layer_lightning/result.json"))) == 3


# -- a real TensorBoard server -----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


@pytest.fixture(scope="module")
def tensorboard(experiment):
    d, _ = experiment
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(d), "--host", "127.0.0.1",
                             "--port", str(port), "--load_fast=false", "--reload_interval", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if len(_get(f"{base}/data/runs")) == JOBS:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail(f"TensorBoard did not come up with the sweep's {JOBS} runs within 120 s")
            time.sleep(1)
        yield base, d
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tensorboard_shows_each_job_as_a_run_with_the_same_tags(tensorboard):
    base, d = tensorboard
    runs = _get(f"{base}/data/runs")
    assert sorted(runs) == sorted(p.name for p in d.iterdir() if (p / "result.json").exists())
    assert len(runs) == JOBS
    tags = _get(f"{base}/data/plugin/scalars/tags")
    for run in runs:
        result = json.loads((d / run / "result.json").read_text())
        model_tags = set(make_problem(compose_cfg(f"model={result['model']}")).step_scalars(0, 1))
        assert {"train/loss", "time/step_ms", "time/compute_ms"} | model_tags <= set(tags[run])
        points = _get(f"{base}/data/plugin/scalars/scalars?run={run}&tag=train/loss")
        assert [p[1] for p in points] == list(range(1, 41))
        assert points[0][2] == pytest.approx(result["first_loss"], rel=1e-6)
        assert points[-1][2] == pytest.approx(result["final_loss"], rel=1e-6)


def _tensorboard_order(tags):
    """TensorBoard's Time Series order of card groups: the text before the first '/', compared character by
    character (capitals before lower case), runs of digits as numbers."""
    def key(tag):
        return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", tag.split("/", 1)[0]) if t]
    return sorted(dict.fromkeys(t.split("/", 1)[0] for t in tags), key=lambda g: key(g))


def test_tensorboard_opens_on_the_loss_and_the_step_time(tensorboard):
    """Time Series expands its first two groups of charts: the Overview (loss on a log scale, ms per step)
    and the graph builds; the rest (time/, train/, model/, trial/) wait collapsed below."""
    base, d = tensorboard
    tags = _get(f"{base}/data/plugin/scalars/tags")
    for run, run_tags in tags.items():
        groups = _tensorboard_order(run_tags)
        assert groups[:2] == ["Overview", "graph"], (run, groups)
        assert {"Overview/loss_log10", "Overview/step_ms"} <= set(run_tags)
        result = json.loads((d / run / "result.json").read_text())
        log_loss = _get(f"{base}/data/plugin/scalars/scalars?run={run}&tag=Overview/loss_log10")
        assert log_loss[-1][2] == pytest.approx(math.log10(result["final_loss"]), rel=1e-5)


def test_tensorboard_hparams_tab_names_rows_by_run_and_shows_what_differs(tensorboard):
    base, d = tensorboard
    experiment = _get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
    infos = experiment["hparamInfos"]
    # TensorBoard shows the first five hparams marked `differs` (it sorts them by name): for this sweep,
    # which varies model and runtime, those are the runtime's framework and graph kind and the model's lr.
    assert [h["name"] for h in infos[:5]] == ["framework", "graph", "lr", "model", "runtime"]
    assert all(h.get("differs") for h in infos[:5]) and not any(h.get("differs") for h in infos[5:])
    assert [m["name"]["tag"] for m in experiment["metricInfos"]][:5] == [
        "train/loss", "trial/median_step_ms", "trial/median_steady_ms", "trial/compiles", "trial/compile_s"]
    groups = _get(f"{base}/data/plugin/hparams/session_groups", {
        "experimentName": "", "startIndex": 0, "sliceSize": 100,
        "allowedStatuses": ["STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING", "STATUS_UNKNOWN"]})
    by_name = {g["name"]: g for g in groups["sessionGroups"]}
    assert sorted(by_name) == sorted(p.name for p in d.iterdir() if (p / "result.json").exists())  # named by run
    for run, group in by_name.items():
        result = json.loads((d / run / "result.json").read_text())
        assert group["hparams"]["model"] == result["model"] and group["hparams"]["runtime"] == result["runtime"]
        assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
        metrics = {m["name"]["tag"]: m["value"] for m in group["metricValues"]}
        assert metrics["train/loss"] == pytest.approx(result["final_loss"], rel=1e-6)
        for key in ("median_step_ms", "median_steady_ms", "compiles", "compile_s", "setup_s"):
            assert metrics[f"trial/{key}"] == pytest.approx(result[key], rel=1e-6, abs=1e-9), key


def test_tensorboard_shows_every_runs_graph_in_readable_scopes(tensorboard):
    """Every run has a graph in the Graphs tab, laid out forward / gradients / update (TensorFlow's own
    scopes, or graphduel's for a PyTorch step's autograd graph); DynamicNet's eager runs list one graph per
    depth in the Tag menu."""
    base, d = tensorboard
    info = _get(f"{base}/data/plugin/graphs/info")
    for run in (p.name for p in d.iterdir() if (p / "result.json").exists()):
        assert info[run]["run_graph"], run
        with urllib.request.urlopen(f"{base}/data/plugin/graphs/graph?run={run}&conceptual=false", timeout=30) as r:
            pbtxt = r.read().decode()
        names = re.findall(r'name: "([^"]+)"', pbtxt)
        scopes = {n.split("/")[0] for n in names}
        assert "forward" in scopes and len(names) > 5, (run, sorted(scopes)[:20])
        if "lightning_compile" not in run:  # torch.compile's own graph is the forward Dynamo traced
            assert {"gradients", "update"} <= scopes, (run, sorted(scopes)[:20])
    tagged = info[next(run for run in info if run.endswith("_dynamic_lightning"))]["tags"]
    assert {f"step_graph/depth_{k}" for k in range(4)} <= set(tagged)
