"""VCF/BCF reading: sample lists and region-wise blocks of biallelic records.

Headers are read with cyvcf2. Records of a bgzipped VCF are parsed straight from their text:
bgzip blocks are inflated from the index's offset on (with libdeflate where it is installed,
else zlib) and record lines, GT cells included, go through the
:func:`cohortgen.kernels.gt.parse_record_lines` kernel. BCF records are read with cyvcf2. Errors
a user can cause (not bgzip, not VCF, no index, duplicate samples, malformed records) become
:class:`InputError` naming the file, the record and, for a bad GT, the sample.
"""

import ctypes
import gzip
import re
import struct
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from functools import lru_cache, partial
from itertools import accumulate, pairwise
from pathlib import Path
from typing import BinaryIO, NamedTuple

import cyvcf2
import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.alleles import is_symbolic_allele
from cohortgen.io.vcf_index import index_path, read_index, region_offset
from cohortgen.kernels.gt import (
    GT_ALLELE_RANGE,
    GT_BAD_CELL,
    GT_CELL_COUNT,
    GT_PLOIDY_ABOVE_2,
    LINE_MALFORMED,
    LINE_NO_GT,
    parse_record_lines,
)

BGZF_MAGIC = b"\x1f\x8b\x08\x04"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The empty block that ends every complete bgzip file (SAM/BAM spec 4.1.2)."""
BGZF_TEXT_MAX = 65536
"""The most text one BGZF block holds (SAM/BAM spec 4.1)."""
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
    except (OSError, EOFError, zlib.error):
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
    except zlib.error:
        return "its compressed header is corrupt; re-create the file (bgzip) and its index"
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


def exclusion_reason(ref: str, alts: Sequence[str], multiallelic: str = "drop") -> str | None:
    """Why a record is excluded (None if kept): no ALT, multi-allelic (when dropped), or a
    symbolic REF or (every) ALT (:func:`cohortgen.io.alleles.is_symbolic_allele`; any other
    allele string is kept)."""
    if not alts:
        return "no_alt_allele"
    if len(alts) > 1 and multiallelic == "drop":
        return "multiallelic"
    if is_symbolic_allele(ref) or all(is_symbolic_allele(alt) for alt in alts):
        return "symbolic_allele"
    return None


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
    """One record of a region: its GT allele indices are ``source[row]``, int16 (n_samples, 2)
    (module doc of cohortgen.kernels.gt); ``source`` is None when ``reason`` (why it is
    excluded) is set."""

    pos: int
    vid: str | None
    ref: str
    alts: Sequence[str]
    source: np.ndarray | None
    row: int
    reason: str | None


def read_region_blocks(
    path: Path, contig: str, start: int, end: int, tally: RecordTally, block_size: int = 1024,
    multiallelic: str = "drop", threads: int = 1,
) -> Iterator[VariantBlock]:
    """Blocks of up to ``block_size`` kept records (a few more variants after a split; fewer
    where a piece of VCF text ends) whose POS lies in ``[start, end]`` (1-based, inclusive).

    Records only overlapping the region from an earlier POS belong to the previous chunk and are
    not counted. ``multiallelic``: "drop" excludes multi-allelic records; "split" writes one
    biallelic variant per non-symbolic ALT (ID chrom:pos:ref:alt; see cohortgen.kernels.gt for
    the genotypes). ``threads``: threads inflating bgzip blocks and parsing records (VCF only).
    ``tally`` is updated in place. Unsorted records, malformed records and GT allele indices
    beyond the record's alleles raise InputError naming the file and position.
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
        if record is None:  # a piece of VCF text ends: blocks stay views of one parsed piece
            if block.pos:
                yield _finish(block)
                block = _empty_block()
            continue
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
                yield _Record(variant.POS, variant.ID, variant.REF, variant.ALT, None, 0, reason)
                continue
            _check_allele_range(path, contig, variant.POS, gt[:, :2], len(variant.ALT) + 1,
                                vcf.samples)
            yield _Record(variant.POS, variant.ID, variant.REF, variant.ALT, gt[None, :, :2], 0,
                          None)
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
                  seqnames: list[str], multiallelic: str,
                  threads: int) -> Iterator[_Record | None]:
    """Records of a bgzipped VCF region parsed from their text: read on from the index's offset
    for the region, one piece of decompressed lines at a time, until the contig ends or POS
    passes ``end``; None after each piece's records."""
    found = [c for c in read_index(index_path(path), seqnames) if c.name == contig]
    offset = region_offset(found[0], start, end) if found else None
    if offset is None:
        return
    scan = _Scan(path, contig, start, end, samples, multiallelic)
    with closing(_parsed_pieces(path, offset, len(samples), threads)) as pieces:
        for piece in pieces:
            yield from scan.records(piece)
            yield None
            if scan.over:
                return


class _Piece(NamedTuple):
    """Decompressed text whose lines ``text[starts[j]:ends[j]]`` (ends at the newline) were
    parsed by :func:`cohortgen.kernels.gt.parse_record_lines`: ``facts`` int64 (m, 5),
    ``alleles`` int16 (m, n_samples, 2)."""

    text: bytearray
    starts: list[int]
    ends: list[int]
    facts: np.ndarray
    alleles: np.ndarray


def _parsed_pieces(path: Path, offset: int, n_samples: int, threads: int = 1,
                   read_size: int = 1 << 20) -> Iterator[_Piece]:
    """The whole lines of bgzipped ``path`` from virtual offset ``offset`` on, in pieces of
    about ``read_size`` compressed bytes (a piece's last, partial line opens the next piece),
    parsed. ``threads`` threads inflate bgzip blocks and parse lines; with more than one, they
    inflate the next piece while the caller reads one (with one, the caller's thread does it
    all). A piece's text is overwritten two pieces later."""
    pool = ThreadPoolExecutor(threads) if threads > 1 else _InlinePool()
    try:
        with path.open("rb") as handle:
            handle.seek(offset >> 16)
            reader = _BgzfReader(path, handle, offset >> 16, offset & 0xFFFF)
            pending = reader.submit(pool, threads, read_size, b"")
            while pending is not None:
                text, size, last = pending()
                whole = size if last else text.rfind(b"\n", 0, size) + 1
                parsing = _submit_parse(pool, text, whole, n_samples, threads)
                pending = None if last else reader.submit(pool, threads, read_size,
                                                          text[whole:size])
                yield parsing()
    finally:
        pool.shutdown(cancel_futures=True)


class _InlinePool:
    """Runs each task at once in the calling thread, for ``threads`` = 1 (no thread beyond the
    caller's); the ThreadPoolExecutor methods the reader uses."""

    def submit(self, task: Callable, *args) -> Future:
        future = Future()
        try:
            future.set_result(task(*args))
        except Exception as exc:  # noqa: BLE001  raised where the result is asked for
            future.set_exception(exc)
        return future

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass


@dataclass
class _BgzfReader:
    """Reads bgzip blocks of ``path`` from ``handle``, now at file offset ``at``; the first
    ``skip`` bytes of the first block's text are left out. Texts go to two buffers in turn,
    re-used (allocating and zeroing a buffer per piece would cost as much as inflating)."""

    path: Path
    handle: BinaryIO
    at: int
    skip: int
    data: bytes = b""
    buffers: list[bytearray] = field(default_factory=lambda: [bytearray(), bytearray()])

    def submit(self, pool: ThreadPoolExecutor | _InlinePool, threads: int, read_size: int,
               head: bytes) -> Callable[[], tuple[bytearray, int, bool]]:
        """Read about ``read_size`` more bytes and start inflating their whole blocks in
        ``pool`` (``threads`` tasks) into one text after ``head``; return a call giving (a
        buffer, the length of the text at its start, whether the file ended there) that raises
        InputError for a corrupt block or a truncated file."""
        chunk = self.handle.read(read_size)
        data = self.data + chunk
        try:
            spans = _block_spans(self.path, data, self.at)
        except InputError as exc:
            return partial(_raise, exc)
        starts = list(accumulate((length for _, _, length in spans), initial=len(head)))
        text = self._buffer(starts[-1])
        text[:len(head)] = head
        cuts = [len(spans) * k // threads for k in range(threads + 1)]
        futures = [pool.submit(_inflate_group, self.path, data, self.at, spans[a:b], text,
                               starts[a]) for a, b in pairwise(cuts) if b > a]
        skip = min(self.skip, spans[0][2]) if spans else 0
        self.skip = 0 if spans else self.skip
        used = spans[-1][0] + spans[-1][1] if spans else 0
        self.data, self.at = data[used:], self.at + used
        truncated = not chunk and bool(self.data)
        return partial(_inflated, self.path, futures, text, starts[-1], skip, not chunk,
                       truncated)

    def _buffer(self, size: int) -> bytearray:
        """The next buffer in turn, of at least ``size`` bytes."""
        self.buffers.reverse()
        if len(self.buffers[0]) < size:
            self.buffers[0] = bytearray(size + size // 4)
        return self.buffers[0]


def _raise(error: Exception):
    raise error


def _inflated(path: Path, futures: list, text: bytearray, size: int, skip: int, last: bool,
              truncated: bool) -> tuple[bytearray, int, bool]:
    """(``text`` once ``futures`` inflated its blocks, its length ``size``, ``last``), the first
    ``skip`` bytes left out; InputError if a block is corrupt or the file is ``truncated``."""
    for future in futures:
        future.result()
    if truncated:
        raise InputError(f"{path}: the file ends inside a bgzip block; it is truncated, "
                         "re-create it")
    if skip:
        return text[skip:size], size - skip, last
    return text, size, last


def _block_spans(path: Path, data: bytes, at: int) -> list[tuple[int, int, int]]:
    """(offset, size, text length) of the complete BGZF blocks at the start of ``data`` (read
    from file offset ``at``), the text length as the block says, up to 65536 (SAM spec 4.1);
    InputError for a block without a BGZF header."""
    pos, spans = 0, []
    while pos + 18 <= len(data):
        if data[pos:pos + 4] != BGZF_MAGIC or data[pos + 12:pos + 14] != b"BC":
            raise _corrupt_block(path, at + pos, "no BGZF header")
        size = int.from_bytes(data[pos + 16:pos + 18], "little") + 1
        if pos + size > len(data):
            break
        length = int.from_bytes(data[pos + size - 4:pos + size], "little")
        spans.append((pos, size, min(length, BGZF_TEXT_MAX)))
        pos += size
    return spans


def _inflate_group(path: Path, data: bytes, at: int, spans: list, text: bytearray,
                   start: int) -> None:
    """Inflate the BGZF blocks ``spans`` (see :func:`_block_spans`) of ``data`` one after
    another into ``text`` from offset ``start`` on: with libdeflate where it is installed and
    the block is sound, else with zlib, which names the problem of a corrupt block."""
    source = np.frombuffer(data, dtype=np.uint8).ctypes.data
    target = np.frombuffer(text, dtype=np.uint8).ctypes.data
    decompressor = _LIBDEFLATE.libdeflate_alloc_decompressor() if _LIBDEFLATE else None
    try:
        for pos, size, length in spans:
            if not decompressor or not _libdeflate_block(decompressor, data, source, pos, size,
                                                         target + start, length):
                block = _inflate(path, data, at, pos, size)
                if len(block) > BGZF_TEXT_MAX:
                    raise _corrupt_block(path, at + pos, f"over {BGZF_TEXT_MAX} bytes of text")
                text[start:start + length] = block
            start += length
    finally:
        if decompressor:
            _LIBDEFLATE.libdeflate_free_decompressor(decompressor)


def _libdeflate_block(decompressor: int, data: bytes, source: int, pos: int, size: int,
                      target: int, length: int) -> bool:
    """Whether libdeflate inflated the BGZF block ``data[pos:pos + size]`` (``data`` at address
    ``source``) into exactly ``length`` bytes at address ``target``, their CRC matching."""
    if size < 26:  # no room for a header and a trailer: zlib names the problem
        return False
    status = _LIBDEFLATE.libdeflate_deflate_decompress(decompressor, source + pos + 18,
                                                       size - 26, target, length, None)
    crc = int.from_bytes(data[pos + size - 8:pos + size - 4], "little")
    return status == 0 and _LIBDEFLATE.libdeflate_crc32(0, target, length) == crc


def _load_libdeflate() -> ctypes.CDLL | None:
    """The libdeflate shared library (raw DEFLATE about 4 times as fast as zlib), None where it
    is not installed."""
    try:
        lib = ctypes.CDLL("libdeflate.so.0")
    except OSError:
        return None
    lib.libdeflate_alloc_decompressor.restype = ctypes.c_void_p
    lib.libdeflate_alloc_decompressor.argtypes = []
    lib.libdeflate_free_decompressor.restype = None
    lib.libdeflate_free_decompressor.argtypes = [ctypes.c_void_p]
    lib.libdeflate_deflate_decompress.restype = ctypes.c_int
    lib.libdeflate_deflate_decompress.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_size_t, ctypes.c_void_p,
                                                  ctypes.c_size_t, ctypes.c_void_p]
    lib.libdeflate_crc32.restype = ctypes.c_uint32
    lib.libdeflate_crc32.argtypes = [ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t]
    return lib


_LIBDEFLATE = _load_libdeflate()


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


def _submit_parse(pool: ThreadPoolExecutor | _InlinePool, text: bytearray, whole: int,
                  n_samples: int, threads: int) -> Callable[[], _Piece]:
    """Start parsing the lines of ``text[:whole]`` in ``pool`` (``threads`` tasks of
    consecutive lines); return a call giving the parsed piece."""
    starts, ends = _line_spans(text, whole)
    alleles = np.empty((len(starts), n_samples, 2), dtype=np.int16)
    array = np.frombuffer(text, dtype=np.uint8)
    begin, end = np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)
    cuts = [len(starts) * k // threads for k in range(threads + 1)]
    futures = [pool.submit(parse_record_lines, array, begin[a:b], end[a:b], alleles[a:b])
               for a, b in pairwise(cuts) if b > a]
    return partial(_parsed, text, starts, ends, futures, alleles)


def _parsed(text: bytearray, starts: list[int], ends: list[int], futures: list,
            alleles: np.ndarray) -> _Piece:
    facts = [future.result() for future in futures]
    return _Piece(text, starts, ends,
                  np.concatenate(facts) if facts else np.empty((0, 5), np.int64), alleles)


def _line_spans(text: bytearray, whole: int) -> tuple[list[int], list[int]]:
    """(starts, ends) of the lines of ``text[:whole]``, each end at its newline or ``whole``."""
    starts, ends, begin, find = [], [], 0, text.find
    while begin < whole:
        end = find(b"\n", begin, whole)
        end = whole if end < 0 else end
        starts.append(begin)
        ends.append(end)
        begin = end + 1
    return starts, ends


@dataclass
class _Scan:
    """Reads a region's records from parsed pieces, reading on from its first piece.

    Lines before the contig's first record are skipped; the region is ``over`` at the next
    contig or at a POS beyond ``end``. Records with POS before ``start`` are skipped until one
    in the region is found; after it they are kept, so the caller reports them as unsorted. A
    malformed line raises InputError once the records before it are read."""

    path: Path
    contig: str
    start: int
    end: int
    samples: list[str]
    multiallelic: str
    seen: bool = False
    started: bool = False
    over: bool = False

    def records(self, piece: _Piece) -> Iterator[_Record]:
        """The region's records among the lines of ``piece``, in file order."""
        text, name = piece.text, self.contig.encode() + b"\t"
        lines = zip(piece.starts, piece.ends, piece.facts.tolist(), strict=True)
        for row, (line_start, line_end, facts) in enumerate(lines):
            if line_start == line_end:  # a blank line
                continue
            if not text.startswith(name, line_start):
                if self.seen and not text.startswith(b"#", line_start):
                    self.over = True
                    problem = _untabbed_problem(text, line_start, line_end, self.samples)
                    if problem:
                        raise InputError(f"{self.path}: {problem}")
                    return
                continue
            self.seen = True
            first_sample, alt_end, pos, status, cell = facts
            if status == LINE_MALFORMED:
                problem = _fixed_problem(text, line_start, first_sample, line_end, self.samples)
                raise InputError(f"{self.path}: {problem}")
            if pos > self.end:
                self.over = True
                return
            self.started = self.started or pos >= self.start
            if self.started:
                yield self._record(piece, row, alt_end, pos, status, cell)

    def _record(self, piece: _Piece, row: int, alt_end: int, pos: int, status: int,
                cell: int) -> _Record:
        """The record of line ``row`` of ``piece``; InputError for a bad GT."""
        line_start = piece.starts[row]
        _, _, vid, ref, alt = piece.text[line_start:alt_end].decode().split("\t")
        alts, reason = _alleles_and_reason(ref, alt, self.multiallelic)
        if status == LINE_NO_GT:
            reason = reason or "no_genotypes"
        elif status in (GT_BAD_CELL, GT_CELL_COUNT):
            line = piece.text[line_start:piece.ends[row]].decode(errors="replace")
            raise InputError(f"{self.path}: {_line_problem(line, self.samples)}")
        elif status == GT_PLOIDY_ABOVE_2:
            reason = reason or "ploidy_above_2"
        elif status == GT_ALLELE_RANGE and not reason:
            raise _allele_range_error(self.path, self.contig, pos, self.samples[cell],
                                      int(piece.alleles[row, cell].max()), len(alts) + 1)
        return _Record(pos, None if vid == "." else vid, ref, alts,
                       None if reason else piece.alleles, row, reason)


@lru_cache(maxsize=4096)
def _alleles_and_reason(ref: str, alt: str, multiallelic: str) -> tuple[tuple[str, ...],
                                                                        str | None]:
    """The ALT alleles of an ALT column ('.': none) and the record's exclusion reason, cached:
    most records share a few REF/ALT pairs."""
    alts = () if alt == "." else tuple(alt.split(","))
    return alts, exclusion_reason(ref, alts, multiallelic)


def _untabbed_problem(piece: bytearray, line_start: int, line_end: int,
                      samples: list[str]) -> str | None:
    """The problem of a line without any tab (a record separated by spaces), else None (the
    line starts the next contig)."""
    if piece.find(b"\t", line_start, line_end) >= 0:
        return None
    text = piece[line_start:line_end].decode(errors="replace")
    return _line_problem(text, samples) or f"{_record_name(text)} has no tab-separated columns"


def _record_name(line: str) -> str:
    fields = line.split("\t", 2)
    return f"record {fields[0][:40]}:{fields[1][:20]}" if len(fields) > 1 else "a record"


def _has_gt(format_column: str) -> bool:
    return format_column == "GT" or format_column.startswith("GT:")


def _fixed_problem(piece: bytes | bytearray, line_start: int, first_sample: int, line_end: int,
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
