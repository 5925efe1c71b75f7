"""ctypes binding of libdeflate's raw-DEFLATE decompressor and CRC-32, for BGZF blocks.

Design note: zlib (Python's ``zlib.decompress``) inflates a 64 KiB BGZF block about 4 times as
slowly as libdeflate, which needs no streaming state because a BGZF block is whole and says how
long its text is. There is no maintained Python wheel of libdeflate, so the system library
(Debian ``libdeflate0``) is bound here with ctypes: four functions, no build step. Where it is
not installed :data:`LIBDEFLATE` is None and :mod:`cohortgen.io.bgzf` inflates with zlib, which
gives the same text (tests/test_io_bgzf.py checks both).
"""

import ctypes


def load_libdeflate() -> ctypes.CDLL | None:
    """The libdeflate shared library with the argument types of the functions used here, None
    where it is not installed."""
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


LIBDEFLATE = load_libdeflate()
"""The loaded library, or None (then zlib inflates every block)."""


def inflate_block(lib: ctypes.CDLL, decompressor: int, data: bytes, source: int, pos: int,
                  size: int, target: int, length: int) -> bool:
    """Whether ``lib`` (with ``decompressor`` from its ``libdeflate_alloc_decompressor``)
    inflated the BGZF block ``data[pos:pos + size]`` (``data`` at address ``source``) into
    exactly ``length`` bytes at address ``target``, their CRC-32 matching the block's."""
    if size < 26:  # no room for a header and a trailer: zlib names the problem
        return False
    status = lib.libdeflate_deflate_decompress(decompressor, source + pos + 18, size - 26,
                                               target, length, None)
    crc = int.from_bytes(data[pos + size - 8:pos + size - 4], "little")
    return status == 0 and lib.libdeflate_crc32(0, target, length) == crc
