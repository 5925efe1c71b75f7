"""``cohortgen plan-imputed`` and ``cohortgen ingest-dosages``: a cohort's imputed dosages,
checked and planned, then one region of one file per job."""

from pathlib import Path

from cohortgen.cli import add_command, many, options, req
from cohortgen.errors import InputError


def _plan_imputed(a) -> None:
    from cohortgen.ingest.imputed_plan import plan_imputed
    from cohortgen.ingest.plan import write_plan
    from cohortgen.options import parse_options

    o = parse_options(a.options, "plan_imputed")
    plan = plan_imputed([Path(p) for p in a.imputed], a.genotypes, o.imputed_variants_per_chunk,
                        o.max_sample_loss, o.genome_build)
    write_plan(plan, Path(a.out))


def _ingest_dosages(a) -> None:
    from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages
    from cohortgen.ingest.imputed_plan import imputed_chunk
    from cohortgen.options import parse_options

    o = parse_options(a.options, "ingest_dosages")
    if bool(a.plan) == bool(a.imputed) or not (a.chunk if a.plan else a.region):
        raise InputError("ingest-dosages: give --imputed and --region, or --plan and --chunk")
    if a.plan:
        imputed, region = imputed_chunk(Path(a.plan), a.chunk)
    else:
        imputed, region = a.imputed, a.region
    limits = DosageThresholds(o.min_r2, o.r2_source, o.maf, o.mac, o.max_missing)
    ingest_dosages(Path(imputed), region, Path(a.out_prefix),
                   keep=Path(a.keep) if a.keep else None,
                   phenotypes=Path(a.phenotypes) if a.phenotypes else None,
                   limits=limits, build=o.genome_build, block_size=a.read_block,
                   multiallelic=o.multiallelic)


def register(sub) -> None:
    """Add ``plan-imputed`` and ``ingest-dosages``."""
    add_command(
        sub,
        "plan-imputed",
        _plan_imputed,
        "Check a cohort's imputed files (samples, contigs, build, indexes) and plan their chunks.",
        many("--imputed"),
        req("--genotypes", help="the cohort's genotypes (VCF/BCF or PLINK prefix)"),
        req("--out"),
        options("plan_imputed"),
    )
    add_command(
        sub,
        "ingest-dosages",
        _ingest_dosages,
        "Convert one region of an imputed file (VCF/BCF DS/HDS/GP, BGEN, PGEN) to QC'd dosages "
        "(PLINK 2 .pgen) and a per-variant QC table.",
        (("--imputed",), {"help": "bgzipped + indexed VCF/BCF, .bgen, or a PLINK 2 prefix "
                                  "(or --plan and --chunk)"}),
        (("--region",), {"help": "chrom or chrom:start-end (1-based, inclusive)"}),
        (("--plan",), {"help": "imputed chunk plan (`cohortgen plan-imputed`): file and region "
                               "of --chunk"}),
        (("--chunk",), {"help": "chunk ID of --plan"}),
        req("--out-prefix"),
        (("--keep",), {"help": "sample IDs to keep, one per line (default: all); IDs absent "
                               "from the file are skipped (plan-imputed bounds how many)"}),
        (("--phenotypes",), {"help": "sheet whose sex column tells males on chrX"}),
        (("--read-block",), {"type": int, "default": 1024,
                             "help": "variants read and summarised at a time (memory bound)"}),
        options("ingest_dosages"),
    )
