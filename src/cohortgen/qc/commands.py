"""QC-stage subcommands: variant-stats, prune-common, sample-qc, repeated-ids, variant-qc,
qc-genotypes, qc-summary."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req


def _paths(values) -> list[Path]:
    return [Path(p) for p in values]


def _variant_stats(a):
    from cohortgen.options import parse_options
    from cohortgen.qc.variant_stats import variant_stats_chunk

    o = parse_options(a.options, "variant_stats")
    variant_stats_chunk(Path(a.bfile), Path(a.phenotypes), o.genome_build, Path(a.sample_partials),
                        Path(a.sex_partials) if a.sex_partials else None)


def _prune_common(a):
    from cohortgen.options import parse_options
    from cohortgen.qc.pruned import PruneSettings, select_pruned_set
    from cohortgen.qc.sample_qc import preliminary_samples
    from cohortgen.qc.summary import check_variants_ingested

    o = parse_options(a.options, "prune_common")
    check_variants_ingested(_paths(a.tallies))
    prelim = preliminary_samples(Path(f"{a.bfiles[0]}.fam"), _paths(a.partials),
                                 Path(a.phenotypes), o.sample_call_rate)
    settings = PruneSettings(variant_call_rate=o.variant_call_rate, min_maf=o.min_maf,
                             hwe_midp=o.hwe_midp, ld_window=o.ld_window, ld_step=o.ld_step,
                             ld_r2=o.ld_r2, genome_build=o.genome_build)
    select_pruned_set(_paths(a.bfiles), prelim, settings, Path(a.out_prefix), Path(a.out_json))


def _sample_qc(a):
    from cohortgen.options import parse_options
    from cohortgen.qc.pca import PcaSettings
    from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, sample_qc

    o = parse_options(a.options, "sample_qc")
    pca = PcaSettings(n_pcs=o.n_pcs, outlier_sd=o.pca_outlier_sd, seed=o.seed)
    settings = SampleSettings(min_call_rate=o.sample_call_rate, het_sd=o.het_sd,
                              sex_mismatch_action=o.sex_mismatch,
                              sex_ambiguous_action=o.sex_ambiguous,
                              kinship_threshold=o.kinship_threshold,
                              pca_outlier_action=o.pca_outliers, pca=pca,
                              hwe_population=o.hwe_population,
                              ancestry_clusters=str(o.ancestry_clusters),
                              relatives=o.relatives)
    out = SampleQcPaths(Path(a.samples), Path(a.keep), Path(a.related_pairs), Path(a.pcs),
                        Path(a.pca_json))
    sample_qc(Path(a.fam), _paths(a.partials), Path(a.phenotypes), o.diseases, o.covariates,
              Path(a.pruned), settings, out)


def _variant_qc(a):
    from cohortgen.errors import InputError
    from cohortgen.options import parse_options
    from cohortgen.qc.ancestry import HweSettings
    from cohortgen.qc.variant_qc import VariantThresholds, variant_qc_chunk

    o = parse_options(a.options, "variant_qc")
    thresholds = VariantThresholds(call_rate=o.variant_call_rate, maf=o.maf, hwe_midp=o.hwe_midp,
                                   mac=o.mac, diff_miss_p=o.diff_miss_p)
    if o.hwe_population != "all" and a.samples is None:
        raise InputError(f"qc.hwe_population {o.hwe_population} needs --samples "
                         "(qc/samples.tsv)")
    hwe = HweSettings(population=o.hwe_population, samples_tsv=a.samples and Path(a.samples),
                      min_cluster_size=o.hwe_min_cluster_size)
    variant_qc_chunk(Path(a.bfile), Path(a.keep), Path(a.phenotypes), o.diseases, thresholds,
                     o.genome_build, Path(a.repeated_ids), Path(a.out), hwe)


def _repeated_ids(a):
    from cohortgen.qc.variant_qc import write_repeated_ids

    write_repeated_ids(_paths(a.bims), Path(a.out))


def _qc_genotypes(a):
    from cohortgen.qc.genotypes import write_qc_genotypes

    write_qc_genotypes(_paths(a.bfiles), _paths(a.variant_qc), Path(a.keep), Path(a.out_prefix))


def _qc_summary(a):
    from cohortgen.options import parse_options
    from cohortgen.qc.summary import summarize_qc

    o = parse_options(a.options, "qc_summary")
    summarize_qc(_paths(a.tallies), Path(a.samples), Path(a.related_pairs), _paths(a.variant_qc),
                 Path(a.genotypes), Path(a.summary), Path(a.variants), o.hwe_population,
                 o.hwe_min_cluster_size)


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(sub, "variant-stats", _variant_stats,
                "Per-chunk per-sample partial sums for sample QC.",
                req("--bfile"), req("--phenotypes"), req("--sample-partials"),
                options("variant_stats"),
                (("--sex-partials",), {"help": "the sex check's sums written by `cohortgen "
                                               "ingest --sex-partials` (else from the .bed)"}))
    add_command(sub, "prune-common", _prune_common,
                "The LD-pruned common autosomal set used by sample QC.",
                many("--bfiles"), many("--partials"), many("--tallies"), req("--phenotypes"),
                req("--out-prefix"), req("--out-json"), options("prune_common"))
    add_command(sub, "sample-qc", _sample_qc,
                "Sample QC: call rate, heterozygosity, sex, relatedness, ancestry PCA.",
                req("--fam"), many("--partials"), req("--phenotypes"), req("--pruned"),
                req("--samples"), req("--keep"), req("--related-pairs"), req("--pcs"),
                req("--pca-json"), options("sample_qc"))
    add_command(sub, "variant-qc", _variant_qc, "Variant QC of one chunk on kept samples.",
                req("--bfile"), req("--keep"), req("--phenotypes"), req("--repeated-ids"),
                req("--out"),
                (("--samples",), {"help": "qc/samples.tsv (ancestry clusters; needed unless "
                                          "qc.hwe_population is all)"}),
                options("variant_qc"))
    add_command(sub, "repeated-ids", _repeated_ids,
                "Variant IDs repeated over the chunks, each with its first site.",
                many("--bims"), req("--out"))
    add_command(sub, "qc-genotypes", _qc_genotypes,
                "QC'd genotypes: kept samples x passing variants as one PLINK fileset.",
                many("--bfiles"), many("--variant-qc"), req("--keep"), req("--out-prefix"))
    add_command(sub, "qc-summary", _qc_summary, "QC funnel and gathered variant table.",
                many("--tallies"), req("--samples"), req("--related-pairs"),
                many("--variant-qc"), req("--genotypes"), req("--summary"), req("--variants"),
                options("qc_summary"))
