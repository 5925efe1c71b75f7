"""PRS-stage subcommands: prs-score, prs-evaluate, prs-demo-score, prs-incohort-folds,
prs-incohort-fold, prs-incohort-evaluate."""

from pathlib import Path

from cohortgen.cli import add_command, covariates, many, req
from cohortgen.errors import InputError

CATEGORICAL = (("--categorical-covariates",), {
    "nargs": "*", "default": [],
    "help": "sheet columns adjusted for as categories (one indicator per non-reference level)"})


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
    from cohortgen.prs.stage import score_published

    score_published(a.names, [Path(p) for p in a.files], [Path(p) for p in a.bfiles],
                    [Path(p) for p in a.variant_qc], Path(a.samples), Path(a.pcs),
                    a.genome_build, a.min_overlap, a.keep_ambiguous, a.min_call_rate,
                    Path(a.out_dir))


def _prs_evaluate(a):
    from cohortgen.prs.stage import evaluate_published

    targets = {k: v.split(",") for k, v in _pairs(a.targets, "--targets").items()}
    prevalence = {k: float(v) for k, v in _pairs(a.prevalence, "--prevalence").items()}
    evaluate_published(a.names, [Path(p) for p in a.scores], [Path(p) for p in a.match_logs],
                       targets, Path(a.phenotypes), Path(a.keep), Path(a.pcs), a.covariates,
                       prevalence, a.min_cell_count, a.score_column, Path(a.performance),
                       Path(a.deciles), a.categorical_covariates)


def _prs_demo_score(a):
    from cohortgen.prs.demo import write_demo_score

    write_demo_score(Path(a.truth), a.disease, a.genome_build, a.seed, Path(a.out))


def _incohort_cohort(a):
    from cohortgen.prs.incohort import load_cohort

    return load_cohort(Path(a.bfiles[0]), Path(a.keep), Path(a.phenotypes), a.diseases,
                       a.covariates, Path(a.pcs), a.categorical_covariates)


def _incohort_options(a) -> dict:
    return {"folds": a.folds, "min_maf": a.min_maf, "r2_grid": a.r2_grid,
            "p_thresholds": a.p_thresholds, "n_chains": a.n_chains, "burn_in": a.burn_in,
            "num_iter": a.num_iter, "ld_window_kb": a.ld_window_kb, "threads": a.threads}


def _prs_incohort_folds(a):
    from cohortgen.prs.incohort import assign_folds

    assign_folds(_incohort_cohort(a), a.folds, a.seed, Path(a.out))


def _prs_incohort_fold(a):
    from cohortgen.prs.incohort import run_fold

    run_fold(a.fold, [Path(p) for p in a.bfiles], [Path(p) for p in a.variant_qc],
             _incohort_cohort(a), Path(a.folds_tsv), a.min_cases, a.seed, _incohort_options(a),
             Path(a.out))


def _prs_incohort_evaluate(a):
    from cohortgen.prs.incohort import evaluate_all

    prevalence = {k: float(v) for k, v in _pairs(a.prevalence, "--prevalence").items()}
    evaluate_all(_incohort_cohort(a), [Path(p) for p in a.variant_qc], Path(a.folds_tsv),
                 [Path(p) for p in a.fold_files], Path(a.refit_file), a.genome_build,
                 prevalence, a.min_cases, a.min_cell_count, _incohort_options(a),
                 Path(a.out_dir), Path(a.performance))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub, "prs-score", _prs_score,
        "Match published scores to the cohort and score every sample that passed sample QC, "
        "relatives included (all scores in one pass).",
        many("--names"), many("--files"), many("--bfiles"), many("--variant-qc"),
        (("--samples",), {"required": True, "help": "qc/samples.tsv: samples whose reason is "
                                                    "empty or 'related' are scored"}),
        req("--pcs"), req("--genome-build"),
        req("--min-overlap", type=float),
        (("--min-call-rate",), {"type": float, "required": True,
                                "help": "scoring filter: variant call rate floor"}),
        (("--keep-ambiguous",), {"action": "store_true",
                                 "help": "keep A/T, C/G SNPs whose frequencies fix the strand"}),
        req("--out-dir"),
    )
    add_command(
        sub, "prs-evaluate", _prs_evaluate,
        "Evaluate scores per disease: AUC, OR/SD, R2, top-5% OR, deciles.",
        many("--names"), many("--scores"), many("--match-logs"),
        many("--targets"), req("--phenotypes"), req("--keep"), req("--pcs"),
        covariates(), CATEGORICAL,
        (("--prevalence",), {"nargs": "*", "default": [], "help": "disease=K pairs"}),
        req("--min-cell-count", type=int),
        (("--score-column",), {"default": "Z_norm1",
                               "choices": ["SUM", "AVG", "Z_norm1", "Z_norm2"]}),
        req("--performance"), req("--deciles"),
    )
    add_command(
        sub, "prs-demo-score", _prs_demo_score,
        "Write a PGS Catalog scoring file from a simulated cohort's truth.json.",
        req("--truth"), req("--disease"), req("--genome-build"),
        req("--seed", type=int), req("--out"),
    )
    cohort = (many("--diseases"), many("--bfiles"), req("--keep"), req("--pcs"),
              req("--phenotypes"), covariates(), CATEGORICAL)
    method = (req("--folds", type=int), req("--min-maf", type=float),
              (("--r2-grid",), {"nargs": "+", "type": float, "required": True}),
              (("--p-thresholds",), {"nargs": "+", "type": float, "required": True}),
              req("--n-chains", type=int), req("--burn-in", type=int),
              req("--num-iter", type=int), req("--ld-window-kb", type=int),
              (("--threads",), {"type": int, "default": 1}))
    add_command(
        sub, "prs-incohort-folds", _prs_incohort_folds,
        "Assign the in-cohort cross-validation folds, stratified for every disease at once.",
        *cohort, req("--folds", type=int), req("--seed", type=int), req("--out"),
    )
    add_command(
        sub, "prs-incohort-fold", _prs_incohort_fold,
        "Run one in-cohort fold (or, with --fold 0, the all-sample LDpred2 refit) for every "
        "disease: batched training GWAS, shared LD, C+T and LDpred2-auto, held-out scores.",
        *cohort, many("--variant-qc"), req("--folds-tsv"), req("--fold", type=int),
        req("--min-cases", type=int), req("--seed", type=int), *method, req("--out"),
    )
    add_command(
        sub, "prs-incohort-evaluate", _prs_incohort_evaluate,
        "Evaluate and export the in-cohort scores of every disease from the fold results.",
        *cohort, many("--variant-qc"), req("--folds-tsv"), many("--fold-files"),
        req("--refit-file"), req("--genome-build"),
        (("--prevalence",), {"nargs": "*", "default": [], "help": "disease=K pairs"}),
        req("--min-cases", type=int), req("--min-cell-count", type=int), *method,
        req("--out-dir"), req("--performance"),
    )
