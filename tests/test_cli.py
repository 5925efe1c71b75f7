"""The ``cohortgen`` command line: every subcommand's help renders, errors exit cleanly."""

import pytest

from cohortgen.cli import build_parser, main


def _subcommands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return sorted(action.choices)


def test_main__top_level_help_exits_zero(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "ingest" in capsys.readouterr().out


@pytest.mark.parametrize("command", _subcommands())
def test_main__every_subcommand_help_renders(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert command in capsys.readouterr().out
