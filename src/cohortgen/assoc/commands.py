"""Association-stage subcommands: null-model, assoc, gather-gwas, find-loci, gwas-summary."""

from pathlib import Path

from cohortgen.cli import add_command, covariates, many, req


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
        a.quantitative_traits,
        a.categorical_covariates,
        a.min_level_count,
        [Path(p) for p in a.bims] if a.bims else None,
    )


def _assoc(a):
    from cohortgen.assoc.chunk import FallbackSettings, association_chunk

    settings = FallbackSettings(a.min_mac, a.firth_p_threshold, a.firth_min_carriers,
                                a.firth_p_value, a.firth_mode, a.p_value)
    association_chunk(Path(a.bfile), Path(a.null_table), Path(a.null_json), Path(a.variant_qc),
                      Path(a.out_dir), settings)


def _gather_gwas(a):
    from cohortgen.assoc.gather import gather_gwas

    gather_gwas(
        a.disease, [Path(p) for p in a.chunks], Path(a.null_json), a.genome_build, Path(a.out)
    )


def _find_loci(a):
    from cohortgen.assoc.loci import ClumpSettings, find_loci

    settings = ClumpSettings(r2=a.r2, window_bp=a.window_kb * 1000, p_member=a.p_member)
    find_loci(a.disease, Path(a.gwas), [Path(p) for p in a.bfiles], Path(a.null_table),
              Path(a.out), settings)


def _gwas_summary(a):
    from cohortgen.assoc.gather import summarize_gwas

    summarize_gwas(a.diseases, [Path(p) for p in a.gwas], [Path(p) for p in a.loci],
                   Path(a.null_json), Path(a.out))


def opt(flag, default, kind, text):
    """An optional typed option with a default."""
    return (flag,), {"type": kind, "default": default, "help": f"{text} (default {default})"}


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
        covariates(),
        req("--min-cases", type=int),
        req("--out-table"),
        req("--out-json"),
        (("--pcs",), {"help": "PC table from `cohortgen pca` (adjusted for as covariates)"}),
        (("--quantitative-traits",), {"nargs": "*", "default": [],
                                      "help": "sheet columns tested by linear regression"}),
        (("--categorical-covariates",), {"nargs": "*", "default": [],
                                         "help": "sheet columns adjusted for as categories"
                                                 " (one indicator per level but the first)"}),
        opt("--min-level-count", 10, int, "fewest kept samples in a level of a categorical"
            " covariate"),
        (("--bims",), {"nargs": "+", "help": "the chunks' .bim files: chrX null models only if"
                                             " they list chrX (default: as if they did)"}),
    )
    add_command(
        sub,
        "assoc",
        _assoc,
        "Score tests (Firth fallback or SPA; t-tests for quantitative traits) of one chunk for"
        " all traits, one table per trait in --out-dir.",
        req("--bfile"),
        req("--null-table"),
        req("--null-json"),
        req("--variant-qc"),
        req("--out-dir"),
        opt("--min-mac", 5, int, "rows with a smaller minor allele count get no p"),
        opt("--firth-p-threshold", 0.05, float, "Firth where the score-test p is below this"),
        opt("--firth-min-carriers", 10, int, "Firth where cases or controls carry fewer minor"
            " alleles"),
        (("--firth-p-value",), {"choices": ["lrt", "wald"], "default": "lrt",
                                "help": "Firth p-value: penalised LRT or Wald (as PLINK 2;"
                                        " full mode only)"}),
        (("--firth-mode",), {"choices": ["approximate", "full"], "default": "approximate",
                             "help": "Firth fit: genotype effect only with the null model as"
                                     " offset (REGENIE's approximation) or all coefficients"}),
        (("--p-value",), {"choices": ["score", "spa"], "default": "score",
                          "help": "score-test p-value: chi-squared tail with the Firth fallback,"
                                  " or the saddlepoint approximation (no Firth fallback)"}),
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
        "find-loci",
        _find_loci,
        "Lead variants per locus of one disease by LD clumping.",
        req("--disease"),
        req("--gwas"),
        many("--bfiles"),
        req("--null-table"),
        req("--out"),
        opt("--r2", 0.1, float, "clumping r-squared"),
        opt("--window-kb", 250, int, "clumping window in kb"),
        opt("--p-member", 0.01, float, "largest p of a clump member"),
    )
    add_command(
        sub,
        "gwas-summary",
        _gwas_summary,
        "GWAS summary table, one row per disease and quantitative trait.",
        many("--diseases"),
        many("--gwas"),
        many("--loci"),
        req("--null-json"),
        req("--out"),
    )
