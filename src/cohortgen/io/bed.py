"""PLINK 1 binary filesets (.bed/.bim/.fam): read and write.

The .bed holds the magic bytes ``6c 1b 01`` then one row of ``ceil(n_samples / 4)`` bytes per
variant (variant-major 2-bit codes, see :mod:`cohortgen.kernels.bed`). The .bim's 5th column
(``a1``) is the ALT allele and the 6th (``a2``) the REF allele, as PLINK 2 reads them. IDs are
always strings (``"00123"`` stays ``"00123"``). pandas is imported when a table is read (an
ingest writing a fileset from a VCF does without it).
"""

from __future__ import annotations

import mmap
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.files import write_bytes_atomic
from cohortgen.kernels.bed import n_bytes

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    Table = pd.DataFrame | dict[str, Sequence]  # a dict: column name -> values of equal length

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


def write_bed(prefix: Path, packed: np.ndarray, bim: Table, fam: Table) -> None:
    """Write ``prefix``.bed/.bim/.fam; each goes to a temporary name first, then is renamed.

    packed: uint8, shape (n_variants, ceil(n_samples / 4)), PLINK .bed 2-bit codes, pad bits 0.
    bim: one row per variant with :data:`BIM_COLUMNS`; fam: one row per sample with
    :data:`FAM_COLUMNS` (each a frame or a dict of columns, see :func:`table_text`).
    """
    paths = fileset_paths(prefix)
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    n_variants, n_samples = _n_rows(bim), _n_rows(fam)
    expected = (n_variants, n_bytes(n_samples))
    if packed.shape != expected:
        raise ValueError(
            f"packed has shape {packed.shape}, expected {expected} for {n_variants} variants and "
            f"{n_samples} samples"
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
    2-bit codes, a view of a copy-on-write memory map of the .bed (pages are read on first touch;
    writes stay in this process and never reach the file); bim rows of the selected variants
    (index reset); fam of all samples. Raises InputError when the magic bytes or the file size do
    not match the .bim and .fam.
    """
    paths = fileset_paths(prefix)
    bim = read_bim(paths["bim"])
    fam = read_fam(paths["fam"])
    shape = (len(bim), n_bytes(len(fam)))
    _check_bed_file(paths["bed"], shape, len(fam))
    rows = variant_slice if variant_slice is not None else slice(None)
    packed = _mapped_body(paths["bed"], shape)[rows]
    return packed, bim.iloc[rows].reset_index(drop=True), fam


def fileset_shape(prefix: Path) -> tuple[int, int]:
    """(variants, samples) of a PLINK 1 fileset: the rows of its .bim and .fam as
    :func:`read_bim` and :func:`read_fam` count them, got by counting lines (a 1 M-variant
    .bim in about 0.15 CPU s, where parsing it takes 1.4) unless a file has a blank line, a line
    starting with a blank or a CR (then parsed). The .bed is checked as :func:`read_bed` checks
    it: InputError naming it when its magic bytes or size do not match."""
    paths = fileset_paths(prefix)
    n_variants = _table_rows(paths["bim"], read_bim)
    n_samples = _table_rows(paths["fam"], read_fam)
    _check_bed_file(paths["bed"], (n_variants, n_bytes(n_samples)), n_samples)
    return n_variants, n_samples


def _table_rows(path: Path, read) -> int:
    """Rows of the table ``path`` (non-blank lines): its line count when every line starts with
    a field and none holds a CR, else ``len(read(path))``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: file not found; check the fileset prefix") from None
    body = data.removesuffix(b"\n")
    if not body:
        return 0 if not data else len(read(path))
    blank_edge = body[:1] in b" \t\n" or body.endswith(b"\n")
    if blank_edge or any(mark in body for mark in (b"\r", b"\n\n", b"\n ", b"\n\t")):
        return len(read(path))
    return body.count(b"\n") + 1


def _mapped_body(path: Path, shape: tuple[int, int]) -> np.ndarray:
    """uint8 array of ``shape`` over the bytes after the magic of ``path``: a copy-on-write memory
    map (writable, so Numba kernels see the same array type as for any other array; the map stays
    open while the array or a view of it lives)."""
    if shape[0] == 0 or shape[1] == 0:
        return np.zeros(shape, dtype=np.uint8)
    with path.open("rb") as handle:
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_COPY)
    return np.frombuffer(mapped, dtype=np.uint8, count=shape[0] * shape[1], offset=3).reshape(shape)


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
    import pandas as pd

    if not path.is_file():
        raise InputError(f"{path}: file not found; check the fileset prefix")
    text = _utf8_text(path).replace("\r\n", "\n")
    if _splits_plainly(text):
        table = _split_table(text, path, columns)
    else:
        table = _csv_table(path, columns)
    for name, dtype in dtypes.items():
        column = pd.Series(table[name], dtype=str if dtype is str else object)
        table[name] = column if dtype is str else _converted_column(column, dtype, path, name)
    return pd.DataFrame(table)


def _utf8_text(path: Path) -> str:
    """The text of ``path``; InputError naming the line and byte that are not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(
            f"{path}, line {line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8 "
            "text; re-save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
        ) from None


def _splits_plainly(text: str) -> bool:
    """Whether :func:`_split_table` splits ``text`` as pandas' parser does: ASCII (no byte-order
    mark or Unicode spaces), no quotes, no whitespace but space, tab and LF."""
    return text.isascii() and not any(char in text for char in '"\r\x0b\x0c\x1c\x1d\x1e\x1f')


def _split_table(text: str, path: Path, columns: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Columns (object arrays of str) of ``text``: fields split on runs of spaces and tabs, one row
    per non-blank line; InputError naming the first line without ``len(columns)`` fields. Line
    ends become ``"`` tokens (``text`` holds no quote, see :func:`_splits_plainly`)."""
    tokens = np.array((text + "\n").replace("\n", ' " ').split(), dtype=object)
    is_end = tokens == '"'
    lengths = np.diff(np.flatnonzero(is_end), prepend=-1) - 1
    if (lengths[lengths > 0] != len(columns)).any():
        _raise_field_count_error(path, columns)
    fields = tokens[~is_end].reshape(-1, len(columns))
    return {name: fields[:, k] for k, name in enumerate(columns)}


def _csv_table(path: Path, columns: tuple[str, ...]) -> dict[str, pd.Series]:
    """Columns of ``path`` read by pandas' whitespace-separated parser (quotes, CR line ends)."""
    import pandas as pd

    try:
        table = pd.read_csv(path, sep=r"\s+", header=None, dtype=str, na_filter=False, engine="c")
    except pd.errors.EmptyDataError:
        table = pd.DataFrame(columns=range(len(columns)), dtype=str)
    except pd.errors.ParserError:
        _raise_field_count_error(path, columns)
        raise
    if table.shape[1] != len(columns) or (table == "").any(axis=None):
        _raise_field_count_error(path, columns)
    return {name: table[k] for k, name in enumerate(columns)}


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
    import pandas as pd

    plain = _plain_numbers(values, dtype)
    if plain is not None:
        return pd.Series(plain, index=values.index)
    numeric = pd.to_numeric(values, errors="coerce")
    whole = np.issubdtype(dtype, np.integer)
    bad = numeric.isna() | (((numeric % 1 != 0) | (numeric.abs() >= 2.0**63)) if whole else False)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number below 2^63" if whole else "a number"
        raise InputError(
            f"{path}, line {line + 1}: column {name} is {values.iloc[line]!r}, expected {kind}; "
            "fix the file"
        )
    return numeric.astype(dtype)


def _plain_numbers(values: pd.Series, dtype) -> np.ndarray | None:
    """``values`` parsed by NumPy (an array of ``dtype``) when that agrees with ``pd.to_numeric``
    (ASCII decimal numbers without ``_`` separators, finite); None when the text needs pandas'
    parsing or is bad."""
    strings = values.to_numpy(dtype=object)
    text = "".join(strings)
    if not text.isascii() or "_" in text:
        return None
    try:
        numbers = strings.astype(dtype)
    except (ValueError, OverflowError):
        return None
    if dtype is np.float64 and not np.isfinite(numbers).all():
        return None
    return numbers


def _as_list(values: Sequence) -> list:
    """``values`` as a list of Python values (``tolist()`` of an array)."""
    return values.tolist() if isinstance(values, np.ndarray) else list(values)


def _n_rows(table: Table) -> int:
    """Rows of a frame or of a dict of columns (0 for a dict without columns)."""
    return len(next(iter(table.values()), ())) if isinstance(table, dict) else len(table)


WHITESPACE = re.compile(r"\s")
"""Characters a PLINK .bim/.fam field cannot hold."""


def table_text(table: Table, columns: tuple[str, ...], path: Path) -> str:
    """Tab-separated text of ``table[columns]``, one line per row, no header. A frame's fields
    are its columns' ``astype(str)``; a dict's are ``str`` of each value (an array's as Python
    values)."""
    missing = [name for name in columns if name not in table]
    if missing:
        raise ValueError(f"table for {path} lacks columns {missing}")
    if isinstance(table, dict):
        fields = [list(map(str, _as_list(table[name]))) for name in columns]
    else:
        fields = [table[name].astype(str).tolist() for name in columns]
    for name, values in zip(columns, fields, strict=True):
        if WHITESPACE.search("".join(values)):  # rare: then find the first offending row
            row = next(r for r, value in enumerate(values) if WHITESPACE.search(value))
            raise InputError(
                f"{path}: row {row + 1}, column {name} value {values[row]!r} contains "
                "whitespace, which PLINK filesets cannot hold; rename it"
            )
    return "".join(line + "\n" for line in map("\t".join, zip(*fields, strict=True)))

