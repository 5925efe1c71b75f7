"""The config contract: each workflow step's settings as one typed options object.

``workflow/schemas/config.schema.yaml`` (shipped in the package as
``cohortgen/schemas/config.schema.yaml``) is the one place for the names, types, descriptions
and defaults of the config keys. Each step has a frozen, keyword-only options class whose field
names are the schema's keys (:data:`STEP_OPTIONS`); a field's ``section`` metadata is the dotted
path of the object it sits in (``"qc"`` for ``qc.maf``, ``""`` for top-level keys). The classes
have no defaults of their own: :func:`parse_options` validates a (partial) config against the
schema, fills the schema's defaults and builds the object by keyword.

A subcommand reads its options from ``--options``: a JSON object, or a YAML/JSON file, holding
(part of) a config, e.g. ``{"qc": {"maf": 0.01}}``. The workflow passes exactly the keys a step
uses (:func:`step_config`), so Snakemake reruns a step only when one of them changes.
"""

import copy
import dataclasses
import functools
import json
from importlib import resources
from pathlib import Path

from cohortgen.errors import InputError


def key(section: str = "") -> dataclasses.Field:
    """A config key as an options field, in the object at dotted path ``section``."""
    return dataclasses.field(metadata={"section": section})


options_class = dataclasses.dataclass(frozen=True, kw_only=True)


@options_class
class GenomeBuildOptions:
    """``cohortgen variant-stats``: the build (which contigs are sex chromosomes); the one
    declaration of the key, inherited by every step that reads it."""

    genome_build: str = key()


@options_class
class ValidateOptions:
    """``cohortgen validate``: the sheet columns checked and the sample loss allowed."""

    diseases: list[str] = key()
    covariates: list[str] = key()
    max_sample_loss: float = key("ingest")


@options_class
class PlanOptions:
    """``cohortgen plan``: chunk size."""

    variants_per_chunk: int = key("chunks")


@options_class
class IngestOptions(GenomeBuildOptions):
    """``cohortgen ingest``: how VCF/BCF calls are decoded, the build."""

    half_calls: str = key("ingest")
    multiallelic: str = key("ingest")
    vcf_reader: str = key("ingest")


@options_class
class PlanImputedOptions(GenomeBuildOptions):
    """``cohortgen plan-imputed``: chunk size, sample loss allowed, the build."""

    imputed_variants_per_chunk: int = key("chunks")
    max_sample_loss: float = key("ingest")


@options_class
class IngestDosagesOptions(GenomeBuildOptions):
    """``cohortgen ingest-dosages``: imputed-variant QC thresholds, record rules, the build."""

    min_r2: float = key("imputed_qc")
    r2_source: str = key("imputed_qc")
    maf: float = key("imputed_qc")
    mac: float = key("imputed_qc")
    max_missing: float = key("imputed_qc")
    multiallelic: str = key("ingest")


@options_class
class PruneCommonOptions(GenomeBuildOptions):
    """``cohortgen prune-common``: preliminary sample filter, variant filters, LD pruning, the
    build."""

    sample_call_rate: float = key("qc")
    variant_call_rate: float = key("qc")
    hwe_midp: float = key("qc")
    min_maf: float = key("pca")
    ld_window: int = key("pca")
    ld_step: int = key("pca")
    ld_r2: float = key("pca")


@options_class
class SampleQcOptions:
    """``cohortgen sample-qc``: sample thresholds and actions, PCA, ancestry clusters."""

    diseases: list[str] = key()
    covariates: list[str] = key()
    sample_call_rate: float = key("qc")
    het_sd: float = key("qc")
    sex_mismatch: str = key("qc")
    sex_ambiguous: str = key("qc")
    kinship_threshold: float = key("qc")
    relatives: str = key("qc")
    whole_genome_regression: bool = key("assoc")
    pca_outliers: str = key("qc")
    pca_outlier_sd: float = key("qc")
    hwe_population: str = key("qc")
    ancestry_clusters: int | str = key("qc")
    n_pcs: int = key("pca")
    seed: int = key()


@options_class
class HweOptions:
    """``cohortgen qc-summary`` (and part of variant QC): where HWE is tested."""

    hwe_population: str = key("qc")
    hwe_min_cluster_size: int = key("qc")


@options_class
class VariantQcOptions(GenomeBuildOptions, HweOptions):
    """``cohortgen variant-qc``: variant thresholds on kept samples, the build."""

    diseases: list[str] = key()
    variant_call_rate: float = key("qc")
    maf: float = key("qc")
    mac: int = key("qc")
    hwe_midp: float = key("qc")
    diff_miss_p: float = key("qc")


@options_class
class NullModelOptions:
    """``cohortgen null-model``: traits, covariates, minimum counts."""

    diseases: list[str] = key()
    covariates: list[str] = key()
    traits: dict[str, str] = key()
    categorical_covariates: list[str] = key()
    min_cases: int = key("assoc")
    min_level_count: int = key("assoc")


@options_class
class AssocOptions:
    """``cohortgen assoc``: Firth fallback / SPA and the minimum minor allele count."""

    min_mac: int = key("assoc")
    firth_p_threshold: float = key("assoc")
    firth_min_carriers: int = key("assoc")
    firth_p_value: str = key("assoc")
    firth_mode: str = key("assoc")
    p_value: str = key("assoc")


@options_class
class WgrStep1Options:
    """``cohortgen wgr-step1``: traits, covariates, blocks, shrinkage grid, folds."""

    diseases: list[str] = key()
    traits: dict[str, str] = key()
    covariates: list[str] = key()
    categorical_covariates: list[str] = key()
    block_size: int = key("assoc.wgr")
    h2_grid: list[float] = key("assoc.wgr")
    folds: int = key("assoc.wgr")
    min_maf: float = key("assoc.wgr")
    seed: int = key()


@options_class
class FindLociOptions:
    """``cohortgen find-loci``: LD clumping."""

    clump_r2: float = key("assoc")
    clump_window_kb: int = key("assoc")
    clump_p_member: float = key("assoc")


@options_class
class MethodOptions:
    """The analysis method reported with the results: relatives kept or removed (kept only with
    step 1 on; whether step 1 ran is told by its summary file, given when on)."""

    relatives: str = key("qc")
    whole_genome_regression: bool = key("assoc")


@options_class
class SmallCellOptions:
    """Steps that write shareable counts of people: those under ``report.min_cell_count`` are
    masked (:mod:`cohortgen.privacy`). The one declaration of the key for every such step."""

    min_cell_count: int = key("report")


@options_class
class GatherGwasOptions(MethodOptions, GenomeBuildOptions, SmallCellOptions):
    """``cohortgen gather-gwas``: the build, the method, the test (assoc keys) and the r² filter
    stated for imputed dosages, written to the GWAS-SSF sidecar, and the small counts it leaves
    out."""

    min_r2: float = key("imputed_qc")
    r2_source: str = key("imputed_qc")
    firth_p_value: str = key("assoc")
    firth_mode: str = key("assoc")
    p_value: str = key("assoc")


@options_class
class GwasSummaryOptions(MethodOptions, SmallCellOptions):
    """``cohortgen gwas-summary``: the traits summarised, in config order, the method and the
    small counts masked."""

    diseases: list[str] = key()
    traits: dict[str, str] = key()


@options_class
class PrsScoreOptions(GenomeBuildOptions):
    """``cohortgen prs-score``: the build, matching and the scoring variant filter."""

    min_overlap: float = key("prs")
    keep_ambiguous: bool = key("prs")
    variant_call_rate: float = key("qc")


@options_class
class PrsEvaluateOptions(SmallCellOptions):
    """``cohortgen prs-evaluate``: evaluation covariates, prevalences, small cells."""

    covariates: list[str] = key()
    categorical_covariates: list[str] = key()
    prevalence: dict[str, float] = key("prs")


@options_class
class IncohortFoldsOptions:
    """``cohortgen prs-incohort-folds``: the cohort's traits and covariates, folds."""

    diseases: list[str] = key()
    covariates: list[str] = key()
    categorical_covariates: list[str] = key()
    folds: int = key("prs.incohort")
    seed: int = key()


@options_class
class IncohortFoldOptions(IncohortFoldsOptions):
    """``cohortgen prs-incohort-fold``: training GWAS, C+T grid, LDpred2-auto."""

    min_cases: int = key("assoc")
    min_maf: float = key("prs.incohort")
    variants: str = key("prs.incohort")
    r2_grid: list[float] = key("prs.incohort.ct")
    p_thresholds: list[float] = key("prs.incohort.ct")
    n_chains: int = key("prs.incohort.ldpred2")
    burn_in: int = key("prs.incohort.ldpred2")
    num_iter: int = key("prs.incohort.ldpred2")
    window_kb: int = key("prs.incohort.ldpred2")


@options_class
class IncohortEvaluateOptions(GenomeBuildOptions, IncohortFoldOptions, SmallCellOptions):
    """``cohortgen prs-incohort-evaluate``: as a fold, plus export (the build) and evaluation."""

    prevalence: dict[str, float] = key("prs")


@options_class
class ReportIndexOptions(SmallCellOptions):
    """``cohortgen report-index``: small-cell suppression, languages, names."""

    languages: list[str] = key("report")
    disease_labels: dict[str, dict[str, str]] = key()


@options_class
class ReportOptions(ReportIndexOptions):
    """``cohortgen report``: as the index, plus the gene annotation of the lead loci and the
    covariates (age bands when ``age`` is one)."""

    genes: str = key("report")
    covariates: list[str] = key()


STEP_OPTIONS = {
    "validate": ValidateOptions,
    "plan": PlanOptions,
    "ingest": IngestOptions,
    "plan_imputed": PlanImputedOptions,
    "ingest_dosages": IngestDosagesOptions,
    "variant_stats": GenomeBuildOptions,
    "prune_common": PruneCommonOptions,
    "sample_qc": SampleQcOptions,
    "variant_qc": VariantQcOptions,
    "qc_summary": HweOptions,
    "null_model": NullModelOptions,
    "assoc": AssocOptions,
    "wgr_step1": WgrStep1Options,
    "gather_gwas": GatherGwasOptions,
    "find_loci": FindLociOptions,
    "gwas_summary": GwasSummaryOptions,
    "prs_score": PrsScoreOptions,
    "prs_evaluate": PrsEvaluateOptions,
    "prs_incohort_folds": IncohortFoldsOptions,
    "prs_incohort_fold": IncohortFoldOptions,
    "prs_incohort_evaluate": IncohortEvaluateOptions,
    "report": ReportOptions,
    "report_index": ReportIndexOptions,
}
"""Options class of each step that reads config keys, by subcommand name (``-`` as ``_``)."""


@functools.cache
def config_schema() -> dict:
    """The config schema (``workflow/schemas/config.schema.yaml``, package data), parsed by
    libyaml when PyYAML has it (read by every job: 7 ms instead of 50 ms of CPU)."""
    import yaml

    text = resources.files("cohortgen").joinpath("schemas/config.schema.yaml").read_text()
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def key_paths(cls) -> dict[str, tuple[str, ...]]:
    """{field name: path of its key in the config} of options class ``cls``."""
    return {f.name: tuple(filter(None, f.metadata["section"].split("."))) + (f.name,)
            for f in dataclasses.fields(cls)}


def _lookup(config: dict, path: tuple[str, ...]):
    for name in path:
        config = config[name]
    return config


def step_options_json(cls, config: dict) -> str:
    """The ``--options`` text the workflow passes to the step of options class ``cls``:
    :func:`step_config` as JSON with keys sorted at every level, so that the text (which
    Snakemake compares to decide reruns) changes only when a key or value does, never with the
    order of the class's fields."""
    return json.dumps(step_config(cls, config), sort_keys=True)


def step_config(cls, config: dict) -> dict:
    """The part of a validated, default-filled ``config`` holding exactly the keys of options
    class ``cls`` (nested as in the config)."""
    out: dict = {}
    for path in key_paths(cls).values():
        node = out
        for name in path[:-1]:
            node = node.setdefault(name, {})
        node[path[-1]] = _lookup(config, path)
    return out


def fill_defaults(config: dict, schema: dict) -> dict:
    """A copy of ``config`` with every absent key that has a schema default set to it, in
    nested objects too."""
    out = copy.deepcopy(config)
    for name, sub in schema.get("properties", {}).items():
        if name not in out and "default" in sub:
            out[name] = copy.deepcopy(sub["default"])
        if isinstance(out.get(name), dict) and "properties" in sub:
            out[name] = fill_defaults(out[name], sub)
    return out


def validate_config(config: dict, source: str) -> dict:
    """``config`` (part of a config: no key is required) checked against the schema, with the
    schema's defaults filled in. InputError naming ``source`` and the key of the first problem."""
    import jsonschema

    schema = {k: v for k, v in config_schema().items() if k != "required"}
    if not isinstance(config, dict):
        raise InputError(f"{source}: expected a mapping of config keys, got {config!r}")
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        path = ".".join(map(str, errors[0].absolute_path))
        where = f"config key {path}" if path else "config"
        raise InputError(f"{source}: {where}: {errors[0].message} (keys and types: "
                         "workflow/schemas/config.schema.yaml)")
    return fill_defaults(config, schema)


def _coerce(kind, value):
    """``value`` as field type ``kind``: YAML/JSON integers for ``number`` keys become float."""
    if kind is float and not isinstance(value, bool):
        return float(value)
    if getattr(kind, "__origin__", None) is list:
        return [_coerce(kind.__args__[0], v) for v in value]
    if getattr(kind, "__origin__", None) is dict:
        return {k: _coerce(kind.__args__[1], v) for k, v in value.items()}
    return value


def build(cls, config: dict):
    """Options object ``cls`` from a validated, default-filled config, built by keyword."""
    kinds = {f.name: f.type for f in dataclasses.fields(cls)}
    return cls(**{name: _coerce(kinds[name], _lookup(config, path))
                  for name, path in key_paths(cls).items()})


def read_options_text(text: str) -> dict:
    """``--options`` as a mapping: a path to a YAML/JSON file, else a JSON object."""
    import yaml

    path = Path(text)
    if not text.lstrip().startswith("{") and path.is_file():
        try:
            return yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise InputError(f"--options file {path}: not YAML/JSON: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--options {text!r}: neither a file nor a JSON object ({exc}); "
                         'give e.g. \'{"qc": {"maf": 0.01}}\' or a YAML file') from None


def parse_options(text: str, step: str):
    """The options object of ``step`` (:data:`STEP_OPTIONS`) from an ``--options`` value."""
    config = validate_config(read_options_text(text), "--options")
    return build(STEP_OPTIONS[step], config)
