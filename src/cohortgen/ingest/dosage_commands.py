"""``cohortgen ingest-dosages``: imputed dosages of one region (not yet run by the workflow)."""

from pathlib import Path

from cohortgen.cli import add_command, req


def _ingest_dosages(a) -> None:
    from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages

    limits = DosageThresholds(a.min_r2, a.r2_source, a.min_maf, a.min_mac, a.max_missing)
    ingest_dosages(Path(a.imputed), a.region, Path(a.out_prefix),
                   keep=Path(a.keep) if a.keep else None,
                   phenotypes=Path(a.phenotypes) if a.phenotypes else None,
                   limits=limits, build=a.genome_build, block_size=a.block_size,
                   multiallelic=a.multiallelic)


def register(sub) -> None:
    """Add ``ingest-dosages``."""
    add_command(
        sub,
        "ingest-dosages",
        _ingest_dosages,
        "Convert one region of an imputed file (VCF/BCF DS/HDS/GP, BGEN, PGEN) to QC'd dosages "
        "(PLINK 2 .pgen) and a per-variant QC table.",
        req("--imputed", help="bgzipped + indexed VCF/BCF, .bgen, or a PLINK 2 prefix"),
        req("--region", help="chrom or chrom:start-end (1-based, inclusive)"),
        req("--out-prefix"),
        (("--keep",), {"help": "sample IDs to keep, one per line (default: all)"}),
        (("--phenotypes",), {"help": "sheet whose sex column tells males on chrX"}),
        (("--min-r2",), {"type": float, "default": 0.3}),
        (("--r2-source",), {"choices": ["mach", "file"], "default": "mach",
                            "help": "which r2 gates: MaCH r2 from the kept samples, or the "
                                    "file's R2/DR2"}),
        (("--min-maf",), {"type": float, "default": 0.0}),
        (("--min-mac",), {"type": float, "default": 1.0}),
        (("--max-missing",), {"type": float, "default": 0.1,
                              "help": "largest share of kept samples without a dosage"}),
        (("--multiallelic",), {"choices": ["drop", "split"], "default": "drop",
                               "help": "multi-allelic records: dropped, or one variant per ALT "
                                       "(VCF DS/GP and PGEN; as ingest.multiallelic)"}),
        (("--genome-build",), {"choices": ["GRCh37", "GRCh38"], "default": "GRCh38"}),
        (("--block-size",), {"type": int, "default": 1024,
                             "help": "variants read and summarised at a time (memory bound)"}),
    )
