"""The test tiers.  Every test module carries exactly one of three marks, as its own `pytestmark`:

    unit      in-process, imports no deep-learning framework, fast: pure logic (python -m pytest -m unit)
    contract  in-process runtime tests of a few steps (real frameworks)
    e2e       the program as a user runs it: subprocesses, Hydra's command line, TensorBoard's server

A module without one (or with two) fails collection, saying what to write.  The marks are read from the
module's source, before it is imported: so `-m unit` imports no other module at all, and under it importing
torch, tensorflow, jax or lightning raises ImportError, so that a unit test that imports one fails loudly
(TensorBoard's readers, which use TensorFlow where they can, fall back to their own TensorFlow-free code).
The unit tier runs first, then contract, then e2e: the quick answers come first."""
from __future__ import annotations

import ast
import re
import sys
from importlib.abc import MetaPathFinder
from pathlib import Path

import pytest

TIERS = ("unit", "contract", "e2e")
FRAMEWORKS = ("torch", "tensorflow", "jax", "jaxlib", "pytorch_lightning", "lightning", "lightning_fabric",
              "tf_keras", "keras")
_marks: dict[Path, set[str]] = {}


def module_marks(path: Path) -> set[str]:
    """The names X of `pytest.mark.X` in the module's top-level `pytestmark = ...` (one mark or a list)."""
    if path not in _marks:
        marks: set[str] = set()
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
                marks |= {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)
                          and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"}
        _marks[path] = marks
    return _marks[path]


def tier_error(path: Path) -> str | None:
    tiers = module_marks(path) & set(TIERS)
    if len(tiers) == 1:
        return None
    found = f"it has {' and '.join(sorted(tiers))}" if tiers else "it has none"
    return (f"{path.name} must carry exactly one test tier ({found}): add `pytestmark = pytest.mark.unit` "
            "(in-process, no deep-learning framework), `pytest.mark.contract` (in-process runtime tests) or "
            "`pytest.mark.e2e` (subprocesses, Hydra, TensorBoard) at its top; see tests/conftest.py")


def unit_only(config) -> bool:
    """-m unit (or `unit and ...`): the unit tier alone."""
    return re.fullmatch(r"\s*unit(\s+and\s+.*)?", config.option.markexpr or "") is not None


class _NoFrameworks(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in FRAMEWORKS:
            raise ImportError(f"the unit tier imports no deep-learning framework, and this imported {name}: "
                              "make the test a contract one, or test the logic without it (tests/conftest.py)")
        return None


def pytest_configure(config):
    if unit_only(config):
        sys.meta_path.insert(0, _NoFrameworks())


class _TierError(pytest.File):
    def collect(self):
        raise self.CollectError(tier_error(self.path))


def pytest_pycollect_makemodule(module_path, parent):
    if tier_error(module_path):
        return _TierError.from_parent(parent, path=module_path)
    return None


def pytest_ignore_collect(collection_path, config):
    """Under -m unit, the other tiers' modules are not even imported."""
    if (unit_only(config) and collection_path.suffix == ".py" and collection_path.name.startswith("test_")
            and not tier_error(collection_path) and "unit" not in module_marks(collection_path)):
        return True
    return None


def pytest_collection_modifyitems(items):
    def tier(item):
        marks = module_marks(item.path) if item.path.suffix == ".py" else set()
        return next((i for i, t in enumerate(TIERS) if t in marks), len(TIERS))

    items.sort(key=tier)  # stable: each module's tests stay together and in order
