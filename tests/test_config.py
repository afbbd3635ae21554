"""Real Hydra composition: every option composes, and Hydra itself refuses typos and wrong types."""
import pytest
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf

from helpers import compose_cfg
from src import models
from src.config import validate
from src.errors import ConfigError
from src.registry import MODELS, RUNTIMES

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("runtime", sorted(RUNTIMES))
def test_every_model_and_runtime_composes(model, runtime):
    cfg = compose_cfg(f"model={model}", f"runtime={runtime}")
    assert OmegaConf.get_type(cfg.model) is models.spec(model).Config
    assert (cfg.model.name, cfg.runtime.name) == (model, runtime)
    validate(cfg)


def test_defaults_follow_the_seeds():
    two = compose_cfg()
    assert (two.model.name, two.runtime.name, two.trainer.max_steps, two.seed) == ("two_layer", "lightning", 500, 0)
    assert (two.model.optimizer.lr, two.model.optimizer.momentum) == (1e-6, 0.0)
    dyn = compose_cfg("model=dynamic")
    assert (dyn.model.optimizer.lr, dyn.model.optimizer.momentum, dyn.model.max_depth) == (1e-4, 0.9, 3)
    assert dyn.model.depth is None


def test_overrides_reach_the_config():
    cfg = compose_cfg("model=dynamic", "model.hidden=7", "data.batch_size=3", "model.depth=2", "seed=5")
    assert (cfg.model.hidden, cfg.data.batch_size, cfg.model.depth, cfg.seed) == (7, 3, 2, 5)


@pytest.mark.parametrize("override", [
    "model.hiden=3",  # misspelled key
    "trainer.max_stepz=3",
    "trainer.max_steps=abc",  # wrong type
    "model.optimizer.lr=fast",
    "model.depth=2",  # two_layer has no depth
    "model=no_such_model",  # unknown option
    "runtime=jax",
])
def test_hydra_refuses_bad_keys_and_types(override):
    with pytest.raises(ConfigCompositionException):
        compose_cfg(override)


@pytest.mark.parametrize("overrides, key", [
    (["model.hidden=0"], "model.hidden"),
    (["data.batch_size=-1"], "data.batch_size"),
    (["trainer.max_steps=0"], "trainer.max_steps"),
    (["trainer.devices=0"], "trainer.devices"),
    (["model.optimizer.lr=-1e-3"], "model.optimizer.lr"),
    (["model.optimizer.momentum=1.0"], "model.optimizer.momentum"),
    (["trainer.accelerator=tpu"], "trainer.accelerator"),
    (["model=dynamic", "model.depth=4"], "model.depth"),
    (["model=rnn", "model.max_len=0"], "model.max_len"),
    (["model=rnn", "model.pool=0"], "model.pool"),
    (["model=rnn", "model.compile_buckets=9"], "model.compile_buckets"),
    (["model=rnn", "model.max_len=3", "model.compile_buckets=4"], "model.compile_buckets"),
])
def test_validate_names_the_key(overrides, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate(compose_cfg(*overrides))


@pytest.mark.parametrize("override", ["+model.hiden=3", "+trainer.fast=true", "+model.optimizer.nesterov=true"])
def test_keys_appended_with_plus_are_refused_too(override):
    # Hydra lets `+` add a key to a structured config; graphduel refuses what no runtime reads.
    key = override[1:].split("=")[0]
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + " is not a known key"):
        validate(compose_cfg(override))


@pytest.mark.parametrize("override", ["trainer.devices=2", "trainer.strategy=ddp"])
def test_tf_session_refuses_what_it_cannot_honour(override):
    with pytest.raises(ConfigError, match="runtime=tf_session"):
        validate(compose_cfg("runtime=tf_session", override))


def test_a_preset_that_sweeps_takes_more_sweep_values_without_m():
    """`experiment=static_vs_dynamic seed=0,1,2` is a sweep, as Hydra runs it (the preset sets MULTIRUN);
    the same values on a single run are refused in one line that says to add -m."""
    from src.cli import preflight

    argv = ["train.py", "experiment=static_vs_dynamic", "seed=0,1,2"]
    assert preflight(argv) == argv
    with pytest.raises(ConfigError, match=r"seed=0,1,2.*add -m"):
        preflight(["train.py", "model=dynamic", "seed=0,1,2"])
