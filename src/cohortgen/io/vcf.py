"""VCF/BCF reading with cyvcf2: sample lists and region-wise blocks of biallelic records.

Errors a user can cause (not bgzip, not VCF, no index, duplicate samples, unreadable records)
become :class:`InputError` naming the file and the record.
"""

import gzip
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cyvcf2
import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.vcf_index import index_path

BGZF_MAGIC = b"\x1f\x8b\x08\x04"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The empty block that ends every complete bgzip file (SAM/BAM spec 4.1.2)."""
ACGT = frozenset("ACGT")


@dataclass
class VariantBlock:
    """Up to ``block_size`` kept records: ``alleles`` int16 (m, n_samples, 2) GT allele indices,
    and per record chrom, pos (1-based), id, ref, alt."""

    alleles: np.ndarray
    chrom: list[str]
    pos: list[int]
    ids: list[str]
    ref: list[str]
    alt: list[str]


@dataclass
class RecordTally:
    """Records read, kept and excluded (by reason): ``n_in == n_kept + sum(excluded.values())``."""

    n_in: int = 0
    n_kept: int = 0
    excluded: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"records_in": self.n_in, "records_kept": self.n_kept,
                "records_excluded": dict(sorted(self.excluded.items()))}


def _check_compression(path: Path) -> None:
    """InputError unless ``path`` exists and, if compressed, is complete bgzip (EOF block)."""
    if not path.exists():
        raise InputError(f"{path}: genotype file not found; check 'genotypes' in config")
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        tail = handle.read()
    if str(path).endswith(".gz") and head != BGZF_MAGIC:
        raise InputError(
            f"{path}: not bgzip-compressed (plain gzip or text); recompress with "
            f"`bgzip` and index with `tabix -p vcf`"
        )
    if head == BGZF_MAGIC and tail != BGZF_EOF:
        raise InputError(
            f"{path}: the bgzip end-of-file block is missing, so the file is truncated or was "
            "not fully written; copy or re-create it"
        )


def _duplicate_samples(path: Path) -> list[str]:
    """Sample IDs listed more than once on the #CHROM line (read directly: htslib rejects such a
    header without naming the ID); empty if the line cannot be read."""
    try:
        with gzip.open(path, "rb") as handle:
            for number, line in enumerate(handle):
                if line.startswith(b"#CHROM"):
                    counts = Counter(line.rstrip(b"\r\n").split(b"\t")[9:])
                    return sorted(s.decode(errors="replace") for s, n in counts.items() if n > 1)
                if number and not line.startswith(b"#"):
                    break
    except (OSError, EOFError):
        pass
    return []


def open_vcf(path: Path) -> cyvcf2.VCF:
    """Open a bgzipped VCF or a BCF, raising InputError if it is not one."""
    path = Path(path)
    _check_compression(path)
    try:
        vcf = cyvcf2.VCF(str(path), lazy=True)
    except Exception as exc:  # cyvcf2 raises bare Exceptions too
        _raise_duplicates(path, _duplicate_samples(path))
        raise InputError(f"{path}: cannot be read as VCF/BCF ({exc}); check the file") from None
    if not vcf.samples:
        raise InputError(f"{path}: the VCF has no samples (no genotype columns)")
    return vcf


def _raise_duplicates(path: Path, duplicated: list[str]) -> None:
    if duplicated:
        raise InputError(
            f"{path}: duplicate sample ID(s) in the header: {', '.join(duplicated[:5])}; "
            "each sample must appear once"
        )


def vcf_samples(path: Path) -> list[str]:
    """Sample IDs in file order; InputError on duplicates."""
    samples = list(open_vcf(path).samples)
    counts = Counter(samples)
    _raise_duplicates(path, sorted(s for s, n in counts.items() if n > 1))
    return samples


def exclusion_reason(ref: str, alts: list[str]) -> str | None:
    """Why a record is excluded (None if kept): multi-allelic, or a symbolic/non-ACGT allele."""
    if len(alts) != 1:
        return "multiallelic" if len(alts) > 1 else "no_alt_allele"
    if not set(ref) <= ACGT or not set(alts[0]) <= ACGT or not ref or not alts[0]:
        return "symbolic_or_non_acgt"
    return None


def read_region_blocks(
    path: Path, contig: str, start: int, end: int, tally: RecordTally, block_size: int = 1024
) -> Iterator[VariantBlock]:
    """Blocks of kept records whose POS lies in ``[start, end]`` (1-based, inclusive).

    Records only overlapping the region from an earlier POS belong to the previous chunk and are
    not counted. ``tally`` is updated in place.
    """
    vcf = open_vcf(path)
    index_path(Path(path))  # a clear InputError if the index is missing
    block = _empty_block()
    last = f"{contig}:{start}"
    try:
        for record in vcf(f"{contig}:{start}-{end}"):
            if record.POS < start or record.POS > end:
                continue
            tally.n_in += 1
            last = f"{record.CHROM}:{record.POS}"
            reason = exclusion_reason(record.REF, record.ALT)
            if reason:
                tally.excluded[reason] += 1
                continue
            tally.n_kept += 1
            _append(block, record, contig)
            if len(block.pos) == block_size:
                yield _finish(block)
                block = _empty_block()
    except InputError:
        raise
    except Exception as exc:  # htslib parse failures surface as assorted exception types
        raise InputError(
            f"{path}: unreadable record after {last} ({exc}); check the file"
        ) from None
    if block.pos:
        yield _finish(block)


def _empty_block() -> VariantBlock:
    return VariantBlock([], [], [], [], [], [])


def _append(block: VariantBlock, record, contig: str) -> None:
    gt = record.genotype.array()
    if gt.shape[1] == 2:  # haploid-only record: pad with vector-end
        gt = np.column_stack([gt[:, :1], np.full(len(gt), -2, np.int16), gt[:, 1:]])
    block.alleles.append(gt[:, :2])
    block.chrom.append(contig)
    block.pos.append(record.POS)
    vid = record.ID
    block.ids.append(vid if vid else f"{record.CHROM}:{record.POS}:{record.REF}:{record.ALT[0]}")
    block.ref.append(record.REF)
    block.alt.append(record.ALT[0])


def _finish(block: VariantBlock) -> VariantBlock:
    block.alleles = np.ascontiguousarray(np.stack(block.alleles), dtype=np.int16)
    return block
