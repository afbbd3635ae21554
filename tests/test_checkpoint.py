"""Checkpoints (src/checkpoint.py) on their own: what a save holds, and every refusal of one that does not
fit the run asked for, each one line that says what to do."""
import numpy as np
import pytest

from src import checkpoint
from src.errors import ConfigError

pytestmark = pytest.mark.unit

WEIGHTS = {"w1": np.arange(6.0).reshape(2, 3), "w2": np.ones(3)}


def _saved(run_dir, model="two_layer", seed=None, **kw):
    run_dir.mkdir(exist_ok=True)
    if seed is not None:
        (run_dir / ".hydra").mkdir(exist_ok=True)
        (run_dir / ".hydra" / "config.yaml").write_text(f"seed: {seed}\nmodel:\n  name: {model}\n")
    checkpoint.save(str(run_dir), 7, kw.get("weights", WEIGHTS), {"w1": np.full((2, 3), 0.5)}, model=model)
    return checkpoint.load(str(run_dir))


def test_a_checkpoint_holds_step_model_weights_and_momentum(tmp_path):
    ckpt = _saved(tmp_path)
    assert (ckpt.step, ckpt.model, set(ckpt.weights), set(ckpt.momentum)) == (7, "two_layer", {"w1", "w2"}, {"w1"})
    np.testing.assert_array_equal(ckpt.weights["w1"], WEIGHTS["w1"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]  # written atomically, no leftovers
    checkpoint.check_fits(ckpt, str(tmp_path), "two_layer", WEIGHTS, cfg_seed=0)


def test_another_model_is_refused(tmp_path):
    ckpt = _saved(tmp_path, model="dynamic")
    with pytest.raises(ConfigError, match=r"trained model=dynamic.*resume it as model=dynamic"):
        checkpoint.check_fits(ckpt, str(tmp_path), "two_layer", WEIGHTS)


def test_another_seed_is_refused(tmp_path):
    ckpt = _saved(tmp_path, seed=3)
    with pytest.raises(ConfigError, match=r"seed=3.*cannot continue with seed=0.*drop seed=0"):
        checkpoint.check_fits(ckpt, str(tmp_path), "two_layer", WEIGHTS, cfg_seed=0)
    checkpoint.check_fits(ckpt, str(tmp_path), "two_layer", WEIGHTS, cfg_seed=3)


def test_other_sizes_are_refused_naming_each_weight(tmp_path):
    ckpt = _saved(tmp_path)
    want = {"w1": np.zeros((2, 4)), "w3": np.zeros(1)}
    with pytest.raises(ConfigError, match=r"w1 \(2, 3\) vs \(2, 4\), w2 \(3,\) vs absent, w3 absent vs \(1,\)"):
        checkpoint.check_fits(ckpt, str(tmp_path), "two_layer", want)


def test_a_missing_or_damaged_checkpoint_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"no checkpoint\.npz there"):
        checkpoint.load(str(tmp_path))
    (tmp_path / "checkpoint.npz").write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(ConfigError, match=r"checkpoint\.npz is damaged.*start a new run"):
        checkpoint.load(str(tmp_path))


def test_an_old_checkpoint_without_its_model_takes_it_from_the_saved_config(tmp_path):
    np.savez(tmp_path / "checkpoint.npz", step=np.int64(3), **{f"weight/{k}": v for k, v in WEIGHTS.items()})
    assert checkpoint.load(str(tmp_path)).model is None
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("model:\n  name: dynamic\n")
    assert checkpoint.load(str(tmp_path)).model == "dynamic"
