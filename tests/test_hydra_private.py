"""What graphduel takes from Hydra's private modules (src/hydra_private.py), pinned: if a Hydra upgrade
changes any of it, this fails here, by name, instead of train.py failing for users."""
import inspect
from pathlib import Path

import pytest

from src import hydra_private
from src.hydra_private import args_parser, basic_sweeper

ROOT_CONF = Path(__file__).resolve().parents[1] / "conf"
pytestmark = pytest.mark.unit


def test_hydras_argument_parser_reads_argv_as_train_py_expects():
    args = args_parser().parse_args(["-m", "model=dynamic", "seed=0,1"])
    assert args.multirun is True and args.overrides == ["model=dynamic", "seed=0,1"]
    for flag in ("help", "hydra_help", "cfg", "resolve", "package", "info", "shell_completion", "run"):
        assert hasattr(args, flag), flag
    assert args_parser().parse_args(["--cfg", "job"]).cfg == "job"


def test_basic_sweeper_expands_sweeps_as_graphduels_sweeper_expects():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    BasicSweeper = basic_sweeper()
    assert {"max_batch_size", "params"} <= set(inspect.signature(BasicSweeper.__init__).parameters)
    assert callable(BasicSweeper.sweep) and callable(BasicSweeper._parse_config)
    parsed = OverridesParser.create().parse_overrides(["a=1,2", "b=x", "c=range(0,2)"])
    assert BasicSweeper.split_arguments(parsed, None) == [[
        ["a=1", "b=x", "c=0"], ["a=1", "b=x", "c=1"], ["a=2", "b=x", "c=0"], ["a=2", "b=x", "c=1"]]]


def test_graphduels_sweeper_is_the_one_hydra_instantiates():
    from hydra import compose, initialize_config_dir
    from hydra.core.plugins import Plugins

    from src.config import CONF_DIR, register_configs

    register_configs()
    with initialize_config_dir(CONF_DIR, version_base="1.3"):
        cfg = compose("config", return_hydra_config=True)
    assert cfg.hydra.sweeper._target_ == "hydra_plugins.graphduel_sweeper.GraphduelSweeper"
    from hydra_plugins.graphduel_sweeper import GraphduelSweeper

    assert GraphduelSweeper in Plugins.instance().discover()
    assert issubclass(GraphduelSweeper, basic_sweeper())


def test_basic_sweepers_state_is_what_graphduels_sweeper_reads_and_sets():
    """_parse_config (hydra.sweeper.params as overrides) and overrides (the batches, which get_job_batch and
    is_done walk with batch_index), read and set through src/hydra_private.py."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = basic_sweeper()(max_batch_size=2, params={"seed": "0,1,2", "model": "dynamic"})
    assert hydra_private.sweep_params(sweeper) == ["seed=0,1,2", "model=dynamic"]
    assert hydra_private.batches(sweeper) is None and sweeper.batch_index == 0
    parsed = OverridesParser.create().parse_overrides(hydra_private.sweep_params(sweeper))
    hydra_private.set_batches(sweeper, sweeper.split_arguments(parsed, sweeper.max_batch_size))
    assert [len(b) for b in hydra_private.batches(sweeper)] == [2, 1]
    assert sweeper.get_job_batch() == [["seed=0", "model=dynamic"], ["seed=1", "model=dynamic"]]
    assert sweeper.batch_index == 1 and not sweeper.is_done()
    assert sweeper.get_job_batch() == [["seed=2", "model=dynamic"]]
    assert sweeper.batch_index == 2 and sweeper.is_done()


def _refusal(*overrides: str) -> BaseException:
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException

    from src.config import CONF_DIR, register_configs

    register_configs()
    # (MissingConfigException is a ConfigCompositionException too)
    with pytest.raises(ConfigCompositionException) as e, initialize_config_dir(CONF_DIR, version_base="1.3"):
        compose("config", overrides=list(overrides))
    return e.value


def test_hydras_error_prose_still_reads_as_the_pre_flight_reads_it():
    """src/cli.py turns each of these into one line; if Hydra words them otherwise, this says which."""
    e = _refusal("model=foo")
    assert hydra_private.hydra_error(str(e)) == ("unknown_option", ("model", "foo"))
    assert hydra_private.listed_options(str(e)) == ["dynamic", "rnn", "two_layer"]
    assert "Config search path" in str(e) and "search path" not in hydra_private.without_search_path(str(e))
    assert hydra_private.hydra_error(str(_refusal("model.hiden=3"))) == ("unknown_key", ("model.hiden",))
    assert hydra_private.hydra_error(str(_refusal("seed=0,1"))) == ("ambiguous", ("seed=0,1",))
    for value in ("abc", "1e3"):
        e = _refusal(f"trainer.max_steps={value}")
        assert hydra_private.hydra_error(str(e)) == ("bad_value", (f"trainer.max_steps={value}",))
        assert hydra_private.not_an_integer(str(e.__cause__))
    assert hydra_private.hydra_error(str(_refusal("+seed=1"))) is None  # said as Hydra says it (cli.py)
def test_main_search_path_is_hydra_mains_with_the_command_lines_config_dir(tmp_path):
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from src.cli import TRAIN_PY
    from src.config import register_configs
    from src.hydra_private import main_search_path

    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "fast.yaml").write_text("# @package _global_\nseed: 4\n")
    register_configs()
    with main_search_path(TRAIN_PY, "conf", str(tmp_path)):
        cfg = compose("config", overrides=["+extra=fast"], return_hydra_config=True)
        sources = [(s.provider, s.path) for s in cfg.hydra.runtime.config_sources]
    assert cfg.seed == 4 and cfg.model.name == "two_layer" and cfg.hydra.job.name == "train"
    assert sources[:3] == [("hydra", "hydra.conf"), ("main", str(ROOT_CONF)), ("command-line", str(tmp_path))]
    assert not GlobalHydra.instance().is_initialized()  # restored as it was
