"""PRS-stage subcommands: prs-score, prs-evaluate, prs-demo-score, prs-incohort-folds,
prs-incohort-fold, prs-incohort-evaluate."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req
from cohortgen.errors import InputError


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    """``name=value`` arguments as a dict; InputError on a malformed one."""
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"{flag} {item!r}: expected name=value")
        out[name] = value
    return out


def _prs_score(a):
    from cohortgen.options import parse_options
    from cohortgen.prs.stage import score_published

    o = parse_options(a.options, "prs_score")
    if not a.pgens and not (a.bfiles and a.variant_qc):
        raise InputError("prs-score: give --bfiles and --variant-qc (array hard calls) or "
                         "--pgens (QC'd dosage chunks of cohortgen ingest-dosages)")
    score_published(a.names, [Path(p) for p in a.files], [Path(p) for p in a.bfiles],
                    [Path(p) for p in a.variant_qc], Path(a.samples), Path(a.pcs),
                    o.genome_build, o.min_overlap, o.keep_ambiguous, o.variant_call_rate,
                    Path(a.out_dir), [Path(p) for p in a.pgens])


def _prs_evaluate(a):
    from cohortgen.options import parse_options
    from cohortgen.prs.stage import evaluate_published

    o = parse_options(a.options, "prs_evaluate")
    targets = {k: v.split(",") for k, v in _pairs(a.targets, "--targets").items()}
    evaluate_published(a.names, [Path(p) for p in a.scores], [Path(p) for p in a.match_logs],
                       targets, Path(a.phenotypes), Path(a.keep), Path(a.pcs), o.covariates,
                       o.prevalence, o.min_cell_count, a.score_column, Path(a.performance),
                       Path(a.deciles), o.categorical_covariates)


def _prs_demo_score(a):
    from cohortgen.prs.demo import write_demo_score

    write_demo_score(Path(a.truth), a.disease, a.genome_build, a.seed, Path(a.out))


def _incohort_cohort(a, o):
    from cohortgen.prs.incohort import load_cohort

    return load_cohort(Path(a.bfiles[0]), Path(a.keep), Path(a.phenotypes), o.diseases,
                       o.covariates, Path(a.pcs), o.categorical_covariates)


def _incohort_method(a, o) -> dict:
    """The in-cohort method settings (``prs.incohort``) and the job's threads."""
    return {"folds": o.folds, "min_maf": o.min_maf, "r2_grid": o.r2_grid,
            "p_thresholds": o.p_thresholds, "n_chains": o.n_chains, "burn_in": o.burn_in,
            "num_iter": o.num_iter, "ld_window_kb": o.window_kb, "threads": a.threads,
            "variants": Path(o.variants) if o.variants else None}


def _prs_incohort_folds(a):
    from cohortgen.options import parse_options
    from cohortgen.prs.incohort import assign_folds

    o = parse_options(a.options, "prs_incohort_folds")
    assign_folds(_incohort_cohort(a, o), o.folds, o.seed, Path(a.out),
                 Path(a.related_pairs) if a.related_pairs else None)


def _prs_incohort_fold(a):
    from cohortgen.options import parse_options
    from cohortgen.prs.incohort import run_fold

    o = parse_options(a.options, "prs_incohort_fold")
    run_fold(a.fold, [Path(p) for p in a.bfiles], [Path(p) for p in a.variant_qc],
             _incohort_cohort(a, o), Path(a.folds_tsv), o.min_cases, o.seed,
             _incohort_method(a, o), Path(a.out), [Path(p) for p in a.pgens])


def _prs_incohort_evaluate(a):
    from cohortgen.options import parse_options
    from cohortgen.prs.incohort import evaluate_all

    o = parse_options(a.options, "prs_incohort_evaluate")
    evaluate_all(_incohort_cohort(a, o), [Path(p) for p in a.variant_qc], Path(a.folds_tsv),
                 [Path(p) for p in a.fold_files], Path(a.refit_file), o.genome_build,
                 o.prevalence, o.min_cases, o.min_cell_count, _incohort_method(a, o),
                 Path(a.out_dir), Path(a.performance), [Path(p) for p in a.pgens])


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub, "prs-score", _prs_score,
        "Match published scores to the cohort and score every sample that passed sample QC, "
        "relatives included (all scores in one pass).",
        many("--names"), many("--files"),
        (("--bfiles",), {"nargs": "+", "default": [],
                         "help": "chunk .bed/.bim/.fam prefixes (hard calls; with --variant-qc)"}),
        (("--variant-qc",), {"nargs": "+", "default": [],
                             "help": "the chunks' variant_qc.tsv, in --bfiles order"}),
        (("--pgens",), {"nargs": "+", "default": [],
                        "help": "instead of --bfiles: QC'd imputed-dosage chunks, the "
                                "--out-prefix of each cohortgen ingest-dosages run "
                                "(.pgen/.pvar/.psam and .variants.tsv), all with the same "
                                "samples"}),
        (("--samples",), {"required": True, "help": "qc/samples.tsv: samples whose reason is "
                                                    "empty or 'related' are scored"}),
        req("--pcs"), req("--out-dir"), options("prs_score"),
    )
    add_command(
        sub, "prs-evaluate", _prs_evaluate,
        "Evaluate scores per disease: AUC, OR/SD, R2, top-5% OR, deciles.",
        many("--names"), many("--scores"), many("--match-logs"),
        many("--targets"), req("--phenotypes"), req("--keep"), req("--pcs"),
        (("--score-column",), {"default": "Z_norm1",
                               "choices": ["SUM", "AVG", "Z_norm1", "Z_norm2"]}),
        req("--performance"), req("--deciles"), options("prs_evaluate"),
    )
    add_command(
        sub, "prs-demo-score", _prs_demo_score,
        "Write a PGS Catalog scoring file from a simulated cohort's truth.json.",
        req("--truth"), req("--disease"), req("--genome-build"),
        req("--seed", type=int), req("--out"),
    )
    cohort = (many("--bfiles"), req("--keep"), req("--pcs"), req("--phenotypes"))
    threads = (("--threads",), {"type": int, "default": 1})
    pgens = (("--pgens",), {"nargs": "+", "default": [],
                            "help": "build from imputed dosages: the QC'd dosage chunks (the "
                                    "--out-prefix of each cohortgen ingest-dosages run, "
                                    "imputed/<chunk>/dosages), in plan order; --bfiles still "
                                    "give the sample order"})
    add_command(
        sub, "prs-incohort-folds", _prs_incohort_folds,
        "Assign the in-cohort cross-validation folds, stratified for every disease at once.",
        *cohort, (("--related-pairs",), {"help": "qc/related_pairs.tsv: related samples "
                                                 "share a fold"}),
        req("--out"), options("prs_incohort_folds"),
    )
    add_command(
        sub, "prs-incohort-fold", _prs_incohort_fold,
        "Run one in-cohort fold (or, with --fold 0, the all-sample LDpred2 refit) for every "
        "disease: batched training GWAS, shared LD, C+T and LDpred2-auto, held-out scores.",
        *cohort, many("--variant-qc"), req("--folds-tsv"), req("--fold", type=int), threads,
        pgens, req("--out"), options("prs_incohort_fold"),
    )
    add_command(
        sub, "prs-incohort-evaluate", _prs_incohort_evaluate,
        "Evaluate and export the in-cohort scores of every disease from the fold results.",
        *cohort, many("--variant-qc"), req("--folds-tsv"), many("--fold-files"),
        req("--refit-file"), threads, pgens, req("--out-dir"), req("--performance"),
        options("prs_incohort_evaluate"),
    )
