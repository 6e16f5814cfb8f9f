"""The ``canopic`` command: a thin dispatcher.

Each module of :mod:`canopic.app.commands` has ``register(subparsers)``: it adds its
subcommands and sets ``func`` on each, a callable taking the parsed ``argparse.Namespace`` and
returning an exit code. Those modules are thin parsers over library calls of the package that
owns the job, and import their heavy dependencies (torch) inside the handlers, so
``canopic --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: Modules whose ``register`` adds subcommands, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "canopic.app.commands.simulate",     # simulate
    "canopic.app.commands.masks",        # design-mask, export-mask
    "canopic.app.commands.train",        # train
    "canopic.app.commands.table1",       # table1
    "canopic.app.commands.evaluate",     # evaluate
    "canopic.app.commands.detect_eval",  # detect-eval
    "canopic.app.commands.board",        # export-tables, flash, capture, board-emulator, ports
    "canopic.app.commands.demo",         # demo
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="canopic",
        description="Design, simulate, learn and flash privacy-preserving CAnOPIC cameras "
                    "(phase-mask optics, comparator-tree max-pooling, non-uniform 4-bit ADC).",
        epilog="Run 'canopic COMMAND --help' for each command's options. Units: SI, and "
               "flags that take lengths accept '532nm', '2um', '1.869mm'.")
    parser.add_argument("--version", action="version",
                        version=f"canopic {importlib.import_module('canopic').__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_modules(subparsers, COMMAND_MODULES)
    return parser


def register_modules(subparsers, names) -> None:
    """Call ``register(subparsers)`` of each module in ``names`` that is installed."""
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)


def main(argv: "list[str] | None" = None) -> int:
    """Run ``canopic ARGV``; return the exit code.

    0 on success; 2 for a usage error (argparse's usage line); 1 for any error of the command
    itself, reported as one line on stderr naming what is wrong (``--debug``: the traceback
    instead); 130 when interrupted (Ctrl-C).
    """
    from canopic.app.commands.common import check_common, configure_logging

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    configure_logging(args)
    try:
        check_common(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print(f"canopic {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the one boundary where errors meet the user
        if getattr(args, "debug", False):
            raise
        print(f"canopic {args.command}: error: {error_line(error)}", file=sys.stderr)
        return 1


#: Exceptions whose text is written for the user (it names the parameter or file); any other
#: type is an unexpected failure, reported with its type name and a pointer to --debug.
_USER_ERRORS = (ValueError, FileNotFoundError, FileExistsError, IsADirectoryError,
                NotADirectoryError, PermissionError, RuntimeError)


def error_line(error: BaseException) -> str:
    """One line describing ``error`` for the user."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, _USER_ERRORS):
        return text
    return f"{type(error).__name__}: {text} (unexpected; --debug shows the traceback)"


if __name__ == "__main__":
    sys.exit(main())
