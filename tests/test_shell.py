"""src/shell.py: a path quoted for Hydra inside the word and for bash around it comes back exactly, through
the real bash and Hydra's own override parser."""
import subprocess

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from src.shell import bash_word, command, hydra_value, override, override_word

pytestmark = pytest.mark.unit

PATHS = [
    "/plain/outputs/2026-12-02/01-02-03-456789_two_layer_lightning",
    "/tmp/a b", "/tmp/trailing ", " /tmp/leading", "/tmp/résumé_日本", "/tmp/it's", '/tmp/say "hi"',
    "/multirun/0_two_layer_lightning_seed=0", "/tmp/a,b", "/tmp/x (1)", "/tmp/[x]", "/tmp/{x}", "/tmp/a:b",
    "/tmp/back\\slash", "/tmp/end\\", "/tmp/q\\'", "/tmp/$HOME", "/tmp/`id`", "/tmp/wow!", "/tmp/tab\there",
    "/tmp/' \" = , ! $ \\ é",
]


def through_bash(line: str) -> list[str]:
    out = subprocess.run(["bash", "-c", f"printf '%s\\0' {line}"], capture_output=True, text=True, check=True)
    return out.stdout.split("\0")[:-1]


@pytest.mark.parametrize("path", PATHS)
def test_an_override_word_pastes_into_bash_and_hydra_reads_the_path(path):
    (typed,) = through_bash(override_word("resume", path))
    parsed = OverridesParser.create().parse_override(typed)
    assert (parsed.key_or_group, parsed.value(), parsed.is_sweep_override()) == ("resume", path, False)
    assert OverridesParser.create().parse_override(override("hydra.run.dir", path)).value() == path


def test_plain_paths_stay_unquoted():
    assert hydra_value(PATHS[0]) == PATHS[0] and override_word("resume", PATHS[0]) == f"resume={PATHS[0]}"
    assert bash_word("/tmp/a=b") == "/tmp/a=b"  # shlex's safe characters: nothing to quote
    assert bash_word("/tmp/a b") == '"/tmp/a b"'  # double quotes read more easily than shlex's '...'


def test_a_command_line_splits_back_into_its_words():
    words = ["python", "/my dir/train.py", *PATHS]
    assert through_bash(command(*words)) == words
