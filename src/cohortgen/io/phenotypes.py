"""Phenotype sheet reader: one row per sample, validated cell by cell with line numbers.

Contract: a header row, then one row per sample; tab- or comma-separated; UTF-8 (a byte-order
mark and CRLF line ends are accepted). Columns: ``sample_id`` (string, kept exactly as written:
"00123" stays "00123"), ``sex`` (1 male, 2 female, NA unknown), ``age`` (years), one column per
disease (0 control, 1 case, NA missing) and any other numeric covariates. Empty cells and
``NA``/``nan`` mean missing. Line numbers in messages are 1-based lines of the file.
"""

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError

MISSING_TOKENS = frozenset({"", "NA", "nan", "NaN", "."})
SEX_CODES = {"1": 1.0, "2": 2.0}
BINARY_CODES = {"0": 0.0, "1": 1.0}


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(
            f"{path}, line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
            "save the sheet as UTF-8 (e.g. 'Save as: CSV UTF-8') and rerun"
        ) from None


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    text = _decode(path)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise InputError(f"{path}, line 1: the sheet is empty or has no header row")
    delimiter = "\t" if "\t" in lines[0] else ","
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter))
    header = [name.strip() for name in rows[0]]
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header) and any(cell.strip() for cell in row):
            raise InputError(
                f"{path}, line {number}: {len(row)} fields but the header has {len(header)}; "
                f"check the separator ({'tab' if delimiter == chr(9) else 'comma'}) and quoting"
            )
    return header, [row for row in rows[1:] if any(cell.strip() for cell in row)]


def _line_numbers(path: Path, n_rows: int) -> list[int]:
    """1-based file line of each data row (blank lines skipped, as in :func:`_rows`)."""
    lines = _decode(path).splitlines()
    return [i for i, line in enumerate(lines[1:], start=2) if line.strip()][:n_rows]


def _check_columns(path: Path, header: list[str], required: list[str]) -> None:
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise InputError(f"{path}, line 1: column(s) {', '.join(duplicated)} appear more than once")
    missing = [name for name in required if name not in header]
    if missing:
        raise InputError(
            f"{path}, line 1: missing column(s) {', '.join(missing)}; the header has "
            f"{', '.join(header)}. Rename the columns or change 'diseases'/'covariates' in config"
        )


def _parse_coded(path, lines, column, values, codes) -> np.ndarray:
    out = np.full(len(values), np.nan)
    allowed = "/".join(codes) + "/NA"
    for k, value in enumerate(values):
        token = value.strip()
        if token in MISSING_TOKENS:
            continue
        if token not in codes:
            raise InputError(
                f"{path}, line {lines[k]}, column '{column}': value {value!r} is not one of "
                f"{allowed}; recode it (e.g. cases 1, controls 0) and rerun"
            )
        out[k] = codes[token]
    return out


def _parse_numeric(path, lines, column, values) -> np.ndarray:
    out = np.full(len(values), np.nan)
    for k, value in enumerate(values):
        token = value.strip()
        if token in MISSING_TOKENS:
            continue
        try:
            out[k] = float(token)
        except ValueError:
            raise InputError(
                f"{path}, line {lines[k]}, column '{column}': {value!r} is not a number"
            ) from None
        if not np.isfinite(out[k]):
            raise InputError(f"{path}, line {lines[k]}, column '{column}': {value!r} is not finite")
    return out


def _check_sample_ids(path: Path, lines: list[int], ids: list[str]) -> None:
    first_line: dict[str, int] = {}
    for line, sample in zip(lines, ids, strict=True):
        if not sample:
            raise InputError(f"{path}, line {line}: empty sample_id")
        if sample != sample.strip():
            raise InputError(
                f"{path}, line {line}: sample_id {sample!r} has leading or trailing spaces; "
                "IDs are matched exactly, so remove the spaces"
            )
        if sample in first_line:
            raise InputError(
                f"{path}, line {line}: sample {sample!r} already appears on line "
                f"{first_line[sample]}; keep one row per sample"
            )
        first_line[sample] = line


def read_phenotypes(path: Path, diseases: list[str], covariates: list[str]) -> pd.DataFrame:
    """The sheet as a float64 frame indexed by ``sample_id`` (str), columns: ``sex``, then
    ``covariates`` (other than sex), then ``diseases``; missing values are NaN.

    Raises InputError naming the file, line and column of the first problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: phenotype sheet not found; check 'phenotypes' in config")
    header, rows = _rows(path)
    columns = ["sample_id", "sex", *[c for c in covariates if c != "sex"], *diseases]
    _check_columns(path, header, columns)
    lines = _line_numbers(path, len(rows))
    cells = {name: [row[header.index(name)] for row in rows] for name in columns}
    _check_sample_ids(path, lines, cells["sample_id"])
    data = {"sex": _parse_coded(path, lines, "sex", cells["sex"], SEX_CODES)}
    for name in columns[2:]:
        if name in diseases:
            data[name] = _parse_coded(path, lines, name, cells[name], BINARY_CODES)
        else:
            data[name] = _parse_numeric(path, lines, name, cells[name])
    index = pd.Index(cells["sample_id"], dtype="string", name="sample_id")
    return pd.DataFrame(data, index=index)
