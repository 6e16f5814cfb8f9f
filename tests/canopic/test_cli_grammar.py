"""One grammar for the whole CLI (docs/usage.md, "Command-line grammar"): every subcommand's
parser has the shared options with the same meaning, and every --help shows real defaults."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from canopic.app.cli import build_parser, main
from canopic.app.commands.common import OUT_REFUSED, OUT_RESUMED

#: Commands that run torch where a device can be chosen.
DEVICE_COMMANDS = {"simulate", "train", "table1", "evaluate", "demo"}
#: Commands that draw random numbers, each seeded by --seed.
SEEDED_COMMANDS = {"simulate", "design-mask", "train", "table1", "evaluate", "detect-eval",
                   "capture", "demo", "board-emulator"}
#: Commands that resume their own finished work when --out exists.
RESUMING_COMMANDS = {"train", "table1", "demo"}
USAGE = Path(__file__).resolve().parents[2] / "docs" / "usage.md"


def subcommands() -> "dict[str, argparse.ArgumentParser]":
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def options(parser: argparse.ArgumentParser) -> "dict[str, argparse.Action]":
    return {option: action for action in parser._actions for option in action.option_strings}


COMMANDS = sorted(subcommands())


def test_every_command_is_in_the_tables_of_this_test():
    assert DEVICE_COMMANDS | SEEDED_COMMANDS | RESUMING_COMMANDS <= set(COMMANDS)
    assert {"simulate", "flash", "ports", "board-emulator"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_shared_options_exist_with_one_meaning(name):
    parser = subcommands()[name]
    found = options(parser)
    reference = options(subcommands()["simulate"])
    for flag in ("--debug", "-q", "--quiet", "-v", "--verbose"):
        assert flag in found, f"{name} lacks {flag}"
        assert found[flag].help == reference[flag].help, f"{name} {flag} means something else"
        assert found[flag].dest == reference[flag].dest
    assert found["-q"] is found["--quiet"] and found["-v"] is found["--verbose"]
    policy = parser.get_default("out_policy")
    if "--out" in found:
        assert "--overwrite" in found, f"{name} writes --out but has no --overwrite"
        assert policy == (OUT_RESUMED if name in RESUMING_COMMANDS else OUT_REFUSED)
        overwrite = found["--overwrite"].help
        assert overwrite == ("discard what --out holds and start over"
                             if name in RESUMING_COMMANDS else
                             "replace an existing --out (without it, an existing --out is "
                             "refused)")
    else:
        assert name not in RESUMING_COMMANDS
    assert ("--device" in found) == (name in DEVICE_COMMANDS), name
    if "--device" in found:
        assert found["--device"].help.startswith("where"), found["--device"].help
        assert found["--device"].default in ("auto", None)
    assert ("--seed" in found) == (name in SEEDED_COMMANDS), name
    if "--seed" in found:
        assert found["--seed"].type is int and "seed" in found["--seed"].help.lower()


@pytest.mark.parametrize("name", COMMANDS)
def test_help_shows_real_defaults(name, capsys):
    """No "(default: None)"; an option without a default says in its help what happens."""
    parser = subcommands()[name]
    text = parser.format_help()
    assert "(default: None)" not in text
    assert "default: []" not in text
    for action in parser._actions:
        if not action.option_strings or action.nargs == 0 or action.help == argparse.SUPPRESS:
            continue
        if action.default is None and not action.required:
            assert "default" in (action.help or "").lower(), \
                f"{name} {action.option_strings[0]}: say what happens without it"
        if action.default not in (None, argparse.SUPPRESS, []):
            rendered = parser._get_formatter()._expand_help(action) if action.help else ""
            assert "default" in rendered.lower(), f"{name} {action.option_strings[0]}"


def test_deprecated_spellings_still_work_and_warn(tmp_path, capsys):
    commands = subcommands()
    args = commands["design-mask"].parse_args(["bars11", "--out", "x", "--no-progress"])
    assert args.quiet and args.deprecated_options == ["--no-progress is deprecated; use --quiet"]
    args = commands["table1"].parse_args(["--out", "x", "--no-resume"])
    assert args.overwrite
    args = commands["demo"].parse_args(["--fresh"])
    assert args.overwrite
    args = commands["capture"].parse_args(["--port", "emulator", "--out", "x.npz",
                                           "--noise-seed", "4"])
    assert args.seed == 4
    args = commands["flash"].parse_args(["--port", "emulator", "--no-progress"])
    assert args.quiet
    # the warning is one log line, and the command still fails for its own reason
    assert main(["flash", "--port", "emulator", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "canopic: warning: --no-progress is deprecated; use --quiet" in err
    assert "--thresholds, --mask" in err


def test_the_grammar_is_documented_in_one_place():
    text = USAGE.read_text(encoding="utf-8")
    match = re.search(r"^## Command-line grammar\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "docs/usage.md needs a 'Command-line grammar' section"
    section = match.group(1)
    for flag in ("--out", "--overwrite", "--seed", "--device", "--quiet", "-v", "--debug",
                 "--no-progress", "--fresh", "--no-resume", "Exit codes"):
        assert flag in section, flag


def test_an_existing_out_is_refused_or_resumed(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    assert main(["simulate", "--out", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(["simulate", "--out", str(out), "--overwrite", "-q"]) == 0
    assert (out / "codes.npz").is_file()
    assert main(["simulate", "--out", str(out), "-q"]) == 1


def test_trains_help_states_the_run_configs_real_defaults():
    from learn.recipes import DEFAULT_RECIPE, RECIPE_FIELDS
    from learn.runs import RunConfig

    config = RunConfig().to_dict()
    train = options(subcommands()["train"])
    expected = {"--conv": config["camera"]["conv"], "--kernel-mode": config["camera"]["kernel_mode"],
                "--batch-size": config["training"]["batch_size"],
                "--faces": config["data"]["faces"], "--nonfaces": config["data"]["nonfaces"],
                "--seed": config["seed"], "--device": config["device"]}
    for flag, value in expected.items():
        assert f"else {value}" in train[flag].help, (flag, value, train[flag].help)
    for field in RECIPE_FIELDS:  # what a recipe sets defaults to the recipe's value
        flag = "--" + field.replace("_", "-")
        if flag in train:
            assert "else the recipe's value" in train[flag].help, (flag, train[flag].help)
    assert f"(default: {DEFAULT_RECIPE})" in train["--recipe"].help
