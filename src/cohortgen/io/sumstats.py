"""GWAS-SSF v1.0 summary statistics: bgzipped, tabix-indexed TSV with a YAML sidecar.

Files written for ``<name>.tsv.gz`` (GWAS Catalog convention, sidecar name = data file + suffix):

- ``<name>.tsv.gz``            data, bgzip (pysam), one header line, sorted
- ``<name>.tsv.gz.tbi``        tabix index (seq col 0, position col 1, header skipped)
- ``<name>.tsv.gz-meta.yaml``  metadata sidecar

Value formats (fixed, so the same table always gives the same bytes):

- ``chromosome``: GWAS-SSF code 1-22, X=23, Y=24, MT=25 of the genotype files' contig names
  (:func:`cohortgen.genome.gwas_ssf_code`; PLINK's XY is on X: 23)
- integer columns (``base_pair_location``, ``n``, ``n_cases``, ``n_controls``): plain integers
- ``p_value``: ``%.4e`` (5 significant digits; 1e-300 stays ``1.0000e-300``, never 0)
- other floats (``beta``, ``standard_error``, frequencies): ``%.6g``
- missing or non-finite values: ``#NA``
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import yaml

from cohortgen import __version__
from cohortgen.errors import InputError
from cohortgen.genome import gwas_ssf_code

GWAS_SSF_MANDATORY = [
    "chromosome",
    "base_pair_location",
    "effect_allele",
    "other_allele",
    "beta",
    "standard_error",
    "effect_allele_frequency",
    "p_value",
]
GWAS_SSF_COLUMNS = [
    *GWAS_SSF_MANDATORY,
    "variant_id",
    "rsid",
    "n",
    "n_cases",
    "n_controls",
    "effect_allele_frequency_cases",
    "effect_allele_frequency_controls",
    "status",
]

NA = "#NA"
_TEXT = np.dtypes.StringDType()
"""NumPy's variable-width string dtype (vectorised formatting of integers, checks of strings)."""
P_FORMAT = "{:.4e}"
FLOAT_FORMAT = "{:.6g}"
INT_COLUMNS = ("base_pair_location", "n", "n_cases", "n_controls")
FLOAT_COLUMNS = (
    "beta",
    "standard_error",
    "effect_allele_frequency",
    "effect_allele_frequency_cases",
    "effect_allele_frequency_controls",
)
STRING_COLUMNS = ("effect_allele", "other_allele", "variant_id", "rsid", "status")

# Keys the writer computes; callers may not override them through ``meta``.
COMPUTED_META_KEYS = (
    "coordinate_system",
    "is_sorted",
    "data_file_name",
    "file_type",
    "data_file_md5sum",
)


def meta_path_for(path: Path) -> Path:
    """Sidecar path of a GWAS-SSF data file: ``x.tsv.gz`` -> ``x.tsv.gz-meta.yaml``."""
    path = Path(path)
    return path.with_name(path.name + "-meta.yaml")


def chromosome_codes(chrom: pd.Series) -> np.ndarray:
    """GWAS-SSF codes (int64) of genotype-file contig names such as ``chr1``, ``X``, ``23``,
    ``XY``, ``MT`` (PLINK numbering: :func:`cohortgen.genome.gwas_ssf_code`)."""
    distinct, inverse = np.unique(chrom.astype(str).to_numpy(dtype=str), return_inverse=True)
    table = [gwas_ssf_code(name) for name in distinct.tolist()]
    codes = np.array([np.nan if c is None else c for c in table], dtype=np.float64)[inverse]
    bad = np.isnan(codes)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"summary statistics: unknown chromosome {chrom.iloc[first]!r} in row {first + 1}; "
            "use 1-22, X, Y, XY or MT (optionally with a 'chr' prefix)"
        )
    return codes.astype(np.int64)


def _check_columns(table: pd.DataFrame) -> None:
    missing = [c for c in GWAS_SSF_MANDATORY if c not in table.columns]
    unknown = [c for c in table.columns if c not in GWAS_SSF_COLUMNS]
    if missing or unknown:
        raise InputError(
            f"summary statistics table: missing columns {missing}, unknown columns {unknown}; "
            f"allowed columns are {GWAS_SSF_COLUMNS}"
        )


def _format_floats(values: pd.Series, template: str) -> list[str]:
    array = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    text = list(map(template.format, array.tolist()))
    for row in np.flatnonzero(~np.isfinite(array)).tolist():
        text[row] = NA
    return text


def _format_ints(values: pd.Series, name: str) -> list[str]:
    array = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(array)
    if np.any(array[finite] != np.round(array[finite])):
        raise InputError(f"summary statistics: column {name!r} holds non-integer values")
    text = np.full(array.shape, NA, dtype=_TEXT)
    text[finite] = array[finite].astype(np.int64).astype(_TEXT)
    return text.tolist()


def _format_strings(values: pd.Series, name: str) -> list[str]:
    missing = values.isna().to_numpy()
    text = np.asarray(values.astype(object).where(~missing, NA).to_numpy(), dtype=_TEXT)
    bad = np.strings.str_len(text) == 0
    for separator in "\t\n\r":
        bad |= np.strings.find(text, separator) >= 0
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"summary statistics: column {name!r} holds an empty value or a tab/newline at "
            f"table index {values.index[row]}: {text[row]!r}"
        )
    return text.tolist()


def format_gwas_ssf_rows(table: pd.DataFrame) -> list[str]:
    """Sorted GWAS-SSF data lines (no header, no newline) of a summary statistics table."""
    _check_columns(table)
    codes = chromosome_codes(table["chromosome"])
    positions = pd.to_numeric(table["base_pair_location"], errors="raise")
    if positions.isna().any() or (positions < 1).any():
        raise InputError("summary statistics: base_pair_location must be a 1-based position >= 1")
    variant_ids = table.get("variant_id", pd.Series([""] * len(table), index=table.index))
    tie_key = np.asarray(variant_ids.astype(object).where(variant_ids.notna(), "").to_numpy(),
                         dtype=_TEXT)
    order = np.lexsort((tie_key, positions.to_numpy(dtype=np.int64), codes))
    ordered = table.iloc[order]

    columns: list[list[str]] = []
    for name in GWAS_SSF_COLUMNS:
        if name == "chromosome":
            columns.append(codes[order].astype(_TEXT).tolist())
        elif name not in ordered.columns:
            columns.append([NA] * len(ordered))
        elif name == "p_value":
            p = pd.to_numeric(ordered[name], errors="raise")
            if ((p < 0) | (p > 1)).any():
                raise InputError("summary statistics: p_value outside [0, 1]")
            columns.append(_format_floats(p, P_FORMAT))
        elif name in INT_COLUMNS:
            columns.append(_format_ints(ordered[name], name))
        elif name in FLOAT_COLUMNS:
            columns.append(_format_floats(ordered[name], FLOAT_FORMAT))
        else:
            columns.append(_format_strings(ordered[name], name))
    return ["\t".join(fields) for fields in zip(*columns, strict=True)]


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [_plain(v) for v in value]


def _plain(value):
    """Python scalar for YAML (numpy scalars become int/float/str)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _max_count(table: pd.DataFrame, column: str) -> int | None:
    if column not in table.columns:
        return None
    values = pd.to_numeric(table[column], errors="raise").dropna()
    return int(values.max()) if len(values) else None


def gwas_ssf_metadata(table: pd.DataFrame, meta: dict, data_file_name: str, md5: str) -> dict:
    """Metadata sidecar contents with keys in a fixed order.

    Standard keys first; ``case_count``, ``control_count`` and ``sample_size`` default to the
    largest ``n_cases``, ``n_controls`` and ``n`` of the table, ``analysis_software`` to
    ``cohortgen <version>``; other ``meta`` keys follow, sorted by name. The keys in
    :data:`COMPUTED_META_KEYS` cannot be set through ``meta`` (ValueError).
    """
    clash = [k for k in COMPUTED_META_KEYS if k in meta]
    if clash:
        raise ValueError(f"meta may not set computed keys {clash}")
    if "genome_assembly" not in meta:
        raise InputError("summary statistics metadata: 'genome_assembly' is required (e.g. GRCh38)")
    standard = {
        "genome_assembly": _plain(meta["genome_assembly"]),
        "coordinate_system": "1-based",
        "is_sorted": True,
        "data_file_name": data_file_name,
        "file_type": "GWAS-SSF v1.0",
        "data_file_md5sum": md5,
        "case_count": _plain(meta.get("case_count", _max_count(table, "n_cases"))),
        "control_count": _plain(meta.get("control_count", _max_count(table, "n_controls"))),
        "sample_size": _plain(meta.get("sample_size", _max_count(table, "n"))),
        "trait_description": _as_list(meta.get("trait_description")),
        "adjusted_covariates": _as_list(meta.get("adjusted_covariates")),
        "analysis_software": _plain(meta.get("analysis_software", f"cohortgen {__version__}")),
    }
    extras = {k: meta[k] for k in sorted(meta) if k not in standard}
    return standard | extras


def write_gwas_ssf(path: Path, table: pd.DataFrame, meta: dict) -> None:
    """Write ``table`` as GWAS-SSF v1.0 to ``path`` (``*.tsv.gz``) with ``.tbi`` and sidecar.

    ``table`` holds the mandatory columns of :data:`GWAS_SSF_MANDATORY` and any of the others in
    :data:`GWAS_SSF_COLUMNS` (absent ones are written as ``#NA``). ``meta`` must hold
    ``genome_assembly``; see :func:`gwas_ssf_metadata` for the rest. Output is deterministic and
    appears atomically (written under temporary names, renamed at the end).
    """
    path = Path(path)
    if not path.name.endswith(".tsv.gz"):
        raise InputError(f"summary statistics path {path} must end in .tsv.gz")
    lines = format_gwas_ssf_rows(table)

    path.parent.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        plain = workdir / path.name.removesuffix(".gz")
        data = workdir / path.name
        with open(plain, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("\t".join(GWAS_SSF_COLUMNS) + "\n")
            handle.writelines(line + "\n" for line in lines)
        pysam.tabix_compress(str(plain), str(data), force=True)
        pysam.tabix_index(str(data), seq_col=0, start_col=1, end_col=1, line_skip=1, force=True)
        index = workdir / (path.name + ".tbi")
        metadata = gwas_ssf_metadata(table, meta, path.name, _file_md5(data))
        sidecar = workdir / meta_path_for(path).name
        sidecar.write_text(
            yaml.safe_dump(metadata, sort_keys=False, default_flow_style=False),
            encoding="utf-8",
        )
        os.replace(data, path)
        os.replace(index, path.with_name(index.name))
        os.replace(sidecar, meta_path_for(path))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def read_gwas_ssf(path: Path) -> pd.DataFrame:
    """Read a GWAS-SSF file written by :func:`write_gwas_ssf`; ``#NA`` becomes missing.

    ``chromosome`` is read as a string code (``"23"`` for X), integer columns as ``Int64``.
    """
    dtypes = {name: "Int64" for name in INT_COLUMNS}
    dtypes |= {name: "float64" for name in (*FLOAT_COLUMNS, "p_value")}
    dtypes |= {name: "str" for name in (*STRING_COLUMNS, "chromosome")}
    return pd.read_csv(
        path,
        sep="\t",
        compression="gzip",
        na_values=[NA],
        keep_default_na=False,
        dtype=dtypes,
    )
