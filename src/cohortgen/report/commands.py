"""Report-stage subcommands: provenance, report."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req


def _provenance(a):
    from cohortgen.options import read_options_text, validate_config
    from cohortgen.provenance import write_provenance

    config = read_options_text(a.options)
    validate_config(config, "--options")
    write_provenance(config, Path(a.manifest), Path(a.out))


def _report(a):
    from cohortgen.options import parse_options
    from cohortgen.report.stage import build_report

    o = parse_options(a.options, "report")
    build_report(
        a.cohort,
        Path(a.qc_summary),
        Path(a.gwas_summary),
        [Path(p) for p in a.gwas],
        [Path(p) for p in a.loci],
        Path(a.provenance),
        o.min_cell_count,
        Path(a.out),
        prs_performance=[Path(p) for p in a.prs_performance],
    )


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub,
        "provenance",
        _provenance,
        "Write the provenance record.",
        (("--options",), {"required": True, "metavar": "JSON|FILE",
                          "help": "the run's whole config (JSON or a YAML/JSON file), hashed and "
                                  "split into each step's keys"}),
        req("--manifest"),
        req("--out"),
    )
    add_command(
        sub,
        "report",
        _report,
        "Render the HTML report.",
        req("--cohort"),
        req("--qc-summary"),
        req("--gwas-summary"),
        many("--gwas"),
        many("--loci"),
        (("--prs-performance",), {"nargs": "*", "default": [],
                                  "help": "PRS performance tables (optional)"}),
        req("--provenance"),
        req("--out"),
        options("report"),
    )
