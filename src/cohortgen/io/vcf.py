"""VCF/BCF reading: region-wise blocks of biallelic records, and the tally of what was read.

The parts, each with its own design note and tests: :mod:`cohortgen.io.bgzf` (the BGZF
container), :mod:`cohortgen.io.libdeflate` (fast inflating), :mod:`cohortgen.io.vcf_index`
(tabix/CSI), :mod:`cohortgen.io.vcf_header` (samples, contigs), :mod:`cohortgen.io.vcf_rules`
(which records are kept), and two record readers: :mod:`cohortgen.io.vcf_records` (native,
the text of a .vcf.gz through a Numba kernel) and :mod:`cohortgen.io.vcf_htslib` (cyvcf2: BCF,
and VCF when ``ingest.vcf_reader`` is ``htslib``). Here the records of a region, from either
reader, are checked for order, tallied and gathered into blocks. Errors a user can cause (not
bgzip, not VCF, no index, duplicate samples, malformed records) are :class:`InputError` naming
the file, the line or record and, for a bad GT, the sample.
"""

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.alleles import is_symbolic_allele
from cohortgen.io.vcf_guard import check_region_values
from cohortgen.io.vcf_header import open_vcf
from cohortgen.io.vcf_htslib import htslib_records
from cohortgen.io.vcf_index import index_path
from cohortgen.io.vcf_records import check_lead_in, text_records
from cohortgen.io.vcf_rules import Record, record_location

VCF_READERS = ("native", "htslib")
"""``ingest.vcf_reader`` values: how a .vcf.gz's records are read (a BCF always by htslib)."""


@dataclass
class VariantBlock:
    """Up to ``block_size`` (a few more after a split) variants: ``alleles`` int16
    (m, n_samples, 2) GT allele indices, ``alt_index`` int16 (m,) the allele counted as ALT,
    and per variant chrom, pos (1-based), id, ref, alt."""

    alleles: np.ndarray
    alt_index: np.ndarray
    chrom: list[str]
    pos: list[int]
    ids: list[str]
    ref: list[str]
    alt: list[str]


@dataclass
class RecordTally:
    """Records read, kept and excluded (by reason): ``n_in == n_kept + sum(excluded.values())``.

    ``n_variants`` variants written: one per kept biallelic record, one per non-symbolic ALT of
    the ``n_split`` split multi-allelic records (``split_alts_dropped`` symbolic ALTs not
    written).
    ``genotypes``: genotype-level changes (calls set missing, half-calls) by reason.
    """

    n_in: int = 0
    n_kept: int = 0
    excluded: Counter = field(default_factory=Counter)
    n_variants: int = 0
    n_split: int = 0
    split_alts_dropped: int = 0
    genotypes: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"records_in": self.n_in, "records_kept": self.n_kept,
                "records_excluded": dict(sorted(self.excluded.items())),
                "variants_written": self.n_variants,
                "multiallelic_split": {"records": self.n_split,
                                       "symbolic_alts_dropped": self.split_alts_dropped},
                "genotypes_changed": dict(sorted(self.genotypes.items()))}


def read_region_blocks(
    path: Path, contig: str, start: int, end: int, tally: RecordTally, block_size: int = 1024,
    multiallelic: str = "drop", threads: int = 1, reader: str = "native",
) -> Iterator[VariantBlock]:
    """Blocks of up to ``block_size`` kept records (a few more variants after a split; fewer
    where a piece of VCF text ends) whose POS lies in ``[start, end]`` (1-based, inclusive).

    Records only overlapping the region from an earlier POS belong to the previous chunk and are
    not counted. ``multiallelic``: "drop" excludes multi-allelic records; "split" writes one
    biallelic variant per non-symbolic ALT (ID chrom:pos:ref:alt; see cohortgen.kernels.gt for
    the genotypes). ``threads``: threads inflating bgzip blocks and parsing records (native reader).
    ``reader``: one of :data:`VCF_READERS`, for a .vcf.gz. ``tally`` is updated in place.
    Unsorted records, malformed records and GT allele indices beyond the record's alleles raise
    InputError naming the file, line and record; records at POS 0 are excluded
    (:mod:`cohortgen.io.vcf_rules`).
    """
    path = Path(path)
    vcf = open_vcf(path)
    index_path(path)  # a clear InputError if the index is missing
    records = _records(path, vcf, contig, start, end, multiallelic, threads, reader)
    block = _empty_block()
    last = start - 1
    for record in records:
        if record is None:  # a piece of VCF text ends: blocks stay views of one parsed piece
            if block.pos:
                yield _finish(block)
                block = _empty_block()
            continue
        if record.pos < last:
            raise InputError(
                f"{record_location(path, contig, record.pos)}: records are not sorted: "
                f"{contig}:{record.pos} comes after "
                f"{contig}:{last}; sort with `bcftools sort` and re-index"
            )
        last = record.pos
        tally.n_in += 1
        if record.reason:
            tally.excluded[record.reason] += 1
            continue
        tally.n_kept += 1
        _append(block, contig, record, tally)
        if len(block.pos) >= block_size:
            yield _finish(block)
            block = _empty_block()
    if block.pos:
        yield _finish(block)


def _records(path: Path, vcf, contig: str, start: int, end: int, multiallelic: str,
             threads: int, reader: str) -> Iterator[Record | None]:
    """The region's records from the reader ``reader`` (htslib for a BCF); see
    :func:`read_region_blocks`."""
    if reader not in VCF_READERS:
        raise InputError(f"ingest.vcf_reader is {reader!r}; use one of {', '.join(VCF_READERS)}")
    samples, seqnames = list(vcf.samples), list(vcf.seqnames)
    if str(path).endswith(".bcf"):
        return htslib_records(path, vcf, contig, start, end, multiallelic)
    if reader == "native":
        return text_records(path, contig, start, end, samples, seqnames, multiallelic, threads)
    if start == 1:
        check_lead_in(path, contig, samples, seqnames, multiallelic)
    check_region_values(path, vcf, contig, start, end)
    return htslib_records(path, vcf, contig, start, end, multiallelic)


def _empty_block() -> VariantBlock:
    return VariantBlock([], [], [], [], [], [], [])


def _append(block: VariantBlock, contig: str, record: Record, tally: RecordTally) -> None:
    alts = record.alts
    usable = [k for k, alt in enumerate(alts, start=1) if not is_symbolic_allele(alt)]
    if len(alts) > 1:
        tally.n_split += 1
        tally.split_alts_dropped += len(alts) - len(usable)
    for k in usable:
        _add_row(block.alleles, record.source, record.row)
        block.alt_index.append(k)
        block.chrom.append(contig)
        block.pos.append(record.pos)
        alt = alts[k - 1]
        vid = record.vid if len(alts) == 1 and record.vid else None
        block.ids.append(vid or f"{contig}:{record.pos}:{record.ref}:{alt}")
        block.ref.append(record.ref)
        block.alt.append(alt)
    tally.n_variants += len(usable)


def _add_row(runs: list, source: np.ndarray, row: int) -> None:
    """Add ``source[row]`` to ``runs``, [source, first row, stop row] each, by extending the
    last run when it stops at that row."""
    if runs and runs[-1][0] is source and runs[-1][2] == row:
        runs[-1][2] += 1
    else:
        runs.append([source, row, row + 1])


def _finish(block: VariantBlock) -> VariantBlock:
    """The block with its runs of rows as one int16 array (a view when there is one run)."""
    parts = [source[first:stop] for source, first, stop in block.alleles]
    alleles = parts[0] if len(parts) == 1 else np.concatenate(parts)
    block.alleles = np.ascontiguousarray(alleles, dtype=np.int16)
    block.alt_index = np.asarray(block.alt_index, dtype=np.int16)
    return block
