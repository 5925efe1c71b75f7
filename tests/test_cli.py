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


def test_run__console_script_exits_with_main_status_and_writes_its_output(tmp_path):
    """The console script (``run``: GC tuned, objects frozen before exit) keeps main's exit
    status, its one-line error, and output files written in full."""
    import gzip
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "cohortgen"
    missing = tmp_path / "absent.vcf.gz"
    failed = subprocess.run([str(script), "plan", "--genotypes", str(missing),
                             "--options", '{"chunks": {"variants_per_chunk": 100}}', "--out",
                             str(tmp_path / "plan.tsv")],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 2, failed.stderr
    assert failed.stderr.startswith("cohortgen plan: error:")
    assert "Traceback" not in failed.stderr
    out = tmp_path / "truth"
    done = subprocess.run([str(script), "simulate", "--out", str(out), "--samples", "200",
                           "--chromosomes", "1", "--chromosome-mb", "1", "--x-mb", "0",
                           "--seed", "3"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    with gzip.open(out / "genotypes.vcf.gz", "rt") as vcf:  # complete: inflates to the end
        records = [line for line in vcf if not line.startswith("#")]
    assert records
    assert all(line.endswith("\n") for line in records)
