"""Phenotype sheet reader: one row per sample, validated cell by cell with line numbers.

Contract: a header row, then one row per sample; tab- or comma-separated; UTF-8 (a byte-order
mark and CRLF line ends are accepted). Columns: ``sample_id`` (string, kept exactly as written:
"00123" stays "00123"), ``sex`` (1 male, 2 female, NA unknown), ``age`` (years), one column per
disease (0 control, 1 case, NA missing; "1.0" is read as 1), numeric covariates, and categorical
covariates (any text labels, e.g. a batch or site name).
Empty cells and ``NA``/``nan``/``.`` mean missing. Line numbers in messages are 1-based lines of
the file (CR, LF or CRLF ends a line; a row's number is the line where it starts).

The declared contract is ``workflow/schemas/phenotypes.schema.yaml``; this reader is its validator
of record, and tests/test_phenotype_schema.py checks that the two accept the same sheets.
"""

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError

MISSING_TOKENS = frozenset({"", "NA", "nan", "NaN", "."})
SEX_CODES = {"1": 1.0, "2": 2.0}
BINARY_CODES = {"0": 0.0, "1": 1.0}
NEWLINE = re.compile(rb"\r\n|\r|\n")


def _decode(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = len(NEWLINE.findall(raw[: exc.start])) + 1
        raise InputError(
            f"{path}, line {line}: not UTF-8 text (byte {raw[exc.start]:#04x}); "
            "save the sheet as UTF-8 (e.g. 'Save as: CSV UTF-8') and rerun"
        ) from None


def _rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, non-blank data rows and the 1-based file line where each row starts (a quoted
    cell may span lines; only CR, LF and CRLF end a line)."""
    text = _decode(path)
    first = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if not first.strip():
        raise InputError(f"{path}, line 1: the sheet is empty or has no header row")
    delimiter = "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    rows, lines, line = [], [], reader.line_num + 1
    for row in _checked(reader, path):
        if any(cell.strip() for cell in row):
            if len(row) != len(header):
                raise InputError(
                    f"{path}, line {line}: {len(row)} fields but the header has {len(header)}; "
                    f"check the separator ({'tab' if delimiter == chr(9) else 'comma'}) and quoting"
                )
            rows.append(row)
            lines.append(line)
        line = reader.line_num + 1
    return header, rows, lines


def _checked(reader, path: Path):
    """Rows of ``reader``; a csv parse error becomes an InputError naming the line."""
    try:
        yield from reader
    except csv.Error as exc:
        raise InputError(f"{path}, line {reader.line_num}: {exc}; check the quoting") from None


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


def _code_value(token: str, codes: dict[str, float]) -> float:
    """The coded value of ``token``, also when written as a number ("1.0" from pandas/Excel);
    NaN if it is not one of ``codes``."""
    if token in codes:
        return codes[token]
    try:
        value = float(token)
    except ValueError:
        return np.nan
    return value if value in codes.values() else np.nan


def _parse_coded(path, lines, column, values, codes, hint) -> np.ndarray:
    out = np.full(len(values), np.nan)
    allowed = "/".join(codes) + "/NA"
    for k, value in enumerate(values):
        token = value.strip()
        if token in MISSING_TOKENS:
            continue
        out[k] = _code_value(token, codes)
        if np.isnan(out[k]):
            raise InputError(
                f"{path}, line {lines[k]}, column '{column}': value {value!r} is not one of "
                f"{allowed}; recode it ({hint}) and rerun"
            )
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
                f"{path}, line {lines[k]}, column '{column}': {value!r} is not a number; "
                "write a number, or NA if unknown"
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


def _parse_labels(values: list[str]) -> pd.Series:
    """Level labels of a categorical column (string dtype, stripped; missing tokens → NA)."""
    tokens = [value.strip() for value in values]
    return pd.Series([None if t in MISSING_TOKENS else t for t in tokens], dtype="string")


def read_phenotypes(path: Path, diseases: list[str], covariates: list[str],
                    categorical: list[str] = ()) -> pd.DataFrame:
    """The sheet as a frame indexed by ``sample_id`` (str), columns: ``sex``, then
    ``covariates`` (other than sex), then ``diseases`` (float64, missing values NaN), then
    ``categorical`` columns (string labels such as "site_A" or "2", missing values NA).

    Raises InputError naming the file, line and column of the first problem.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: phenotype sheet not found; check 'phenotypes' in config")
    header, rows, lines = _rows(path)
    columns = ["sample_id", "sex", *[c for c in covariates if c != "sex"], *diseases]
    _check_columns(path, header, columns + [c for c in categorical if c not in columns])
    cells = {name: [row[header.index(name)] for row in rows] for name in columns}
    _check_sample_ids(path, lines, cells["sample_id"])
    data = {"sex": _parse_coded(path, lines, "sex", cells["sex"], SEX_CODES,
                                "1 male, 2 female, NA unknown")}
    for name in columns[2:]:
        if name in diseases:
            data[name] = _parse_coded(path, lines, name, cells[name], BINARY_CODES,
                                      "cases 1, controls 0, NA missing")
        else:
            data[name] = _parse_numeric(path, lines, name, cells[name])
    for name in categorical:
        data[name] = _parse_labels([row[header.index(name)] for row in rows]).to_numpy()
    index = pd.Index(cells["sample_id"], dtype="string", name="sample_id")
    return pd.DataFrame(data, index=index)


def check_covariates_known(sheet: pd.DataFrame, covariates: list[str], path: Path,
                           samples: str = "sample") -> None:
    """Raise InputError naming the sheet ``path`` and the column when a numeric ``covariates``
    column of ``sheet`` (as :func:`read_phenotypes` returns it) is NA on every row: no model
    could be fitted with it. ``samples`` names the rows in the message ("sample", "kept
    sample")."""
    for name in covariates:
        if name in sheet.columns and len(sheet) and sheet[name].isna().all():
            raise InputError(
                f"{path}: covariate {name!r} is NA for every {samples}, so no model can adjust "
                f"for it; remove {name!r} from 'covariates' in the config (or fill in the "
                "column) and rerun")
