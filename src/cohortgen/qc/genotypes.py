"""The QC'd genotype set: kept samples x passing variants of every chunk, one PLINK 1 fileset.

``qc/genotypes.{bed,bim,fam}`` (private, 0600) can be read by PLINK 2 directly. The .bed is
streamed chunk by chunk (memory: one chunk's packed rows plus a block of decoded genotypes) to a
temporary file that is renamed into place once complete.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.io.bed import (
    BED_MAGIC,
    BIM_COLUMNS,
    FAM_COLUMNS,
    fileset_paths,
    read_bed,
    table_text,
)
from cohortgen.io.files import atomic_output, read_tsv, write_bytes_atomic
from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.qc.keep import read_keep, sample_mask

BLOCK_VARIANTS = 1024
"""Variants decoded at a time when selecting samples (1 byte per genotype)."""


def subset_samples(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray) -> np.ndarray:
    """Packed rows restricted to ``sample_idx`` (int64, sorted), re-packed.

    packed: uint8, shape (m, ceil(n_samples / 4)), PLINK .bed 2-bit codes. Returns uint8,
    shape (m, ceil(len(sample_idx) / 4)), the same codes for the selected samples, pad bits 0.
    """
    blocks = [pack_dosages(unpack_dosages(packed[lo:lo + BLOCK_VARIANTS], n_samples)[:, sample_idx])
              for lo in range(0, packed.shape[0], BLOCK_VARIANTS)]
    if not blocks:
        return np.zeros((0, (len(sample_idx) + 3) // 4), dtype=np.uint8)
    return np.concatenate(blocks)


def passing_rows(prefix: Path, variant_qc_tsv: Path, sample_idx: np.ndarray):
    """One chunk's passing variants for the kept samples: (packed uint8, bim rows)."""
    packed, bim, fam = read_bed(Path(prefix))
    passed = read_tsv(variant_qc_tsv, usecols=["pass"])["pass"].to_numpy(bool)
    if passed.shape != (len(bim),):
        raise ValueError(f"{variant_qc_tsv} has {passed.size} rows, {prefix}.bim has {len(bim)}")
    return subset_samples(packed[passed], len(fam), sample_idx), bim[passed]


def write_qc_genotypes(prefixes: list[Path], variant_qc_paths: list[Path], keep_txt: Path,
                       out_prefix: Path) -> dict:
    """Write ``out_prefix``.bed/.bim/.fam (private); return {"n_samples", "n_variants"}."""
    fam = read_bed(Path(prefixes[0]), variant_slice=slice(0, 0))[2]
    kept = sample_mask(fam["iid"].astype(str).tolist(), read_keep(keep_txt))
    sample_idx = np.flatnonzero(kept).astype(np.int64)
    paths = fileset_paths(out_prefix)
    bims = []
    with atomic_output(paths["bed"], private=True) as temp:
        with temp.open("wb") as out:
            out.write(BED_MAGIC)
            for prefix, qc_path in zip(prefixes, variant_qc_paths, strict=True):
                packed, bim = passing_rows(prefix, qc_path, sample_idx)
                out.write(packed.tobytes())
                bims.append(bim)
        bim = pd.concat(bims, ignore_index=True)
        kept_fam = fam.iloc[sample_idx].reset_index(drop=True)
        for key, table, columns in (("bim", bim, BIM_COLUMNS), ("fam", kept_fam, FAM_COLUMNS)):
            text = table_text(table, columns, paths[key])
            write_bytes_atomic(paths[key], text.encode(), private=True)
    return {"n_samples": int(sample_idx.size), "n_variants": int(len(bim))}
