"""The htslib VCF/BCF record reader (cyvcf2): BCF records, and VCF records when
``ingest.vcf_reader`` is ``htslib``.

Design note: the fallback to the native text reader (:mod:`cohortgen.io.vcf_records`, whose
docstring gives the measured speed of both: about 17 times as slow on a 5,000-sample chunk). It
reads a region with htslib's index query, so it reads what htslib reads, and applies the same
rules (:mod:`cohortgen.io.vcf_rules`); the tests check both readers write identical chunks.
htslib's region query stops without an error at a line tabix could not index (POS '.'), so for
a contig's first chunk the caller (:func:`cohortgen.io.vcf.read_region_blocks`) first checks
the text before the contig's first indexed record with the native scanner; parse failures that
htslib reports as assorted exceptions become InputError naming the file and record. What it
cannot refuse (the native reader does): a record with too few sample columns is read with the
absent calls missing, and a POS '.' after a contig's first record ends the region silently. A
FORMAT value htslib cannot parse crashes cyvcf2 0.34's region query (a segmentation fault), so
the caller checks a .vcf.gz region's values first (:mod:`cohortgen.io.vcf_guard`).
"""

from collections.abc import Iterator
from pathlib import Path

import cyvcf2
import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.vcf_rules import (
    Record,
    allele_range_error,
    check_id,
    exclusion_reason,
    in_region,
    position_reason,
)


def htslib_records(path: Path, vcf: cyvcf2.VCF, contig: str, start: int, end: int,
                   multiallelic: str) -> Iterator[Record]:
    """Records of a VCF/BCF region read with cyvcf2 (see :func:`cohortgen.io.vcf_rules
    .in_region`); htslib parse failures become InputError."""
    last, samples = start - 1, list(vcf.samples)  # cyvcf2 builds the list anew at each call
    try:
        for variant in vcf(f"{contig}:{start}-{end}"):
            if not in_region(variant.POS, start, end):
                continue
            last = variant.POS
            yield _record(path, samples, contig, variant, multiallelic)
    except InputError:
        raise
    except Exception as exc:  # htslib parse failures surface as assorted exception types
        raise InputError(
            f"{path}: unreadable record after {contig}:{last} ({exc}); check the file "
            "(e.g. bcftools view) near that position"
        ) from None


def _record(path: Path, samples: list[str], contig: str, variant, multiallelic: str) -> Record:
    """The :class:`Record` of a cyvcf2 variant; InputError for a bad ID or GT allele index
    (naming the sample of ``samples``)."""
    if variant.ID:
        check_id(path, contig, variant.POS, variant.ID)
    reason = (position_reason(variant.POS)
              or exclusion_reason(variant.REF, variant.ALT, multiallelic))
    gt = None if reason else _genotypes(variant)
    if gt is None or gt.shape[1] > 3 and (gt[:, 2] != -2).any():
        reason = reason or ("no_genotypes" if gt is None else "ploidy_above_2")
    if reason:
        return Record(variant.POS, variant.ID, variant.REF, variant.ALT, None, 0, reason)
    _check_allele_range(path, contig, variant.POS, gt[:, :2], len(variant.ALT) + 1, samples)
    return Record(variant.POS, variant.ID, variant.REF, variant.ALT, gt[None, :, :2], 0, None)


def _genotypes(record) -> np.ndarray | None:
    """int16 (n_samples, ploidy + 1) GT allele indices (cyvcf2 layout), None without GT."""
    try:
        genotype = record.genotype
    except Exception:  # noqa: BLE001  cyvcf2: "couldn't get genotypes for variant"
        return None
    if genotype is None:
        return None
    gt = genotype.array()
    if gt.shape[1] == 2:  # haploid-only record: pad with vector-end
        gt = np.column_stack([gt[:, :1], np.full(len(gt), -2, np.int16), gt[:, 1:]])
    return gt


def _check_allele_range(path: Path, contig: str, pos: int, gt: np.ndarray, n_alleles: int,
                        samples: list[str]) -> None:
    """InputError naming the first sample whose GT ``gt`` (int16 (n_samples, 2)) names an
    allele index the record does not have (0 .. n_alleles - 1)."""
    if gt.max(initial=-1) < n_alleles:
        return
    beyond = np.flatnonzero((gt >= n_alleles).any(axis=1))
    if beyond.size:
        raise allele_range_error(path, contig, pos, samples[beyond[0]],
                                 int(gt[beyond[0]].max()), n_alleles)
