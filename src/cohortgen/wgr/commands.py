"""Whole-genome regression subcommands: wgr-step1."""

from pathlib import Path

from cohortgen.cli import add_command, req


def _wgr_step1(a):
    from cohortgen.wgr.stage import wgr_step1

    wgr_step1(Path(a.bfile), Path(a.keep), Path(a.phenotypes), a.diseases, a.quantitative,
              a.covariates, Path(a.pcs), a.block_size, a.folds, a.seed, a.min_maf,
              Path(a.loco), Path(a.summary))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub, "wgr-step1", _wgr_step1,
        "Whole-genome regression step 1 on the QC'd array genotypes: level-0 block ridge and "
        "level-1 cross-validated (logistic) ridge for all traits at once; writes LOCO "
        "predictions (private) and per-trait fit summaries.",
        (("--bfile",), {"required": True, "help": "QC'd PLINK fileset prefix (qc/genotypes)"}),
        req("--keep"), req("--phenotypes"), req("--pcs"),
        (("--diseases",), {"nargs": "*", "default": [], "help": "0/1 sheet columns"}),
        (("--quantitative",), {"nargs": "*", "default": [],
                               "help": "quantitative sheet columns"}),
        (("--covariates",), {"nargs": "*", "default": [],
                             "help": "numeric sheet columns adjusted for (none: intercept only)"}),
        (("--block-size",), {"type": int, "default": 1000,
                             "help": "consecutive variants per level-0 block"}),
        (("--folds",), {"type": int, "default": 5, "help": "cross-validation folds"}),
        (("--seed",), {"type": int, "default": 1, "help": "seed of the fold assignment"}),
        (("--min-maf",), {"type": float, "default": 0.01,
                          "help": "minor allele frequency floor of step-1 variants"}),
        req("--loco"), req("--summary"),
    )
