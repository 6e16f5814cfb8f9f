"""What every ``canopic`` subcommand shares: how it is added, and the flags that mean the same
thing everywhere (docs/usage.md).

- ``--out``: the file or folder the command writes.
- ``--overwrite``: replace an existing ``--out`` (without it an existing one is refused).
- ``--debug``: show the Python traceback of an error instead of one line.
"""
from __future__ import annotations

import argparse
from typing import Callable, Optional


def add_command(subparsers, name: str, help: str, description: str,
                func: Callable[[argparse.Namespace], int], epilog: Optional[str] = None,
                out: Optional[str] = None, overwrite: bool = False,
                defaults_in_help: bool = False) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the shared flags; return its parser for the other flags.

    Parameters
    ----------
    subparsers
        What ``argparse.ArgumentParser.add_subparsers`` returned.
    name, help, description, epilog : str
        The command's name, one-line help, ``--help`` description and example line.
    func : callable
        The handler: takes the parsed namespace, returns the exit code.
    out : str, optional
        Help text of a required ``--out`` (None: the command takes no ``--out``).
    overwrite : bool
        Add ``--overwrite`` (replace an existing ``--out``).
    defaults_in_help : bool
        Show every option's default in ``--help``.
    """
    parser = subparsers.add_parser(
        name, help=help, description=description, epilog=epilog,
        formatter_class=(argparse.ArgumentDefaultsHelpFormatter if defaults_in_help
                         else argparse.HelpFormatter))
    if out is not None:
        parser.add_argument("--out", required=True, help=out)
    if overwrite:
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(func=func)
    return parser


__all__ = ["add_command"]
