"""VCF/BCF reading with cyvcf2: sample lists and region-wise blocks of biallelic records.

Errors a user can cause (not bgzip, not VCF, no index, duplicate samples, unreadable records)
become :class:`InputError` naming the file and the record.
"""

import gzip
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cyvcf2
import numpy as np
import pysam

from cohortgen.errors import InputError
from cohortgen.io.vcf_index import index_path
from cohortgen.kernels.gt import check_gt_text

BGZF_MAGIC = b"\x1f\x8b\x08\x04"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The empty block that ends every complete bgzip file (SAM/BAM spec 4.1.2)."""
ACGT = frozenset("ACGT")
GT_VALUE = re.compile(r"\.|[0-9]+|(\.|[0-9]+)([/|](\.|[0-9]+))+")


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

    ``n_variants`` variants written: one per kept biallelic record, one per ACGT ALT of the
    ``n_split`` split multi-allelic records (``split_alts_dropped`` symbolic ALTs not written).
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


def _check_compression(path: Path) -> None:
    """InputError unless ``path`` exists and, if compressed, is complete bgzip (EOF block)."""
    if not path.exists():
        raise InputError(f"{path}: genotype file not found; check 'genotypes' in config")
    with path.open("rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, path.stat().st_size - len(BGZF_EOF)))
        tail = handle.read()
    if head[:2] != BGZF_MAGIC[:2] and (str(path).endswith(".vcf") or head[:2] == b"##"):
        raise InputError(
            f"{path}: an uncompressed VCF; bgzip and index it (`bgzip {path}` then "
            f"`tabix -p vcf {path}.gz`) and give the .vcf.gz as 'genotypes'"
        )
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


def _header_problem(path: Path) -> str:
    """A hint for an unreadable header: no #CHROM line, or one separated by spaces."""
    try:
        with gzip.open(path, "rb") as handle:
            for line in handle:
                if line.startswith(b"#CHROM"):
                    if b"\t" not in line.strip():
                        return ("the #CHROM header line is separated by spaces, not tabs; VCF "
                                "columns must be tab-separated")
                    return "check the header lines (bcftools view -h)"
                if not line.startswith(b"##"):
                    break
    except (OSError, EOFError):
        return "check the file"
    return "the header has no #CHROM line before the first record; check the header"


def open_vcf(path: Path, lazy: bool = True) -> cyvcf2.VCF:
    """Open a bgzipped VCF or a BCF, raising InputError if it is not one. cyvcf2 0.34 crashes on
    a lazily parsed record whose FORMAT is bad, so records are read lazily only after
    :func:`check_region_text`."""
    path = Path(path)
    _check_compression(path)
    try:
        vcf = cyvcf2.VCF(str(path), lazy=lazy)
    except Exception as exc:  # cyvcf2 raises bare Exceptions too
        _raise_duplicates(path, _duplicate_samples(path))
        raise InputError(
            f"{path}: cannot be read as VCF/BCF ({exc}); {_header_problem(path)}"
        ) from None
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


def exclusion_reason(ref: str, alts: list[str], multiallelic: str = "drop") -> str | None:
    """Why a record is excluded (None if kept): no ALT, multi-allelic (when dropped), or a
    symbolic/non-ACGT REF or (every) ALT."""
    if not alts:
        return "no_alt_allele"
    if len(alts) > 1 and multiallelic == "drop":
        return "multiallelic"
    if not _is_acgt(ref) or not any(_is_acgt(alt) for alt in alts):
        return "symbolic_or_non_acgt"
    return None


def _is_acgt(allele: str) -> bool:
    return bool(allele) and set(allele) <= ACGT


def declared_contigs(path: Path) -> set[str] | None:
    """Contig IDs of the ``##contig=<ID=...>`` lines in a bgzipped VCF's own header text (htslib
    adds undeclared contigs when it reads records or the index); None for a BCF."""
    if str(path).endswith(".bcf"):
        return None
    found = set()
    with gzip.open(path, "rb") as handle:
        for line in handle:
            if not line.startswith(b"##"):
                break
            if line.startswith(b"##contig=<ID="):
                name = line[len(b"##contig=<ID="):].split(b",")[0].rstrip(b">\r\n")
                found.add(name.decode(errors="replace"))
    return found


def read_region_blocks(
    path: Path, contig: str, start: int, end: int, tally: RecordTally, block_size: int = 1024,
    multiallelic: str = "drop",
) -> Iterator[VariantBlock]:
    """Blocks of kept records whose POS lies in ``[start, end]`` (1-based, inclusive).

    Records only overlapping the region from an earlier POS belong to the previous chunk and are
    not counted. ``multiallelic``: "drop" excludes multi-allelic records; "split" writes one
    biallelic variant per ACGT ALT (ID chrom:pos:ref:alt; see cohortgen.kernels.gt for the
    genotypes). ``tally`` is updated in place. Unsorted records, records on a contig the header
    does not declare, and unparsable records raise InputError naming the file and position.
    """
    path = Path(path)
    is_bcf = str(path).endswith(".bcf")
    vcf = open_vcf(path, lazy=not is_bcf)  # VCF text is checked first, so lazy parsing is safe
    index_path(path)  # a clear InputError if the index is missing
    if not is_bcf:
        check_region_text(path, contig, start, end, len(vcf.samples))
    block = _empty_block()
    last = (contig, start - 1)
    try:
        for record in vcf(f"{contig}:{start}-{end}"):
            if record.POS < start or record.POS > end:
                continue
            _check_order(path, record, last)
            last = (record.CHROM, record.POS)
            tally.n_in += 1
            reason = exclusion_reason(record.REF, record.ALT, multiallelic)
            gt = None if reason else _genotypes(record)
            if gt is None or gt.shape[1] > 3 and (gt[:, 2] != -2).any():
                reason = reason or ("no_genotypes" if gt is None else "ploidy_above_2")
            if reason:
                tally.excluded[reason] += 1
                continue
            tally.n_kept += 1
            _append(block, record, contig, gt, tally)
            if len(block.pos) >= block_size:
                yield _finish(block)
                block = _empty_block()
    except InputError:
        raise
    except Exception as exc:  # htslib parse failures surface as assorted exception types
        raise InputError(
            f"{path}: unreadable record after {last[0]}:{last[1]} ({exc}); "
            f"{diagnose_region(path, contig, last[1], end, len(vcf.samples))}"
        ) from None
    if block.pos:
        yield _finish(block)


def _check_order(path: Path, record, last: tuple[str, int]) -> None:
    if record.POS < last[1]:
        raise InputError(
            f"{path}: records are not sorted: {record.CHROM}:{record.POS} comes after "
            f"{last[0]}:{last[1]}; sort with `bcftools sort` and re-index"
        )


def _genotypes(record) -> np.ndarray | None:
    """int16 (n_samples, ploidy + 1) GT allele indices (cyvcf2 layout), None without GT."""
    try:
        genotype = record.genotype  # (record.FORMAT can crash cyvcf2 0.34 on lazy records)
    except Exception:  # noqa: BLE001  cyvcf2: "couldn't get genotypes for variant"
        return None
    if genotype is None:
        return None
    gt = genotype.array()
    if gt.shape[1] == 2:  # haploid-only record: pad with vector-end
        gt = np.column_stack([gt[:, :1], np.full(len(gt), -2, np.int16), gt[:, 1:]])
    return gt


def diagnose_region(path: Path, contig: str, after: int, end: int, n_samples: int) -> str:
    """What is wrong with the first malformed text record after POS ``after`` (a hint for an
    htslib parse error): wrong column count, spaces for tabs, or a bad GT value."""
    try:
        with pysam.TabixFile(str(path), index=str(index_path(path))) as tabix:
            for line in tabix.fetch(contig, max(after - 1, 0), end):
                problem = _line_problem(line, n_samples)
                if problem:
                    return problem
    except Exception:  # noqa: BLE001  (diagnosis is best effort; the caller reports the error)
        pass
    return "check the file (e.g. bcftools view) near that position"


def check_region_text(path: Path, contig: str, start: int, end: int, n_samples: int) -> None:
    """InputError naming the first record of the region whose text htslib would reject or
    cyvcf2 would crash on: wrong column count, spaces for tabs, a bad GT value.

    Read through tabix (htslib only decompresses and seeks); the common all-GT record is
    checked with two C-level scans, others cell by cell."""
    try:
        with pysam.TabixFile(str(path), index=str(index_path(path))) as tabix:
            lines = tabix.fetch(contig, max(start - 1, 0), end)
            for line in lines:
                if _line_suspect(line, n_samples):
                    problem = _line_problem(line, n_samples)
                    if problem:
                        raise InputError(f"{path}: {problem}")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read region {contig}:{start}-{end} ({exc}); "
                         "check the file and its index") from None


def _line_suspect(line: str, n_samples: int) -> bool:
    if line.count("\t") != 8 + n_samples:
        return True
    fields = line.split("\t", 9)
    if not (fields[1].isdigit() and fields[1].isascii() and 0 < int(fields[1]) < 2**31):
        return True
    if fields[8] != "GT":
        return fields[8].startswith("GT")
    n_cells, bad = check_gt_text(np.frombuffer(fields[9].encode(), dtype=np.uint8))
    return bad >= 0 or n_cells != n_samples


def _line_problem(line: str, n_samples: int) -> str | None:
    fields = line.split("\t")
    where = f"record {fields[0][:40]}:{fields[1][:20]}" if len(fields) > 1 else "a record"
    if len(fields) < 9 and " " in line:
        return f"{where} is separated by spaces, not tabs; VCF columns must be tab-separated"
    if len(fields) > 1 and not (fields[1].isdigit() and fields[1].isascii()
                                and 0 < int(fields[1]) < 2**31):
        return f"{where}: POS {fields[1][:20]!r} is not a position (1 to 2^31 - 1)"
    if len(fields) != 9 + n_samples:
        return (f"{where} has {len(fields)} columns but the header has {9 + n_samples} "
                f"(9 fixed + {n_samples} samples); fix or remove that record")
    if not fields[8].startswith("GT"):
        return None
    for column, cell in enumerate(fields[9:], start=10):
        if not GT_VALUE.fullmatch(cell.split(":")[0]):
            return (f"{where}, column {column}: GT value {cell.split(':')[0][:20]!r} is not "
                    "allele indices separated by / or |")
    return None


def _empty_block() -> VariantBlock:
    return VariantBlock([], [], [], [], [], [], [])


def _append(block: VariantBlock, record, contig: str, gt: np.ndarray, tally: RecordTally) -> None:
    alts = record.ALT
    usable = [k for k, alt in enumerate(alts, start=1) if _is_acgt(alt)]
    if len(alts) > 1:
        tally.n_split += 1
        tally.split_alts_dropped += len(alts) - len(usable)
    for k in usable:
        block.alleles.append(gt[:, :2])
        block.alt_index.append(k)
        block.chrom.append(contig)
        block.pos.append(record.POS)
        alt = alts[k - 1]
        vid = record.ID if len(alts) == 1 and record.ID else None
        block.ids.append(vid or f"{record.CHROM}:{record.POS}:{record.REF}:{alt}")
        block.ref.append(record.REF)
        block.alt.append(alt)
    tally.n_variants += len(usable)


def _finish(block: VariantBlock) -> VariantBlock:
    block.alleles = np.ascontiguousarray(np.stack(block.alleles), dtype=np.int16)
    block.alt_index = np.asarray(block.alt_index, dtype=np.int16)
    return block
