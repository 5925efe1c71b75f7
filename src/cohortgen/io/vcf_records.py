"""The native VCF record reader: record lines of a bgzipped VCF parsed from their text.

From the index's virtual offset for a region (:mod:`cohortgen.io.vcf_index`), BGZF blocks are
inflated a piece at a time (:mod:`cohortgen.io.bgzf`) and every line of a piece goes through the
:func:`cohortgen.kernels.gt.parse_record_lines` kernel, which checks the fixed columns and parses
the GT cells into allele indices; Python then looks at each record's fixed columns only. Lines
the kernel marks malformed get a message from the plain-Python checks here, naming the file,
line, record and (for a bad GT) the sample.

Design note, why not htslib (cyvcf2): measured on a 5,000-sample, 20,000-variant chunk (the
GT-only VCF of bench/bench_ingest.py; one process, kernels compiled, file in the page cache,
best of 2 on a shared 2-core machine), records to allele arrays with one thread take 1.4 s here
(1.4 s with 2 threads) and 23.5 s through cyvcf2 (``ingest.vcf_reader: htslib``), of which
12.2 s is htslib's own parse of the records (iterating the region without touching the
genotypes) and the rest cyvcf2 copying each record's GT array out. htslib parses every FORMAT
field of every sample into typed per-record buffers; this reader parses only the GT cells,
straight from the inflated text into one array per piece. The htslib reader stays as a
fallback (:mod:`cohortgen.io.vcf_htslib`) and reads BCF; both readers follow
:mod:`cohortgen.io.vcf_rules` and the tests check that they write identical chunks.

A region's first chunk (start 1) is read from where the index's previous contig ends, not from
its first indexed record, so record lines tabix could not index (a POS of '.') are seen and
refused rather than skipped.
"""

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import pairwise
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.bgzf import BgzfReader, InlinePool
from cohortgen.io.vcf_index import ContigIndex, index_path, read_index, region_offset
from cohortgen.io.vcf_rules import (
    Record,
    allele_range_error,
    check_id,
    exclusion_reason,
    in_region,
    line_location,
    position_reason,
)
from cohortgen.kernels.gt import (
    GT_ALLELE_RANGE,
    GT_BAD_CELL,
    GT_CELL_COUNT,
    GT_PLOIDY_ABOVE_2,
    LINE_MALFORMED,
    LINE_NO_GT,
    parse_record_lines,
)

_HASH = ord("#")
GT_VALUE = re.compile(r"\.|[0-9]+|(\.|[0-9]+)([/|](\.|[0-9]+))+")


def text_records(path: Path, contig: str, start: int, end: int, samples: list[str],
                 seqnames: list[str], multiallelic: str,
                 threads: int) -> Iterator[Record | None]:
    """Records of a bgzipped VCF region parsed from their text: read on from the index's offset
    for the region, one piece of decompressed lines at a time, until the contig ends or POS
    passes ``end``; None after each piece's records."""
    offset = first_offset(read_index(index_path(path), seqnames), contig, start, end)
    if offset is None:
        return
    scan = _Scan(path, contig, start, end, samples, multiallelic)
    with closing(parsed_pieces(path, offset, len(samples), threads)) as pieces:
        for piece in pieces:
            yield from scan.records(piece)
            yield None
            if scan.over:
                return


def check_lead_in(path: Path, contig: str, samples: list[str], seqnames: list[str],
                  multiallelic: str) -> None:
    """InputError for a malformed line of ``contig`` before its first indexed record (such as
    POS '.', which tabix cannot index and htslib's region query stops at without an error)."""
    for _ in text_records(path, contig, 1, 1, samples, seqnames, multiallelic, threads=1):
        pass


def first_offset(contigs: list[ContigIndex], contig: str, start: int, end: int) -> int | None:
    """Virtual offset to read ``contig``'s region ``[start, end]`` from: the index's region
    offset, or for a region starting at 1 where the contigs before it in the index end (0 for
    the first), so lines tabix did not index are read too. None without indexed records."""
    names = [c.name for c in contigs]
    if contig not in names:
        return None
    found = contigs[names.index(contig)]
    offset = region_offset(found, start, end)
    if offset is None or start > 1:
        return offset
    ends = [chunk_end for c in contigs[:names.index(contig)] for _, chunks in c.bins.values()
            for _, chunk_end in chunks]
    return max(ends, default=0)



class _Piece(NamedTuple):
    """Decompressed text whose lines ``text[starts[j]:ends[j]]`` (ends at the newline) were
    parsed by :func:`cohortgen.kernels.gt.parse_record_lines`: ``facts`` int64 (m, 5),
    ``alleles`` int16 (m, n_samples, 2)."""

    text: bytearray
    starts: list[int]
    ends: list[int]
    facts: np.ndarray
    alleles: np.ndarray


def parsed_pieces(path: Path, offset: int, n_samples: int, threads: int = 1,
                   read_size: int = 1 << 20, submit: Callable | None = None) -> Iterator:
    """The whole record lines (header lines left out) of bgzipped ``path`` from virtual offset
    ``offset`` on, in pieces of about ``read_size`` compressed bytes (a piece's last, partial
    line opens the next piece), parsed by ``submit`` (as :func:`_submit_parse`, which gives a
    :class:`_Piece`; the dosage reader passes its own). ``threads`` threads inflate bgzip blocks
    and parse lines; with more than one, they inflate the next piece while the caller reads one
    (with one, the caller's thread does it all). A piece's text is overwritten two pieces
    later."""
    submit = submit or _submit_parse
    pool = ThreadPoolExecutor(threads) if threads > 1 else InlinePool()
    try:
        with path.open("rb") as handle:
            handle.seek(offset >> 16)
            reader = BgzfReader(path, handle, offset >> 16, offset & 0xFFFF)
            pending = reader.submit(pool, threads, read_size, b"")
            while pending is not None:
                text, size, last = pending()
                whole = size if last else text.rfind(b"\n", 0, size) + 1
                parsing = submit(pool, text, whole, n_samples, threads)
                pending = None if last else reader.submit(pool, threads, read_size,
                                                          text[whole:size])
                yield parsing()
    finally:
        pool.shutdown(cancel_futures=True)



def _submit_parse(pool: ThreadPoolExecutor | InlinePool, text: bytearray, whole: int,
                  n_samples: int, threads: int) -> Callable[[], _Piece]:
    """Start parsing the lines of ``text[:whole]`` in ``pool`` (``threads`` tasks of
    consecutive lines); return a call giving the parsed piece."""
    starts, ends = line_spans(text, whole)
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


def line_spans(text: bytearray, whole: int) -> tuple[list[int], list[int]]:
    """(starts, ends) of the lines of ``text[:whole]`` but header lines (starting with '#': a
    region's first chunk may be read from the file's start), each end at its newline or
    ``whole``."""
    starts, ends, begin, find = [], [], 0, text.find
    while begin < whole:
        end = find(b"\n", begin, whole)
        end = whole if end < 0 else end
        if text[begin] != _HASH:
            starts.append(begin)
            ends.append(end)
        begin = end + 1
    return starts, ends


@dataclass
class _Scan:
    """Reads a region's records from parsed pieces, reading on from its first piece.

    Lines before the contig's first record are skipped (a region's first chunk is read from
    where the previous contig ends); the region is ``over`` at the next contig or at a POS
    beyond ``end``. Records with POS before ``start`` (POS 0 counting as 1, see
    :func:`cohortgen.io.vcf_rules.in_region`) are skipped until one in the region is found;
    after it they are kept, so the caller reports them as unsorted. A malformed line raises
    InputError once the records before it are read."""

    path: Path
    contig: str
    start: int
    end: int
    samples: list[str]
    multiallelic: str
    seen: bool = False
    started: bool = False
    over: bool = False

    def records(self, piece: _Piece) -> Iterator[Record]:
        """The region's records among the lines of ``piece``, in file order."""
        text, name = piece.text, self.contig.encode() + b"\t"
        lines = zip(piece.starts, piece.ends, piece.facts.tolist(), strict=True)
        for row, (line_start, line_end, facts) in enumerate(lines):
            if line_start == line_end:  # a blank line
                continue
            if not text.startswith(name, line_start):
                if self.seen:
                    self.over = True
                    problem = _untabbed_problem(text, line_start, line_end, self.samples)
                    if problem:
                        raise InputError(f"{self._location(text, line_start, line_end)}: "
                                         f"{problem}")
                    return
                continue
            self.seen = True
            first_sample, alt_end, pos, status, cell = facts
            if status == LINE_MALFORMED:
                problem = _fixed_problem(text, line_start, first_sample, line_end, self.samples)
                raise InputError(f"{self._location(text, line_start, line_end)}: {problem}")
            if pos > self.end:
                self.over = True
                return
            self.started = self.started or in_region(pos, self.start, self.end)
            if self.started:
                yield self._record(piece, row, alt_end, pos, status, cell)

    def _record(self, piece: _Piece, row: int, alt_end: int, pos: int, status: int,
                cell: int) -> Record:
        """The record of line ``row`` of ``piece``; InputError for a bad GT."""
        line_start = piece.starts[row]
        _, _, vid, ref, alt = piece.text[line_start:alt_end].decode().split("\t")
        check_id(self.path, self.contig, pos, vid)
        alts, reason = _alleles_and_reason(ref, alt, self.multiallelic)
        reason = position_reason(pos) or reason
        if status == LINE_NO_GT:
            reason = reason or "no_genotypes"
        elif status in (GT_BAD_CELL, GT_CELL_COUNT):
            line = piece.text[line_start:piece.ends[row]]
            raise InputError(f"{self._location(piece.text, line_start, piece.ends[row])}: "
                             f"{_line_problem(line.decode(errors='replace'), self.samples)}")
        elif status == GT_PLOIDY_ABOVE_2:
            reason = reason or "ploidy_above_2"
        elif status == GT_ALLELE_RANGE and not reason:
            raise allele_range_error(self.path, self.contig, pos, self.samples[cell],
                                     int(piece.alleles[row, cell].max()), len(alts) + 1)
        return Record(pos, None if vid == "." else vid, ref, alts,
                      None if reason else piece.alleles, row, reason)

    def _location(self, text: bytearray, line_start: int, line_end: int) -> str:
        """The file and line number of the line ``text[line_start:line_end]``."""
        return line_location(self.path, bytes(text[line_start:line_end]))


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
    """Whether ``text`` is a POS: 0 (a telomere) to 2^31 - 1."""
    return text.isdigit() and text.isascii() and 0 <= int(text) < 2**31


def _line_problem(line: str, samples: list[str]) -> str | None:
    """What is wrong with a record line: spaces for tabs, POS, column count, a bad GT value
    (naming its column and sample); None if none of these."""
    fields = line.split("\t")
    n_samples = len(samples)
    where = _record_name(line)
    if len(fields) < 9 and " " in line:
        return f"{where} is separated by spaces, not tabs; VCF columns must be tab-separated"
    if len(fields) > 1 and not _is_pos(fields[1]):
        return (f"{where}: POS {fields[1][:20]!r} is not a position (0 to 2^31 - 1; '.' is "
                "not allowed); give the record its position or remove it")
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
