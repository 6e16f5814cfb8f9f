"""The examples in docstrings run, every subcommand answers --help, units parse."""
import doctest
import importlib

import pytest

from canopic.app.cli import build_parser, main
from canopic.core.units import UnitError, parse_quantity

DOCUMENTED_MODULES = ["canopic.core.bundle", "canopic.core.cache", "canopic.core.checks",
                      "canopic.core.filetypes", "canopic.core.lazy", "canopic.core.units",
                      "canopic.app.report", "hil.client",
                      "learn.networks", "learn.restarts", "learn.study_engine", "optics.design", "optics.imaging", "optics.materials",
                      "sensor.baselines", "sensor.camera", "sensor.colour"]
COMMANDS = ["simulate", "design-mask", "export-mask", "train", "table1", "evaluate", "detect-eval",
            "export-tables", "flash",
            "capture", "board-emulator", "ports", "demo"]


@pytest.mark.parametrize("name", DOCUMENTED_MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_every_command_is_registered_and_documented(capsys):
    parser = build_parser()
    text = parser.format_help()
    for command in COMMANDS:
        assert command in text
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: canopic " + command in capsys.readouterr().out


def test_no_command_prints_help(capsys):
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


@pytest.mark.parametrize("text,unit,expected", [
    ("532nm", "m", 532e-9), ("2 um", "m", 2e-6), ("1.869mm", "m", 1.869e-3), ("10ms", "s", 0.01),
    ("3.3V", "V", 3.3), (0.25, "m", 0.25), ("1e-3", "s", 1e-3), ("5µm", "m", 5e-6)])
def test_units_parse_to_si(text, unit, expected):
    assert parse_quantity(text, unit) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("text,unit", [("532", "furlong"), ("2 parsecs", "m"), ("nan nm", "m"),
                                       ("inf", "m"), ("5 ms", "m"), (True, "m")])
def test_units_refuse_bad_input(text, unit):
    with pytest.raises(UnitError):
        parse_quantity(text, unit, "distance")


def test_the_demo_commands_profile_choices_are_the_demos_profiles():
    from canopic.app.commands.demo import PROFILE_NAMES
    from canopic.app.demo import PROFILES

    assert PROFILE_NAMES == tuple(sorted(PROFILES))


def test_quantities_round_once_like_the_literal():
    assert parse_quantity("450nm", "m") == 450e-9 and parse_quantity("1.869 mm", "m") == 1.869e-3
    assert parse_quantity("-2.5kV", "V") == -2500.0 and parse_quantity("3e2um", "m") == 3e-4
