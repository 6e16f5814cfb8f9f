"""Subcommands of the learn package: train, table1, detect-eval (each in its own module)."""
from __future__ import annotations

import importlib

_MODULES = ("learn.train_cli", "learn.table1_cli", "learn.detect_cli")


def register(subparsers) -> None:
    """Add every learn subcommand whose module is present to ``subparsers``."""
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        module.register(subparsers)
