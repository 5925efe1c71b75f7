"""Report-stage subcommands: provenance, report."""

import json
from pathlib import Path

from cohortgen.cli import add_command, many, req
from cohortgen.report.catalogue import LANGUAGES


def _provenance(a):
    from cohortgen.provenance import write_provenance

    write_provenance(json.loads(a.config_json), Path(a.manifest), Path(a.out))


def _report(a):
    from cohortgen.report.stage import build_report

    build_report(
        a.cohort,
        Path(a.qc_summary),
        Path(a.gwas_summary),
        [Path(p) for p in a.gwas],
        [Path(p) for p in a.loci],
        Path(a.provenance),
        a.min_cell_count,
        Path(a.out),
        prs_performance=[Path(p) for p in a.prs_performance],
        languages=a.languages,
        labels=json.loads(a.labels_json),
        prs_deciles=[Path(p) for p in a.prs_deciles],
        prs_match=[Path(p) for p in a.prs_match],
        pcs_tsv=Path(a.pcs) if a.pcs else None,
        samples_tsv=Path(a.samples) if a.samples else None,
    )


def _report_index(a):
    from cohortgen.report.stage import build_cohort_index

    build_cohort_index(a.cohorts, [Path(p) for p in a.summaries], a.min_cell_count,
                       Path(a.out), languages=a.languages, labels=json.loads(a.labels_json))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub,
        "provenance",
        _provenance,
        "Write the provenance record.",
        req("--config-json"),
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
        req("--min-cell-count", type=int),
        (("--languages",), {"nargs": "+", "default": list(LANGUAGES), "choices": LANGUAGES,
                            "help": "report languages; index.html is in the first"}),
        (("--prs-deciles",), {"nargs": "*", "default": [],
                               "help": "prs/deciles.tsv of the published scores (optional)"}),
        (("--prs-match",), {"nargs": "*", "default": [],
                             "help": "prs/match/<score>.json of the published scores (optional)"}),
        (("--pcs",), {"default": None,
                       "help": "qc/pcs.tsv, for the binned ancestry picture (optional)"}),
        (("--samples",), {"default": None,
                           "help": "qc/samples.tsv, for the people analysed by sex (optional)"}),
        (("--labels-json",), {"default": "{}",
                              "help": "disease and trait names: {name: {language: label}}"}),
        req("--out"),
    )
    add_command(
        sub,
        "report-index",
        _report_index,
        "Render the page comparing several cohorts' reports.",
        many("--cohorts"),
        many("--summaries"),
        req("--min-cell-count", type=int),
        (("--languages",), {"nargs": "+", "default": list(LANGUAGES), "choices": LANGUAGES,
                            "help": "page languages; index.html is in the first"}),
        (("--labels-json",), {"default": "{}",
                              "help": "disease names: {name: {language: label}}"}),
        req("--out"),
    )
