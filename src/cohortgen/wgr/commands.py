"""Whole-genome regression subcommands: wgr-step1."""

from pathlib import Path

from cohortgen.cli import add_command, options, req


def _wgr_step1(a):
    from cohortgen.options import parse_options
    from cohortgen.wgr.stage import Step1Settings, wgr_step1

    o = parse_options(a.options, "wgr_step1")
    settings = Step1Settings(block_size=o.block_size, n_folds=o.folds, seed=o.seed,
                             min_maf=o.min_maf, h2_grid=tuple(o.h2_grid))
    wgr_step1(Path(a.bfile), Path(a.keep), Path(a.phenotypes), o.diseases, list(o.traits),
              o.covariates, Path(a.pcs), settings, Path(a.loco), Path(a.summary),
              o.categorical_covariates, a.threads)


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub, "wgr-step1", _wgr_step1,
        "Whole-genome regression step 1 on the QC'd array genotypes: level-0 block ridge and "
        "level-1 cross-validated (logistic) ridge for all traits at once; writes LOCO "
        "predictions (private) and per-trait fit summaries.",
        (("--bfile",), {"required": True, "help": "QC'd PLINK fileset prefix (qc/genotypes)"}),
        req("--keep"), req("--phenotypes"), req("--pcs"),
        req("--loco"), req("--summary"),
        (("--threads",), {"type": int, "default": 1,
                          "help": "worker threads (outputs do not depend on it)"}),
        options("wgr_step1"),
    )
