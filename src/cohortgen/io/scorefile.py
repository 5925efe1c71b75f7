"""Polygenic score weight files: PGS Catalog scoring files (format 2.0) and plain weight tables.

PGS Catalog v2.0 layout: a ``###PGS CATALOG SCORING FILE`` line, ``#key=value`` header lines
(``##`` lines are section titles), then a tab-separated table with columns ``rsID chr_name
chr_position effect_allele other_allele effect_weight`` (+ ``hm_chr hm_pos hm_inferOtherAllele``
when harmonised, ``allelefrequency_effect``, ``is_dominant``/``is_recessive`` ...). Plain weight
files are tab-separated with columns ``chr pos effect_allele other_allele weight`` (aliases below)
and optional ``#genome_build=`` lines. Either may be gzip-compressed.

:func:`read_scoring_file` returns one row per weight line with columns :data:`TABLE_COLUMNS`:
``chrom`` (str, no ``chr`` prefix, 23/24/25 as X/Y/MT), ``pos`` (int64, 1-based, -1 when the
line has no usable position), ``effect_allele``/``other_allele`` (upper-case str; other allele
"" when unknown, "A/G" when the harmoniser inferred several), ``weight`` (float64),
``effect_allele_frequency`` (float64, NaN when absent), ``effect_type`` (str: ``additive``,
``dominant`` from ``is_dominant``, ``recessive`` from ``is_recessive``) and ``line`` (1-based
file line).
"""

import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.genome import canonical_build, contig_name
from cohortgen.io.files import write_bytes_atomic

PGS_MARKER = "###PGS CATALOG SCORING FILE"
FORMAT_VERSION = "2.0"
TABLE_COLUMNS = ("chrom", "pos", "effect_allele", "other_allele", "weight",
                 "effect_allele_frequency", "effect_type", "line")


PLAIN_ALIASES = {
    "chr": "chr_name", "chrom": "chr_name", "chromosome": "chr_name",
    "pos": "chr_position", "position": "chr_position", "bp": "chr_position",
    "base_pair_location": "chr_position", "a1": "effect_allele", "a2": "other_allele",
    "weight": "effect_weight", "beta": "effect_weight",
    "effect_allele_frequency": "allelefrequency_effect", "eaf": "allelefrequency_effect",
}
"""Column names accepted in plain weight files and the PGS Catalog column they stand for."""

HEADER_ORDER = ("format_version", "pgs_id", "pgs_name", "trait_reported", "trait_mapped",
                "trait_efo", "genome_build", "weight_type", "variants_number")


@dataclass(frozen=True)
class ScoringFile:
    """A parsed weight file: ``header`` (#key=value pairs), ``table`` (:data:`TABLE_COLUMNS`),
    ``build`` (canonical build of the positions used, None when not stated), ``harmonised``
    (positions come from hm_chr/hm_pos) and ``pgs_catalog`` (file had the PGS Catalog marker)."""

    path: Path
    header: dict
    table: pd.DataFrame
    build: str | None
    harmonised: bool
    pgs_catalog: bool


def canonical_chrom(values: pd.Series, numbering: str = "gwas_ssf") -> pd.Series:
    """Canonical names (:func:`cohortgen.genome.contig_name`) of chromosome names whose numeric
    codes follow ``numbering`` (scoring files: "gwas_ssf", 25 = MT; a .bim: "plink", 25 = XY);
    a name outside the contig table without ``chr``, upper case."""
    names = values.astype(str).str.strip().str.replace(r"^(?i:chr)", "", regex=True).str.upper()
    distinct = names.unique()
    canonical = {name: contig_name(name, numbering) or name for name in distinct}
    return names.map(canonical)


def _text_lines(path: Path) -> list[str]:
    """Decoded lines of a plain or gzip file (gzip detected from the magic bytes)."""
    if not path.is_file():
        raise InputError(f"{path}: scoring file not found; check prs.scores in the config")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: cannot decompress ({exc}); download it again") from exc
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc}); is it a scoring file?") from exc


def _split_header(path: Path, lines: list[str]) -> tuple[dict, bool, int]:
    """(#key=value header, has the PGS marker, index of the column-header line)."""
    header: dict = {}
    marker = bool(lines) and lines[0].startswith(PGS_MARKER)
    for number, line in enumerate(lines):
        if not line.startswith("#"):
            return header, marker, number
        if line.startswith("##") or "=" not in line:
            continue
        key, value = line[1:].split("=", 1)
        header[key.strip()] = value.strip()
    raise InputError(f"{path}: no column header line after the '#' header; the file is empty")


def _numeric(column: pd.Series, path: Path, lines: np.ndarray, name: str, integer: bool):
    """``column`` as float64 (NaN where empty); InputError naming the line of a bad value."""
    values = pd.to_numeric(column.replace("", np.nan), errors="coerce")
    bad = values.isna() & column.ne("") & column.notna()
    if integer:
        bad |= values.notna() & (values % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        kind = "a whole number" if integer else "a number"
        raise InputError(f"{path}, line {lines[row]}: {name} is {column.iloc[row]!r}, expected "
                         f"{kind}; fix the scoring file")
    return values.to_numpy(np.float64)


def _flag(column: pd.Series | None, n: int) -> np.ndarray:
    if column is None:
        return np.zeros(n, dtype=bool)
    return column.str.strip().str.lower().isin(["true", "1", "yes"]).to_numpy()


def _effect_types(raw: pd.DataFrame, path: Path, lines: np.ndarray) -> np.ndarray:
    """``additive``/``dominant``/``recessive`` per line from ``is_dominant``/``is_recessive``;
    InputError naming the first line that sets both."""
    dominant = _flag(raw.get("is_dominant"), len(raw))
    recessive = _flag(raw.get("is_recessive"), len(raw))
    both = dominant & recessive
    if both.any():
        raise InputError(f"{path}, line {lines[np.flatnonzero(both)[0]]}: is_dominant and "
                         "is_recessive are both true; a weight has one effect type, fix the file")
    return np.select([dominant, recessive], ["dominant", "recessive"], "additive").astype(object)


def _table(path: Path, lines: list[str], start: int) -> tuple[pd.DataFrame, bool]:
    """Parse the weight table that starts at ``lines[start]`` into :data:`TABLE_COLUMNS`."""
    raw = pd.read_csv(io.StringIO("\n".join(lines[start:])), sep="\t", dtype=str,
                      keep_default_na=False, na_filter=False)
    raw = raw.rename(columns=lambda c: PLAIN_ALIASES.get(c.strip().lower(), c.strip()))
    file_lines = np.arange(len(raw)) + start + 2
    harmonised = "hm_pos" in raw.columns and "hm_chr" in raw.columns
    chrom_col, pos_col = ("hm_chr", "hm_pos") if harmonised else ("chr_name", "chr_position")
    needed = [chrom_col, pos_col, "effect_allele", "effect_weight"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        hint = ("it lists rsIDs only: download the harmonised file (…_hmPOS_GRCh38.txt.gz)"
                if "rsID" in raw.columns and "chr_position" not in raw.columns
                else "see README (PRS) for the accepted columns")
        raise InputError(f"{path}, line {start + 1}: missing column(s) {missing}; {hint}")
    pos = _numeric(raw[pos_col], path, file_lines, pos_col, integer=True)
    other = raw["other_allele"] if "other_allele" in raw.columns else pd.Series("", raw.index)
    if "hm_inferOtherAllele" in raw.columns:
        other = other.where(other.ne(""), raw["hm_inferOtherAllele"])
    weight = _numeric(raw["effect_weight"], path, file_lines, "effect_weight", integer=False)
    if np.isnan(weight).any():
        row = int(np.flatnonzero(np.isnan(weight))[0])
        raise InputError(f"{path}, line {file_lines[row]}: effect_weight is empty; fix the file")
    eaf = (_numeric(raw["allelefrequency_effect"], path, file_lines, "allelefrequency_effect",
                    integer=False)
           if "allelefrequency_effect" in raw.columns else np.full(len(raw), np.nan))
    table = pd.DataFrame({
        "chrom": canonical_chrom(raw[chrom_col]).to_numpy(),
        "pos": np.where(np.isnan(pos) | (raw[chrom_col] == "").to_numpy(), -1,
                        np.nan_to_num(pos)).astype(np.int64),
        "effect_allele": raw["effect_allele"].str.strip().str.upper().to_numpy(),
        "other_allele": other.str.strip().str.upper().to_numpy(),
        "weight": weight, "effect_allele_frequency": eaf,
        "effect_type": _effect_types(raw, path, file_lines),
        "line": file_lines,
    })
    return table, harmonised


def _file_build(path: Path, header: dict, harmonised: bool, pgs_catalog: bool) -> str | None:
    """Canonical build of the positions in use; InputError when a catalog file states none."""
    key = "HmPOS_build" if harmonised else "genome_build"
    stated = header.get(key)
    build = canonical_build(stated)
    if build is None and (pgs_catalog or stated is not None):
        raise InputError(
            f"{path}: header #{key}={stated or ''} is not a known genome build (GRCh37/hg19, "
            "GRCh38/hg38); use the PGS Catalog harmonised file for your build (hmPOS_GRCh38)")
    return build


def read_scoring_file(path: Path, cohort_build: str | None = None) -> ScoringFile:
    """Parse a PGS Catalog scoring file or a plain weight file (see module docstring).

    Positions come from ``hm_chr``/``hm_pos`` when present, else ``chr_name``/``chr_position``.
    When ``cohort_build`` is given and the file's build (``HmPOS_build`` if harmonised, else
    ``genome_build``) differs, raises InputError. Plain files with no ``#genome_build`` line
    are accepted as being on the cohort's build (``build`` is None).
    """
    path = Path(path)
    lines = _text_lines(path)
    header, pgs_catalog, start = _split_header(path, lines)
    table, harmonised = _table(path, lines, start)
    build = _file_build(path, header, harmonised, pgs_catalog)
    wanted = canonical_build(cohort_build)
    if wanted is not None and build is not None and build != wanted:
        key = "HmPOS_build" if harmonised else "genome_build"
        raise InputError(
            f"{path}: scoring file positions are on {build} (#{key}), the cohort's genotypes "
            f"are on {wanted}: use the PGS Catalog file harmonised to {wanted} "
            f"(…_hmPOS_{wanted}.txt.gz) or lift the positions over")
    return ScoringFile(path, header, table, build, harmonised, pgs_catalog)


def scoring_file_text(table: pd.DataFrame, header: dict) -> str:
    """PGS Catalog v2.0 text for ``table`` (columns chrom, pos, effect_allele, other_allele,
    weight; optional rsid, effect_allele_frequency) under the ``#key=value`` ``header``."""
    meta = {"format_version": FORMAT_VERSION, **header, "variants_number": str(len(table))}
    keys = [k for k in HEADER_ORDER if k in meta] + [k for k in meta if k not in HEADER_ORDER]
    lines = [f"{PGS_MARKER} - see https://www.pgscatalog.org/downloads/#dl_ftp_scoring for "
             "additional information", *(f"#{k}={meta[k]}" for k in keys)]
    out = pd.DataFrame({
        "rsID": table["rsid"] if "rsid" in table.columns else "",
        "chr_name": table["chrom"].astype(str), "chr_position": table["pos"].astype(np.int64),
        "effect_allele": table["effect_allele"], "other_allele": table["other_allele"],
        "effect_weight": _formatted(table["weight"].to_numpy(np.float64)),
    })
    if "effect_allele_frequency" in table.columns:
        out["allelefrequency_effect"] = table["effect_allele_frequency"]
    body = out.to_csv(sep="\t", index=False, float_format="%.10g", lineterminator="\n",
                      na_rep="")
    return "\n".join(lines) + "\n" + body


def _formatted(values: np.ndarray) -> list[str]:
    """``%.10g`` texts of float64 values, "" for NaN (as ``to_csv(float_format="%.10g",
    na_rep="")`` writes them, several times faster than pandas' own float formatting)."""
    return ["" if v != v else f"{v:.10g}" for v in values.tolist()]


def write_scoring_file(path: Path, table: pd.DataFrame, header: dict) -> None:
    """Write a PGS Catalog v2.0 scoring file (gzip, reproducible bytes, when ``path`` ends in
    .gz); ``header`` should hold pgs_id/pgs_name, trait_reported, genome_build, weight_type."""
    data = scoring_file_text(table, header).encode("utf-8")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_bytes_atomic(Path(path), data)
