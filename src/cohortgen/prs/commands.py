"""PRS-stage subcommands: prs-score, prs-evaluate, prs-demo-score."""

from pathlib import Path

from cohortgen.cli import add_command, many, req
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
    from cohortgen.prs.stage import score_published

    score_published(a.names, [Path(p) for p in a.files], [Path(p) for p in a.bfiles],
                    [Path(p) for p in a.variant_qc], Path(a.keep), Path(a.pcs),
                    a.genome_build, a.min_overlap, a.keep_ambiguous, Path(a.out_dir))


def _prs_evaluate(a):
    from cohortgen.prs.stage import evaluate_published

    targets = {k: v.split(",") for k, v in _pairs(a.targets, "--targets").items()}
    prevalence = {k: float(v) for k, v in _pairs(a.prevalence, "--prevalence").items()}
    evaluate_published(a.names, [Path(p) for p in a.scores], [Path(p) for p in a.match_logs],
                       targets, Path(a.phenotypes), Path(a.keep), Path(a.pcs), a.covariates,
                       prevalence, a.min_cell_count, a.score_column, Path(a.performance),
                       Path(a.deciles))


def _prs_demo_score(a):
    from cohortgen.prs.demo import write_demo_score

    write_demo_score(Path(a.truth), a.disease, a.genome_build, a.seed, Path(a.out))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub, "prs-score", _prs_score,
        "Match published scores to the cohort and score QC-kept samples (all in one pass).",
        many("--names"), many("--files"), many("--bfiles"), many("--variant-qc"),
        req("--keep"), req("--pcs"), req("--genome-build"),
        req("--min-overlap", type=float),
        (("--keep-ambiguous",), {"action": "store_true",
                                 "help": "keep A/T, C/G SNPs whose frequencies fix the strand"}),
        req("--out-dir"),
    )
    add_command(
        sub, "prs-evaluate", _prs_evaluate,
        "Evaluate scores per disease: AUC, OR/SD, R2, top-5% OR, deciles.",
        many("--names"), many("--scores"), many("--match-logs"),
        many("--targets"), req("--phenotypes"), req("--keep"), req("--pcs"),
        many("--covariates"),
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
