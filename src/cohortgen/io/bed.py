"""PLINK 1 binary filesets (.bed/.bim/.fam): read and write.

The .bed holds the magic bytes ``6c 1b 01`` then one row of ``ceil(n_samples / 4)`` bytes per
variant (variant-major 2-bit codes, see :mod:`cohortgen.kernels.bed`). The .bim's 5th column
(``a1``) is the ALT allele and the 6th (``a2``) the REF allele, as PLINK 2 reads them. IDs are
always strings (``"00123"`` stays ``"00123"``).
"""

from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.files import write_bytes_atomic
from cohortgen.kernels.bed import n_bytes

BED_MAGIC = bytes([0x6C, 0x1B, 0x01])
"""First 3 bytes of a variant-major PLINK 1 .bed file."""

BIM_COLUMNS = ("chrom", "id", "cm", "pos", "a1", "a2")
"""Columns of a .bim file, in file order (a1 = ALT, a2 = REF)."""

FAM_COLUMNS = ("fid", "iid", "father", "mother", "sex", "pheno")
"""Columns of a .fam file, in file order."""

_BIM_DTYPES = {"chrom": str, "id": str, "cm": np.float64, "pos": np.int64, "a1": str, "a2": str}
_FAM_DTYPES = {"fid": str, "iid": str, "father": str, "mother": str, "sex": np.int64, "pheno": str}


def fileset_paths(prefix: Path) -> dict[str, Path]:
    """Paths of the .bed, .bim and .fam files of ``prefix`` (the prefix may contain dots)."""
    return {ext: Path(f"{prefix}.{ext}") for ext in ("bed", "bim", "fam")}


def write_bed(prefix: Path, packed: np.ndarray, bim: pd.DataFrame, fam: pd.DataFrame) -> None:
    """Write ``prefix``.bed/.bim/.fam; each goes to a temporary name first, then is renamed.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes, pad bits 0.
    bim: one row per variant with :data:`BIM_COLUMNS`; fam: one row per sample with
    :data:`FAM_COLUMNS`.
    """
    paths = fileset_paths(prefix)
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    expected = (len(bim), n_bytes(len(fam)))
    if packed.shape != expected:
        raise ValueError(
            f"packed has shape {packed.shape}, expected {expected} for {len(bim)} variants and "
            f"{len(fam)} samples"
        )
    bim_text = table_text(bim, BIM_COLUMNS, paths["bim"])
    fam_text = table_text(fam, FAM_COLUMNS, paths["fam"])
    write_bytes_atomic(paths["bim"], bim_text.encode(), private=True)
    write_bytes_atomic(paths["fam"], fam_text.encode(), private=True)
    write_bytes_atomic(paths["bed"], BED_MAGIC + packed.tobytes(), private=True)


def read_bim(path: Path) -> pd.DataFrame:
    """Read a .bim file: :data:`BIM_COLUMNS`, strings for chrom/id/alleles, int64 pos."""
    return _read_table(Path(path), BIM_COLUMNS, _BIM_DTYPES)


def read_fam(path: Path) -> pd.DataFrame:
    """Read a .fam file: :data:`FAM_COLUMNS`, IDs and pheno as strings, int64 sex."""
    return _read_table(Path(path), FAM_COLUMNS, _FAM_DTYPES)


def read_bed(
    prefix: Path, variant_slice: slice | None = None
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Read a PLINK 1 fileset, or only the variant rows in ``variant_slice``.

    Returns (packed, bim, fam): packed uint8, shape (n_selected, ceil(n_samples / 4)), PLINK .bed
    2-bit codes; bim rows of the selected variants (index reset); fam of all samples. Only the
    selected rows are read from disk (memory map). Raises InputError when the magic bytes or the
    file size do not match the .bim and .fam.
    """
    paths = fileset_paths(prefix)
    bim = read_bim(paths["bim"])
    fam = read_fam(paths["fam"])
    shape = (len(bim), n_bytes(len(fam)))
    _check_bed_file(paths["bed"], shape, len(fam))
    rows = variant_slice if variant_slice is not None else slice(None)
    if shape[0] == 0 or shape[1] == 0:
        packed = np.zeros(shape, dtype=np.uint8)[rows]
    else:
        mapped = np.memmap(paths["bed"], dtype=np.uint8, mode="r", offset=3, shape=shape)
        packed = np.array(mapped[rows])
        del mapped
    return packed, bim.iloc[rows].reset_index(drop=True), fam


def _check_bed_file(path: Path, shape: tuple[int, int], n_samples: int) -> None:
    """Raise InputError unless ``path`` starts with :data:`BED_MAGIC` and has the right size."""
    if not path.is_file():
        raise InputError(f"{path}: .bed file not found; check the fileset prefix")
    with path.open("rb") as handle:
        magic = handle.read(3)
    if magic != BED_MAGIC:
        hint = (
            "it is a sample-major .bed; rewrite it with `plink --make-bed`"
            if magic[:2] == BED_MAGIC[:2]
            else "it is not a PLINK 1 .bed file"
        )
        raise InputError(
            f"{path}: first bytes are {magic.hex(' ') or 'missing'}, expected 6c 1b 01 "
            f"(variant-major PLINK 1 .bed): {hint}"
        )
    size = path.stat().st_size
    expected = 3 + shape[0] * shape[1]
    if size != expected:
        raise InputError(
            f"{path}: file size is {size} bytes, expected {expected} (3 + {shape[0]} variants in "
            f"the .bim x {shape[1]} bytes for {n_samples} samples in the .fam); the file is "
            "truncated or does not belong to this .bim/.fam: re-create the fileset"
        )


def _read_table(path: Path, columns: tuple[str, ...], dtypes: dict) -> pd.DataFrame:
    """Read a headerless whitespace-separated table, checking fields per line and dtypes."""
    if not path.is_file():
        raise InputError(f"{path}: file not found; check the fileset prefix")
    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, na_filter=False, engine="c")
    except pd.errors.EmptyDataError:
        table = pd.DataFrame(columns=range(len(columns)), dtype=str)
    except pd.errors.ParserError:
        _raise_field_count_error(path, columns)
        raise
    if table.shape[1] != len(columns) or (table == "").any(axis=None):
        _raise_field_count_error(path, columns)
    table.columns = list(columns)
    for name, dtype in dtypes.items():
        if dtype is not str:
            table[name] = _converted_column(table[name], dtype, path, name)
    return table


def _raise_field_count_error(path: Path, columns: tuple[str, ...]) -> None:
    """Raise InputError naming the first line of ``path`` without ``len(columns)`` fields."""
    with path.open() as handle:
        for number, line in enumerate(handle, start=1):
            n_fields = len(line.split())
            if n_fields != len(columns):
                raise InputError(
                    f"{path}, line {number}: {n_fields} fields, expected {len(columns)} "
                    f"({' '.join(columns)}); fix or re-create the file"
                )


def _converted_column(values: pd.Series, dtype, path: Path, name: str) -> pd.Series:
    """``values`` converted to ``dtype``; InputError naming the first bad line otherwise."""
    numeric = pd.to_numeric(values, errors="coerce")
    whole = np.issubdtype(dtype, np.integer)
    bad = numeric.isna() | ((numeric % 1 != 0) if whole else False)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number" if whole else "a number"
        raise InputError(
            f"{path}, line {line + 1}: column {name} is {values.iloc[line]!r}, expected {kind}; "
            "fix the file"
        )
    return numeric.astype(dtype)


def table_text(table: pd.DataFrame, columns: tuple[str, ...], path: Path) -> str:
    """Tab-separated text of ``table[columns]``, one line per row, no header."""
    missing = [name for name in columns if name not in table.columns]
    if missing:
        raise ValueError(f"table for {path} lacks columns {missing}")
    text = table.loc[:, list(columns)].astype(str)
    has_space = text.apply(lambda column: column.str.contains(r"\s", regex=True)).to_numpy()
    if has_space.any():
        row, col = np.argwhere(has_space)[0]
        raise InputError(
            f"{path}: row {row + 1}, column {columns[col]} value {text.iat[row, col]!r} contains "
            "whitespace, which PLINK filesets cannot hold; rename it"
        )
    return "".join("\t".join(row) + "\n" for row in text.itertuples(index=False, name=None))

