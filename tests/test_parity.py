"""Same seed, same numbers: at float64 every runtime computes lightning's loss curve, step for step.

This is the proof that the implementations are the same computation: trained from the same seeded start,
each runtime's per-step loss, as TensorBoard reads it from the event files, stays within 1e-9 (relative)
of lightning's over 500 steps (or the PARITY_STEPS its spec sets), for every model and seeds 0-4.  (At
float32 the gap grows with training; `python -m src.parity` measures it, and docs/parity.md reports it.)"""
import numpy as np
import pytest

from helpers import train
from src import models
from src.parity import BASELINE, gaps
from src.registry import MODELS, RUNTIMES

pytestmark = [pytest.mark.contract, pytest.mark.slow]
SEEDS, STEPS = range(5), 500


def steps(model: str) -> int:
    """500, or fewer for a model whose steps cost more (rnn: a Python loop over time in the eager runtimes)."""
    return getattr(models.spec(model), "PARITY_STEPS", STEPS)


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory):
    """One warm compile cache for the module: what is compared is the numbers, and a compile served from the
    cache computes what a cold one does (a cold torch.compile per seed and model cost ~2 minutes a model)."""
    return ("trainer.compile_cache=warm", f"trainer.compile_cache_dir={tmp_path_factory.mktemp('compile_cache')}")


@pytest.fixture(scope="module", params=MODELS)
def model_gaps(request, compile_cache):
    return request.param, gaps(request.param, SEEDS, precision=64, steps=steps(request.param), extra=compile_cache)


@pytest.mark.parametrize("runtime", [r for r in RUNTIMES if r != BASELINE])
def test_float64_parity_with_lightning(model_gaps, runtime):
    model, g = model_gaps
    assert g[runtime].shape == (len(SEEDS), steps(model))
    worst = g[runtime].max()
    assert worst < 1e-9, f"{model} on {runtime}: relative gap {worst:.2e} (seed {g[runtime].max(axis=1).argmax()})"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_precision_64_is_float64_end_to_end(tmp_path, runtime):
    """Weights and momentum come back as float64 (a float32 step anywhere would round them), and the loss
    differs from the float32 run's in the digits float32 cannot hold."""
    result = train(tmp_path / "64", "model=dynamic", f"runtime={runtime}", "trainer.precision=64",
                   "trainer.max_steps=5")
    assert result["precision"] == 64 and result["status"] == "completed"
    with np.load(tmp_path / "64" / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files if k.startswith(("weight/", "momentum/"))}
    assert any(k.startswith("momentum/") for k in arrays)
    assert {a.dtype for a in arrays.values()} == {np.dtype(np.float64)}
    r32 = train(tmp_path / "32", "model=dynamic", f"runtime={runtime}", "trainer.max_steps=5")
    assert r32["first_loss"] == float(np.float32(r32["first_loss"]))  # float32 values...
    assert result["first_loss"] != float(np.float32(result["first_loss"]))  # ...and one float32 cannot hold
    assert result["first_loss"] == pytest.approx(r32["first_loss"], rel=1e-6)  # the same start
