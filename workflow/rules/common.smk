# Helpers shared by the rules: how a rule starts cohortgen, config look-ups and the chunk list
# of a cohort's plan.

import json
import math
import os
import shlex
import sys
from functools import cache
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from cohortgen.errors import InputError
from cohortgen.ingest.plan import is_plink_prefix, read_plan
from cohortgen.io.vcf_index import index_path
from cohortgen.options import STEP_OPTIONS, step_options_json
from cohortgen.prs.fold_memory import fold_mem_mb, listed_variants


def cohortgen_command():
    """The command every rule's shell line starts with, ``{COHORTGEN} <stage> ...``.

    ``python -m cohortgen`` run by the interpreter that runs this Snakefile (which imports
    cohortgen above, so it has the package), however Snakemake was started: from a venv whose
    ``bin/`` is not on PATH, by a cluster job, from a conda env. With ``--use-conda`` each job
    runs in the rule's env (envs/cohortgen.yaml, which installs the package), so the env's own
    ``python`` starts it.
    """
    if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
        return "python -m cohortgen"
    return f"{shlex.quote(sys.executable)} -m cohortgen"


COHORTGEN = cohortgen_command()

# envs/cohortgen.yaml installs the package from this checkout: ``-e ${COHORTGEN_REPO}``, which
# pip expands when --use-conda builds the env (in .snakemake/conda/, far from the checkout).
# Set here, never read, so not an ``envvars:`` requirement of the workflow.
os.environ.update(COHORTGEN_REPO=str(Path(workflow.current_basedir).parents[1]))


wildcard_constraints:
    cohort=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    chunk=r"c\d{4}",
    disease=r"[A-Za-z][A-Za-z0-9_]*",


def cohort_input(wildcards, key):
    return config["cohorts"][wildcards.cohort][key]


def genotype_files(wildcards):
    genotypes = cohort_input(wildcards, "genotypes")
    if is_plink_prefix(genotypes):
        return [f"{genotypes}.{ext}" for ext in ("bed", "bim", "fam")]
    return [genotypes]


def genotype_index(wildcards):
    """Input function: the cohort's VCF/BCF index (.tbi or .csi, as the reader picks it), so a
    rebuilt index reruns the steps that read it. None for a PLINK fileset, and none when the
    index is missing: validate_inputs then stops with the message saying how to make one.
    """
    genotypes = cohort_input(wildcards, "genotypes")
    if is_plink_prefix(genotypes):
        return []
    try:
        return [str(index_path(Path(genotypes)))]
    except InputError:
        return []


@cache
def sheet_rows(path):
    """Data rows of a phenotype sheet (its header line excluded), read once per path."""
    with open(path, "rb") as handle:
        return max(sum(1 for _ in handle) - 1, 0)


@cache
def plan_variants(path):
    """Variants of a chunk plan: the sum of its ``n_variants`` (exact for PLINK input,
    the index's record counts for a VCF), read once per path."""
    return int(read_plan(path)["n_variants"].sum())


@cache
def listed_entries(path):
    """Entries of a variant list, at most (cohortgen.prs.fold_memory.listed_variants: 0.13 CPU
    s for 1.1 M), read once per path."""
    return listed_variants(path)


def scaled(base, per_input_mb=0.0, per_1000_samples=0.0):
    """Resource function for ``mem_mb`` (MB) or ``runtime`` (minutes) that grows with the cohort.

    ``base`` (the Python process, its imports and the executor's wrapper) plus ``per_input_mb``
    times the job's input size in MB (chunk genotypes, pruned set: what the job loads) plus
    ``per_1000_samples`` times the cohort's samples in thousands (rows of its phenotype sheet),
    all times the attempt: a job the scheduler kills for exceeding its memory or time is rerun
    (profile ``retries``) with twice, then three times as much. Rounded up to an integer.
    """

    def resource(wildcards, input, attempt):
        samples = sheet_rows(cohort_input(wildcards, "phenotypes"))
        amount = base + per_input_mb * input.size_mb + per_1000_samples * samples / 1000
        return math.ceil(amount * attempt)

    return resource


def incohort_plan(wildcards):
    """Input function: the chunk plan of the variants the in-cohort PRS reads: the imputed
    plan of a cohort with ``imputed`` (dosages), else the array plan."""
    stage = "imputed" if has_imputed(wildcards) else "chunks"
    return f"results/{wildcards.cohort}/{stage}/plan.tsv"


def incohort_fold_mem_mb(wildcards, input, attempt):
    """``mem_mb`` of an in-cohort PRS fold job: cohortgen.prs.fold_memory.fold_mem_mb of the
    cohort's samples and of the variants the job reads, at most: those of its ``plan`` input
    (:func:`incohort_plan`), or the entries of ``prs.incohort.variants`` when fewer; times the
    attempt, as :func:`scaled`. Read from the plan file, not the checkpoint: before the plan
    exists (a dry run) Snakemake shows it as <TBD>."""
    samples = sheet_rows(cohort_input(wildcards, "phenotypes"))
    variants = plan_variants(input.plan)
    listed = config["prs"]["incohort"].get("variants")
    if listed:
        variants = min(variants, listed_entries(listed))
    return fold_mem_mb(samples, variants, has_imputed(wildcards)) * attempt


def intermediate(path):
    """``path`` as ``temp()`` (deleted once every job needing it has run) unless config
    ``keep_intermediates`` is true."""
    return path if config["keep_intermediates"] else temp(path)


def chunk_files(pattern):
    """Input function: ``pattern`` expanded over the chunks of the cohort's plan."""

    def files(wildcards):
        plan = checkpoints.plan_chunks.get(cohort=wildcards.cohort).output.plan
        chunks = read_plan(plan)["chunk_id"]
        return expand(pattern, cohort=wildcards.cohort, chunk=chunks)

    return files


def disease_files(pattern):
    return expand(pattern, disease=config["diseases"], allow_missing=True)


def config_json():
    return json.dumps(config, sort_keys=True)


def step_options(step):
    """``--options`` of a step: JSON of exactly the config keys its options class declares
    (cohortgen.options.STEP_OPTIONS), so the step reruns only when one of them changes.
    """
    return step_options_json(STEP_OPTIONS[step], config)


def wgr_input(path):
    """``path`` when the whole-genome regression runs (assoc.whole_genome_regression), else
    nothing: with step 1 off the rule graph and commands are those without it."""
    return path if config["assoc"]["whole_genome_regression"] else []


def wgr_arg(flag, name):
    """Params function: `` <flag> <input.name>`` when step 1 runs, else an empty string."""
    on = config["assoc"]["whole_genome_regression"]
    return lambda wc, input: f" {flag} {input[name]}" if on else ""


def prs_performance_files(wildcards):
    """The cohort's PRS performance tables: published scores and in-cohort scores, if asked for."""
    prs = config["prs"]
    tables = ["performance.tsv"] if prs["scores"] else []
    tables += ["incohort_performance.tsv"] if prs["incohort"]["enabled"] else []
    return [f"results/{wildcards.cohort}/prs/{name}" for name in tables]


def published_score_dosages(wildcards):
    """Input function: the QC'd dosage chunks (.pgen/.pvar/.psam/.variants.tsv of each
    imputed chunk, in plan order) that published and in-cohort scores read for a cohort with
    ``imputed`` (``--pgens``); none for a cohort without (array hard calls)."""
    if not config["cohorts"][wildcards.cohort].get("imputed"):
        return []
    stem = "results/{cohort}/imputed/{chunk}/dosages"
    return [
        path
        for ext in ("pgen", "pvar", "psam", "variants.tsv")
        for path in imputed_chunk_files(f"{stem}.{ext}")(wildcards)
    ]


def published_score_genotypes(wildcards, input):
    """``prs-score`` genotype arguments: --pgens of the dosage chunks when there are any, else
    --bfiles and --variant-qc of the array chunks."""
    pgens = [
        path.removesuffix(".pgen") for path in input.dosages if path.endswith(".pgen")
    ]
    if pgens:
        return "--pgens " + " ".join(pgens)
    bfiles = [path.removesuffix(".bed") for path in input.bed]
    return f"--bfiles {' '.join(bfiles)} --variant-qc {' '.join(input.variant_qc)}"


def incohort_cohort_args(wildcards, input):
    """Arguments of the in-cohort PRS commands that name the samples' files."""
    prefixes = [path.removesuffix(".bed") for path in input.bed]
    return shlex.join(
        [
            "--bfiles",
            *prefixes,
            "--keep",
            input.keep,
            "--pcs",
            input.pcs,
            "--phenotypes",
            input.phenotypes,
        ]
    )


def incohort_dosage_args(wildcards, input):
    """``--pgens`` of the dosage chunks for the in-cohort PRS of a cohort with ``imputed``
    (built from dosages), else nothing (array hard calls)."""
    pgens = [p.removesuffix(".pgen") for p in input.dosages if p.endswith(".pgen")]
    return shlex.join(["--pgens", *pgens]) if pgens else ""


def imputed_inputs(wildcards):
    """The cohort's ``imputed`` paths as a list ([] without the key)."""
    value = config["cohorts"][wildcards.cohort].get("imputed", [])
    return [value] if isinstance(value, str) else list(value)


def has_imputed(wildcards):
    return bool(imputed_inputs(wildcards))


def imputed_files(wildcards):
    """Input function: the files behind the cohort's imputed inputs (VCF/BCF and its index when
    there is one, BGEN, or the .pgen/.pvar/.psam of a PLINK 2 prefix)."""
    files = []
    for path in imputed_inputs(wildcards):
        if path.endswith((".vcf.gz", ".vcf.bgz", ".bcf")):
            try:
                files += [path, str(index_path(Path(path)))]
            except InputError:  # plan_imputed_chunks says how to make the index
                files.append(path)
        elif path.endswith(".bgen"):
            files.append(path)
        else:
            files += [f"{path}.{ext}" for ext in ("pgen", "pvar", "psam")]
    return files


def imputed_checksum_records(wildcards):
    """Input function: the checksum record (``checksum_imputed_file``) of each of the cohort's
    :func:`imputed_files`, by its position in that list."""
    files = imputed_files(wildcards)
    return [
        f"results/{wildcards.cohort}/input/imputed/{index}.json"
        for index in range(len(files))
    ]


def imputed_chunk_files(pattern):
    """Input function: ``pattern`` expanded over the chunks of the cohort's imputed plan."""

    def files(wildcards):
        plan = checkpoints.plan_imputed_chunks.get(cohort=wildcards.cohort).output.plan
        chunks = read_plan(plan)["chunk_id"]
        return expand(pattern, cohort=wildcards.cohort, chunk=chunks)

    return files


def tested_chunk_files(pattern):
    """Input function: ``pattern`` (with ``{chunks}`` for the chunk directory) over the chunks
    that association tests: the dosage chunks (``imputed/<chunk>``) of a cohort with imputed
    data, else the array chunks (``chunks/<chunk>``)."""

    def files(wildcards):
        if has_imputed(wildcards):
            return imputed_chunk_files(pattern.replace("{chunks}", "imputed"))(
                wildcards
            )
        return chunk_files(pattern.replace("{chunks}", "chunks"))(wildcards)

    return files


def loci_genotype_files(wildcards):
    """Input function: the chunk filesets that find_loci reads LD from: the dosage chunks
    (.pgen/.pvar/.psam) of a cohort with imputed data, else the array chunks (.bed/.bim/.fam).
    """
    if has_imputed(wildcards):
        stem, exts, chunks = (
            "imputed/{chunk}/dosages",
            ("pgen", "pvar", "psam"),
            imputed_chunk_files,
        )
    else:
        stem, exts, chunks = (
            "chunks/{chunk}/genotypes",
            ("bed", "bim", "fam"),
            chunk_files,
        )
    return [
        f for ext in exts for f in chunks(f"results/{{cohort}}/{stem}.{ext}")(wildcards)
    ]


def imputed_summary(wildcards):
    """Input function: the imputed-variant QC funnel of a cohort with imputed data, else none."""
    return (
        [f"results/{wildcards.cohort}/qc/imputed_summary.json"]
        if has_imputed(wildcards)
        else []
    )
