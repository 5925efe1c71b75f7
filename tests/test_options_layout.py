"""``genome_build`` declared once (:class:`cohortgen.options.GenomeBuildOptions`), inherited by
every step that reads it, with each step's keys unchanged; the ``--options`` text is key-sorted,
so that how a class orders its fields never changes it (Snakemake compares a rule's params as
text to decide reruns)."""

import dataclasses
import inspect
import json

from cohortgen.options import (
    STEP_OPTIONS,
    GenomeBuildOptions,
    key_paths,
    step_config,
    step_options_json,
)
from cohortgen.options import validate_config as validated

STEP_KEYS = {
    "validate": ["diseases", "covariates", "ingest.max_sample_loss"],
    "plan": ["chunks.variants_per_chunk"],
    "ingest": ["ingest.half_calls", "ingest.multiallelic", "ingest.vcf_reader", "genome_build"],
    "plan_imputed": ["chunks.imputed_variants_per_chunk", "ingest.max_sample_loss", "genome_build"],
    "ingest_dosages": ["imputed_qc.min_r2", "imputed_qc.r2_source", "imputed_qc.maf",
        "imputed_qc.mac", "imputed_qc.max_missing", "ingest.multiallelic", "genome_build"],
    "variant_stats": ["genome_build"],
    "prune_common": ["qc.sample_call_rate", "qc.variant_call_rate", "qc.hwe_midp", "pca.min_maf",
        "pca.ld_window", "pca.ld_step", "pca.ld_r2", "genome_build"],
    "sample_qc": ["diseases", "covariates", "qc.sample_call_rate", "qc.het_sd", "qc.sex_mismatch",
        "qc.sex_ambiguous", "qc.kinship_threshold", "qc.relatives", "qc.pca_outliers",
        "qc.pca_outlier_sd", "qc.hwe_population", "qc.ancestry_clusters",
        "assoc.whole_genome_regression", "pca.n_pcs", "seed"],
    "variant_qc": ["qc.hwe_population", "qc.hwe_min_cluster_size", "qc.variant_call_rate",
        "qc.maf", "qc.mac", "qc.hwe_midp", "qc.diff_miss_p", "diseases", "genome_build"],
    "qc_summary": ["qc.hwe_population", "qc.hwe_min_cluster_size"],
    "null_model": ["diseases", "covariates", "traits", "categorical_covariates", "assoc.min_cases",
        "assoc.min_level_count"],
    "assoc": ["assoc.min_mac", "assoc.firth_p_threshold", "assoc.firth_min_carriers",
        "assoc.firth_p_value", "assoc.firth_mode", "assoc.p_value"],
    "wgr_step1": ["diseases", "traits", "covariates", "categorical_covariates",
        "assoc.wgr.block_size", "assoc.wgr.h2_grid", "assoc.wgr.folds", "assoc.wgr.min_maf",
        "seed"],
    "gather_gwas": ["report.min_cell_count", "genome_build", "qc.relatives",
        "assoc.whole_genome_regression", "imputed_qc.min_r2", "imputed_qc.r2_source",
        "assoc.firth_p_value", "assoc.firth_mode", "assoc.p_value"],
    "find_loci": ["assoc.clump_r2", "assoc.clump_window_kb", "assoc.clump_p_member"],
    "gwas_summary": ["report.min_cell_count", "qc.relatives", "assoc.whole_genome_regression",
        "diseases", "traits"],
    "prs_score": ["genome_build", "prs.min_overlap", "prs.keep_ambiguous", "qc.variant_call_rate"],
    "prs_evaluate": ["report.min_cell_count", "covariates", "categorical_covariates",
        "prs.prevalence"],
    "prs_incohort_folds": ["diseases", "covariates", "categorical_covariates",
        "prs.incohort.folds", "seed"],
    "prs_incohort_fold": ["diseases", "covariates", "categorical_covariates", "prs.incohort.folds",
        "prs.incohort.min_maf", "prs.incohort.variants", "prs.incohort.ct.r2_grid",
        "prs.incohort.ct.p_thresholds", "prs.incohort.ldpred2.n_chains",
        "prs.incohort.ldpred2.burn_in", "prs.incohort.ldpred2.num_iter",
        "prs.incohort.ldpred2.window_kb", "seed", "assoc.min_cases"],
    "prs_incohort_evaluate": ["report.min_cell_count", "diseases", "covariates",
        "categorical_covariates", "prs.incohort.folds", "prs.incohort.min_maf",
        "prs.incohort.variants", "prs.incohort.ct.r2_grid", "prs.incohort.ct.p_thresholds",
        "prs.incohort.ldpred2.n_chains", "prs.incohort.ldpred2.burn_in",
        "prs.incohort.ldpred2.num_iter", "prs.incohort.ldpred2.window_kb", "prs.prevalence",
        "seed", "assoc.min_cases", "genome_build"],
    "report": ["report.min_cell_count", "report.languages", "report.genes", "disease_labels",
        "covariates"],
    "report_index": ["report.min_cell_count", "report.languages", "disease_labels"],
}
"""Each step's keys, as before ``genome_build`` moved to one base class. Adding a key to a step
adds it here (and reruns that step, as it should)."""


def _ordered_paths(cls, node: dict, prefix: tuple = ()) -> list[str]:
    """Dotted key paths of ``step_config`` output ``node``, in its (JSON) order."""
    leaves = set(key_paths(cls).values())
    paths = []
    for name, value in node.items():
        path = (*prefix, name)
        paths += ([".".join(path)] if path in leaves else _ordered_paths(cls, value, path))
    return paths


def _classes_declaring(name: str) -> set[type]:
    classes = {base for cls in STEP_OPTIONS.values() for base in cls.__mro__
               if dataclasses.is_dataclass(base)}
    return {cls for cls in classes if name in inspect.get_annotations(cls)}


def test_step_options_json__every_step_passes_its_keys_sorted():
    config = validated({"cohorts": {"c": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}}}, "t")
    assert set(STEP_OPTIONS) == set(STEP_KEYS)
    for step, cls in STEP_OPTIONS.items():
        text = step_options_json(cls, config)  # what the rule passes (common.smk)
        assert sorted(_ordered_paths(cls, json.loads(text))) == sorted(STEP_KEYS[step]), step
        assert text == json.dumps(json.loads(text), sort_keys=True), step
        assert json.loads(text) == step_config(cls, config), step


def test_step_options_json__does_not_depend_on_field_order():
    fields = [(f.name, f.type, f) for f in dataclasses.fields(STEP_OPTIONS["prune_common"])]
    reversed_cls = dataclasses.make_dataclass("Reversed", list(reversed(fields)), frozen=True,
                                              kw_only=True)
    config = validated({"cohorts": {"c": {"genotypes": "g.vcf.gz", "phenotypes": "p.tsv"}}}, "t")
    assert (json.dumps(step_config(reversed_cls, config))
            != json.dumps(step_config(STEP_OPTIONS["prune_common"], config)))
    assert (step_options_json(reversed_cls, config)
            == step_options_json(STEP_OPTIONS["prune_common"], config))


def test_genome_build__one_declaration_inherited_by_every_step_that_reads_it():
    assert _classes_declaring("genome_build") == {GenomeBuildOptions}
    reading = {step for step, cls in STEP_OPTIONS.items() if issubclass(cls, GenomeBuildOptions)}
    assert reading == {step for step, keys in STEP_KEYS.items() if "genome_build" in keys}
    assert reading == {"ingest", "plan_imputed", "ingest_dosages", "variant_stats",
                       "prune_common", "variant_qc", "gather_gwas", "prs_score",
                       "prs_incohort_evaluate"}
