"""The only place graphduel touches Hydra's private modules (hydra._internal), so that a Hydra upgrade
breaks here, loudly (tests/test_hydra_private.py), and nowhere else.

- `args_parser()`: Hydra's own command-line parser, so that train.py's pre-flight reads argv exactly as
  Hydra will (-m, --cfg, --help, the overrides...).
- `basic_sweeper()`: Hydra's default sweeper class, which graphduel's sweeper (hydra_plugins/
  graphduel_sweeper) extends with up-front checks of every job; Hydra exposes no public base with its
  sweep grammar.  Taken from sys.modules when asked, never held from an earlier import: Hydra's plugin
  scan re-executes its core plugin modules, which makes a new class, and a subclass of the old one would
  fail in BasicSweeper.__init__'s super() call.
"""
import importlib


def args_parser():
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def basic_sweeper() -> type:
    return importlib.import_module("hydra._internal.core_plugins.basic_sweeper").BasicSweeper
