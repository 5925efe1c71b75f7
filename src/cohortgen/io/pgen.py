"""Imputed dosages from a PLINK 2 fileset (``<prefix>.pgen/.pvar/.psam``), read with pgenlib.

Dosages are PLINK 2's own (ALT, 0..2, a male's chrX dosage already on that scale; missing is
-9 in pgenlib, NaN here). The file r² is INFO ``R2``, ``DR2`` or ``INFO`` of the .pvar, the
typed flag INFO ``TYPED``. The .pvar and .psam must be plain text (not .zst).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.dosage import DosageBlock
from cohortgen.io.dosage_vcf import R2_KEYS

PGEN_MISSING = -9.0
"""pgenlib's missing dosage."""


def read_psam_ids(path: Path) -> list[str]:
    """The IID column of a .psam (or .fam-like headerless file: second column)."""
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("##")]
    if lines and lines[0][0].startswith("#"):
        column = [c.lstrip("#") for c in lines[0]].index("IID")
        return [fields[column] for fields in lines[1:]]
    return [fields[1] for fields in lines]


def pvar_rows(path: Path, contig: str, start: int, end: int) -> list[tuple[int, list[str]]]:
    """(0-based variant index, columns) of the .pvar lines in ``contig``:``start``-``end``."""
    rows, index, header = [], -1, ["CHROM", "POS", "ID", "REF", "ALT"]
    with open(path, encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, start=1):
            if line.startswith("##"):
                continue
            if line.startswith("#"):
                header = line[1:].split()
                continue
            index += 1
            fields = line.rstrip("\n").split("\t")
            if len(fields) < len(header):
                raise InputError(f"{path}, line {line_no}: {len(fields)} columns, the header "
                                 f"has {len(header)}; fix the .pvar")
            if fields[0] == contig and start <= int(fields[1]) <= end:
                rows.append((index, dict(zip(header, fields, strict=False))))
    return rows


def _info(text: str) -> dict[str, str]:
    return dict((item.split("=", 1) + [""])[:2] for item in text.split(";") if item != ".")


def read_pgen_dosages(prefix: Path, contig: str, start: int, end: int,
                      block_size: int = 1024) -> Iterator[DosageBlock]:
    """Blocks of at most ``block_size`` variants of ``contig``:``start``-``end`` (1-based,
    inclusive) of the fileset ``prefix``."""
    import pgenlib

    pgen, pvar, psam = (Path(f"{prefix}.{ext}") for ext in ("pgen", "pvar", "psam"))
    for part in (pgen, pvar, psam):
        if not part.is_file():
            raise InputError(f"{part}: missing; a PLINK 2 input is a .pgen/.pvar/.psam prefix")
    n = len(read_psam_ids(psam))
    rows = pvar_rows(pvar, contig, start, end)
    reader = pgenlib.PgenReader(bytes(pgen), raw_sample_ct=n)
    try:
        for first in range(0, len(rows), block_size):
            yield _block(reader, contig, rows[first:first + block_size], n)
    finally:
        reader.close()


def _block(reader, contig: str, rows: list[tuple[int, dict]], n: int) -> DosageBlock:
    dosage = np.full((len(rows), n), np.nan, dtype=np.float32)
    buffer = np.empty(n, dtype=np.float32)
    r2 = np.full(len(rows), np.nan, dtype=np.float32)
    typed = np.zeros(len(rows), dtype=bool)
    for i, (index, fields) in enumerate(rows):
        info = _info(fields.get("INFO", "."))
        r2[i] = next((float(info[k]) for k in R2_KEYS if info.get(k)), np.nan)
        typed[i] = "TYPED" in info
        if "," in fields["ALT"]:
            continue
        reader.read_dosages(index, buffer)
        dosage[i] = np.where(buffer == PGEN_MISSING, np.nan, buffer)
    return DosageBlock(contig, np.array([int(f["POS"]) for _, f in rows], dtype=np.int64),
                       [f["ID"] for _, f in rows], [f["REF"] for _, f in rows],
                       [f["ALT"] for _, f in rows], dosage, r2, typed)
