"""Subcommands of the learn package: train, table1, detect-eval (each in its own module)."""
from __future__ import annotations

_MODULES = ("learn.train_cli", "learn.table1_cli", "learn.detect_cli")


def register(subparsers) -> None:
    """Add every learn subcommand whose module is present to ``subparsers``."""
    from canopic.cli import register_modules

    register_modules(subparsers, _MODULES)
