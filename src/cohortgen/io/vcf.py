"""VCF/BCF reading: sample lists and region-wise blocks of biallelic records.

Headers are read with cyvcf2. Records of a bgzipped VCF are parsed straight from their text
(htslib, through pysam, only decompresses and seeks; GT cells go through the
:func:`cohortgen.kernels.gt.parse_gt_text` kernel); BCF records are read with cyvcf2. Errors a
user can cause (not bgzip, not VCF, no index, duplicate samples, malformed records) become
:class:`InputError` naming the file, the record and, for a bad GT, the sample.
"""

import gzip
import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import NamedTuple

import cyvcf2
import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.vcf_index import index_path, read_index, region_offset
from cohortgen.kernels.gt import (
    GT_ALLELE_RANGE,
    GT_BAD_CELL,
    GT_CELL_COUNT,
    GT_PLOIDY_ABOVE_2,
    parse_gt_text,
)

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


def open_vcf(path: Path) -> cyvcf2.VCF:
    """Open a bgzipped VCF or a BCF, raising InputError if it is not one."""
    path = Path(path)
    _check_compression(path)
    try:
        vcf = cyvcf2.VCF(str(path))
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


class _Record(NamedTuple):
    """One record of a region: ``gt`` int16 (n_samples, 2) allele indices (module doc of
    cohortgen.kernels.gt), None when ``reason`` (why it is excluded) is set."""

    pos: int
    vid: str | None
    ref: str
    alts: list[str]
    gt: np.ndarray | None
    reason: str | None


def read_region_blocks(
    path: Path, contig: str, start: int, end: int, tally: RecordTally, block_size: int = 1024,
    multiallelic: str = "drop", threads: int = 1,
) -> Iterator[VariantBlock]:
    """Blocks of kept records whose POS lies in ``[start, end]`` (1-based, inclusive).

    Records only overlapping the region from an earlier POS belong to the previous chunk and are
    not counted. ``multiallelic``: "drop" excludes multi-allelic records; "split" writes one
    biallelic variant per ACGT ALT (ID chrom:pos:ref:alt; see cohortgen.kernels.gt for the
    genotypes). ``threads``: threads inflating bgzip blocks (VCF only). ``tally`` is updated in
    place. Unsorted records, malformed records and GT allele indices beyond the record's
    alleles raise InputError naming the file and position.
    """
    path = Path(path)
    vcf = open_vcf(path)
    index_path(path)  # a clear InputError if the index is missing
    if str(path).endswith(".bcf"):
        records = _bcf_records(path, vcf, contig, start, end, multiallelic)
    else:
        records = _text_records(path, contig, start, end, list(vcf.samples), list(vcf.seqnames),
                                multiallelic, threads)
    block = _empty_block()
    last = start - 1
    for record in records:
        if record.pos < last:
            raise InputError(
                f"{path}: records are not sorted: {contig}:{record.pos} comes after "
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


def _bcf_records(path: Path, vcf: cyvcf2.VCF, contig: str, start: int, end: int,
                 multiallelic: str) -> Iterator[_Record]:
    """Records of a BCF region read with cyvcf2; htslib parse failures become InputError."""
    last = start - 1
    try:
        for variant in vcf(f"{contig}:{start}-{end}"):
            if not start <= variant.POS <= end:
                continue
            last = variant.POS
            reason = exclusion_reason(variant.REF, variant.ALT, multiallelic)
            gt = None if reason else _genotypes(variant)
            if gt is None or gt.shape[1] > 3 and (gt[:, 2] != -2).any():
                reason = reason or ("no_genotypes" if gt is None else "ploidy_above_2")
            if reason:
                yield _Record(variant.POS, variant.ID, variant.REF, variant.ALT, None, reason)
                continue
            _check_allele_range(path, contig, variant.POS, gt[:, :2], len(variant.ALT) + 1,
                                vcf.samples)
            yield _Record(variant.POS, variant.ID, variant.REF, variant.ALT, gt[:, :2], None)
    except InputError:
        raise
    except Exception as exc:  # htslib parse failures surface as assorted exception types
        raise InputError(
            f"{path}: unreadable record after {contig}:{last} ({exc}); check the file "
            "(e.g. bcftools view) near that position"
        ) from None


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
    beyond = np.flatnonzero((gt >= n_alleles).any(axis=1))
    if beyond.size:
        raise _allele_range_error(path, contig, pos, samples[beyond[0]],
                                  int(gt[beyond[0]].max()), n_alleles)


def _allele_range_error(path: Path, contig: str, pos: int, sample: str, allele: int,
                        n_alleles: int) -> InputError:
    return InputError(
        f"{path}: record {contig}:{pos}, sample {sample}: GT allele index {allele} is out of "
        f"range; the record has {n_alleles} alleles (REF + ALT), numbered 0 to {n_alleles - 1}; "
        "fix the GT or the ALT column"
    )


def _text_records(path: Path, contig: str, start: int, end: int, samples: list[str],
                  seqnames: list[str], multiallelic: str, threads: int) -> Iterator[_Record]:
    """Records of a bgzipped VCF region parsed from their text: read on from the index's offset
    for the region, one piece of decompressed lines at a time (inflated by ``threads``
    threads), until the contig ends or POS passes ``end``."""
    found = [c for c in read_index(index_path(path), seqnames) if c.name == contig]
    offset = region_offset(found[0], start, end) if found else None
    if offset is None:
        return
    scan = _Scan(contig.encode() + b"\t", start, end, samples)
    for piece, whole in _bgzf_pieces(path, offset, threads):
        lines, stop, problem = scan.lines(piece, whole)
        yield from _parse_lines(path, contig, piece, lines, samples, multiallelic)
        if problem:
            raise InputError(f"{path}: {problem}")
        if stop:
            return


def _bgzf_pieces(path: Path, offset: int, threads: int = 1,
                 read_size: int = 1 << 20) -> Iterator[tuple]:
    """Decompressed text of bgzipped ``path`` from virtual offset ``offset`` on, in pieces of
    about ``read_size`` compressed bytes: (text, end of its last whole line); the rest of the
    text opens the next piece, and the last piece's end is its length. ``threads`` threads
    inflate each piece's blocks."""
    data, tail, at = b"", b"", offset >> 16
    with path.open("rb") as handle, ThreadPoolExecutor(threads) as pool:
        handle.seek(at)
        while True:
            chunk = handle.read(read_size)
            data += chunk
            blocks = _block_spans(path, data, at)
            groups = [blocks[k::threads] for k in range(threads)]
            inflated = pool.map(partial(_inflate_group, path, data, at), groups)
            texts = [None] * len(blocks)
            for k, group in enumerate(inflated):
                texts[k::threads] = group
            if at == offset >> 16 and texts:
                texts[0] = texts[0][offset & 0xFFFF:]
            used = blocks[-1][0] + blocks[-1][1] if blocks else 0
            data, at = data[used:], at + used
            text = b"".join([tail, *texts])
            if not chunk:
                if data:
                    raise InputError(f"{path}: the file ends inside a bgzip block; it is "
                                     "truncated, re-create it")
                yield text, len(text)
                return
            cut = text.rfind(b"\n") + 1
            tail = text[cut:]
            yield text, cut


def _block_spans(path: Path, data: bytes, at: int) -> list[tuple[int, int]]:
    """(offset, size) of the complete BGZF blocks at the start of ``data`` (read from file
    offset ``at``); InputError for a block without a BGZF header (SAM spec 4.1)."""
    pos, spans = 0, []
    while pos + 18 <= len(data):
        if data[pos:pos + 4] != BGZF_MAGIC or data[pos + 12:pos + 14] != b"BC":
            raise _corrupt_block(path, at + pos, "no BGZF header")
        size = int.from_bytes(data[pos + 16:pos + 18], "little") + 1
        if pos + size > len(data):
            break
        spans.append((pos, size))
        pos += size
    return spans


def _inflate_group(path: Path, data: bytes, at: int, spans: list) -> list[bytes]:
    return [_inflate(path, data, at, pos, size) for pos, size in spans]


def _inflate(path: Path, data: bytes, at: int, pos: int, size: int) -> bytes:
    """The text of the BGZF block ``data[pos:pos + size]``, its CRC and length checked."""
    try:
        text = zlib.decompress(memoryview(data)[pos + 18:pos + size - 8], -15)
    except zlib.error as exc:
        raise _corrupt_block(path, at + pos, str(exc)) from None
    crc, length = struct.unpack_from("<II", data, pos + size - 8)
    if length != len(text) or zlib.crc32(text) != crc:
        raise _corrupt_block(path, at + pos, "CRC or length mismatch")
    return text


def _corrupt_block(path: Path, at: int, why: str) -> InputError:
    return InputError(f"{path}: the bgzip block at byte {at} is corrupt ({why}); re-create the "
                      "file (bgzip) and its index")


@dataclass
class _Scan:
    """Finds a region's record lines in pieces of text, reading on from its first piece.

    Lines before the contig's first record are skipped; the region is over at the next contig
    or at a POS beyond ``end``. Records with POS before ``start`` are skipped until one in the
    region is found; after it they are kept, so the caller reports them as unsorted."""

    name: bytes
    start: int
    end: int
    samples: list[str]
    seen: bool = False
    started: bool = False

    def lines(self, piece: bytes, whole: int) -> tuple[list, bool, str | None]:
        """(records of ``piece[:whole]`` (whole lines) as (line start, fixed fields, first
        sample byte, line end), stop (the region is over), the first malformed line's problem
        or None)."""
        records, begin = [], 0
        while begin < whole:
            line_end = piece.find(b"\n", begin, whole)
            line_end = whole if line_end < 0 else line_end
            line_start, begin = begin, line_end + 1
            if line_start == line_end:  # a blank line
                continue
            if not piece.startswith(self.name, line_start):
                if self.seen and not piece.startswith(b"#", line_start):
                    return records, True, _untabbed_problem(piece, line_start, line_end,
                                                            self.samples)
                continue
            self.seen = True
            first_sample = _column_start(piece, line_start, line_end, 9)
            problem = _fixed_problem(piece, line_start, first_sample, line_end, self.samples)
            if problem:
                return records, True, problem
            fields = piece[line_start:first_sample - 1].decode().split("\t")
            pos = int(fields[1])
            if pos > self.end:
                return records, True, None
            self.started = self.started or pos >= self.start
            if self.started:
                records.append((line_start, fields, first_sample, line_end))
        return records, False, None


def _untabbed_problem(piece: bytes, line_start: int, line_end: int,
                      samples: list[str]) -> str | None:
    """The problem of a line without any tab (a record separated by spaces), else None (the
    line starts the next contig)."""
    if piece.find(b"\t", line_start, line_end) >= 0:
        return None
    text = piece[line_start:line_end].decode(errors="replace")
    return _line_problem(text, samples) or f"{_record_name(text)} has no tab-separated columns"


def _column_start(text: bytes, begin: int, end: int, column: int) -> int:
    """Offset of 0-based ``column`` of the line ``text[begin:end]``, -1 if it has fewer."""
    for _ in range(column):
        begin = text.find(b"\t", begin, end) + 1
        if not begin:
            return -1
    return begin


def _parse_lines(path: Path, contig: str, piece: bytes, records: list, samples: list[str],
                 multiallelic: str) -> Iterator[_Record]:
    """The records found by :meth:`_Scan.lines`, GT cells parsed by one kernel call."""
    with_gt = [k for k, (_, fields, _, _) in enumerate(records) if _has_gt(fields[8])]
    alts_of = [[] if fields[4] == "." else fields[4].split(",") for _, fields, _, _ in records]
    begins = np.array([records[k][2] for k in with_gt], dtype=np.int64)
    ends = np.array([records[k][3] for k in with_gt], dtype=np.int64)
    n_alleles = np.array([1 + len(alts_of[k]) for k in with_gt], dtype=np.int64)
    alleles = np.empty((len(with_gt), len(samples), 2), dtype=np.int16)
    status, cell = parse_gt_text(np.frombuffer(piece, dtype=np.uint8), begins, ends, n_alleles,
                                 alleles)
    row_of = dict(zip(with_gt, range(len(with_gt)), strict=True))
    for k, (line_start, fields, _, line_end) in enumerate(records):
        pos, ref, alts = int(fields[1]), fields[3], alts_of[k]
        reason = exclusion_reason(ref, alts, multiallelic)
        row = row_of.get(k)
        if row is None:
            reason = reason or "no_genotypes"
        elif status[row] in (GT_BAD_CELL, GT_CELL_COUNT):
            line = piece[line_start:line_end].decode(errors="replace")
            raise InputError(f"{path}: {_line_problem(line, samples)}")
        elif status[row] == GT_PLOIDY_ABOVE_2:
            reason = reason or "ploidy_above_2"
        elif status[row] == GT_ALLELE_RANGE and not reason:
            i = cell[row]
            raise _allele_range_error(path, contig, pos, samples[i], int(alleles[row, i].max()),
                                      len(alts) + 1)
        vid = None if fields[2] == "." else fields[2]
        yield _Record(pos, vid, ref, alts, None if reason else alleles[row], reason)


def _record_name(line: str) -> str:
    fields = line.split("\t", 2)
    return f"record {fields[0][:40]}:{fields[1][:20]}" if len(fields) > 1 else "a record"


def _has_gt(format_column: str) -> bool:
    return format_column == "GT" or format_column.startswith("GT:")


def _fixed_problem(piece: bytes, line_start: int, first_sample: int, line_end: int,
                   samples: list[str]) -> str | None:
    """What is wrong with the record line ``piece[line_start:line_end]`` (samples from
    ``first_sample``, -1 if it has fewer than ten columns) before its GT cells: column count,
    spaces for tabs, POS, non-ASCII fixed columns, GT not the first FORMAT key; None if nothing
    is."""
    head = piece[line_start:first_sample - 1] if first_sample > 0 else b""
    fields = head.split(b"\t")
    if first_sample < 0 or not _is_pos(fields[1]) or not head.isascii():
        text = piece[line_start:line_end].decode(errors="replace")
        if head and not head.isascii():
            return (f"{_record_name(text)} has non-ASCII bytes in its fixed columns; VCF "
                    "records must be ASCII text")
        return _line_problem(text, samples) or f"{_record_name(text)} is malformed"
    keys = fields[8].decode().split(":")
    if "GT" in keys and keys[0] != "GT":
        return (f"{_record_name(head.decode())}: GT is FORMAT key {keys.index('GT') + 1} of "
                f"{fields[8][:60].decode()!r}, but VCF requires GT first when present; "
                "re-export the file with GT as the first FORMAT key")
    if keys[0] != "GT" and piece.count(b"\t", first_sample, line_end) + 1 != len(samples):
        return _line_problem(piece[line_start:line_end].decode(errors="replace"), samples)
    return None


def _is_pos(text: str | bytes) -> bool:
    return text.isdigit() and text.isascii() and 0 < int(text) < 2**31


def _line_problem(line: str, samples: list[str]) -> str | None:
    """What is wrong with a record line: spaces for tabs, POS, column count, a bad GT value
    (naming its column and sample); None if none of these."""
    fields = line.split("\t")
    n_samples = len(samples)
    where = _record_name(line)
    if len(fields) < 9 and " " in line:
        return f"{where} is separated by spaces, not tabs; VCF columns must be tab-separated"
    if len(fields) > 1 and not _is_pos(fields[1]):
        return f"{where}: POS {fields[1][:20]!r} is not a position (1 to 2^31 - 1)"
    if len(fields) != 9 + n_samples:
        return (f"{where} has {len(fields)} columns but the header has {9 + n_samples} "
                f"(9 fixed + {n_samples} samples); fix or remove that record")
    if not _has_gt(fields[8]):
        return None
    for column, cell in enumerate(fields[9:], start=10):
        if not GT_VALUE.fullmatch(cell.split(":")[0]):
            return (f"{where}, column {column} (sample {samples[column - 10]}): GT value "
                    f"{cell.split(':')[0][:20]!r} is not allele indices separated by / or |")
    return None


def _empty_block() -> VariantBlock:
    return VariantBlock([], [], [], [], [], [], [])


def _append(block: VariantBlock, contig: str, record: _Record, tally: RecordTally) -> None:
    alts = record.alts
    usable = [k for k, alt in enumerate(alts, start=1) if _is_acgt(alt)]
    if len(alts) > 1:
        tally.n_split += 1
        tally.split_alts_dropped += len(alts) - len(usable)
    for k in usable:
        block.alleles.append(record.gt)
        block.alt_index.append(k)
        block.chrom.append(contig)
        block.pos.append(record.pos)
        alt = alts[k - 1]
        vid = record.vid if len(alts) == 1 and record.vid else None
        block.ids.append(vid or f"{contig}:{record.pos}:{record.ref}:{alt}")
        block.ref.append(record.ref)
        block.alt.append(alt)
    tally.n_variants += len(usable)


def _finish(block: VariantBlock) -> VariantBlock:
    block.alleles = np.ascontiguousarray(np.stack(block.alleles), dtype=np.int16)
    block.alt_index = np.asarray(block.alt_index, dtype=np.int16)
    return block
