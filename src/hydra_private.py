"""The only place graphduel touches Hydra's private modules (hydra._internal), so that a Hydra upgrade
breaks here, loudly (tests/test_hydra_private.py), and nowhere else.

- `args_parser()`: Hydra's own command-line parser, so that train.py's pre-flight reads argv exactly as
  Hydra will (-m, --cfg, --help, the overrides...).
- `basic_sweeper()`: Hydra's default sweeper class, which graphduel's sweeper (hydra_plugins/
  graphduel_sweeper) extends with up-front checks of every job; Hydra exposes no public base with its
  sweep grammar.  Taken from sys.modules when asked, never held from an earlier import: Hydra's plugin
  scan re-executes its core plugin modules, which makes a new class, and a subclass of the old one would
  fail in BasicSweeper.__init__'s super() call.
- `main_search_path(...)`: Hydra initialised with the search path and primary config of the command line
  (`--config-path`, `--config-dir`), so that train.py's pre-flight composes what Hydra will.
"""
from __future__ import annotations

import importlib
import os
from contextlib import contextmanager
from typing import Iterator


def args_parser():
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def basic_sweeper() -> type:
    return importlib.import_module("hydra._internal.core_plugins.basic_sweeper").BasicSweeper


@contextmanager
def main_search_path(calling_file: str, config_path: str | None, config_dir: str | None) -> Iterator[None]:
    """Hydra initialised as `@hydra.main(config_path=...)` in `calling_file` initialises it for a command line
    with `--config-path` / `--config-dir` (hydra._internal.utils._run_hydra): the same search path (Hydra's
    own configs, the primary config's directory, the command line's extra directory before the structured
    configs, the search-path plugins) and task name; for the public compose API (hydra.compose) inside.
    Hydra exposes this only through hydra.main and initialize_config_dir, which knows no --config-dir."""
    from hydra._internal.hydra import Hydra
    from hydra._internal.utils import compute_search_path_dir, create_config_search_path, detect_task_name
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.utils import validate_config_path
    from hydra.errors import SearchPathException
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    validate_config_path(config_path)
    search_path = create_config_search_path(compute_search_path_dir(calling_file, None, config_path))
    if config_dir is not None:
        abs_config_dir = os.path.abspath(config_dir)
        if not os.path.isdir(abs_config_dir):
            raise SearchPathException(f"Additional config directory '{abs_config_dir}' not found")
        search_path.prepend(provider="command-line", path=f"file://{abs_config_dir}",
                            anchor=SearchPathQuery(provider="schema"))
    backup = get_gh_backup()
    try:
        Hydra.create_main_hydra2(task_name=detect_task_name(calling_file, None), config_search_path=search_path)
        yield
    finally:
        restore_gh_from_backup(backup)
