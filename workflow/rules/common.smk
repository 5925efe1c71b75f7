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
from cohortgen.options import STEP_OPTIONS, step_config


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
    return json.dumps(step_config(STEP_OPTIONS[step], config))


def prs_performance_files(wildcards):
    """The cohort's PRS performance tables: published scores and in-cohort scores, if asked for."""
    prs = config["prs"]
    tables = ["performance.tsv"] if prs["scores"] else []
    tables += ["incohort_performance.tsv"] if prs["incohort"]["enabled"] else []
    return [f"results/{wildcards.cohort}/prs/{name}" for name in tables]


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
