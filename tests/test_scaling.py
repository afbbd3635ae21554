"""The scaling work as a user runs it: experiment=scaling composes and passes graphduel's checks for every
model x runtime x rung of the ladder (the sweeper's own job listing, hydra.sweeper.list_jobs=true: each job
composed and checked, none run); bench.py --peak writes the floor's file; trainer.steps_per_call is refused
in one line where it cannot be honoured (tests/test_roofline.py, test_steps_per_call.py: the rest)."""
from __future__ import annotations

import subprocess
import sys
from itertools import product

import pytest

from src.registry import MODELS, RUNTIMES
from tests.helpers import ROOT

pytestmark = pytest.mark.e2e

LADDER = ["100x64", "300x256", "1000x1024", "2000x2048"]


def test_scaling_composes_every_model_runtime_and_size(tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "experiment=scaling", "hydra.sweeper.list_jobs=true",
                           f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    names = proc.stdout.split()
    jobs = set()
    for name in names:
        num, rest = name.split("_", 1)
        rest, size = rest.rsplit("_size-", 1)
        model = next(m for m in MODELS if rest.startswith(m + "_"))
        jobs.add((model, rest[len(model) + 1:], size))
    assert jobs == set(product(MODELS, RUNTIMES, LADDER)) and len(names) == len(jobs)
    assert not (tmp_path / "sweep").exists()  # listed, not run


def test_bench_peak_writes_the_rates_with_the_machine(tmp_path):
    import json
    import subprocess
    import sys

    from tests.helpers import ROOT

    path = tmp_path / "peak.json"
    proc = subprocess.run([sys.executable, "bench.py", "--peak", "--frameworks", "numpy", "--rounds", "1",
                           "--peak-file", str(path)], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    peak = json.loads(path.read_text())
    assert peak["machine"]["cpu"] and peak["machine"]["cores"] and peak["threads"] >= 1
    numpy = peak["frameworks"]["numpy"]
    assert numpy["gflops"] == numpy["shapes"]["2048x2048x2048"]["gflops"] > 0 and numpy["versions"]["numpy"]
    assert set(numpy["shapes"]) == {"2048x2048x2048", "64x1000x100", "1000x64x100"}
    assert "| numpy |" in proc.stdout


def test_the_refusal_is_one_line_and_exit_2_before_any_framework(tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "runtime=lightning_compile", "trainer.steps_per_call=4",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and not (tmp_path / "run").exists()
    assert proc.stderr.strip().count("\n") == 0 and "torch.compile" in proc.stderr
