"""Runtimes: one file each, src/runtimes/<name>.py, listed in src/registry.py. The contract is in base.py."""
import importlib

from src.registry import runtime_module


def load(name: str):
    return importlib.import_module(runtime_module(name))
