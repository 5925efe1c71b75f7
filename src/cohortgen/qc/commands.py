"""QC-stage subcommands: variant-stats, prune-common, sample-qc, repeated-ids, variant-qc,
qc-genotypes, qc-summary."""

from pathlib import Path

from cohortgen.cli import add_command, covariates, many, req


def _paths(values) -> list[Path]:
    return [Path(p) for p in values]


def _opt(flag, **options):
    """An optional option (its default is today's behaviour)."""
    return (flag,), options


HWE_POPULATION = _opt("--hwe-population", choices=["all", "largest_cluster", "per_cluster"],
                      default="all")
HWE_MIN_CLUSTER_SIZE = _opt("--hwe-min-cluster-size", type=int)
"""Default (when not given): :data:`cohortgen.qc.ancestry.MIN_CLUSTER_SIZE`."""


def _min_cluster_size(a) -> int:
    from cohortgen.qc.ancestry import MIN_CLUSTER_SIZE

    return MIN_CLUSTER_SIZE if a.hwe_min_cluster_size is None else a.hwe_min_cluster_size


def _variant_stats(a):
    from cohortgen.qc.variant_stats import variant_stats_chunk

    variant_stats_chunk(Path(a.bfile), Path(a.phenotypes), a.genome_build, Path(a.variants),
                        Path(a.sample_partials),
                        Path(a.sex_partials) if a.sex_partials else None)


def _prune_common(a):
    from cohortgen.qc.pruned import PruneSettings, select_pruned_set
    from cohortgen.qc.sample_qc import preliminary_samples
    from cohortgen.qc.summary import check_variants_ingested

    check_variants_ingested(_paths(a.tallies))
    prelim = preliminary_samples(Path(f"{a.bfiles[0]}.fam"), _paths(a.partials),
                                 Path(a.phenotypes), a.min_call_rate)
    settings = PruneSettings(a.variant_call_rate, a.min_maf, a.hwe_midp, a.ld_window, a.ld_step,
                             a.ld_r2, a.genome_build)
    select_pruned_set(_paths(a.bfiles), prelim, settings, Path(a.out_prefix), Path(a.out_json))


def _sample_qc(a):
    from cohortgen.qc.pca import PcaSettings
    from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, sample_qc

    settings = SampleSettings(a.min_call_rate, a.het_sd, a.sex_mismatch, a.sex_ambiguous,
                              a.kinship_threshold, a.pca_outliers,
                              PcaSettings(a.n_pcs, a.pca_outlier_sd, a.seed), a.hwe_population,
                              a.ancestry_clusters)
    out = SampleQcPaths(Path(a.samples), Path(a.keep), Path(a.related_pairs), Path(a.pcs),
                        Path(a.pca_json))
    sample_qc(Path(a.fam), _paths(a.partials), Path(a.phenotypes), a.diseases, a.covariates,
              Path(a.pruned), settings, out)


def _variant_qc(a):
    from cohortgen.errors import InputError
    from cohortgen.qc.ancestry import HweSettings
    from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk

    thresholds = VariantThresholds(a.min_call_rate, a.min_maf, a.min_hwe_midp, a.min_mac,
                                   a.diff_miss_p)
    if a.hwe_population != "all" and a.samples is None:
        raise InputError(f"--hwe-population {a.hwe_population} needs --samples (qc/samples.tsv)")
    hwe = HweSettings(a.hwe_population, a.samples and Path(a.samples), _min_cluster_size(a))
    variant_qc_chunk(Path(a.bfile), Path(a.keep), Path(a.phenotypes), a.diseases, thresholds,
                     a.genome_build, Path(a.repeated_ids), Path(a.out), hwe)


def _repeated_ids(a):
    from cohortgen.qc.variant_qc import write_repeated_ids

    write_repeated_ids(_paths(a.bims), Path(a.out))


def _qc_genotypes(a):
    from cohortgen.qc.genotypes import write_qc_genotypes

    write_qc_genotypes(_paths(a.bfiles), _paths(a.variant_qc), Path(a.keep), Path(a.out_prefix))


def _qc_summary(a):
    from cohortgen.qc.summary import summarize_qc

    summarize_qc(_paths(a.tallies), Path(a.samples), Path(a.related_pairs), _paths(a.variant_qc),
                 Path(a.genotypes), Path(a.summary), Path(a.variants), a.hwe_population,
                 _min_cluster_size(a))


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(sub, "variant-stats", _variant_stats,
                "Per-chunk variant counts and per-sample partial sums.",
                req("--bfile"), req("--phenotypes"), req("--genome-build"), req("--variants"),
                req("--sample-partials"),
                (("--sex-partials",), {"help": "the sex check's sums written by `cohortgen "
                                               "ingest --sex-partials` (else from the .bed)"}))
    add_command(sub, "prune-common", _prune_common,
                "The LD-pruned common autosomal set used by sample QC.",
                many("--bfiles"), many("--partials"), many("--tallies"), req("--phenotypes"),
                req("--min-call-rate", type=float), req("--variant-call-rate", type=float),
                req("--min-maf", type=float), req("--hwe-midp", type=float),
                req("--ld-window", type=int), req("--ld-step", type=int),
                req("--ld-r2", type=float), req("--genome-build"), req("--out-prefix"),
                req("--out-json"))
    add_command(sub, "sample-qc", _sample_qc,
                "Sample QC: call rate, heterozygosity, sex, relatedness, ancestry PCA.",
                req("--fam"), many("--partials"), req("--phenotypes"), many("--diseases"),
                covariates(), req("--pruned"), req("--min-call-rate", type=float),
                req("--het-sd", type=float), req("--sex-mismatch", choices=["remove", "flag"]),
                req("--sex-ambiguous", choices=["flag", "remove"]),
                req("--kinship-threshold", type=float),
                req("--pca-outliers", choices=["flag", "remove"]),
                req("--pca-outlier-sd", type=float), req("--n-pcs", type=int),
                req("--seed", type=int), req("--samples"), req("--keep"),
                req("--related-pairs"), req("--pcs"), req("--pca-json"), HWE_POPULATION,
                _opt("--ancestry-clusters", default="auto"))
    add_command(sub, "variant-qc", _variant_qc, "Variant QC of one chunk on kept samples.",
                req("--bfile"), req("--keep"), req("--phenotypes"), many("--diseases"),
                req("--min-call-rate", type=float), req("--min-maf", type=float),
                req("--min-mac", type=int), req("--min-hwe-midp", type=float),
                req("--diff-miss-p", type=float), req("--genome-build"),
                req("--repeated-ids"), req("--out"), HWE_POPULATION, _opt("--samples"),
                HWE_MIN_CLUSTER_SIZE)
    add_command(sub, "repeated-ids", _repeated_ids,
                "Variant IDs repeated over the chunks, each with its first site.",
                many("--bims"), req("--out"))
    add_command(sub, "qc-genotypes", _qc_genotypes,
                "QC'd genotypes: kept samples x passing variants as one PLINK fileset.",
                many("--bfiles"), many("--variant-qc"), req("--keep"), req("--out-prefix"))
    add_command(sub, "qc-summary", _qc_summary, "QC funnel and gathered variant table.",
                many("--tallies"), req("--samples"), req("--related-pairs"),
                many("--variant-qc"), req("--genotypes"), req("--summary"), req("--variants"),
                HWE_POPULATION, HWE_MIN_CLUSTER_SIZE)
