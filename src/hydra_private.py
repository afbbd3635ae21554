"""The only place graphduel touches Hydra's private modules (hydra._internal), so that a Hydra upgrade
breaks here, loudly (tests/test_hydra_private.py), and nowhere else.

- `args_parser()`: Hydra's own command-line parser, so that train.py's pre-flight reads argv exactly as
  Hydra will (-m, --cfg, --help, the overrides...).
- `basic_sweeper()`: Hydra's default sweeper class, which graphduel's sweeper (hydra_plugins/
  graphduel_sweeper) extends with up-front checks of every job; Hydra exposes no public base with its
  sweep grammar.  Taken from sys.modules when asked, never held from an earlier import: Hydra's plugin
  scan re-executes its core plugin modules, which makes a new class, and a subclass of the old one would
  fail in BasicSweeper.__init__'s super() call.
- `sweep_params(sweeper)`, `batches(sweeper)`, `set_batches(sweeper, ...)`, `jobs_before_batch(sweeper)`: the
  BasicSweeper state graphduel's sweeper reads and sets (its private `_parse_config`, its undocumented
  `overrides` and `batch_index`).
- `hydra_error(message)`, `listed_options(message)`, `without_search_path(text)`, `not_an_integer(message)`:
  Hydra's (and OmegaConf's) error prose, read by the pre-flight (src/cli.py explain): they raise one
  exception type for every composition error and say which in words, so graphduel reads the words.
"""
import importlib
import re


def args_parser():
    from hydra._internal.utils import get_args_parser

    return get_args_parser()


def basic_sweeper() -> type:
    return importlib.import_module("hydra._internal.core_plugins.basic_sweeper").BasicSweeper


# -- BasicSweeper's state (graphduel's sweeper extends it: hydra_plugins/graphduel_sweeper) ---------------
def sweep_params(sweeper) -> list[str]:
    """hydra.sweeper.params as overrides (`key=v1,v2`), as BasicSweeper.sweep reads them: its _parse_config."""
    return list(sweeper._parse_config())


def batches(sweeper) -> list:
    """The sweep's jobs in launch batches (lists of lists of override lists), once sweep() split them."""
    return sweeper.overrides


def set_batches(sweeper, jobs_in_batches) -> None:
    """Sets the batches BasicSweeper's get_job_batch()/is_done() walk."""
    sweeper.overrides = jobs_in_batches


def jobs_before_batch(sweeper) -> int:
    """Jobs in the batches before the one get_job_batch() returned last: the first job number of that batch."""
    return sum(len(b) for b in sweeper.overrides[:sweeper.batch_index - 1])


# -- Hydra's error prose ---------------------------------------------------------------------------------
_ERRORS = {  # kind -> what Hydra 1.3's ConfigCompositionException (or MissingConfigException) says
    "unknown_option": re.compile(r"Could not find '([^']+)/([^'/]+)'"),  # group, option
    "unknown_key": re.compile(r"Could not override '([^']+)'"),  # key
    "ambiguous": re.compile(r"^Ambiguous value for argument '([^']*)'"),  # override (a sweep without -m)
    "bad_value": re.compile(r"Error merging override (\S+)"),  # override (the cause says why)
}


def hydra_error(message: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, its parts) for a composition error Hydra says in these words, else None (see _ERRORS)."""
    for kind, pattern in _ERRORS.items():
        if m := pattern.search(message):
            return kind, m.groups()
    return None


def listed_options(message: str) -> list[str]:
    """The options Hydra lists after "Could not find '<group>/<option>'" (a tab before each)."""
    return re.findall(r"^\t(\S+)$", message.split("\nConfig search path:")[0], re.M)


def without_search_path(text: str) -> str:
    """A Hydra error without the config search path it may list after its remedy lines."""
    return text.split("\nConfig search path:")[0]


def not_an_integer(message: str) -> bool:
    """OmegaConf's words for a value an int field cannot take ('abc', or 1e3 read as 1000.0)."""
    return "could not be converted to Integer" in message
