"""Command-line overrides read one way everywhere: by Hydra's own parser (OverridesParser), never by
splitting on '=' by hand.  The pre-flight (src/cli.py: sweeps, resume merging), the sweep's job names
(src/sweeps.py) and the sweep summary's pairing (src/summary.py) read them through this module.

A parsed override keeps its text: `key` is what it sets (`+x=1`, `++x=1` and `~x` all set `x`; a package,
`group@pkg=...`, is part of the key), `value` the text after '=' as given (a sweep's `1e-6,10` stays that
text; `~x` has none), `sweep` whether it holds several values."""
from __future__ import annotations

import functools
from dataclasses import dataclass

from src.errors import ConfigError


@dataclass(frozen=True)
class Override:
    text: str
    key: str
    value: str | None
    sweep: bool


@functools.lru_cache(maxsize=1)
def _parser():
    from hydra.core.override_parser.overrides_parser import OverridesParser

    return OverridesParser.create()


@functools.lru_cache(maxsize=4096)
def parse(text: str) -> Override:
    """One override, or a ConfigError saying why Hydra cannot read it (one line)."""
    try:
        parsed = _parser().parse_overrides([text])[0]
    except Exception as e:
        raise ConfigError(not_an_override(text, e)) from None
    key = parsed.key_or_group + (f"@{parsed.package}" if parsed.package else "")
    # Hydra has read it as [prefix]key[@package][=value]: neither key nor package can hold a '=', so the
    # first one starts the value, as the user wrote it.
    has_value = "=" in parsed.input_line
    return Override(text, key, parsed.input_line.partition("=")[2] if has_value else None, parsed.is_sweep_override())


def not_an_override(o: str, e: BaseException) -> str:
    """Why Hydra's grammar cannot read `o`; for a value it takes only quoted (a path with `=`, quotes or
    non-ASCII letters), the exact word to type instead."""
    from src.shell import hydra_value, override_word

    key, eq, value = o.partition("=")
    try:
        word = override_word(key, value) if eq and key and value else None
    except ValueError:
        word = None
    if word:
        unread = dict.fromkeys("non-ASCII letters" if ord(c) > 127 else repr(c) for c in value
                               if hydra_value(f"a{c}b", key) != f"a{c}b")
        return f"{o}: Hydra reads {', '.join(unread) or 'this value'} only inside quotes: type {word}"
    return f"{o} is not a valid override: {_first_line(e)}."


def _first_line(e: BaseException) -> str:
    return next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)


def interpreted(text: str):
    """The value of one override as Hydra reads it (quotes removed, escapes undone), or a ConfigError."""
    try:
        return _parser().parse_overrides([text])[0].value()
    except Exception as e:
        raise ConfigError(not_an_override(text, e)) from None


def key(text: str) -> str:
    return parse(text).key


def value(text: str) -> str | None:
    return parse(text).value


def by_key(overrides: list[str], strict: bool = True) -> dict[str, str | None]:
    """key -> value as given, a later override of a key replacing an earlier one.  strict=False skips what
    Hydra cannot read (a file written by hand) instead of refusing it."""
    out: dict[str, str | None] = {}
    for text in overrides:
        try:
            o = parse(text)
        except ConfigError:
            if strict:
                raise
            continue
        out[o.key] = o.value
    return out
