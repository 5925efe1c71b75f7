"""Report-stage subcommands: provenance, report."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req


def _provenance(a):
    from cohortgen.options import read_options_text, validate_config
    from cohortgen.provenance import write_provenance

    config = read_options_text(a.options)
    validate_config(config, "--options")
    write_provenance(config, Path(a.manifest), Path(a.out),
                     Path(a.shareable_out) if a.shareable_out else None)


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
        languages=o.languages,
        labels=o.disease_labels,
        prs_deciles=[Path(p) for p in a.prs_deciles],
        prs_match=[Path(p) for p in a.prs_match],
        pcs_tsv=Path(a.pcs) if a.pcs else None,
        samples_tsv=Path(a.samples) if a.samples else None,
        phenotypes=Path(a.phenotypes) if a.phenotypes and "age" in o.covariates else None,
        genes=Path(o.genes) if o.genes else None,
        wgr_json=Path(a.wgr_summary) if a.wgr_summary else None,
    )


def _report_index(a):
    from cohortgen.options import parse_options
    from cohortgen.report.stage import build_cohort_index

    o = parse_options(a.options, "report_index")
    build_cohort_index(a.cohorts, [Path(p) for p in a.summaries], o.min_cell_count,
                       Path(a.out), languages=o.languages, labels=o.disease_labels)


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
        (("--shareable-out",), {"help": "also write the record without its run section (host, "
                                        "directory, time) here: the copy to share"}),
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
        (("--prs-deciles",), {"nargs": "*", "default": [],
                               "help": "prs/deciles.tsv of the published scores (optional)"}),
        (("--prs-match",), {"nargs": "*", "default": [],
                             "help": "prs/match/<score>.json of the published scores (optional)"}),
        (("--pcs",), {"default": None,
                       "help": "qc/pcs.tsv, for the binned ancestry picture (optional)"}),
        (("--samples",), {"default": None,
                           "help": "qc/samples.tsv, for the people analysed by sex (optional)"}),
        (("--phenotypes",), {"default": None,
                              "help": "the phenotype sheet, for the people analysed by age band "
                                      "when age is a covariate (optional, with --samples)"}),
        (("--wgr-summary",), {"default": None,
                               "help": "wgr.json of cohortgen wgr-step1, for the fit of the "
                                       "whole-genome regression per trait (optional)"}),
        req("--out"),
        options("report"),
    )
    add_command(
        sub,
        "report-index",
        _report_index,
        "Render the page comparing several cohorts' reports.",
        many("--cohorts"),
        many("--summaries"),
        req("--out"),
        options("report_index"),
    )
