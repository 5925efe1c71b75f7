"""Association-stage subcommands: null-model, loco-null, assoc, gather-gwas, find-loci,
gwas-summary."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req


def _null_model(a):
    from cohortgen.assoc.stage import fit_null_stage
    from cohortgen.options import parse_options

    o = parse_options(a.options, "null_model")
    fit_null_stage(
        Path(a.fam),
        Path(a.keep),
        Path(a.phenotypes),
        o.diseases,
        o.covariates,
        o.min_cases,
        Path(a.out_table),
        Path(a.out_json),
        Path(a.pcs) if a.pcs else None,
        list(o.traits),
        o.categorical_covariates,
        o.min_level_count,
        [Path(p) for p in a.bims] if a.bims else None,
        Path(a.imputed_plan) if a.imputed_plan else None,
    )


def _assoc(a):
    from cohortgen.assoc.chunk import (
        FallbackSettings,
        association_chunk,
        dosage_association_chunk,
    )
    from cohortgen.errors import InputError
    from cohortgen.options import parse_options

    o = parse_options(a.options, "assoc")
    settings = FallbackSettings(min_mac=o.min_mac, firth_p_threshold=o.firth_p_threshold,
                                firth_min_carriers=o.firth_min_carriers,
                                firth_p_value=o.firth_p_value, firth_mode=o.firth_mode,
                                p_value=o.p_value)
    loco = Path(a.loco_null) if a.loco_null else None
    if bool(a.pfile) == bool(a.bfile and a.variant_qc):
        raise InputError("assoc: give --bfile and --variant-qc (array genotypes), or --pfile "
                         "(imputed dosages)")
    if a.pfile:
        dosage_association_chunk(Path(a.pfile), Path(a.null_table), Path(a.null_json),
                                 Path(a.out_dir), settings, loco)
    else:
        association_chunk(Path(a.bfile), Path(a.null_table), Path(a.null_json),
                          Path(a.variant_qc), Path(a.out_dir), settings, loco)


def _loco_null(a):
    from cohortgen.assoc.loco import loco_null_stage

    loco_null_stage(Path(a.null_table), Path(a.null_json), Path(a.loco), Path(a.out))


def _gather_gwas(a):
    from cohortgen.assoc.chunk import FallbackSettings
    from cohortgen.assoc.gather import gather_gwas_or_failure
    from cohortgen.options import parse_options

    o = parse_options(a.options, "gather_gwas")
    gather_gwas_or_failure(
        a.disease, [Path(p) for p in a.chunks], Path(a.null_json), o.genome_build, Path(a.out),
        _relatives(o), Path(a.wgr_summary) if a.wgr_summary else None,
        {"min_r2": o.min_r2, "r2_source": o.r2_source},
        Path(a.samples) if a.samples else None, o.min_cell_count,
        FallbackSettings(firth_p_value=o.firth_p_value, firth_mode=o.firth_mode,
                         p_value=o.p_value),
    )


def _relatives(o) -> str:
    """``keep`` or ``remove``: what sample QC did with relatives (:func:`relatives_kept`)."""
    from cohortgen.qc.relatedness import relatives_kept

    return "keep" if relatives_kept(o.relatives, o.whole_genome_regression) else "remove"


def _find_loci(a):
    from cohortgen.assoc.loci import ClumpSettings, find_loci
    from cohortgen.errors import InputError
    from cohortgen.options import parse_options

    o = parse_options(a.options, "find_loci")
    settings = ClumpSettings(r2=o.clump_r2, window_bp=o.clump_window_kb * 1000,
                             p_member=o.clump_p_member)
    if bool(a.bfiles) == bool(a.pfiles):
        raise InputError("find-loci: give --bfiles (array chunks) or --pfiles (dosage chunks)")
    find_loci(a.disease, Path(a.gwas), [Path(p) for p in a.bfiles or a.pfiles],
              Path(a.null_table), Path(a.out), settings, dosages=bool(a.pfiles))


def _gwas_summary(a):
    from cohortgen.assoc.gather import summarize_gwas
    from cohortgen.options import parse_options

    o = parse_options(a.options, "gwas_summary")
    summarize_gwas(o.diseases + list(o.traits), [Path(p) for p in a.gwas],
                   [Path(p) for p in a.loci], Path(a.null_json), Path(a.out), _relatives(o),
                   Path(a.wgr_summary) if a.wgr_summary else None, o.min_cell_count)


WGR_SUMMARY = (("--wgr-summary",), {"help": "wgr.json of cohortgen wgr-step1, when step 1 ran "
                                            "(the method reported: step 1 on, or off)"})


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
        req("--out-table"),
        req("--out-json"),
        (("--pcs",), {"help": "PC table from `cohortgen pca` (adjusted for as covariates)"}),
        (("--bims",), {"nargs": "+", "help": "the chunks' .bim files: chrX null models only if"
                                             " they list chrX (default: as if they did)"}),
        (("--imputed-plan",), {"help": "the imputed dosages' chunk plan (`cohortgen plan-imputed`)"
                                       ", whose chunks are tested instead of the array chunks:"
                                       " chrX null models only if its contigs include chrX"}),
        options("null_model"),
    )
    add_command(
        sub,
        "assoc",
        _assoc,
        "Score tests (Firth fallback or SPA), or ML logistic Wald tests as PLINK 2 (assoc.p_value"
        " wald), t-tests for quantitative traits, of one chunk for all traits, one table per"
        " trait in --out-dir.",
        (("--bfile",), {"help": "array genotypes of the chunk (.bed prefix)"}),
        (("--variant-qc",), {"help": "variant QC table of the --bfile chunk"}),
        (("--pfile",), {"help": "QC'd imputed dosages of the chunk (`cohortgen ingest-dosages` "
                                "output prefix), instead of --bfile and --variant-qc"}),
        req("--null-table"),
        req("--null-json"),
        req("--out-dir"),
        (("--loco-null",), {"help": "null models with the LOCO offsets of cohortgen "
                                    "wgr-step1 (loco_null.npz of cohortgen loco-null): each "
                                    "variant is tested against its chromosome's"}),
        options("assoc"),
    )
    add_command(
        sub,
        "loco-null",
        _loco_null,
        "Refit every tested trait's null model with the LOCO prediction of each chromosome as"
        " offset (step 2 of the whole-genome regression), once for all association chunks.",
        req("--null-table"),
        req("--null-json"),
        req("--loco", help="LOCO predictions of cohortgen wgr-step1 (loco.tsv.gz)"),
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
        req("--out"),
        WGR_SUMMARY,
        (("--samples",), {"help": "qc/samples.tsv: sample IDs to keep out of a FAILED status"}),
        options("gather_gwas"),
    )
    add_command(
        sub,
        "find-loci",
        _find_loci,
        "Lead variants per locus of one disease by LD clumping.",
        req("--disease"),
        req("--gwas"),
        (("--bfiles",), {"nargs": "+", "help": "the array chunks (.bed prefixes)"}),
        (("--pfiles",), {"nargs": "+", "help": "the dosage chunks (.pgen prefixes), for a GWAS "
                                               "on imputed dosages"}),
        req("--null-table"),
        req("--out"),
        options("find_loci"),
    )
    add_command(
        sub,
        "gwas-summary",
        _gwas_summary,
        "GWAS summary table, one row per disease and quantitative trait.",
        many("--gwas"),
        many("--loci"),
        req("--null-json"),
        req("--out"),
        WGR_SUMMARY,
        options("gwas_summary"),
    )
