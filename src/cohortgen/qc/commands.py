"""QC-stage subcommands: variant-stats, sample-qc, variant-qc, pca, qc-summary."""

from pathlib import Path

from cohortgen.cli import add_command, many, req


def _variant_stats(a):
    from cohortgen.qc.variant_stats import variant_stats_chunk

    variant_stats_chunk(Path(a.bfile), Path(a.variants), Path(a.sample_partials))


def _sample_qc(a):
    from cohortgen.qc.sample_qc import sample_qc

    sample_qc(
        Path(a.fam),
        [Path(p) for p in a.partials],
        Path(a.phenotypes),
        a.diseases,
        a.covariates,
        a.min_call_rate,
        Path(a.samples),
        Path(a.keep),
    )


def _variant_qc(a):
    from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk

    thresholds = VariantThresholds(a.min_call_rate, a.min_maf, a.min_hwe_midp)
    variant_qc_chunk(Path(a.bfile), Path(a.keep), thresholds, Path(a.out))


def _pca(a):
    from cohortgen.qc.pca import PcaSettings, compute_pcs

    settings = PcaSettings(
        a.n_pcs, a.min_maf, a.ld_window, a.ld_step, a.ld_r2, a.seed, a.genome_build
    )
    compute_pcs(
        [Path(p) for p in a.bfiles],
        [Path(p) for p in a.variant_qc],
        Path(a.keep),
        settings,
        Path(a.out_pcs),
        Path(a.out_json),
    )


def _qc_summary(a):
    from cohortgen.qc.summary import summarize_qc

    summarize_qc(
        [Path(p) for p in a.tallies],
        Path(a.samples),
        [Path(p) for p in a.variant_qc],
        Path(a.summary),
        Path(a.variants),
    )


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub,
        "variant-stats",
        _variant_stats,
        "Per-chunk variant counts and sample partials.",
        req("--bfile"),
        req("--variants"),
        req("--sample-partials"),
    )
    add_command(
        sub,
        "sample-qc",
        _sample_qc,
        "Sample QC over all chunks.",
        req("--fam"),
        many("--partials"),
        req("--phenotypes"),
        many("--diseases"),
        many("--covariates"),
        req("--min-call-rate", type=float),
        req("--samples"),
        req("--keep"),
    )
    add_command(
        sub,
        "variant-qc",
        _variant_qc,
        "Variant QC of one chunk on kept samples.",
        req("--bfile"),
        req("--keep"),
        req("--min-call-rate", type=float),
        req("--min-maf", type=float),
        req("--min-hwe-midp", type=float),
        req("--out"),
    )
    add_command(
        sub,
        "pca",
        _pca,
        "Ancestry PCA on LD-pruned common variants of kept samples.",
        many("--bfiles"),
        many("--variant-qc"),
        req("--keep"),
        req("--n-pcs", type=int),
        req("--min-maf", type=float),
        req("--ld-window", type=int),
        req("--ld-step", type=int),
        req("--ld-r2", type=float),
        req("--seed", type=int),
        req("--genome-build"),
        req("--out-pcs"),
        req("--out-json"),
    )
    add_command(
        sub,
        "qc-summary",
        _qc_summary,
        "QC funnel and gathered variant table.",
        many("--tallies"),
        req("--samples"),
        many("--variant-qc"),
        req("--summary"),
        req("--variants"),
    )
