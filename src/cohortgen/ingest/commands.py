"""Ingest-stage subcommands: simulate, checksum, validate, plan, ingest."""

import json
from pathlib import Path

from cohortgen.cli import add_command, options, req


def _simulate(a):
    from cohortgen.simulate import simulate_cohort

    summary = simulate_cohort(
        Path(a.out),
        n_samples=a.samples,
        n_chromosomes=a.chromosomes,
        chromosome_mb=a.chromosome_mb,
        seed=a.seed,
        x_mb=a.x_mb,
    )
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))


def _simulate_imputed(a):
    from cohortgen.simulate_imputed import simulate_imputed

    simulate_imputed(Path(a.genotypes), Path(a.out), a.mask_share, a.seed, a.decimals,
                     a.site_share)


def _checksum(a):
    from cohortgen.ingest.validate import write_file_record

    write_file_record(Path(a.file), Path(a.out))


def _validate(a):
    from cohortgen.ingest.validate import read_file_record, validate_inputs
    from cohortgen.options import parse_options

    o = parse_options(a.options, "validate")
    validate_inputs(a.genotypes, a.phenotypes, o.diseases, o.covariates, Path(a.manifest),
                    max_sample_loss=o.max_sample_loss,
                    imputed_records=[read_file_record(Path(f)) for f in a.imputed_checksums or ()])


def _plan(a):
    from cohortgen.ingest.plan import plan_chunks, write_plan
    from cohortgen.options import parse_options

    o = parse_options(a.options, "plan")
    write_plan(plan_chunks(a.genotypes, o.variants_per_chunk), Path(a.out))


def _ingest(a):
    from cohortgen.ingest.chunk import IngestRules, ingest_chunk
    from cohortgen.ingest.plan import read_plan_chunk
    from cohortgen.options import parse_options

    o = parse_options(a.options, "ingest")
    contig, start, end = read_plan_chunk(Path(a.plan), a.chunk)
    ingest_chunk(
        a.genotypes,
        contig,
        start,
        end,
        Path(a.out_prefix),
        Path(a.tally),
        phenotypes=Path(a.phenotypes) if a.phenotypes else None,
        rules=IngestRules(half_calls=o.half_calls, multiallelic=o.multiallelic,
                          genome_build=o.genome_build, vcf_reader=o.vcf_reader),
        threads=a.threads,
        sex_partials_npz=Path(a.sex_partials) if a.sex_partials else None,
    )


def register(sub) -> None:
    """Add this stage's subcommands to the ``cohortgen`` parser."""
    add_command(
        sub,
        "simulate",
        _simulate,
        "Simulate a demo cohort (VCF, phenotypes, truth).",
        req("--out"),
        (("--samples",), {"type": int, "default": 2000}),
        (("--chromosomes",), {"type": int, "default": 3}),
        (("--chromosome-mb",), {"type": float, "default": 20.0}),
        (("--seed",), {"type": int, "default": 42}),
        (("--x-mb",), {"type": float, "default": 20.0,
                       "help": "length of chrX in Mb (PAR1 + non-PAR); 0 for none"}),
    )
    add_command(
        sub,
        "simulate-imputed",
        _simulate_imputed,
        "Write demo imputed VCFs (GT:DS:GP, one per chromosome) from a simulated cohort's "
        "genotypes: a share of sites masked and imputed with a seeded error model.",
        req("--genotypes", help="the cohort VCF of cohortgen simulate (true genotypes)"),
        req("--out", help="directory for imputed.chr<C>.vcf.gz (+ .tbi)"),
        (("--mask-share",), {"type": float, "default": 0.5,
                             "help": "share of sites masked and imputed (the rest typed)"}),
        (("--seed",), {"type": int, "default": 1}),
        (("--decimals",), {"type": int, "choices": [2, 3], "default": 3,
                           "help": "decimals of DS and GP (Beagle 5 writes 2, Minimac4 3)"}),
        (("--site-share",), {"type": float, "default": 1.0,
                             "help": "random share of the sites written (default: all)"}),
    )
    add_command(
        sub,
        "checksum",
        _checksum,
        "Write a file's path, size and SHA-256 as JSON (an input manifest entry).",
        req("--file"),
        req("--out"),
    )
    add_command(
        sub,
        "validate",
        _validate,
        "Validate inputs and write the input manifest.",
        req("--genotypes"),
        req("--phenotypes"),
        req("--manifest"),
        options("validate"),
        (("--imputed-checksums",), {"nargs": "+", "help": "the records of `cohortgen checksum` "
                                                          "of the cohort's imputed files, "
                                                          "listed in the manifest"}),
    )
    add_command(
        sub,
        "plan",
        _plan,
        "Plan chunks from the genotype index.",
        req("--genotypes"),
        req("--out"),
        options("plan"),
    )
    add_command(
        sub,
        "ingest",
        _ingest,
        "Convert one chunk to PLINK .bed.",
        req("--genotypes"),
        req("--plan"),
        req("--chunk"),
        req("--out-prefix"),
        req("--tally"),
        (("--phenotypes",), {"help": "sheet whose sex column fills the .fam"}),
        options("ingest"),
        (("--threads",), {"type": int, "default": 1,
                          "help": "threads inflating the VCF's bgzip blocks"}),
        (("--sex-partials",), {"help": "write the sex check's per-sample sums (private .npz) "
                                       "from the calls as they came in"}),
    )
