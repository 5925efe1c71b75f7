"""GWAS-SSF v1.0 summary statistics: bgzipped, tabix-indexed TSV with a YAML sidecar.

Files written for ``<name>.tsv.gz`` (GWAS Catalog convention, sidecar name = data file + suffix):

- ``<name>.tsv.gz``            data, bgzip (pysam), one header line, sorted
- ``<name>.tsv.gz.tbi``        tabix index (seq col 0, position col 1, header skipped)
- ``<name>.tsv.gz-meta.yaml``  metadata sidecar

What the official validator (``gwas-ssf validate``, PyPI ``gwas-sumstats-tools``) demands, and
:func:`write_gwas_ssf` checks (:func:`check_gwas_ssf_rows`): every row has a finite ``beta``,
``standard_error``, ``effect_allele_frequency`` and a ``p_value`` in (0, 1]; alleles are nucleotide
strings (A, C, G, T); ``variant_id`` matches ``^[A-Za-z0-9_]+$`` and ``rsid`` ``^rs[0-9]+$``. Rows
that fail (untested variants, non-nucleotide allele codes) go to a companion table instead
(:func:`split_gwas_ssf`, :func:`untested_path_for`):

- ``<name>.untested.tsv.gz``   bgzip TSV, columns :data:`UNTESTED_COLUMNS`, one row per variant
  and the ``reason`` (the association status such as ``LOW_MAC``, or
  :data:`NON_NUCLEOTIDE`); no counts or frequencies, so it is shareable

Value formats (fixed, so the same table always gives the same bytes):

- ``chromosome``: GWAS-SSF code 1-22, X=23, Y=24, MT=25 of the genotype files' contig names
  (:func:`cohortgen.genome.gwas_ssf_code`; PLINK's XY is on X: 23)
- ``variant_id``: ``<chromosome>_<base_pair_location>_<other_allele>_<effect_allele>`` with the
  chromosome code (``23_1533_C_T``), the GWAS-SSF form; ``rsid``: the input ID where it is an
  rsID (``rs123``), else missing
- integer columns (``base_pair_location``, ``n``, ``n_cases``, ``n_controls``, ``mac``: the
  minor allele count over the called samples, as the association counted it): plain integers
- ``p_value``: ``%.4e`` (5 significant digits; 1e-300 stays ``1.0000e-300``, never 0)
- other floats (``beta``, ``standard_error``, frequencies): ``%.6g``
- missing or non-finite values: ``#NA``
"""

from __future__ import annotations

import datetime
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import yaml
from pandas.api.types import union_categoricals

from cohortgen import __version__
from cohortgen.errors import InputError
from cohortgen.genome import gwas_ssf_code
from cohortgen.io.alleles import are_nucleotides
from cohortgen.io.files import commit_output, temporary_name

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
    "mac",
]
IMPUTED_COLUMNS = ["info", "typed"]
"""Extra columns of results on imputed dosages, after :data:`GWAS_SSF_COLUMNS` and only when the
table has them: ``info``, the imputation r² that gated the variant, at most 1 (GWAS-SSF's
``info`` field),
and ``typed``, 1 for a genotyped (array) variant, 0 for an imputed one."""

NA = "#NA"
_TEXT = np.dtypes.StringDType()
"""NumPy's variable-width string dtype (vectorised formatting of integers, checks of strings)."""
P_FORMAT = "{:.4e}"
FLOAT_FORMAT = "{:.6g}"
INT_COLUMNS = ("base_pair_location", "n", "n_cases", "n_controls", "typed")
COUNT_COLUMNS = ("mac",)
"""Counts written as integers, or as ``%.6g`` where not whole (a MAC of dosages)."""
FLOAT_COLUMNS = (
    "beta",
    "standard_error",
    "effect_allele_frequency",
    "effect_allele_frequency_cases",
    "effect_allele_frequency_controls",
    "info",
)
STRING_COLUMNS = ("effect_allele", "other_allele", "variant_id", "rsid", "status")

# Keys the writer computes; callers may not override them through ``meta``.
COMPUTED_META_KEYS = (
    "coordinate_system",
    "samples",
    "is_harmonised",
    "is_sorted",
    "data_file_name",
    "file_type",
    "data_file_md5sum",
)
SAMPLE_META_KEYS = ("sample_size", "case_count", "control_count")
"""``meta`` keys that the sidecar puts in its ``samples`` entry (GWAS-SSF metadata schema)."""

VALUE_COLUMNS = ("beta", "standard_error", "effect_allele_frequency", "p_value")
"""Mandatory numbers: GWAS-SSF allows no missing value in them."""
VARIANT_ID_PATTERN = r"^[A-Za-z0-9_]+$"
RSID_PATTERN = r"^rs[0-9]+$"
NON_NUCLEOTIDE = "NON_NUCLEOTIDE_ALLELE"
"""Companion-table reason of a variant whose allele codes are not nucleotides (1/2, A/B, D/I)."""
NO_ESTIMATE = "NO_ESTIMATE"
"""Companion-table reason of a row without an estimate and without a ``status``."""
UNTESTED_COLUMNS = ["chromosome", "base_pair_location", "effect_allele", "other_allele",
                    "variant_id", "input_variant_id", "reason"]


def meta_path_for(path: Path) -> Path:
    """Sidecar path of a GWAS-SSF data file: ``x.tsv.gz`` -> ``x.tsv.gz-meta.yaml``."""
    path = Path(path)
    return path.with_name(path.name + "-meta.yaml")


def read_gwas_ssf_meta(path: Path) -> dict:
    """The metadata sidecar (:func:`meta_path_for`) of the GWAS-SSF file ``path`` as a dict
    ({} for an empty one); InputError naming it when it is absent."""
    sidecar = meta_path_for(path)
    try:
        return yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError(f"{sidecar}: no such file: the metadata sidecar of {path} is "
                         "written with it by gather-gwas; rerun that step") from None


def untested_path_for(path: Path) -> Path:
    """Companion table of a GWAS-SSF data file: ``x.tsv.gz`` -> ``x.untested.tsv.gz``."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".tsv.gz") + ".untested.tsv.gz")


GWAS_SUFFIX, LOCI_SUFFIX = ".tsv.gz", ".loci.tsv"
"""File names of a trait's GWAS-SSF file (``gwas/<trait>.tsv.gz``) and loci table
(``gwas/<trait>.loci.tsv``)."""


def paths_for_traits(traits: list[str], paths: list[Path], suffix: str) -> list[Path]:
    """The file of each trait of ``traits``, in that order, matched by name (``<trait>`` +
    ``suffix``, e.g. :data:`GWAS_SUFFIX`), never by position. InputError unless every trait has
    exactly one file and every file is a trait's."""
    by_name: dict[str, Path] = {}
    for path in map(Path, paths):
        name = path.name.removesuffix(suffix)
        if name == path.name or name in by_name:
            raise InputError(f"{path}: not the only file named <trait>{suffix} among {paths}; "
                             f"give one <trait>{suffix} file per trait")
        by_name[name] = path
    missing = [t for t in traits if t not in by_name]
    extra = sorted(set(by_name) - set(traits))
    if missing or extra:
        raise InputError(f"traits without a <trait>{suffix} file: {missing or 'none'}; files of "
                         f"no listed trait: {[str(by_name[t]) for t in extra] or 'none'}; give "
                         "one file per trait, named for it")
    return [by_name[t] for t in traits]


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


def gwas_ssf_variant_ids(chrom: pd.Series, positions: pd.Series, effect: pd.Series,
                         other: pd.Series) -> np.ndarray:
    """GWAS-SSF ``variant_id`` (StringDType (m,)):
    ``<chromosome code>_<base_pair_location>_<other_allele>_<effect_allele>``."""
    parts = [chromosome_codes(chrom).astype(_TEXT),
             pd.to_numeric(positions).to_numpy(dtype=np.int64).astype(_TEXT),
             np.asarray(other.astype(str).to_numpy(), dtype=_TEXT),
             np.asarray(effect.astype(str).to_numpy(), dtype=_TEXT)]
    ids = parts[0]
    for part in parts[1:]:
        ids = ids + "_" + part
    return ids


def untested_reasons(table: pd.DataFrame) -> np.ndarray:
    """Why each row cannot be a GWAS-SSF row (object (m,); ``""`` where it can): its ``status``
    (or :data:`NO_ESTIMATE`) when a number of :data:`VALUE_COLUMNS` is missing or not finite,
    else :data:`NON_NUCLEOTIDE` when an allele is not a nucleotide string."""
    values = table[list(VALUE_COLUMNS)].apply(pd.to_numeric, errors="raise")
    no_estimate = ~np.isfinite(values.to_numpy(dtype=np.float64, na_value=np.nan)).all(axis=1)
    status = table["status"] if "status" in table.columns else pd.Series(pd.NA, table.index)
    status = status.astype(object).where(status.notna(), NO_ESTIMATE).to_numpy()
    nucleotide = are_nucleotides(table[["effect_allele", "other_allele"]]).all(axis=1)
    reasons = np.where(nucleotide, "", NON_NUCLEOTIDE).astype(object)
    reasons[no_estimate] = status[no_estimate]
    return reasons


def split_gwas_ssf(results: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(GWAS-SSF rows, companion rows) of association results whose ``variant_id`` is the input
    variant ID. GWAS-SSF rows get the standard ``variant_id`` (:func:`gwas_ssf_variant_ids`)
    and ``rsid`` (the input ID where it is an rsID); the other rows (:func:`untested_reasons`)
    become the companion table, columns :data:`UNTESTED_COLUMNS`, sorted as the data file."""
    input_ids = results["variant_id"].astype(object)
    table = results.assign(
        variant_id=gwas_ssf_variant_ids(results["chromosome"], results["base_pair_location"],
                                        results["effect_allele"], results["other_allele"]),
        rsid=input_ids.where(input_ids.astype(str).str.fullmatch(RSID_PATTERN)))
    reasons = untested_reasons(table)
    tested = reasons == ""
    untested = table.loc[~tested, UNTESTED_COLUMNS[:5]].assign(
        input_variant_id=input_ids[~tested], reason=reasons[~tested])
    untested["chromosome"] = chromosome_codes(untested["chromosome"])
    untested = untested.sort_values(["chromosome", "base_pair_location", "variant_id"],
                                    kind="stable", ignore_index=True)
    return table.loc[tested].reset_index(drop=True), untested


def check_gwas_ssf_rows(table: pd.DataFrame) -> None:
    """InputError naming the first row (table index) that GWAS-SSF does not allow: a missing
    number, a non-nucleotide allele (:func:`untested_reasons`), p = 0, or an identifier that
    breaks the ``variant_id`` / ``rsid`` pattern."""
    reasons = untested_reasons(table)
    p_zero = (pd.to_numeric(table["p_value"]) <= 0).to_numpy()
    if (reasons != "").any() or p_zero.any():
        row = int(np.flatnonzero((reasons != "") | p_zero)[0])
        where = (f"summary statistics: row at table index {table.index[row]} (chromosome "
                 f"{table['chromosome'].iloc[row]}, position "
                 f"{table['base_pair_location'].iloc[row]})")
        if reasons[row] == NON_NUCLEOTIDE:
            what = (f"has alleles {table['effect_allele'].iloc[row]!r} / "
                    f"{table['other_allele'].iloc[row]!r}; GWAS-SSF takes A, C, G, T only")
        elif reasons[row]:
            what = (f"has no beta, standard_error, effect_allele_frequency or p_value (status "
                    f"{reasons[row]}), which GWAS-SSF does not allow")
        else:
            what = "has p_value 0, which GWAS-SSF does not allow; floor it above 0"
        raise InputError(f"{where} {what}: put such rows in the companion table "
                         "(split_gwas_ssf)")
    for name, pattern in (("variant_id", VARIANT_ID_PATTERN), ("rsid", RSID_PATTERN)):
        if name not in table.columns:
            continue
        given = table[name].dropna().astype(str)
        bad = ~given.str.fullmatch(pattern)
        if bad.any():
            raise InputError(
                f"summary statistics: {name} {given[bad].iloc[0]!r} at table index "
                f"{given.index[bad][0]} does not match {pattern}")


def _check_columns(table: pd.DataFrame) -> None:
    missing = [c for c in GWAS_SSF_MANDATORY if c not in table.columns]
    unknown = [c for c in table.columns if c not in GWAS_SSF_COLUMNS + IMPUTED_COLUMNS]
    if missing or unknown:
        raise InputError(
            f"summary statistics table: missing columns {missing}, unknown columns {unknown}; "
            f"allowed columns are {GWAS_SSF_COLUMNS + IMPUTED_COLUMNS}"
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


def _format_counts(values: pd.Series, name: str) -> list[str]:
    """:func:`_format_ints` where every value is whole, else whole values as integers and the
    others as ``%.6g``."""
    array = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    whole = ~np.isfinite(array) | (array == np.round(array))
    if whole.all():
        return _format_ints(values, name)
    text = _format_floats(values, FLOAT_FORMAT)
    for row in np.flatnonzero(whole & np.isfinite(array)).tolist():
        text[row] = str(int(array[row]))
    return text


def file_columns(table: pd.DataFrame) -> list[str]:
    """Columns of the GWAS-SSF file of ``table``: :data:`GWAS_SSF_COLUMNS`, then those of
    :data:`IMPUTED_COLUMNS` it has."""
    return GWAS_SSF_COLUMNS + [c for c in IMPUTED_COLUMNS if c in table.columns]


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
    return sorted_gwas_ssf_rows(table)[0]


def sorted_gwas_ssf_rows(table: pd.DataFrame) -> tuple[list[str], tuple | None, tuple | None]:
    """(:func:`format_gwas_ssf_rows`, sort key of its first line, of its last line): the data
    file's order is by the key (chromosome code, base_pair_location, variant_id), ties kept in
    table order; None keys for a table without rows."""
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
    for name in file_columns(ordered):
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
        elif name in COUNT_COLUMNS:
            columns.append(_format_counts(ordered[name], name))
        elif name in FLOAT_COLUMNS:
            columns.append(_format_floats(ordered[name], FLOAT_FORMAT))
        else:
            columns.append(_format_strings(ordered[name], name))
    lines = ["\t".join(fields) for fields in zip(*columns, strict=True)]
    keys = [(int(codes[k]), int(positions.iloc[k]), str(tie_key[k])) for k in order[[0, -1]]
            ] if len(order) else [None, None]
    return lines, keys[0], keys[-1]


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


SAMPLE_COUNT_COLUMNS = ("n", "n_cases", "n_controls")
"""Columns whose largest value is the sidecar's default sample, case and control count."""


def _max_count(table: pd.DataFrame, column: str) -> int | None:
    if column not in table.columns:
        return None
    values = pd.to_numeric(table[column], errors="raise").dropna()
    return int(values.max()) if len(values) else None


def count_maxima(table: pd.DataFrame) -> pd.DataFrame:
    """One row: the largest value of each :data:`SAMPLE_COUNT_COLUMNS` column of ``table``
    (NaN when it has none), standing for ``table`` in :func:`sample_metadata`."""
    return pd.DataFrame({c: [_max_count(table, c)] for c in SAMPLE_COUNT_COLUMNS
                         if c in table.columns}, dtype=np.float64)


def metadata_date() -> datetime.date:
    """``date_metadata_last_modified``: today (UTC), or the day of ``SOURCE_DATE_EPOCH`` (seconds
    since 1970, UTC) when that is set, so that a rebuild can give the same bytes."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch
           else datetime.datetime.now(datetime.UTC))
    return now.date()


def sample_metadata(table: pd.DataFrame, meta: dict) -> dict:
    """The ``samples`` entry: ``sample_size``, ``case_count`` and ``control_count`` from ``meta``,
    by default the largest ``n``, ``n_cases`` and ``n_controls`` of the table (absent when
    unknown, or None in ``meta``: not shown), and ``case_control_study`` (whether there is a
    case count, shown or not)."""
    defaults = {"sample_size": "n", "case_count": "n_cases", "control_count": "n_controls"}
    entry = {key: _plain(meta[key]) if key in meta else _max_count(table, column)
             for key, column in defaults.items()}
    study = entry["case_count"] is not None or "case_count" in meta
    entry = {key: value for key, value in entry.items() if value is not None}
    return entry | {"case_control_study": study}


def gwas_ssf_metadata(table: pd.DataFrame, meta: dict, data_file_name: str, md5: str) -> dict:
    """Metadata sidecar contents, GWAS-SSF metadata schema (``gwas-sumstats-tools``
    ``SumStatsMetadata``) keys in its order, then the other ``meta`` keys sorted by name.

    ``samples`` holds one entry (:func:`sample_metadata`, from the ``meta`` keys of
    :data:`SAMPLE_META_KEYS`); ``date_metadata_last_modified`` defaults to
    :func:`metadata_date`, ``analysis_software`` to ``cohortgen <version>``. The keys in
    :data:`COMPUTED_META_KEYS` cannot be set through ``meta`` (ValueError).
    """
    clash = [k for k in COMPUTED_META_KEYS if k in meta]
    if clash:
        raise ValueError(f"meta may not set computed keys {clash}")
    if "genome_assembly" not in meta:
        raise InputError("summary statistics metadata: 'genome_assembly' is required (e.g. GRCh38)")
    standard = {
        "date_metadata_last_modified": meta.get("date_metadata_last_modified", metadata_date()),
        "trait_description": _as_list(meta.get("trait_description")),
        "genome_assembly": _plain(meta["genome_assembly"]),
        "coordinate_system": "1-based",
        "samples": [sample_metadata(table, meta)],
        "data_file_name": data_file_name,
        "file_type": "GWAS-SSF v1.0",
        "data_file_md5sum": md5,
        "analysis_software": _plain(meta.get("analysis_software", f"cohortgen {__version__}")),
        "adjusted_covariates": _as_list(meta.get("adjusted_covariates")),
        "is_harmonised": False,
        "is_sorted": True,
    }
    extras = {k: meta[k] for k in sorted(meta) if k not in standard and k not in SAMPLE_META_KEYS}
    return standard | extras


class PartsOutOfOrderError(Exception):
    """:func:`write_gwas_ssf_parts`: a part's rows do not all sort after the previous part's,
    or its columns differ; nothing was written, write the whole table instead."""


def write_gwas_ssf(path: Path, table: pd.DataFrame, meta: dict) -> None:
    """Write ``table`` as GWAS-SSF v1.0 to ``path`` (``*.tsv.gz``) with ``.tbi`` and sidecar.

    ``table`` holds the mandatory columns of :data:`GWAS_SSF_MANDATORY` and any of the others in
    :data:`GWAS_SSF_COLUMNS` (absent ones are written as ``#NA``), every row one that GWAS-SSF
    allows (:func:`check_gwas_ssf_rows`; :func:`split_gwas_ssf` sets the others apart).
    ``meta`` must hold ``genome_assembly``; see :func:`gwas_ssf_metadata` for the rest. Output
    is deterministic (for one ``date_metadata_last_modified``) and appears atomically (written
    under temporary names, renamed at the end).
    """
    write_gwas_ssf_parts(path, [table], meta)


def write_gwas_ssf_parts(path: Path, parts, meta: dict) -> None:
    """:func:`write_gwas_ssf` of the rows of the tables ``parts`` (an iterable of at least one
    table, all with the same columns) taken one at a time, so memory holds one part: each is
    sorted and appended to the data file. The bytes are those of the concatenated table when
    each part's rows sort after the previous part's (ties included); otherwise
    :class:`PartsOutOfOrderError`, and no file is written."""
    path = Path(path)
    if not path.name.endswith(".tsv.gz"):
        raise InputError(f"summary statistics path {path} must end in .tsv.gz")
    workdir = Path(tempfile.mkdtemp(**temporary_name(path)))
    try:
        plain = workdir / path.name.removesuffix(".gz")
        data = workdir / path.name
        columns, last, maxima = None, None, []
        with open(plain, "w", encoding="utf-8", newline="\n") as handle:
            for table in parts:
                lines, first, end = sorted_gwas_ssf_rows(table)
                check_gwas_ssf_rows(table)
                if columns is None:
                    columns = list(table.columns)
                    handle.write("\t".join(file_columns(table)) + "\n")
                elif list(table.columns) != columns or (first is not None and last is not None
                                                        and first < last):
                    raise PartsOutOfOrderError(
                        f"part {len(maxima) + 1} of {path.name} has other columns or rows that "
                        "sort before the part before it")
                last = end if end is not None else last
                maxima.append(count_maxima(table))
                handle.writelines(line + "\n" for line in lines)
        if columns is None:
            raise ValueError(f"{path}: no table to write")
        pysam.tabix_compress(str(plain), str(data), force=True)
        pysam.tabix_index(str(data), seq_col=0, start_col=1, end_col=1, line_skip=1, force=True)
        index = workdir / (path.name + ".tbi")
        metadata = gwas_ssf_metadata(pd.concat(maxima, ignore_index=True), meta, path.name,
                                     _file_md5(data))
        sidecar = workdir / meta_path_for(path).name
        sidecar.write_text(
            yaml.safe_dump(metadata, sort_keys=False, default_flow_style=False),
            encoding="utf-8",
        )
        commit_output(data, path)
        commit_output(index, path.with_name(index.name))
        commit_output(sidecar, meta_path_for(path))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


READ_CHUNK_ROWS = 100_000
"""Rows parsed at a time by :func:`read_gwas_ssf` with a row filter (bounds its memory)."""


def read_gwas_ssf(path: Path, columns=None, keep=None, categorical=()) -> pd.DataFrame:
    """Read a GWAS-SSF file written by :func:`write_gwas_ssf`; ``#NA`` becomes missing.

    ``chromosome`` is read as a string code (``"23"`` for X), integer columns as ``Int64``.
    ``columns``: read only these (in file order; one the file lacks is left out), else all.
    ``keep``: a row filter, called on each block of at most :data:`READ_CHUNK_ROWS` rows (a
    DataFrame of the read columns) and returning a bool mask of its rows to keep, so that
    memory is the kept rows' and one block's, not the file's; rows stay in file order.
    ``categorical``: string columns (e.g. ``chromosome``) read as pandas categoricals of their
    text: codes (a byte a row) into their distinct values, where a column of str holds a
    pointer (8 bytes) a row; no string is made a row.
    """
    dtypes = {name: "Int64" for name in INT_COLUMNS}
    dtypes |= {name: "float64" for name in (*FLOAT_COLUMNS, *COUNT_COLUMNS, "p_value")}
    dtypes |= {name: "str" for name in (*STRING_COLUMNS, "chromosome")}
    dtypes |= dict.fromkeys(categorical, "category")
    wanted = None if columns is None else set(columns)
    options = {"sep": "\t", "compression": "gzip", "na_values": [NA], "keep_default_na": False,
               "usecols": None if wanted is None else (lambda name: name in wanted)}
    if keep is None:
        return _text_categories(pd.read_csv(path, dtype=dtypes, **options), categorical)
    with pd.read_csv(path, dtype=dtypes, chunksize=READ_CHUNK_ROWS, **options) as blocks:
        kept = [_text_categories(block.loc[np.asarray(keep(block), dtype=bool)], categorical)
                for block in blocks]
    if not kept:
        return _text_categories(pd.read_csv(path, dtype=dtypes, nrows=0, **options),
                                categorical)
    table = pd.concat(kept, ignore_index=True)
    for name in set(categorical) & set(table.columns):  # each block has its own categories
        table[name] = union_categoricals([block[name] for block in kept])
    return table


def _text_categories(table: pd.DataFrame, names) -> pd.DataFrame:
    """``table`` whose categorical columns of ``names`` have str categories: pandas reads
    categories that are all numbers (the GWAS-SSF chromosome codes) as numbers."""
    for name in set(names) & set(table.columns):
        categories = table[name].cat.categories
        table[name] = table[name].cat.rename_categories(categories.astype(str))
    return table
