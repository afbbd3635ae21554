"""Looking inside a step, and a step that breaks (debug.probe, debug.fault; docs/debugging.md): per runtime,
how many of N steps each probe fired on and what it showed, what pdb shows at a breakpoint, and where
each fault surfaces -- every number read from the run's own result.json, counted from its real stdout."""
import contextlib
import json

import pytest

from helpers import train
from src.registry import RUNTIMES

pytestmark = pytest.mark.contract
N = 4  # steps


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run per (runtime, probe or fault), made when a test first asks for it."""
    cache = {}

    def get(runtime, *overrides, model="two_layer"):
        key = (runtime, model, *overrides)
        if key not in cache:
            d = tmp_path_factory.mktemp(runtime)
            # A fault, or a probe the runtime cannot compile, raises: result.json says what happened.
            with contextlib.suppress(Exception):
                train(d, f"model={model}", f"runtime={runtime}", f"trainer.max_steps={N}", *overrides)
            cache[key] = json.loads((d / "result.json").read_text())
        return cache[key]

    return get


# runtime, probe -> (steps it fired on, lines at the setup's trace or build, what it showed)
PROBES = {
    ("lightning", "print"): (N, 0, "numbers"),
    ("lightning_compile", "print"): (N, 0, "numbers"),  # a graph break: Dynamo runs the print eagerly
    # Dynamo's own way, documented to print after the graph: torch 2.13 drops a print made in a function the
    # compiled one calls (the model's hidden()), silently, and breaks no graph.
    ("lightning_compile", "native"): (0, 0, "nothing"),
    ("tf_session", "print"): (0, 1, "symbolic"),  # once, when the graph is built
    ("tf_session", "native"): (N, 0, "numbers"),  # the tensors fetched with the step
    ("tf_eager", "print"): (N, 0, "numbers"),
    ("tf_function", "print"): (0, 1, "symbolic"),  # once, at the trace
    ("tf_function", "native"): (N, 0, "numbers"),  # tf.print: every call
    ("tf_xla", "print"): (0, 1, "symbolic"),
    ("jax_eager", "print"): (N, 0, "numbers in a tracer"),  # value_and_grad's tracer, holding its value
    ("jax_eager", "native"): (N, 0, "numbers"),
    ("jax_jit", "print"): (0, 1, "symbolic"),  # once, a tracer
    ("jax_jit", "native"): (N, 0, "numbers"),  # jax.debug.print: every call
}


@pytest.mark.parametrize("runtime, probe", PROBES)
def test_a_probe_fires_as_its_framework_says(runs, runtime, probe):
    r = runs(runtime, f"debug.probe={probe}")
    steps, setup, shows = PROBES[(runtime, probe)]
    assert r["status"] == "completed", r["error"]
    assert (r["probe_steps"], r["probe_at_setup"], r["probe_shows"]) == (steps, setup, shows), r["probe_sample"]
    if runtime == "lightning_compile":
        assert (len(r["graph_breaks"]) >= 1) == (probe == "print"), r["graph_breaks"]


def test_tf_print_cannot_be_compiled_by_xla(runs):
    r = runs("tf_xla", "debug.probe=native")
    assert (r["status"], r["steps"], r["error_phase"]) == ("failed", 0, "compile")
    assert "Detected unsupported operations" in r["error"]


def test_the_numbers_a_probe_shows_agree_across_runtimes(runs):
    shown = {rt: runs(rt, f"debug.probe={p}")["probe_values"]
             for rt, p in [("lightning", "print"), ("tf_session", "native"), ("tf_eager", "print"),
                           ("tf_function", "native"), ("jax_eager", "native"), ("jax_jit", "native")]}
    base = shown["jax_jit"]
    assert len(base) == N and all(len(v) == 2 for v in base)
    for rt, values in shown.items():  # torch prints 4 decimals
        assert sum(values, []) == pytest.approx(sum(base, []), rel=2e-3, abs=1e-4), rt


def test_no_probe_no_fault_adds_nothing(runs):
    r = runs("tf_function")
    assert not [k for k in r if k.startswith(("probe", "pdb", "error_", "graph_breaks"))]


# runtime, fault -> where it surfaced: the setup's build or trace or compile, a step, or never (completed)
FAULTS = {
    "lightning": {"shape": "step 2", "data_if": None, "index": "step 2", "nan": "step 2"},
    "lightning_compile": {"shape": "step 2 (compiling)", "data_if": None, "index": "step 2 (compiling)"},
    "tf_session": {"shape": "step 2", "data_if": "build", "index": "step 2"},
    "tf_eager": {"shape": "step 2", "data_if": None, "index": "step 2"},
    "tf_function": {"shape": "step 2", "data_if": None, "index": "step 2"},  # AutoGraph: the if is a tf.cond
    "tf_xla": {"shape": "step 2", "data_if": None, "index": None},  # XLA's gather clamps the index: silently
    "jax_eager": {"shape": "step 2", "data_if": None, "index": None},  # a grad tracer's index clamps too
    "jax_jit": {"shape": "trace", "data_if": "trace", "index": None, "nan": "step 2"},
}


@pytest.mark.parametrize("runtime, fault", [(rt, f) for rt, faults in FAULTS.items() for f in faults])
def test_a_fault_surfaces_where_its_framework_finds_it(runs, runtime, fault):
    r = runs(runtime, f"debug.fault={fault}", "debug.fault_step=2")
    expected = FAULTS[runtime][fault]
    if expected is None:
        assert r["status"] == "completed" and "error_phase" not in r
        return
    assert r["error_phase"] == expected, r["error"]
    if fault == "nan":  # no framework says: graphduel's check of the loss does
        assert r["status"] == "diverged" and r["error_names_model"] is None
        return
    assert r["status"] == "failed" and r["steps"] == (0 if expected in ("build", "trace") else 1)
    assert r["error_names_model"].startswith("src/models/two_layer/"), r["error"]  # the model's own line
    assert sum(r["error_frames"].values()) > 0 and r["error_s"] > 0


@pytest.mark.parametrize("runtime, stops, shows", [
    ("lightning_compile", N, "text"),  # stops in Dynamo's resume function, where `h` is not defined
    ("tf_function", 1, "symbolic"),  # once, at the trace, in AutoGraph's copy of the code
])
def test_a_breakpoint_stops_where_its_runtime_runs_python(runs, runtime, stops, shows):
    r = runs(runtime, "debug.probe=breakpoint", "debug.pdb_commands='p h;;c'")
    assert r["status"] == "completed", r["error"]
    assert (r["probe_stops"], r["probe_shows"]) == (stops, shows), r["pdb_shows"]


def test_every_runtime_is_in_the_tables():
    assert set(FAULTS) == set(RUNTIMES) and {rt for rt, _ in PROBES} == set(RUNTIMES)


def test_tensorboard_has_the_probe_lines_of_every_step(tmp_path):
    from helpers import scalars

    r = train(tmp_path, "model=two_layer", "runtime=tf_function", f"trainer.max_steps={N}", "debug.probe=native")
    assert [v for _, v in scalars(tmp_path)["debug/probe_lines"]] == [1.0] * N
    assert r["summary"]["debug/probe_lines"]["median"] == 1
