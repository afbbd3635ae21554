"""The debugging table a sweep under probes and faults ends with: rows runtimes, columns probes and faults,
each cell read from the jobs' result.json (src/debugging_table.py)."""
import pytest

from src.debugging_table import table, write

pytestmark = pytest.mark.unit


def _job(runtime, debug=None, **result):
    r = {"model": "two_layer", "runtime": runtime, "status": "completed", "steps": 50, "compiles": 1,
         "median_steady_ms": 1.0, **result}
    if debug:
        probe = debug if debug in ("print", "native", "breakpoint") else "none"
        r["debug"] = {"probe": probe, "fault": "none" if probe != "none" else debug, "fault_step": 10}
    return r


ROWS = [
    _job("jax_jit"),
    _job("jax_jit", "print", probe="print", probe_steps=0, probe_at_setup=1, probe_shows="symbolic"),
    _job("jax_jit", "native", probe="native", probe_steps=50, probe_at_setup=0, probe_shows="numbers",
         median_steady_ms=2.5),
    _job("jax_jit", "data_if", status="failed", steps=0, error_phase="trace", error_type="TracerBoolConversionError",
         error_names_model="src/models/two_layer/jax.py:12"),
    _job("jax_jit", "index"),
    _job("lightning_compile"),
    _job("lightning_compile", "print", probe="print", probe_steps=50, probe_shows="numbers", compiles=4,
         graph_breaks=2, median_steady_ms=4.0),
    _job("lightning_compile", "nan", status="diverged", steps=10, error_phase="step 10"),
]


def test_each_cell_says_what_happened():
    lines = table(ROWS).splitlines()
    assert lines[0] == "| runtime | print | native | nan | data_if | index |"
    jax = lines[2].split(" | ")
    assert jax[1] == "0/50 steps, 1 at setup, symbolic, 1x ms/step (1 ms)"
    assert jax[2] == "50/50 steps, numbers, 2.5x ms/step (2.5 ms)"
    assert jax[4] == "trace: TracerBoolConversionError, names the model's line"
    assert jax[5].rstrip(" |") == "never (completed)"
    torch = lines[3].split(" | ")
    assert torch[1] == "50/50 steps, numbers, +3 builds, 2 graph breaks, 4x ms/step (4 ms)"
    assert torch[3] == "step 10: loss NaN (graphduel's check)"


def test_a_sweep_without_probes_or_faults_has_no_table(tmp_path):
    rows = [_job("jax_jit"), _job("lightning")]
    assert table(rows) is None and write(rows, tmp_path) is None and not (tmp_path / "debugging.md").exists()
    assert write(ROWS, tmp_path) == (tmp_path / "debugging.md").read_text().strip()
