"""Column tables: a typed table as one binary file of raw column arrays, for intermediates that
only cohortgen reads (the association chunk tables, ``chunks/<chunk>/assoc/<trait>.columns``).
Writing and reading cost no number formatting or parsing, and the bytes are deterministic.

Layout (all integers little-endian):

- the magic line ``cohortgen-columns 1\\n`` (:data:`MAGIC`);
- the header length L, uint64, then L bytes of UTF-8 JSON (keys sorted): ``rows`` (m),
  ``meta`` (the writer's dict) and ``columns``, a list of ``{"name", "type", "nbytes"}`` (plus
  ``categories`` for a categorical column), padded with spaces so that the data start at a
  multiple of 8 bytes;
- each column's data in header order, each padded with zero bytes to a multiple of 8:
  ``<f8`` (float64), ``<i8`` (int64), ``|b1`` (bool) raw arrays of m values; ``str``: int64
  offsets (m + 1, from 0) into the UTF-8 bytes of the m strings that follow them (any text,
  tabs and newlines included); ``category``: uint8 codes (m) into the header's ``categories``.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.io.files import stale_input, write_bytes_atomic

MAGIC = b"cohortgen-columns 1\n"
NUMERIC_TYPES = {"f": "<f8", "i": "<i8", "u": "<i8", "b": "|b1"}
"""Stored type of a NumPy array by dtype kind (unsigned integers as int64)."""


@dataclass(frozen=True)
class Categories:
    """A categorical column: codes uint8 (m,) into names (tuple of str, at most 256)."""

    codes: np.ndarray
    names: tuple[str, ...]


@dataclass(frozen=True)
class EncodedStrings:
    """A string column encoded once (:func:`encode_strings`) to be written to several tables:
    offsets int64 (m + 1,) into data, the UTF-8 bytes of the m strings one after the other."""

    offsets: np.ndarray
    data: bytes


def encode_strings(values) -> EncodedStrings:
    """:class:`EncodedStrings` of a list of str (TypeError naming the first other value). ASCII
    text (the usual case) is encoded in one piece: its character counts are its byte counts."""
    try:
        data = "".join(values).encode("utf-8")
    except TypeError:
        bad = next(value for value in values if not isinstance(value, str))
        raise TypeError(f"a str column holds {bad!r} ({type(bad).__name__})") from None
    pieces = values if data.isascii() else [value.encode("utf-8") for value in values]
    offsets = np.zeros(len(values) + 1, dtype="<i8")
    np.cumsum(np.fromiter(map(len, pieces), np.int64, len(values)), out=offsets[1:])
    return EncodedStrings(offsets, data)


def _column_parts(name: str, column, m: int) -> tuple[dict, list[bytes]]:
    """(header entry, data pieces) of one column of m rows."""
    if isinstance(column, Categories):
        entry = {"type": "category", "categories": list(column.names)}
        pieces = [np.asarray(column.codes, np.uint8).tobytes()]
    elif isinstance(column, EncodedStrings):
        entry, pieces = {"type": "str"}, [column.offsets.astype("<i8").tobytes(), column.data]
    else:
        array = np.asarray(column)
        if array.dtype.kind in "OUT":
            return _column_parts(name, encode_strings(array.tolist()), m)
        if array.dtype.kind not in NUMERIC_TYPES:
            raise TypeError(f"column {name!r}: dtype {array.dtype} cannot be stored")
        kind = NUMERIC_TYPES[array.dtype.kind]
        entry, pieces = {"type": kind}, [np.ascontiguousarray(array, kind).tobytes()]
    rows = (len(column.offsets) - 1 if isinstance(column, EncodedStrings)
            else len(column.codes) if isinstance(column, Categories) else len(column))
    if rows != m:
        raise ValueError(f"column {name!r} has {rows} rows, the table {m}")
    nbytes = sum(map(len, pieces))
    return {"name": name, **entry, "nbytes": nbytes}, [*pieces, bytes(-nbytes % 8)]


def column_table_bytes(columns: dict, meta: dict, m: int) -> bytes:
    """The file bytes of a table of m rows: ``columns`` maps each name, in order, to a NumPy
    array (float, int or bool, or str objects), :class:`EncodedStrings` or
    :class:`Categories`; ``meta`` a JSON-serialisable dict stored in the header."""
    entries, data = [], []
    for name, column in columns.items():
        entry, pieces = _column_parts(name, column, m)
        entries.append(entry)
        data.extend(pieces)
    header = json.dumps({"columns": entries, "meta": meta, "rows": m}, sort_keys=True,
                        ensure_ascii=False).encode("utf-8")
    header += b" " * (-(len(MAGIC) + 8 + len(header)) % 8)
    return b"".join([MAGIC, np.uint64(len(header)).astype("<u8").tobytes(), header, *data])


def write_column_table(path: Path, columns: dict, meta: dict, m: int,
                       private: bool = False) -> None:
    """Write :func:`column_table_bytes` to ``path`` atomically (0600 when ``private``)."""
    write_bytes_atomic(path, column_table_bytes(columns, meta, m), private=private)


def read_column_table(path: Path, names=None) -> tuple[pd.DataFrame, dict]:
    """(table, meta) of a column table written by :func:`write_column_table`: float64, int64
    and bool columns as such, str and categorical columns as object arrays of str; only the
    columns ``names`` (in file order; all when None) are decoded. InputError naming ``path``
    for a file of another format or version, or one cut short."""
    raw = Path(path).read_bytes()
    if not raw.startswith(MAGIC) or len(raw) < len(MAGIC) + 8:
        raise stale_input(path, f"column-table header ({MAGIC.decode().strip()!r})")
    start = len(MAGIC) + 8
    size = int(np.frombuffer(raw, "<u8", 1, len(MAGIC))[0])
    try:
        header = json.loads(raw[start:start + size].decode("utf-8"))
        entries, m = header["columns"], int(header["rows"])
        expected = start + size + sum(e["nbytes"] + (-e["nbytes"] % 8) for e in entries)
    except (ValueError, KeyError, TypeError):
        raise _cut_short(path, len(raw), "its header is incomplete") from None
    if len(raw) != expected:
        raise _cut_short(path, len(raw), f"its header says {expected}")
    columns, offset = {}, start + size
    for entry in entries:
        if names is None or entry["name"] in names:
            columns[entry["name"]] = _column_values(path, raw, offset, entry, m)
        offset += entry["nbytes"] + (-entry["nbytes"] % 8)
    return pd.DataFrame(columns, index=pd.RangeIndex(m)), header["meta"]


def _cut_short(path: Path, size: int, why: str) -> InputError:
    return InputError(f"{path}: column table cut short or changed ({size} bytes; {why}): the "
                      "step that wrote it was interrupted or the file was edited; rerun that "
                      "step, e.g. `snakemake --forcerun <rule>`")


def _column_values(path: Path, raw: bytes, offset: int, entry: dict, m: int) -> np.ndarray:
    """One column's values (a writable array) from its ``nbytes`` bytes at ``offset``."""
    kind, nbytes = entry["type"], entry["nbytes"]
    if kind == "category":
        names = np.array(entry["categories"], dtype=object)
        return names[np.frombuffer(raw, np.uint8, m, offset)]
    if kind != "str":
        return np.frombuffer(raw, kind, m, offset).astype(kind[1:])
    offsets = np.frombuffer(raw, "<i8", m + 1, offset).tolist()
    data = raw[offset + 8 * (m + 1):offset + nbytes]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: column {entry['name']!r} is not UTF-8 ({exc}); rerun the "
                         "step that wrote it") from None
    if len(text) == len(data):  # ASCII: byte offsets are character offsets
        values = [text[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    else:
        values = [data[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:],
                                                            strict=True)]
    out = np.empty(m, dtype=object)
    out[:] = values
    return out
