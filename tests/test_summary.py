"""The sweep summary's logic, on job directories written here as runs write them (result.json, .hydra/
overrides.yaml, event files): break-even steps, and which jobs are paired to compute them."""
import json

import pytest

from src.event_file import EventFileWriter
from src.summary import break_even, load_results

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("static, dynamic, ms, expected", [
    ([1.0, 1.1, 1.2, 1.3], [0.1, 0.6, 1.1, 1.6], (100, 500), (3, None)),  # behind until step 2, ahead from 3
    ([0.05, 0.1, 0.15], [0.1, 0.3, 0.5], (50, 200), (0, None)),  # ahead from the setup on
    ([1.0, 1.1, 1.2], [0.1, 0.3, 0.5], (100, 200), (None, 2 + 700 / 100)),  # would catch up at step 9
    ([1.0, 1.3, 1.6], [0.1, 0.2, 0.3], (300, 100), (None, None)),  # slower per step too: never
    ([], [0.1], (1, 2), (None, None)),  # nothing to compare
])
def test_break_even_step(static, dynamic, ms, expected):
    step, projected = break_even(static, dynamic, *ms)
    assert step == expected[0] and (projected == pytest.approx(expected[1]) if expected[1] else projected is None)


def _job(sweep, name, runtime, framework, graph, elapsed, overrides, seed=0, status="completed", steady_ms=1.0):
    d = sweep / name
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    writer = EventFileWriter(str(d))
    for step, seconds in enumerate(elapsed):
        writer.scalars(step, {"time/elapsed_s": seconds})
    writer.close()
    (d / "result.json").write_text(json.dumps({
        "model": "dynamic", "runtime": runtime, "framework": framework, "graph": graph, "seed": seed,
        "status": status, "median_steady_ms": steady_ms, "run_dir": str(d)}))


def test_each_static_job_is_paired_with_the_dynamic_job_that_differs_only_in_the_runtime(tmp_path):
    fast = [1.0, 1.1, 1.2, 1.3]  # static: slow setup, fast steps
    slow = [0.1, 0.6, 1.1, 1.6]  # dynamic: quick setup, slow steps
    _job(tmp_path, "0_dynamic_tf_eager", "tf_eager", "tensorflow", "dynamic", slow, ["runtime=tf_eager", "seed=0"],
         steady_ms=500)
    _job(tmp_path, "1_dynamic_tf_function", "tf_function", "tensorflow", "static", fast,
         ["runtime=tf_function", "seed=0"], steady_ms=100)
    _job(tmp_path, "2_dynamic_tf_session_seed=1", "tf_session", "tensorflow", "static", fast,
         ["runtime=tf_session", "seed=1"], seed=1)  # no dynamic job of seed 1
    _job(tmp_path, "3_dynamic_jax_jit", "jax_jit", "jax", "static", fast, ["runtime=jax_jit", "seed=0"])  # no jax one
    _job(tmp_path, "10_dynamic_tf_xla_lr=1", "tf_xla", "tensorflow", "static", fast,
         ["runtime=tf_xla", "seed=0", "model.optimizer.lr=1"])  # another lr: not the same comparison
    _job(tmp_path, "11_dynamic_tf_xla", "tf_xla", "tensorflow", "static", [2.0, 2.1, 2.2, 2.3],
         ["runtime=tf_xla", "seed=0", "resume=/somewhere"], steady_ms=200)  # resume= is no difference
    rows = {r["job"]: r for r in load_results(tmp_path)}
    assert list(rows) == ["0_dynamic_tf_eager", "1_dynamic_tf_function", "2_dynamic_tf_session_seed=1",
                          "3_dynamic_jax_jit", "10_dynamic_tf_xla_lr=1", "11_dynamic_tf_xla"]  # job order
    assert rows["1_dynamic_tf_function"]["break_even_step"] == 3
    assert rows["1_dynamic_tf_function"]["break_even_vs"] == "tf_eager"
    # Behind at every step, but 300 ms a step faster: the 0.7 s gap closes ~2.3 steps after the last.
    assert rows["11_dynamic_tf_xla"]["break_even_step"] == "never (~6 projected)"
    for job in ("0_dynamic_tf_eager", "2_dynamic_tf_session_seed=1", "3_dynamic_jax_jit", "10_dynamic_tf_xla_lr=1"):
        assert rows[job]["break_even_step"] is None and "break_even_vs" not in rows[job], job


def test_a_job_that_did_not_complete_is_not_paired(tmp_path):
    _job(tmp_path, "0_a", "tf_eager", "tensorflow", "dynamic", [0.1, 0.6, 1.1, 1.6], ["runtime=tf_eager"],
         status="interrupted")
    _job(tmp_path, "1_b", "tf_function", "tensorflow", "static", [1.0, 1.1, 1.2, 1.3], ["runtime=tf_function"])
    assert [r["break_even_step"] for r in load_results(tmp_path)] == [None, None]
