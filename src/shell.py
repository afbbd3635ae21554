"""Paths as a user pastes them: into bash, and into a Hydra override.

A run directory may hold spaces, quotes, `=` (a sweep job's name) or non-ASCII letters.  Every command
graphduel prints (`resume with:`, `tensorboard --logdir`) quotes it twice where needed: for Hydra's override
grammar inside the word (its quoted strings), then for bash around the word (shlex), so that it pastes and
runs.  Numpy-free and Hydra-light: the check of a quoted value uses Hydra's own override parser.
"""
from __future__ import annotations

import re
import shlex


def _parses_to(override: str, value: str) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_override(override)
    except Exception:
        return False
    return not parsed.is_sweep_override() and parsed.value() == value


def _hydra_forms(text: str, key: str) -> list[str]:
    """Every way of writing `text` that Hydra's override `key=<it>` reads back as exactly `text`: as it is
    when its grammar takes it unquoted, and as a Hydra quoted string in either quote (its docs: a quote
    inside is escaped with a backslash, and so are the backslashes right before a quote or at the end)."""
    if text and _parses_to(f"{key}={text}", text):
        return [text]
    forms = []
    for q in ("'", '"'):
        body = re.sub(r"(\\+)(?=" + q + r"|$)", lambda m: m.group(1) * 2, text).replace(q, "\\" + q)
        if _parses_to(f"{key}={q}{body}{q}", text):
            forms.append(f"{q}{body}{q}")
    if not forms:
        raise ValueError(f"Hydra cannot take {text!r} as a value")
    return forms


def hydra_value(text: str, key: str = "resume") -> str:
    """`text` as Hydra's override `key=<it>` reads it back: unquoted where its grammar allows, else quoted."""
    return _hydra_forms(text, key)[0]


def override_word(key: str, text: str) -> str:
    """`key=text` as one bash word that Hydra reads back as exactly `text`: the shortest of the forms."""
    return min((bash_word(f"{key}={form}") for form in _hydra_forms(text, key)), key=len)


def override(key: str, text: str) -> str:
    """`key=text` as one Hydra override that gives back exactly `text`."""
    return f"{key}={hydra_value(text, key)}"


def bash_word(word: str) -> str:
    """`word` as bash reads it back unchanged: as it is, else the shorter of double quotes (with `\\` before
    the four characters special inside them) and shlex.quote's single quotes."""
    quoted = shlex.quote(word)
    if quoted == word:
        return word
    if "!" not in word:  # history expansion, in an interactive bash, even inside double quotes
        double = '"' + re.sub(r'(["$`\\])', r"\\\1", word) + '"'
        if len(double) <= len(quoted):
            return double
    return quoted


def command(*words: str) -> str:
    """A command line that bash splits back into exactly `words`."""
    return " ".join(bash_word(w) for w in words)
