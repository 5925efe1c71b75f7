"""Imputed dosages from a BGEN file (v1.2/v1.3 layout 2, 1-32 bits, zlib or zstd; phased or
not), read with the ``bgen`` package.

The first allele is REF and the second ALT (``plink2 --export bgen-1.2 ref-first``, the UK
Biobank convention); the dosage is the ALT allele's expected count, stored as PLINK 2 stores
it (:func:`cohortgen.io.dosage.stored_dosages`). Sample IDs are the file's own, else those of
a ``.sample`` file beside it (``<name>.sample`` or ``<name>.bgen.sample``). BGEN holds no
imputation r² or typed flag.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.dosage import DosageBlock, stored_dosages

SAMPLE_HEADER_LINES = 2
"""Header lines of an Oxford ``.sample`` file (column names, then column types)."""


def sample_file(path: Path) -> Path | None:
    """The ``.sample`` file beside a BGEN file, None if there is none."""
    for candidate in (path.with_suffix(".sample"), Path(f"{path}.sample")):
        if candidate.is_file():
            return candidate
    return None


def read_sample_ids(path: Path) -> list[str]:
    """The ID_2 column (the sample IDs PLINK 2 matches) of an Oxford ``.sample`` file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split()
    if len(lines) < SAMPLE_HEADER_LINES or header[:2] != ["ID_1", "ID_2"]:
        raise InputError(f"{path}: not an Oxford .sample file (the first line must start with "
                         "ID_1 ID_2, the second hold the column types)")
    return [line.split()[1] for line in lines[SAMPLE_HEADER_LINES:] if line.strip()]


def open_bgen(path: Path):
    """(reader, sample IDs) of a BGEN file; InputError if it cannot be read or has no IDs."""
    import bgen

    try:
        reader = bgen.BgenReader(str(path), "", True)
    except Exception as exc:  # noqa: BLE001  the library raises assorted types on bad files
        raise InputError(f"{path}: cannot be read as BGEN ({exc})") from None
    if reader.header.has_sample_ids:
        return reader, list(reader.samples)
    sidecar = sample_file(path)
    if sidecar is None:
        reader.close()
        raise InputError(f"{path}: the BGEN file holds no sample IDs and there is no .sample file "
                         f"beside it ({path.with_suffix('.sample')}); add one")
    samples = read_sample_ids(sidecar)
    if len(samples) != reader.header.nsamples:
        reader.close()
        raise InputError(f"{sidecar}: {len(samples)} samples, but {path} holds "
                         f"{reader.header.nsamples}; give the .sample file of this BGEN file")
    return reader, samples


def read_bgen_dosages(path: Path, contig: str, start: int, end: int,
                      block_size: int = 1024) -> Iterator[DosageBlock]:
    """Blocks of at most ``block_size`` variants of ``contig``:``start``-``end`` (1-based,
    inclusive), in file order: through the bgenix index ``<file>.bgi`` when there is one, else
    by scanning every variant of the file."""
    reader, _ = open_bgen(path)
    indexed = Path(f"{path}.bgi").is_file()
    rows: list[tuple] = []
    try:
        for variant in reader.fetch(contig, start, end) if indexed else reader:
            if variant.chrom != contig or not start <= variant.pos <= end:
                continue
            rows.append(_row(variant))
            if len(rows) == block_size:
                yield _block(contig, rows)
                rows = []
    finally:
        reader.close()
    if rows:
        yield _block(contig, rows)


def _row(variant) -> tuple:
    """(pos, id, ref, alt, dosage float32 (n,)) of one variant (NaN dosages if multi-allelic)."""
    alleles = variant.alleles
    variant_id = variant.rsid or variant.varid or "."
    if len(alleles) != 2:
        dosage = np.full(variant.n_samples, np.nan, dtype=np.float32)
    else:
        dosage = stored_dosages(variant.alt_dosage, variant.ploidy == 1)
    return variant.pos, variant_id, alleles[0], ",".join(alleles[1:]) or ".", dosage


def _block(contig: str, rows: list[tuple]) -> DosageBlock:
    pos, ids, ref, alt, dosage = zip(*rows, strict=True)
    m = len(pos)
    return DosageBlock(contig, np.array(pos, dtype=np.int64), list(ids), list(ref), list(alt),
                       np.vstack(dosage), np.full(m, np.nan, np.float32), np.zeros(m, bool))
