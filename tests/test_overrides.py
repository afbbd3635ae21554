"""Overrides read by Hydra's own parser (src/overrides.py), as the pre-flight, the sweep's job names and the
sweep summary read them; and the pre-flight's merging of a resumed run's overrides with today's."""
import pytest

from src import cli
from src.errors import ConfigError
from src.overrides import Override, by_key, parse

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text, key, value, sweep", [
    ("model=dynamic", "model", "dynamic", False),
    ("+x=1", "x", "1", False),
    ("++x=1", "x", "1", False),
    ("~x", "x", None, False),
    ("model@pkg=dynamic", "model@pkg", "dynamic", False),
    ("model.optimizer.lr=1e-6,10", "model.optimizer.lr", "1e-6,10", True),  # as given, not as Hydra reads 1e-6
    ("seed=range(3)", "seed", "range(3)", True),
    ("a.b='q=r'", "a.b", "'q=r'", False),  # a '=' inside a quoted value is the value's
    ("resume=", "resume", "", False),
])
def test_a_key_and_its_value_as_given(text, key, value, sweep):
    assert parse(text) == Override(text, key, value, sweep)


def test_what_hydra_cannot_read_is_one_line():
    with pytest.raises(ConfigError) as e:
        parse("model.depth=[1,")
    # one line, and the quoted form Hydra would take instead (src/cli.py's refusal, shared by every reader)
    assert str(e.value) == """model.depth=[1,: Hydra reads '[', ',' only inside quotes: type "model.depth='[1,'\""""


def test_by_key_a_later_override_wins_and_unreadable_ones_can_be_skipped():
    assert by_key(["seed=0", "+lr=1", "seed=1"]) == {"seed": "1", "lr": "1"}
    with pytest.raises(ConfigError):
        by_key(["seed=0", "a=[1,"])
    assert by_key(["seed=0", "a=[1,"], strict=False) == {"seed": "0"}


def test_resuming_merges_overrides_by_key_todays_winning_and_never_grows():
    old = ["model=dynamic", "runtime=tf_eager", "trainer.max_steps=20", "+extra=1"]
    new = ["trainer.max_steps=40", "extra=2"]
    merged = cli._merge(old, new)
    assert merged == ["model=dynamic", "runtime=tf_eager", "trainer.max_steps=40", "extra=2"]
    assert cli._merge(merged, new) == merged
    assert cli._resume_dir(["seed=1", "resume=/a", "resume=/b"]) == "/b"
    assert cli._resume_dir(["resume=null"]) is None and cli._resume_dir(["seed=1"]) is None
