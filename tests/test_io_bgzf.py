"""BGZF reading (cohortgen.io.bgzf, cohortgen.io.libdeflate): blocks come back as the text gzip
gives, whatever the read size; a corrupt block or truncated file raises InputError naming the
file and the block's byte offset; libdeflate and zlib give the same text and errors."""

import gzip
import os
import shutil
import zlib

import numpy as np
import pytest
from test_io_vcf import assert_input_error, bgzf_block, random_vcf_text, read_all, write_vcf

from cohortgen.io import libdeflate
from cohortgen.io.bgzf import BGZF_EOF, BgzfReader, InlinePool
from cohortgen.io.vcf_records import parsed_pieces


def bgzf_text(path, read_size: int, threads: int = 1) -> bytes:
    """All text of bgzipped ``path`` read by :class:`BgzfReader` in reads of ``read_size``."""
    pool, text = InlinePool(), b""
    with path.open("rb") as handle:
        reader = BgzfReader(path, handle, 0, 0)
        while True:
            buffer, size, last = reader.submit(pool, threads, read_size, b"")()
            text += bytes(buffer[:size])
            if last:
                return text


@pytest.mark.parametrize("read_size", [100, 5000, 1 << 20])
def test_bgzf_reader__equals_gzip(tmp_path, read_size):
    path = write_vcf(tmp_path, random_vcf_text(n_records=2000), index=False)
    assert bgzf_text(path, read_size) == gzip.decompress(path.read_bytes())


def test_bgzf_reader__truncated(tmp_path):
    path = tmp_path / "cut.vcf.gz"
    whole = bgzf_block(b"x" * 5000) + bgzf_block(b"y" * 5000)
    path.write_bytes(whole[:-10])
    assert_input_error(lambda: bgzf_text(path, 1000), str(path), "ends inside a bgzip block")


def test_inflate_block__equals_zlib():
    """libdeflate inflates a block to zlib's text; a CRC mismatch is refused (zlib then names
    the problem)."""
    if libdeflate.LIBDEFLATE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("libdeflate is not installed (Debian: libdeflate0)")
        pytest.skip("libdeflate is not installed")
    text = np.random.default_rng(0).integers(48, 52, 60_000, dtype=np.uint8).tobytes()
    block = bytearray(bgzf_block(text))
    lib = libdeflate.LIBDEFLATE
    decompressor = lib.libdeflate_alloc_decompressor()
    try:
        for expected in (True, False):
            source = np.frombuffer(bytes(block), dtype=np.uint8)
            target = np.zeros(len(text), dtype=np.uint8)
            ok = libdeflate.inflate_block(lib, decompressor, bytes(block), source.ctypes.data, 0,
                                          len(block), target.ctypes.data, len(text))
            assert ok == expected
            if expected:
                assert target.tobytes() == zlib.decompress(bytes(block[18:-8]), -15) == text
            block[-8] ^= 0xFF  # the CRC
    finally:
        lib.libdeflate_free_decompressor(decompressor)


def test_read_region_blocks__corrupt_bgzip_block(tmp_path):
    path = write_vcf(tmp_path, random_vcf_text())
    data = bytearray(path.read_bytes())
    first_block = int.from_bytes(data[16:18], "little") + 1
    data[first_block + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    assert_input_error(lambda: read_all(path, end=10**6), str(path), "bgzip block", "corrupt")


def test_read_region_blocks__zlib_equals_libdeflate(tmp_path, monkeypatch):
    """Where libdeflate is not installed zlib inflates every block: same blocks, same error."""
    path = write_vcf(tmp_path, random_vcf_text())
    corrupt = tmp_path / "corrupt.vcf.gz"
    data = bytearray(path.read_bytes())
    data[int.from_bytes(data[16:18], "little") + 201] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    shutil.copy(f"{path}.tbi", f"{corrupt}.tbi")
    runs = []
    for lib in (libdeflate.LIBDEFLATE, None):
        monkeypatch.setattr(libdeflate, "LIBDEFLATE", lib)
        tally, blocks = read_all(path, end=10**6)
        runs.append((tally.as_dict(), [(b.pos, b.alleles.tolist()) for b in blocks],
                     assert_input_error(lambda: read_all(corrupt, end=10**6), "corrupt")))
    assert runs[0] == runs[1]
    assert runs[0][0]["records_in"] == 3000


def test_parsed_pieces__block_over_bgzf_limit(tmp_path):
    """A block holding more text than BGZF allows (65536 bytes) is corrupt."""
    path = tmp_path / "big.vcf.gz"
    path.write_bytes(bgzf_block(b"#" * 70_000 + b"\n") + BGZF_EOF)
    assert_input_error(lambda: list(parsed_pieces(path, 0, 1)), str(path),
                       "bgzip block at byte 0", "over 65536 bytes of text")
