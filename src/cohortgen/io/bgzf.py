"""BGZF (blocked gzip, SAM/BAM specification section 4.1): the container of a .vcf.gz, read
block by block from an index's virtual offset on.

Design note: a BGZF file is a series of independent gzip blocks of up to 64 KiB of text, each
saying its compressed size, so blocks can be located without inflating them and inflated in
parallel, in any order, straight into one text buffer. :class:`BgzfReader` does that: it reads
about a megabyte of compressed bytes at a time, splits them into whole blocks
(:func:`_block_spans`) and has threads inflate groups of blocks (:func:`_inflate_group`, with
libdeflate where installed, see :mod:`cohortgen.io.libdeflate`, else zlib) into one of two
re-used buffers, so the next piece inflates while the caller parses the last. htslib's
``bgzf_read`` inflates one block at a time into its own cache and copies lines out one by one;
the measured cost of going through it is in :mod:`cohortgen.io.vcf_records`. Corrupt or
truncated files raise InputError naming the file and the byte offset of the block.
"""

import struct
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate, pairwise
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io import libdeflate

BGZF_MAGIC = b"\x1f\x8b\x08\x04"
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
"""The empty block that ends every complete bgzip file (SAM/BAM spec 4.1.2)."""
BGZF_TEXT_MAX = 65536
"""The most text one BGZF block holds (SAM/BAM spec 4.1)."""


def check_compression(path: Path) -> None:
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


class InlinePool:
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
class BgzfReader:
    """Reads bgzip blocks of ``path`` from ``handle``, now at file offset ``at``; the first
    ``skip`` bytes of the first block's text are left out. Texts go to two buffers in turn,
    re-used (allocating and zeroing a buffer per piece would cost as much as inflating)."""

    path: Path
    handle: BinaryIO
    at: int
    skip: int
    data: bytes = b""
    buffers: list[bytearray] = field(default_factory=lambda: [bytearray(), bytearray()])

    def submit(self, pool: ThreadPoolExecutor | InlinePool, threads: int, read_size: int,
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
            raise corrupt_block(path, at + pos, "no BGZF header")
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
    lib = libdeflate.LIBDEFLATE
    decompressor = lib.libdeflate_alloc_decompressor() if lib else None
    try:
        for pos, size, length in spans:
            if not decompressor or not libdeflate.inflate_block(lib, decompressor, data, source,
                                                                pos, size, target + start,
                                                                length):
                block = _inflate(path, data, at, pos, size)
                if len(block) > BGZF_TEXT_MAX:
                    raise corrupt_block(path, at + pos, f"over {BGZF_TEXT_MAX} bytes of text")
                text[start:start + length] = block
            start += length
    finally:
        if decompressor:
            lib.libdeflate_free_decompressor(decompressor)


def _inflate(path: Path, data: bytes, at: int, pos: int, size: int) -> bytes:
    """The text of the BGZF block ``data[pos:pos + size]``, its CRC and length checked."""
    try:
        text = zlib.decompress(memoryview(data)[pos + 18:pos + size - 8], -15)
    except zlib.error as exc:
        raise corrupt_block(path, at + pos, str(exc)) from None
    crc, length = struct.unpack_from("<II", data, pos + size - 8)
    if length != len(text) or zlib.crc32(text) != crc:
        raise corrupt_block(path, at + pos, "CRC or length mismatch")
    return text


def corrupt_block(path: Path, at: int, why: str) -> InputError:
    return InputError(f"{path}: the bgzip block at byte {at} is corrupt ({why}); re-create the "
                      "file (bgzip) and its index")
