"""What graphduel takes from Hydra's private modules (src/hydra_private.py), pinned: if a Hydra upgrade
changes any of it, this fails here, by name, instead of train.py failing for users."""
import inspect
from pathlib import Path

import pytest

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
