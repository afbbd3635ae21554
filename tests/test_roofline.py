"""The ladder's rungs (conf/size/, conf/size_model/) and the roofline's table and plot (src/roofline.py)."""
from __future__ import annotations

import pytest

from src.registry import MODELS
from tests.helpers import compose_cfg

pytestmark = pytest.mark.unit

LADDER = ["100x64", "300x256", "1000x1024", "2000x2048"]


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
