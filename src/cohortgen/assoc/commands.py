"""Association-stage subcommands: null-model, assoc, gather-gwas, gwas-summary."""

from pathlib import Path

from cohortgen.cli import add_command, many, req


def _null_model(a):
    from cohortgen.assoc.stage import fit_null_stage

    fit_null_stage(
        Path(a.fam),
        Path(a.keep),
        Path(a.phenotypes),
        a.diseases,
        a.covariates,
        a.min_cases,
        Path(a.out_table),
        Path(a.out_json),
        Path(a.pcs) if a.pcs else None,
    )


def _assoc(a):
    from cohortgen.assoc.stage import association_chunk

    association_chunk(
        Path(a.bfile), Path(a.null_table), Path(a.null_json), Path(a.variant_qc), Path(a.out)
    )


def _gather_gwas(a):
    from cohortgen.assoc.stage import gather_gwas

    gather_gwas(
        a.disease, [Path(p) for p in a.chunks], Path(a.null_json), a.genome_build, Path(a.out)
    )


def _gwas_summary(a):
    from cohortgen.assoc.stage import summarize_gwas

    summarize_gwas(a.diseases, [Path(p) for p in a.gwas], Path(a.null_json), Path(a.out))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub,
        "null-model",
        _null_model,
        "Fit the null model of each disease.",
        req("--fam"),
        req("--keep"),
        req("--phenotypes"),
        many("--diseases"),
        many("--covariates"),
        req("--min-cases", type=int),
        req("--out-table"),
        req("--out-json"),
        (("--pcs",), {"help": "PC table from `cohortgen pca` (adjusted for as covariates)"}),
    )
    add_command(
        sub,
        "assoc",
        _assoc,
        "Score tests of one chunk for all diseases.",
        req("--bfile"),
        req("--null-table"),
        req("--null-json"),
        req("--variant-qc"),
        req("--out"),
    )
    add_command(
        sub,
        "gather-gwas",
        _gather_gwas,
        "Write one disease's GWAS-SSF file.",
        req("--disease"),
        many("--chunks"),
        req("--null-json"),
        req("--genome-build"),
        req("--out"),
    )
    add_command(
        sub,
        "gwas-summary",
        _gwas_summary,
        "Per-disease GWAS summary table.",
        many("--diseases"),
        many("--gwas"),
        req("--null-json"),
        req("--out"),
    )
