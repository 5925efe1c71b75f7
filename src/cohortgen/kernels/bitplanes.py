"""Bit planes of PLINK .bed 2-bit codes, and a popcount, shared by the LD and KING kernels.

Two layouts, both uint64 words of 64 bits:

* variant-major (:func:`row_planes`, LD pruning): one .bed row becomes words over samples,
  64 samples per word: hom-ALT bits, carries-ALT bits (dosage >= 1) and non-missing bits,
  restricted to selected samples (``mask_words``);
* sample-major (:func:`sample_major_planes`, KING): a block of rows is transposed into four
  planes per sample, 64 variants per word, one plane per 2-bit code (hom ALT, missing, het,
  hom REF).

Pad bits (pad samples, variants past a block's end) are 0 in every plane.
"""

import numpy as np
from llvmlite import ir
from numba import prange, types
from numba.extending import intrinsic

from cohortgen.kernels._numba import kernel, parallel_kernel

# Plane index of each sample-major plane = its PLINK .bed 2-bit code.
HOM_ALT, MISSING, HET, HOM_REF = 0, 1, 2, 3


@intrinsic
def popcount(typingctx, word):
    """Number of set bits of a uint64 (LLVM ``ctpop``: one POPCNT instruction on x86-64)."""
    if word != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        fn = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(fn, [args[0]])

    return types.int64(types.uint64), codegen


def byte_plane_tables() -> np.ndarray:
    """uint64, shape (3, 256): 4-bit (hom ALT, carries ALT, non-missing) masks of each byte."""
    table = np.zeros((3, 256), dtype=np.uint64)
    for value in range(256):
        for k in range(4):
            code = (value >> (2 * k)) & 3
            if code == 0:  # hom A1 (ALT), dosage 2
                table[0, value] |= 1 << k
            if code in (0, 2):  # dosage >= 1
                table[1, value] |= 1 << k
            if code != 1:
                table[2, value] |= 1 << k
    return table


BYTE_PLANES = byte_plane_tables()


def mask_words(sample_mask: np.ndarray) -> np.ndarray:
    """uint64, shape (ceil(n / 64),): bit j % 64 of word j // 64 set for selected samples."""
    n = sample_mask.size
    padded = np.zeros(((n + 63) // 64) * 64, dtype=bool)
    padded[:n] = sample_mask
    return np.packbits(padded, bitorder="little").view("<u8").astype(np.uint64)


@kernel
def row_planes(row, mask_words, planes_table, hom, carrier, nonmissing):
    """Bit planes of one .bed row (uint64 rows); return (n_nonmissing, sum, sum of squares)."""
    n_words = mask_words.shape[0]
    n_bytes = row.shape[0]
    for w in range(n_words):
        h = np.uint64(0)
        c = np.uint64(0)
        nm = np.uint64(0)
        for k in range(16):
            b = 16 * w + k
            if b < n_bytes:
                value = row[b]
                shift = np.uint64(4 * k)
                h |= planes_table[0, value] << shift
                c |= planes_table[1, value] << shift
                nm |= planes_table[2, value] << shift
        nm &= mask_words[w]
        hom[w] = h & nm
        carrier[w] = c & nm
        nonmissing[w] = nm
    n_nm = 0
    n_hom = 0
    n_car = 0
    for w in range(n_words):
        n_nm += popcount(nonmissing[w])
        n_hom += popcount(hom[w])
        n_car += popcount(carrier[w])
    # dosage = carrier + hom; dosage² = carrier + 3·hom
    return n_nm, n_car + n_hom, n_car + 3 * n_hom


@parallel_kernel
def sample_major_planes(packed, start, stop, n_samples, planes):
    """Transpose .bed rows [start, stop) into ``planes`` (uint64, (n, 4, n_words)).

    Bit ``v % 64`` of ``planes[s, code, v // 64]`` is set when sample s has 2-bit ``code`` at
    block variant v; pad bits stay 0 in every plane. Each plane's words are contiguous, so pair
    loops over words vectorize.
    """
    n_bytes = packed.shape[1]
    for b in prange(n_bytes):
        for k in range(4):
            s = 4 * b + k
            if s < n_samples:
                planes[s, :, :] = 0
        for v in range(start, stop):
            offset = v - start
            w = offset >> 6
            bit = np.uint64(1) << np.uint64(offset & 63)
            byte = packed[v, b]
            for k in range(4):
                s = 4 * b + k
                if s < n_samples:
                    code = (byte >> (2 * k)) & 3
                    planes[s, code, w] |= bit
