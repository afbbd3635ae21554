"""debug.probe=breakpoint and debug.fault as a user meets them on the command line: pdb on the terminal (here a
scripted session on stdin), and a faulted run's exit code, result.json and directory."""
import json
import subprocess
import sys

import pytest

from helpers import ROOT, env_without_full_error

pytestmark = pytest.mark.e2e
N = 4  # steps


@pytest.mark.parametrize("runtime, stops, shown", [
    ("lightning", N, "tensor(0.0"),  # eager: a stop every step, the numbers
    ("jax_jit", 1, "JitTracer(float32[])"),  # once, at the trace: a tracer
])
def test_pdb_driven_from_stdin(tmp_path, runtime, stops, shown):
    """Python's breakpoint() as a user meets it: pdb on the terminal, here a scripted session on stdin."""
    script = "p h.mean()\nc\n" * N
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), f"runtime={runtime}", "model=dynamic",
                          f"trainer.max_steps={N}", "trainer.progress_bar=false", "debug.probe=breakpoint",
                          f"hydra.run.dir={tmp_path}"], input=script, capture_output=True, text=True,
                         timeout=300, cwd=tmp_path, env=env_without_full_error())
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("(Pdb) ") == 2 * stops  # `p`, then `c`, at every stop
    r = json.loads((tmp_path / "result.json").read_text())
    assert r["probe_stops"] == stops and shown in r["pdb_shows"]


def test_a_faulted_run_ends_like_any_failed_run(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "runtime=tf_eager", "trainer.max_steps=5",
                          "trainer.progress_bar=false", "debug.fault=index", "debug.fault_step=3",
                          "trainer.checkpoint_every_n_steps=1", f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env_without_full_error())
    assert out.returncode == 1
    r = json.loads((tmp_path / "result.json").read_text())
    assert (r["status"], r["steps"], r["error_phase"], r["checkpoint_step"]) == ("failed", 2, "step 3", 2)
    assert "indices = 100 is not in [0, 100)" in r["error_first_line"]
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("events.")) == [
        ".hydra", "checkpoint.npz", "result.json"]


def test_a_sweep_under_probes_and_faults_ends_with_the_debugging_table(tmp_path):
    """experiment=debugging's way, on two runtimes: the jobs that fail are listed, the others still run, and the
    summary has the table (rows runtimes, columns probes and faults)."""
    out = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "runtime=lightning,jax_jit",
                          "debug=none,probe_print,fault_data_if", f"trainer.max_steps={N}",
                          "trainer.progress_bar=false", f"hydra.sweep.dir={tmp_path}"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env_without_full_error())
    assert out.returncode == 1  # jax_jit's data_if failed at its trace: the sweep says so
    table = (tmp_path / "debugging.md").read_text().splitlines()
    assert table[0] == "| runtime | print | data_if |"
    assert table[2].startswith(f"| lightning | {N}/{N} steps, numbers") and table[2].endswith("| never (completed) |")
    assert table[3].startswith(f"| jax_jit | 0/{N} steps, 1 at setup, symbolic")
    assert "| trace: TracerBoolConversionError, names the model's line" in table[3]
    assert "what each probe and fault did" in out.stdout
