"""experiment=scaling: every model x runtime x rung of the ladder composes and passes graphduel's checks
(the sweeper's own job listing, hydra.sweeper.list_jobs=true: each job composed and checked, none run), and
each rung sets what it says (the rnn's lengths too)."""
from __future__ import annotations

import subprocess
import sys
from itertools import product

import pytest

from src.registry import MODELS, RUNTIMES
from tests.helpers import ROOT, compose_cfg

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
        rest, size = rest.rsplit("_size=", 1)
        model = next(m for m in MODELS if rest.startswith(m + "_"))
        jobs.add((model, rest[len(model) + 1:], size))
    assert jobs == set(product(MODELS, RUNTIMES, LADDER)) and len(names) == len(jobs)
    assert not (tmp_path / "sweep").exists()  # listed, not run


@pytest.mark.unit
@pytest.mark.parametrize("size", LADDER)
def test_a_rung_sets_hidden_and_batch_for_every_model_and_the_rnns_length(size):
    hidden, batch = (int(v) for v in size.split("x"))
    lengths = []
    for model in MODELS:
        cfg = compose_cfg(f"model={model}", f"size={size}")
        assert (cfg.model.hidden, cfg.data.batch_size) == (hidden, batch)
        if model == "rnn":
            lengths.append(cfg.model.max_len)
    assert compose_cfg("model=rnn").model.max_len == 20 and lengths[0] >= 1


@pytest.mark.unit
def test_the_roofline_table_sets_each_runtime_against_its_own_frameworks_floor(tmp_path):
    from src import roofline
    from src.summary import floors_sentence

    points = [dict(model="two_layer", runtime=rt, framework=fw, graph=g, size=size, flops=flops, ms=ms, lo=ms * 0.9,
                   hi=ms * 1.1, peak_gflops=peak, break_even=even)
              for rt, fw, g, peak, even in (("jax_jit", "jax", "static", 400.0, 3), ("lightning", "torch", "dynamic",
                                                                                      200.0, None))
              for size, flops, ms in (("100x64", 26e6, 0.3), ("1000x1024", 4.1e9, 25.0))]
    text = roofline.table(points)
    row = next(line for line in text.splitlines() if "| 1000x1024 | lightning |" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[9] == f"{4.1e9 / 200e9 * 1e3:.3g}"  # floor ms: FLOPs at torch's own peak, not jax's
    assert cells[10] == f"{25.0 / (4.1e9 / 200e9 * 1e3):.2f}" and cells[11] == "torch GEMM, 200 GFLOP/s"
    sentence = floors_sentence(points)
    assert "jax_jit against jax's GEMM floor (400 GFLOP/s)" in sentence
    assert "lightning against torch's GEMM floor (200 GFLOP/s)" in sentence
    roofline.plot(points, str(tmp_path / "roofline.png"))
    assert (tmp_path / "roofline.png").stat().st_size > 10_000
