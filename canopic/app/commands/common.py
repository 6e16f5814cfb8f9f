"""What every ``canopic`` subcommand shares: how it is added, and the options that mean the same
thing everywhere (docs/usage.md, "Command-line grammar").

- ``--out``: the file or folder the command writes. A command that can resume its own finished
  work (``train``, ``table1``, ``demo``) resumes when ``--out`` exists; every other command
  refuses an existing ``--out``.
- ``--overwrite``: discard what ``--out`` holds and start over (replace the file or folder; for
  the resuming commands, recompute everything).
- ``--seed``: the seed of every random draw the command makes; the same seed, the same output.
- ``--device``: where torch computes: ``auto`` (CUDA when present), ``cpu``, ``cuda``,
  ``cuda:N``. Commands without it compute on the CPU.
- ``-q/--quiet``: no progress bars and no status lines (warnings, errors and results only);
  ``-v/--verbose``: more log lines (debug level).
- ``--debug``: an error shows its Python traceback instead of one line.

Deprecated spellings stay as aliases for one release, each with a warning: ``--no-progress``
(``--quiet``), ``--fresh`` and ``--no-resume`` (``--overwrite``), ``--noise-seed`` of
``capture`` (``--seed``). The boundary that turns errors into one line is
:func:`canopic.app.cli.main`.
"""
from __future__ import annotations

import argparse
import logging
import os
from typing import Callable, Optional

log = logging.getLogger("canopic")

#: What an existing ``--out`` means: refused without --overwrite, or resumed.
OUT_REFUSED, OUT_RESUMED = "refused", "resumed"
DEVICE_HELP = "where torch computes: auto (CUDA when present), cpu, cuda, cuda:N"


class HelpFormatter(argparse.HelpFormatter):
    """Each option's help ends with its default, unless the help already says it, or the option
    is a switch or has no default (its help then says what happens without it)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.nargs == 0 or "default" in text.lower()
                or action.default in (None, argparse.SUPPRESS) or action.default == []):
            return text
        return text + " (default: %(default)s)"


class DeprecatedAlias(argparse.Action):
    """``--old`` spelling of ``replacement``: sets ``dest`` to ``const`` and warns once used."""

    def __init__(self, option_strings, dest, replacement: str, const=True,
                 message: Optional[str] = None, nargs=0, **kwargs):
        if not kwargs.get("help"):
            kwargs["help"] = f"deprecated alias of {replacement}"
        super().__init__(option_strings, dest, nargs=nargs, const=const, **kwargs)
        self.replacement = replacement
        self.message = message

    def __call__(self, parser, namespace, values, option_string=None):
        if self.dest != argparse.SUPPRESS:
            setattr(namespace, self.dest, self.const if self.nargs == 0 else values)
        notes = list(getattr(namespace, "deprecated_options", None) or [])
        notes.append(self.message or f"{option_string} is deprecated; use {self.replacement}")
        namespace.deprecated_options = notes


def add_deprecated_alias(parser: argparse.ArgumentParser, option: str, replacement: str,
                         dest: str = argparse.SUPPRESS, const=True, help: Optional[str] = None,
                         message: Optional[str] = None, type=None) -> None:
    """Accept ``option`` as a deprecated spelling of ``replacement`` (setting ``dest`` to
    ``const``, or to the option's value when ``type`` is given); using it logs ``message``
    (default: "OPTION is deprecated; use REPLACEMENT")."""
    extra = {} if type is None else {"nargs": None, "type": type, "const": None}
    parser.add_argument(option, action=DeprecatedAlias, dest=dest, replacement=replacement,
                        default=argparse.SUPPRESS, help=help, message=message,
                        **({"const": const} | extra))


def add_command(subparsers, name: str, help: str, description: str,
                func: Callable[[argparse.Namespace], int], epilog: Optional[str] = None,
                out: Optional[str] = None, out_default: Optional[str] = None,
                out_is: str = "folder", overwrite: bool = False, resumes: bool = False,
                seed: Optional[str] = None, seed_default: "int | None" = 0,
                device: Optional[str] = None, device_default: "str | None" = "auto",
                defaults_in_help: bool = True) -> argparse.ArgumentParser:
    """Add subcommand ``name`` with the shared options; return its parser for the others.

    Parameters
    ----------
    subparsers
        What ``argparse.ArgumentParser.add_subparsers`` returned.
    name, help, description, epilog : str
        The command's name, one-line help, ``--help`` description and example line.
    func : callable
        The handler: takes the parsed namespace, returns the exit code.
    out : str, optional
        Help text of ``--out`` (None: the command takes no ``--out``); required unless
        ``out_default`` is given. ``out_is`` ("folder" or "file") is what it must be if it exists.
    overwrite : bool
        Add ``--overwrite``. Without it an existing ``--out`` is refused, unless ``resumes``: the
        command then resumes the finished work ``--out`` holds, and ``--overwrite`` starts over.
    seed : str, optional
        Help text of ``--seed`` (what it seeds), default ``seed_default`` (None: the help says
        what None means).
    device : str, optional
        Help text of ``--device`` (what computes there), default ``device_default``.
    defaults_in_help : bool
        Kept for compatibility: every command's ``--help`` shows the defaults.
    """
    parser = subparsers.add_parser(name, help=help, description=description, epilog=epilog,
                                   formatter_class=HelpFormatter)
    if out is not None:
        parser.add_argument("--out", required=out_default is None, default=out_default,
                            help=out)
    if overwrite:
        parser.add_argument("--overwrite", action="store_true",
                            help="discard what --out holds and start over" if resumes else
                                 "replace an existing --out (without it, an existing --out "
                                 "is refused)")
    if seed is not None:
        parser.add_argument("--seed", type=int, default=seed_default, help=seed)
    if device is not None:
        parser.add_argument("--device", default=device_default, help=device)
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bars or status lines (warnings, errors and results "
                             "only)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log lines (debug level)")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an error instead of one line")
    parser.set_defaults(func=func, out_policy=(OUT_RESUMED if resumes else OUT_REFUSED),
                        out_is=out_is)
    return parser


def is_device(text: str) -> bool:
    """True for ``auto``, ``cpu``, ``cuda`` and ``cuda:N``."""
    return text in ("auto", "cpu", "cuda") or (
        text.startswith("cuda:") and text[5:].isdigit())


def check_common(args: argparse.Namespace) -> None:
    """Check the shared options before the handler runs (``ValueError`` names the option).

    A negative ``--seed``, a malformed ``--device``, an ``--out`` that is a file where a folder
    goes (or the reverse), and an existing ``--out`` without ``--overwrite`` for a command that
    does not resume.
    """
    seed = getattr(args, "seed", None)
    if seed is not None and seed < 0:
        raise ValueError(f"--seed: {seed} is not allowed; need an integer >= 0")
    device = getattr(args, "device", None)
    if device is not None and not is_device(str(device)):
        raise ValueError(f"--device: {device!r} is not allowed; need auto, cpu, cuda or cuda:N")
    out = getattr(args, "out", None)
    if out is None or not os.path.lexists(out):
        return
    folder = getattr(args, "out_is", "folder") == "folder"
    if folder and not os.path.isdir(out):
        raise ValueError(f"--out: {out} is a file; need a folder (or a path that does not "
                         f"exist yet)")
    if not folder and os.path.isdir(out):
        raise ValueError(f"--out: {out} is a folder; need a file name")
    if (getattr(args, "out_policy", OUT_REFUSED) == OUT_REFUSED
            and not getattr(args, "overwrite", False)):
        raise ValueError(f"--out: {out} exists; pass --overwrite to replace it, or choose "
                         f"another --out")


def configure_logging(args: argparse.Namespace) -> None:
    """Log lines of the project's packages to stderr at the level ``-q``/``-v`` ask for."""
    import sys

    if getattr(args, "quiet", False):
        level = logging.WARNING
    elif getattr(args, "verbose", 0):
        level = logging.DEBUG
    else:
        level = logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handler.canopic_cli = True  # type: ignore[attr-defined]
    for name in ("canopic", "learn", "sensor", "optics", "analog", "hil"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "canopic_cli", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(level)
    for note in getattr(args, "deprecated_options", None) or ():
        log.warning(note)


class _Formatter(logging.Formatter):
    """Status lines as they are; warnings as ``canopic: warning: ...``."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.WARNING:
            return f"canopic: {record.levelname.lower()}: {text}"
        return text


__all__ = ["HelpFormatter", "DEVICE_HELP", "OUT_REFUSED", "OUT_RESUMED", "add_command",
           "add_deprecated_alias", "check_common", "configure_logging", "is_device"]
