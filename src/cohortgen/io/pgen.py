"""Imputed dosages from a PLINK 2 fileset (``<prefix>.pgen/.pvar/.psam``), read with pgenlib.

Dosages are PLINK 2's own (ALT, 0..2, a male's chrX dosage already on that scale; missing is
-9 in pgenlib, NaN here). The file r² is INFO ``R2``, ``DR2`` or ``INFO`` of the .pvar, the
typed flag INFO ``TYPED``. The .pvar and .psam must be plain text (not .zst).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cohortgen.errors import InputError

if TYPE_CHECKING:  # the VCF reader's modules (pysam, the VCF kernels) only where blocks are made:
    import pandas as pd  # the association step reads .pgen/.pvar only

    from cohortgen.io.dosage import DosageBlock

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


def pvar_rows(path: Path, contig: str | None = None, start: int = 0, end: int = 0
              ) -> tuple[list[tuple[int, dict]], np.ndarray | None]:
    """(0-based variant index, columns by header name) of the .pvar lines in
    ``contig``:``start``-``end`` (every line when ``contig`` is None), and the allele index
    offsets pgenlib needs for a file with multi-allelic variants (uintp (variants + 1,)
    cumulative allele counts; None without)."""
    rows, index, header, alleles = [], -1, ["CHROM", "POS", "ID", "REF", "ALT"], [0]
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
            named = dict(zip(header, fields, strict=False))
            alleles.append(alleles[-1] + 2 + named["ALT"].count(","))
            if contig is None or (fields[0] == contig and start <= int(fields[1]) <= end):
                rows.append((index, named))
    offsets = np.array(alleles, dtype=np.uintp)
    return rows, (offsets if offsets[-1] > 2 * index + 2 else None)


def read_pvar_table(path: Path) -> "pd.DataFrame":
    """Every line of a .pvar as a table of strings, one column per header name (without the
    header line, PLINK 2's default CHROM POS ID REF ALT); the fast reader of a whole .pvar
    (:func:`pvar_rows` selects a region and handles multi-allelic files). InputError naming
    the line when one has fewer or more columns than the header (or an empty last one)."""
    import pandas as pd

    header, skip = ["CHROM", "POS", "ID", "REF", "ALT"], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            skip += 1
            if not line.startswith("##"):
                header = line[1:].split()
    try:
        table = pd.read_csv(path, sep="\t", header=None, skiprows=skip, dtype=str,
                            keep_default_na=False, quoting=3)
    except pd.errors.EmptyDataError:
        return pd.DataFrame({name: pd.Series(dtype=object) for name in header})
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: {exc} (after {skip} header lines); each line needs the "
                         f"{len(header)} columns of the header: fix the .pvar") from None
    width = len(header)
    if table.shape[1] < width:  # every line short
        bad = np.ones(len(table), dtype=bool)
    else:  # pandas pads a short line with "" up to the longest line's columns
        bad = (table.iloc[:, width - 1] == "").to_numpy(copy=True)
        bad |= (table.iloc[:, width:] != "").any(axis=1).to_numpy()
    if bad.any():
        line_no = skip + 1 + int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}, line {line_no}: not the header's {width} columns (or an "
                         "empty last column); fix the .pvar")
    table = table.iloc[:, :width]
    table.columns = header
    return table


def _info(text: str) -> dict[str, str]:
    return dict((item.split("=", 1) + [""])[:2] for item in text.split(";") if item != ".")


def read_pgen_dosages(prefix: Path, contig: str, start: int, end: int, block_size: int = 1024,
                      multiallelic: str = "drop") -> Iterator["DosageBlock"]:
    """Blocks of at most ``block_size`` variants of ``contig``:``start``-``end`` (1-based,
    inclusive) of the fileset ``prefix``; a multi-allelic variant as
    :func:`cohortgen.io.dosage_vcf.read_vcf_dosages` yields it (pgenlib reads each ALT's
    dosage)."""
    import pgenlib

    pgen, pvar, psam = (Path(f"{prefix}.{ext}") for ext in ("pgen", "pvar", "psam"))
    for part in (pgen, pvar, psam):
        if not part.is_file():
            raise InputError(f"{part}: missing; a PLINK 2 input is a .pgen/.pvar/.psam prefix")
    n = len(read_psam_ids(psam))
    rows, offsets = pvar_rows(pvar, contig, start, end)
    variants = [(index, fields, alt) for index, fields in rows
                for alt in _alts(fields, multiallelic == "split")]
    reader = pgenlib.PgenReader(bytes(pgen), raw_sample_ct=n, allele_idx_offsets=offsets)
    try:
        for first in range(0, len(variants), block_size):
            yield _block(reader, contig, variants[first:first + block_size], n)
    finally:
        reader.close()


def _alts(fields: dict, split: bool) -> list[tuple[int, str]]:
    """(allele index, ALT) of each variant a .pvar line becomes (allele index 0: dropped)."""
    alts = fields["ALT"].split(",")
    if len(alts) == 1:
        return [(1, alts[0])]
    return list(enumerate(alts, start=1)) if split else [(0, fields["ALT"])]


def _block(reader, contig: str, variants: list[tuple[int, dict, tuple[int, str]]],
           n: int) -> "DosageBlock":
    from cohortgen.io.dosage import DosageBlock
    from cohortgen.io.dosage_vcf import R2_KEYS

    m = len(variants)
    dosage = np.full((m, n), np.nan, dtype=np.float32)
    buffer = np.empty(n, dtype=np.float32)
    r2 = np.full(m, np.nan, dtype=np.float32)
    typed = np.zeros(m, dtype=bool)
    ids = []
    for i, (index, fields, (allele, alt)) in enumerate(variants):
        info = _info(fields.get("INFO", "."))
        r2[i] = next((float(info[k]) for k in R2_KEYS if info.get(k)), np.nan)
        typed[i] = "TYPED" in info
        split = allele and alt != fields["ALT"]
        ids.append(f"{contig}:{fields['POS']}:{fields['REF']}:{alt}" if split else fields["ID"])
        if allele:
            reader.read_dosages(index, buffer, allele)
            dosage[i] = np.where(buffer == PGEN_MISSING, np.nan, buffer)
    return DosageBlock(contig, np.array([int(f["POS"]) for _, f, _ in variants], dtype=np.int64),
                       ids, [f["REF"] for _, f, _ in variants], [a for _, _, (_, a) in variants],
                       dosage, r2, typed)


def read_psam_sex(path: Path) -> np.ndarray:
    """int64 (n,) sex of each .psam sample: 1 male, 2 female, 0 unknown (no SEX column, NA,
    0 or anything else), in file order."""
    lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("##")]
    if lines and lines[0][0].startswith("#"):
        header = [c.lstrip("#") for c in lines[0]]
        if "SEX" not in header:
            return np.zeros(len(lines) - 1, dtype=np.int64)
        values = [fields[header.index("SEX")] for fields in lines[1:]]
    else:
        values = [fields[4] if len(fields) > 4 else "0" for fields in lines]
    return np.array([{"1": 1, "2": 2}.get(v, 0) for v in values], dtype=np.int64)


def read_pgen_rows(prefix: Path, rows: np.ndarray, n_samples: int) -> np.ndarray:
    """float32 (len(rows), n_samples) ALT dosages (NaN missing) of the 0-based variant
    ``rows`` of the bi-allelic fileset ``prefix`` (as :mod:`cohortgen.ingest.dosages`
    writes it)."""
    import pgenlib

    out = np.empty((len(rows), n_samples), dtype=np.float32)
    if len(rows) == 0:
        return out
    reader = pgenlib.PgenReader(bytes(Path(f"{prefix}.pgen")), raw_sample_ct=n_samples)
    try:
        if max(rows) >= reader.get_variant_ct():
            raise InputError(f"{prefix}.pgen: {reader.get_variant_ct()} variants, but variant "
                             f"{max(rows) + 1} is wanted; the .pgen and its table do not match "
                             "(rerun ingest-dosages)")
        reader.read_dosages_list(np.asarray(rows, dtype=np.uint32), out)
    finally:
        reader.close()
    out[out == PGEN_MISSING] = np.nan
    return out
