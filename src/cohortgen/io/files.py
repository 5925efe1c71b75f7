"""Small file helpers shared by every stage: atomic writes, owner-only files, checksums.
pandas is imported by the table helpers only (a VCF chunk's ingest does without it)."""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import glob
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cohortgen.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


def sha256sum(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


FAULT_ENV = "COHORTGEN_TEST_ENOSPC"
"""Test hook: an output whose file name matches this glob pattern fails as on a full disk
(``OSError`` ENOSPC) after its temporary file is written, before the rename."""


@contextlib.contextmanager
def atomic_output(path: Path, private: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for the caller (or a library) to write; on leaving
    the block it is flushed to disk (fsync), given mode 0600 when ``private`` (else 0644) and
    renamed onto ``path``. On any error, or a kill, nothing is left under ``path``: the
    previous file, if any, stays whole, and the temporary (``.<name>.*.tmp``) is removed
    unless the process was killed (the next writing of ``path`` removes it:
    :func:`temporary_name`).
    """
    path = Path(path)
    handle, name = tempfile.mkstemp(**temporary_name(path))
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        commit_output(temp, path, private)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def temporary_name(path: Path) -> dict:
    """``dir``, ``prefix`` and ``suffix`` of a temporary file or directory for writing
    ``path`` (``<dir>/.<name>.<8 random characters>.tmp``, for :func:`tempfile.mkstemp` or
    ``mkdtemp``), once the directory exists and any left by a killed writer of ``path`` are
    removed (only one job writes a given output at a time: Snakemake locks the working
    directory; the pattern matches no temporary of another output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}(\.plain)?\.tmp")
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        if not mine.fullmatch(leftover.name):
            continue
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return {"dir": path.parent, "prefix": f".{path.name}.", "suffix": ".tmp"}


def commit_output(temp: Path, path: Path, private: bool = False) -> None:
    """Give finished ``temp`` (in ``path``'s directory) mode 0600 when ``private`` (else 0644),
    flush it to disk and rename it onto ``path``: the last step of every output's writing."""
    os.chmod(temp, PRIVATE_MODE if private else PUBLIC_MODE)
    _fsync(temp)
    _injected_fault(path)
    os.replace(temp, path)


def _fsync(path: Path) -> None:
    """Flush ``path``'s bytes to the disk, so a rename never exposes unwritten data."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _injected_fault(path: Path) -> None:
    pattern = os.environ.get(FAULT_ENV)
    if pattern and fnmatch.fnmatch(path.name, pattern):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def write_bytes_atomic(path: Path, data: bytes, private: bool = False) -> None:
    """Write ``data`` to ``path`` through :func:`atomic_output`: 0600 when ``private``, else
    0644; nothing half-written is left."""
    with atomic_output(path, private) as temp:
        temp.write_bytes(data)


def write_text_atomic(path: Path, text: str, private: bool = False) -> None:
    """UTF-8 ``text`` with LF line ends, written as :func:`write_bytes_atomic` does."""
    write_bytes_atomic(path, text.encode("utf-8"), private=private)


def write_json(path: Path, data: dict, private: bool = False) -> None:
    """Pretty, key-sorted JSON (deterministic), written atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", private=private)


def write_npz(path: Path, arrays: dict, private: bool = False) -> None:
    """Named NumPy arrays as an uncompressed .npz, written as :func:`write_bytes_atomic`."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue(), private=private)


def read_json(path: Path) -> dict:
    """Parse a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_tsv(path: Path, table: pd.DataFrame, private: bool = False, float_format="%.10g") -> None:
    """Tab-separated table with header, no index, deterministic float format, atomically."""
    write_text_atomic(path, tsv_text(table, float_format), private=private)


def tsv_text(table: pd.DataFrame, float_format: str = "%.10g") -> str:
    """The text ``table.to_csv(sep="\\t", index=False, float_format=float_format, na_rep="NA",
    lineterminator="\\n")`` writes, formatted column by column when every column is plain (see
    :func:`_plain_strings`), by pandas otherwise."""
    import pandas as pd

    names = _plain_strings(pd.Series(table.columns, dtype=object), float_format)
    columns = [_plain_strings(table.iloc[:, k], float_format) for k in range(table.shape[1])]
    if len(columns) < 2 or len(table) == 0 or any(c is None for c in [names, *columns]):
        return table.to_csv(sep="\t", index=False, float_format=float_format,
                            lineterminator="\n", na_rep="NA")
    lines = ["\t".join(names), *map("\t".join, zip(*columns, strict=True))]
    return "\n".join(lines) + "\n"


_NEEDS_QUOTES = ("\t", '"', "\n", "\r")
"""Characters that make pandas quote a field (CSV quoting)."""


def _plain_strings(column: pd.Series, float_format: str) -> list[str] | None:
    """Field texts of one column as pandas writes them: ints and bools by ``str``, floats by
    ``float_format``, strings as they are (an empty one empty: :func:`tsv_text` takes this path
    for two columns or more only, where pandas does not quote it), missing as ``NA``. None for
    any other dtype or a string that pandas would quote."""
    kind = column.dtype.kind
    values = column.to_numpy()
    if kind in "iub" and isinstance(column.dtype, np.dtype):
        return list(map(str, values.tolist()))
    if column.dtype in (np.float64, np.float32):
        texts = np.array([float_format % v for v in values.tolist()], dtype=object)
        texts[np.isnan(values)] = "NA"
        return texts.tolist()
    if kind not in "OT":
        return None
    texts = np.where(column.isna().to_numpy(), "NA", values.astype(object)).tolist()
    if not all(isinstance(t, str) for t in texts):
        return None
    joined = "".join(texts)
    return None if any(char in joined for char in _NEEDS_QUOTES) else texts


_POW10 = 10.0 ** np.arange(23)
"""10**k, k = 0..22: exact in float64."""


def tsv_float_values(values: np.ndarray) -> np.ndarray:
    """float64 (m,): each of ``values`` (float64 (m,)) as :func:`read_tsv` reads it back from
    the ``%.10g`` text of :func:`write_tsv` (``float("%.10g" % value)``: pandas parses
    correctly rounded), without the text where it can: ten significant digits D (an integer)
    and an exponent k, then D / 10^k (or D · 10^-k) with 10^k exact, which rounds the same
    rational as the parser. Values in [1e-13, 1e22) take that path: one rounding in the
    scaling, so D is sure unless the scaled value is within 1e-4 of a half (a tie, or nearly);
    those and all other finite values go through the text one by one. NaN, ±inf and ±0 stay."""
    x = np.asarray(values, dtype=np.float64)
    out = x.copy()
    magnitude = np.abs(x)
    fast = np.flatnonzero((magnitude >= 1e-13) & (magnitude < 1e22))
    a = magnitude[fast]
    k = 9 - np.floor(np.log10(a)).astype(np.int64)  # a · 10^k has ten digits before the point
    power = _POW10[np.abs(k)]
    scaled = np.where(k >= 0, a * power, a / power)
    digits = np.rint(scaled)
    sure = (np.abs(scaled - np.floor(scaled) - 0.5) > 1e-4) & (scaled >= 1e9) & (scaled < 1e10)
    rounded = np.where(k >= 0, digits / power, digits * power)
    out[fast[sure]] = np.copysign(rounded[sure], x[fast[sure]])
    slow = np.flatnonzero(np.isfinite(x) & (x != 0))
    slow = np.setdiff1d(slow, fast[sure], assume_unique=True)
    out[slow] = [float(format(value, ".10g")) for value in x[slow].tolist()]
    return out


def write_tsv_bgzip(path: Path, table: pd.DataFrame, float_format="%.10g") -> None:
    """Like :func:`write_tsv` but bgzip-compressed (``path`` ends in .gz); deterministic bytes."""
    import pysam  # heavy: only the bgzip writer needs it

    with atomic_output(path) as compressed:
        plain = compressed.with_name(compressed.name.removesuffix(".tmp") + ".plain.tmp")
        try:
            plain.write_text(tsv_text(table, float_format), encoding="utf-8")
            pysam.tabix_compress(str(plain), str(compressed), force=True)
        finally:
            plain.unlink(missing_ok=True)


def read_tsv(path: Path, required: tuple[str, ...] = (), **kwargs) -> pd.DataFrame:
    """Read a TSV written by :func:`write_tsv` (or its .gz twin). InputError when a column of
    ``required`` is absent: the file comes from another version or step (:func:`stale_input`)."""
    import pandas as pd

    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        table = pd.read_csv(handle, sep="\t", na_values=["NA"], keep_default_na=False, **kwargs)
    missing = [name for name in required if name not in table.columns]
    if missing:
        raise stale_input(path, f"column(s) {', '.join(missing)}")
    return table


def stale_input(path: Path, what: str) -> InputError:
    """The error for a workflow file without ``what`` (e.g. "column(s) kind"): written by an
    older cohortgen or another step, so the step that writes it must run again."""
    return InputError(
        f"{path}: no {what}; it was written by another cohortgen version (or by hand): rerun "
        "the step that writes it, e.g. `snakemake --forcerun <rule>` or `--forceall`"
    )
