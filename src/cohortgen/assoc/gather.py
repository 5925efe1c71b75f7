"""Gather per trait: GWAS-SSF file from the chunk tables, and the per-trait summary table.

``gwas/summary.tsv`` (shareable), one row per disease or quantitative trait: ``disease kind
status n_cases n_controls n_samples n_variants lambda_gc n_genome_wide n_suggestive`` then
``n_variants_mac20 n_genome_wide_variants n_suggestive_variants detectable_or_maf05
detectable_or_maf20 detectable_beta_sd_maf05 detectable_beta_sd_maf20``. ``disease`` is the
trait's name; ``kind`` is ``binary`` (a disease) or ``quantitative``, as in ``null_model.json``;
a quantitative trait has NA case, control and detectable-OR columns, a disease NA
detectable-beta columns, and ``n_samples`` (cases + controls for a disease) is the number
analysed.
``status`` is ``OK``, ``SKIPPED: <reason>``, or ``FAILED: <step>: <error>`` when the trait's
own step failed (:func:`gather_gwas_or_failure`; the other traits go on); ``n_variants``
counts rows with a p-value (the GWAS-SSF rows: tested variants with nucleotide alleles);
``lambda_gc`` is median χ²₁ / 0.4549 over variants with MAC ≥ 20 (:data:`LAMBDA_MIN_MAC`; the
GWAS-SSF ``mac`` column, as the association chunk counted it);
``n_genome_wide`` / ``n_suggestive`` count loci (clumps, from ``<disease>.loci.tsv``) whose lead
has p < 5e-8 / p < 1e-5 (so suggestive includes genome-wide); the ``*_variants`` columns count
variants. ``detectable_or_maf*``: smallest allelic OR with 80% power at α = 5e-8 for MAF 0.05 /
0.2 given the case and control counts; ``detectable_beta_sd_maf*``: for a quantitative trait,
the smallest per-allele effect in trait standard deviations with that power given ``n_samples``
(:mod:`cohortgen.assoc.power`). The last columns give the method (:func:`trait_method`):
``whole_genome_regression`` (``on``: the LOCO prediction of step 1 is the null models' offset;
``off``; ``fallback``: step 1 on but this disease had too few cases for it, so it was tested
without, the reason in ``method_note``) and ``relatives`` (``kept`` or ``removed``).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from cohortgen import __version__
from cohortgen.assoc.loci import GENOME_WIDE, SUGGESTIVE
from cohortgen.assoc.power import detectable_beta_sd, detectable_odds_ratio
from cohortgen.assoc.settings import FallbackSettings, describe_test
from cohortgen.errors import InputError
from cohortgen.inflation import lambda_gc
from cohortgen.io.columns import read_column_table
from cohortgen.io.files import read_json, read_tsv, stale_input, write_tsv, write_tsv_bgzip
from cohortgen.io.sumstats import (
    GWAS_SSF_COLUMNS,
    GWAS_SUFFIX,
    IMPUTED_COLUMNS,
    LOCI_SUFFIX,
    PartsOutOfOrderError,
    chromosome_codes,
    gwas_ssf_variant_ids,
    paths_for_traits,
    read_gwas_ssf,
    read_gwas_ssf_meta,
    split_gwas_ssf,
    untested_path_for,
    write_gwas_ssf,
    write_gwas_ssf_parts,
)
from cohortgen.privacy import (
    DEFAULT_MIN_CELL_COUNT,
    primary_suppressed,
    shareable_counts,
    without_sample_ids,
)

LAMBDA_MIN_MAC = 20
POWER_ALPHA = 5e-8
POWER_LEVEL = 0.8
POWER_MAFS = {"maf05": 0.05, "maf20": 0.2}
"""Minor allele frequencies of the power columns (``detectable_or_<key>``,
``detectable_beta_sd_<key>``)."""


def trait_method(trait: str, relatives: str, wgr_json: Path | None) -> dict:
    """How one trait was tested: ``whole_genome_regression`` ``on`` / ``off`` / ``fallback``
    (from step 1's ``wgr.json``, None when step 1 is off), ``relatives`` ``kept`` / ``removed``
    (config ``qc.relatives``) and ``method_note`` (why a disease fell back, else empty)."""
    entry = read_json(wgr_json)["traits"].get(trait, {}) if wgr_json else None
    if entry is None:
        step1, note = "off", ""
    elif entry.get("status") == "OK":
        step1, note = "on", ""
    else:
        step1 = "fallback"
        note = entry.get("reason", "not in the whole-genome regression")
    return {"whole_genome_regression": step1,
            "relatives": "kept" if relatives == "keep" else "removed", "method_note": note}


def gather_gwas(disease: str, chunk_paths: list[Path], null_json: Path, genome_build: str,
                out_gz: Path, relatives: str = "remove", wgr_json: Path | None = None,
                imputed_qc: dict | None = None,
                min_cell_count: int = DEFAULT_MIN_CELL_COUNT,
                settings: FallbackSettings | None = None) -> int:
    """Write one trait's GWAS-SSF file (+ .tbi, -meta.yaml) and its companion table of untested
    variants (:func:`~cohortgen.io.sumstats.untested_path_for`: no estimate, e.g. ``LOW_MAC``,
    or non-nucleotide alleles; :func:`~cohortgen.io.sumstats.split_gwas_ssf`) from its chunk
    tables (one per chunk, :func:`read_chunk_table`); return the number of GWAS-SSF rows.
    A skipped trait gets files with a header and no rows; its status and reason
    are in the sidecar. The sidecar's ``samples`` entry gives the number analysed, and for a
    disease its case and control counts (not those under ``min_cell_count``,
    :func:`sidecar_counts`); ``cohortgen_method`` the method
    (:func:`trait_method`; given the assoc ``settings``, also the test, :func:`trait_test`).
    Chunk tables from imputed dosages (with the :data:`~cohortgen.io.sumstats.IMPUTED_COLUMNS`)
    keep those columns, and the sidecar says
    so: ``cohortgen_genotypes: imputed dosages`` and ``cohortgen_imputation_r2_filter`` (the
    ``imputed_qc`` thresholds ``min_r2`` and ``r2_source``).

    The chunk tables are put in genome order (:func:`chunk_groups`, whatever order they are
    given in) and read one at a time (:func:`stream_trait_files`: memory holds one chunk, not
    the trait's whole table); the rows of chunks whose key ranges overlap (PLINK's XY chunk
    holds PAR1 and PAR2, around chrX's chunks) are merged in genome order
    (:func:`merged_parts`), each chunk held until its last row is written. When the chunks
    differ in their columns, the whole table is gathered and written instead
    (:func:`write_trait_files`), which gives the same bytes."""
    null = read_json(null_json)
    status = null["diseases"][disease]["status"]
    method = trait_method(disease, relatives, wgr_json) | trait_test(null, disease, settings)
    groups = chunk_groups(chunk_paths, disease)
    overlapping = [g for g in groups if len(g) > 1]
    if overlapping:
        print(f"cohortgen gather-gwas: {disease}: {sum(map(len, overlapping))} chunk tables "
              f"overlap in genome position (largest group: {max(map(len, overlapping))} "
              f"chunks, from {overlapping[0][0]}), so their rows are merged in genome order",
              file=sys.stderr)
    try:
        return stream_trait_files(disease, groups, null, genome_build, out_gz, status,
                                  method, imputed_qc, min_cell_count)
    except PartsOutOfOrderError as exc:
        print(f"cohortgen gather-gwas: {disease}: {exc}: so the trait's whole table is "
              "gathered at once", file=sys.stderr)
        table = read_chunk_group([p for group in groups for p in group], disease)
        imputed = [c for c in IMPUTED_COLUMNS if c in table.columns]
        return len(write_trait_files(disease, table[GWAS_SSF_COLUMNS + imputed], null,
                                     genome_build, out_gz, status, method, imputed_qc,
                                     min_cell_count))


def stream_trait_files(disease: str, groups: list[list[Path]], null: dict, genome_build: str,
                       out_gz: Path, status: str, method: dict, imputed_qc: dict | None,
                       min_cell_count: int) -> int:
    """:func:`write_trait_files` of the rows of the groups of chunk tables ``groups``
    (:func:`chunk_groups`), read, split and written one chunk at a time, the chunks of a group
    of several merged (:func:`group_parts`); the untested rows (few) are kept and sorted at the
    end. Return the number of GWAS-SSF rows;
    :class:`~cohortgen.io.sumstats.PartsOutOfOrderError` (no file written) when the groups are
    not in genome order or differ in their columns."""
    untested, n_tested = [], 0

    def tested_parts():
        nonlocal n_tested
        for table in group_parts(groups, disease):
            imputed = [c for c in IMPUTED_COLUMNS if c in table.columns]
            tested, rest = split_gwas_ssf(without_small_groups(
                table[GWAS_SSF_COLUMNS + imputed], min_cell_count))
            if imputed and not untested:  # the writer reads meta after the last part
                meta.update(imputed_meta(imputed_qc))
            untested.append(rest)
            n_tested += len(tested)
            yield tested

    meta = trait_meta(disease, null, genome_build, status, method, min_cell_count)
    write_gwas_ssf_parts(Path(out_gz), tested_parts(), meta)
    rest = pd.concat([u for u in untested if len(u)] or untested[:1], ignore_index=True)
    write_tsv_bgzip(untested_path_for(Path(out_gz)), rest.sort_values(
        ["chromosome", "base_pair_location", "variant_id"], kind="stable", ignore_index=True))
    return n_tested


KEY_COLUMNS = ("chromosome", "base_pair_location", "effect_allele", "other_allele")
"""Chunk-table columns of a row's GWAS-SSF sort key (:func:`chunk_key_range`)."""


def chunk_key_range(path: Path, disease: str) -> tuple[tuple, tuple] | None:
    """(first, last) GWAS-SSF sort key of the rows of the chunk table ``path``, each
    (chromosome code, base_pair_location, GWAS-SSF ``variant_id``) as
    :func:`~cohortgen.io.sumstats.sorted_gwas_ssf_rows` orders the data file (PLINK's XY is 23,
    before Y = 24); None for a chunk without rows. Only the :data:`KEY_COLUMNS` are decoded."""
    table = read_chunk_table(path, disease, KEY_COLUMNS)
    if not len(table):
        return None
    codes = chromosome_codes(table["chromosome"])
    positions = table["base_pair_location"].to_numpy(np.int64)
    order = np.lexsort((positions, codes))
    keys = []
    for row, pick in ((order[0], min), (order[-1], max)):  # variant IDs of the ties only
        tied = table[(codes == codes[row]) & (positions == positions[row])]
        ids = gwas_ssf_variant_ids(tied["chromosome"], tied["base_pair_location"],
                                   tied["effect_allele"], tied["other_allele"])
        keys.append((int(codes[row]), int(positions[row]), pick(ids.tolist())))
    return keys[0], keys[1]


def chunk_groups(chunk_paths: list[Path], disease: str) -> list[list[Path]]:
    """The chunk tables ``chunk_paths`` in genome order, as groups to be written one after the
    other: sorted by their first row's key (:func:`chunk_key_range`; ties in the order given);
    a chunk whose first row sorts before the end of the group before it (their key ranges
    overlap) joins that group, whose rows are then sorted together. Chunks without rows are
    left out (one is kept when all are: it gives the columns); [] for no chunks."""
    ranges = [(chunk_key_range(p, disease), k) for k, p in enumerate(chunk_paths)]
    filled = sorted((key[0], k, key[1]) for key, k in ranges if key is not None)
    groups, end = [], None
    for first, k, last in filled:
        if end is not None and first < end:
            groups[-1].append(chunk_paths[k])
            end = max(end, last)
        else:
            groups.append([chunk_paths[k]])
            end = last
    if not groups and chunk_paths:
        return [[chunk_paths[0]]]
    return groups


def group_parts(groups: list[list[Path]], disease: str):
    """The rows of trait ``disease`` of the groups of chunk tables ``groups``
    (:func:`chunk_groups`) as tables in genome order, each sorting after the one before
    (ties included): a one-chunk group's table, or a larger group's :func:`merged_parts`."""
    for group in groups:
        if len(group) == 1:
            yield read_chunk_table(group[0], disease)
        else:
            yield from merged_parts(group, disease)


MERGED_PART_ROWS = 10_000
"""Fewest rows of a table of :func:`merged_parts` (but the last): rows that alternate between
chunks are written in tables of this size, not one by one."""


def merged_order(paths: list[Path], disease: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the chunk tables ``paths`` in GWAS-SSF order, as (chunk: int64 (m,), index
    in ``paths``; row: int64 (m,), row of that chunk table): the stable sort by (chromosome
    code, base_pair_location, GWAS-SSF ``variant_id``) of the tables' rows concatenated in that
    order, as :func:`~cohortgen.io.sumstats.sorted_gwas_ssf_rows` sorts them. Only the
    chromosome and position of every row are decoded, the variant IDs of rows that share a
    position only (:func:`tied_variant_ids`)."""
    codes, positions, chunks, rows = [], [], [], []
    for k, path in enumerate(paths):
        table = read_chunk_table(path, disease, KEY_COLUMNS[:2])
        codes.append(chromosome_codes(table["chromosome"]))
        positions.append(table["base_pair_location"].to_numpy(np.int64))
        chunks.append(np.full(len(table), k, dtype=np.int64))
        rows.append(np.arange(len(table), dtype=np.int64))
    code, position = np.concatenate(codes), np.concatenate(positions)
    chunk, row = np.concatenate(chunks), np.concatenate(rows)
    order = np.lexsort((position, code))
    same = (np.diff(code[order]) == 0) & (np.diff(position[order]) == 0)
    tied = order[np.concatenate([[False], same]) | np.concatenate([same, [False]])]
    if tied.size:
        rank = np.zeros(code.size, dtype=np.int64)
        ids = tied_variant_ids(paths, disease, chunk[tied], row[tied])
        rank[tied] = np.unique(ids, return_inverse=True)[1].reshape(-1)
        order = np.lexsort((rank, position, code))
    return chunk[order], row[order]


def tied_variant_ids(paths: list[Path], disease: str, chunk: np.ndarray,
                     row: np.ndarray) -> np.ndarray:
    """GWAS-SSF ``variant_id`` (StringDType (t,)) of the rows ``row`` of the chunk tables
    ``paths[chunk]`` (int64 (t,) each)."""
    ids = np.empty(chunk.size, dtype=np.dtypes.StringDType())
    for k in np.unique(chunk).tolist():
        here = chunk == k
        table = read_chunk_table(paths[k], disease, KEY_COLUMNS).take(row[here])
        ids[here] = gwas_ssf_variant_ids(table["chromosome"], table["base_pair_location"],
                                         table["effect_allele"], table["other_allele"])
    return ids


def merged_parts(paths: list[Path], disease: str, min_rows: int = MERGED_PART_ROWS):
    """The rows of trait ``disease`` of the chunk tables ``paths``, whose key ranges overlap,
    merged in GWAS-SSF order (:func:`merged_order`) as tables of consecutive rows: each run of
    rows from one chunk is taken from its table, runs are joined up to ``min_rows`` rows, and a
    chunk's table is read at its first run and dropped after its last. Memory holds the chunks
    whose runs surround the rows being written (an XY chunk and one chrX chunk), not the
    group's. The tables' rows concatenated are those of :func:`read_chunk_group` of ``paths``
    sorted stably in that order."""
    chunk, row = merged_order(paths, disease)
    starts = np.flatnonzero(np.concatenate([[True], np.diff(chunk) != 0]))
    ends = np.append(starts[1:], chunk.size)
    last_run = {int(k): j for j, k in enumerate(chunk[starts].tolist())}
    tables, pieces, size = {}, [], 0
    for j, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        k = int(chunk[start])
        if k not in tables:
            tables[k] = read_chunk_table(paths[k], disease)
        pieces.append(tables[k].take(row[start:end]))
        if last_run[k] == j:
            del tables[k]
        size += end - start
        if size >= min_rows or end == chunk.size:
            yield pd.concat(pieces, ignore_index=True)
            pieces, size = [], 0


def read_chunk_group(paths: list[Path], disease: str) -> pd.DataFrame:
    """The rows of trait ``disease`` of the chunk tables ``paths`` (at least one), in that
    order (:func:`read_chunk_table`); the first table when none has rows."""
    tables = [read_chunk_table(p, disease) for p in paths]
    return pd.concat([t for t in tables if len(t)] or tables[:1], ignore_index=True)


def read_chunk_table(path: Path, disease: str, names: tuple | None = None) -> pd.DataFrame:
    """One chunk's rows of trait ``disease`` (:func:`cohortgen.assoc.chunk.write_trait_tables`,
    a column table: :mod:`cohortgen.io.columns`): every column, or only those of ``names``;
    InputError naming ``path`` when it lacks a column of ``names`` (of
    :data:`~cohortgen.io.sumstats.GWAS_SSF_COLUMNS` when None) or holds another trait."""
    table, meta = read_column_table(path, names)
    missing = [name for name in names or GWAS_SSF_COLUMNS if name not in table.columns]
    if missing:
        raise stale_input(path, f"column(s) {', '.join(missing)}")
    if meta.get("trait") != disease:
        raise InputError(f"{path}: the chunk table of trait {meta.get('trait')!r}, not "
                         f"{disease!r}: give gather-gwas the files <chunk>/assoc/{disease}.columns")
    return table


def write_trait_files(disease: str, table: pd.DataFrame, null: dict, genome_build: str,
                      out_gz: Path, status: str, method: dict,
                      imputed_qc: dict | None = None,
                      min_cell_count: int = DEFAULT_MIN_CELL_COUNT) -> pd.DataFrame:
    """Write the GWAS-SSF files and the untested table of :func:`gather_gwas` from the trait's
    rows ``table`` (columns GWAS_SSF_COLUMNS, then any IMPUTED_COLUMNS), ``null``
    (``null_model.json``), ``status`` (the sidecar's ``cohortgen_status``), ``method`` (its
    ``cohortgen_method``, :func:`trait_method`), ``imputed_qc`` (the r² filter of imputed
    dosages) and ``min_cell_count`` (:func:`sidecar_counts`); return the GWAS-SSF rows."""
    meta = trait_meta(disease, null, genome_build, status, method, min_cell_count)
    if any(c in table.columns for c in IMPUTED_COLUMNS):
        meta |= imputed_meta(imputed_qc)
    tested, untested = split_gwas_ssf(without_small_groups(table, min_cell_count))
    write_gwas_ssf(Path(out_gz), tested, meta)
    write_tsv_bgzip(untested_path_for(Path(out_gz)), untested)
    return tested


def trait_meta(disease: str, null: dict, genome_build: str, status: str, method: dict,
               min_cell_count: int) -> dict:
    """The GWAS-SSF ``meta`` of a trait's file (:func:`write_trait_files`), but for
    :func:`imputed_meta`."""
    counts = sidecar_counts(trait_counts(null["diseases"][disease]), min_cell_count)
    covariates = {"adjusted_covariates": null["covariates"]}
    if null.get("sex_added_for_chrX"):
        covariates["chrX_adjusted_covariates"] = ["sex", *null["covariates"]]
    return {"genome_assembly": genome_build, "trait_description": disease, **counts,
            **covariates, "cohortgen_status": status, "cohortgen_method": method,
            "analysis_software": f"cohortgen {__version__}"}


def imputed_meta(imputed_qc: dict | None) -> dict:
    """The sidecar entries of results on imputed dosages (``imputed_qc``: the r² filter)."""
    return {"cohortgen_genotypes": "imputed dosages",
            "cohortgen_imputation_r2_filter": dict(imputed_qc or {})}


GROUP_COLUMNS = ("n_cases", "n_controls", "effect_allele_frequency_cases",
                 "effect_allele_frequency_controls")
"""GWAS-SSF columns that describe the cases or the controls alone (:func:`without_small_groups`)."""


def without_small_groups(table: pd.DataFrame, min_cell_count: int) -> pd.DataFrame:
    """GWAS-SSF rows ``table`` for the shareable file: in each row whose called cases or
    controls number 1 to ``min_cell_count - 1``, the :data:`GROUP_COLUMNS` are NA (``#NA``).
    With ``n`` and the overall allele frequency, either group's count and allele frequency
    would give the other's, and the allele count of a handful of people is close to their
    genotypes. ``n``, the estimates and the p-value stay; rows of a quantitative trait (NA
    cases and controls) are unchanged."""
    small = (primary_suppressed(table["n_cases"].to_numpy(float, na_value=np.nan),
                                min_cell_count)
             | primary_suppressed(table["n_controls"].to_numpy(float, na_value=np.nan),
                                  min_cell_count))
    if not small.any():
        return table
    table = table.copy()
    for column in GROUP_COLUMNS:
        table[column] = table[column].astype(np.float64).mask(small)
    return table


def sidecar_counts(counts: dict, min_cell_count: int) -> dict:
    """The sidecar's ``sample_size``, ``case_count`` and ``control_count`` (a disease) or
    ``sample_size`` (a quantitative trait) from :func:`trait_counts`, as
    :func:`shareable_counts` would show them: a count it hides is None, so the sidecar leaves it
    out (GWAS-SSF counts are integers), and named under ``cohortgen_counts_not_shown``."""
    names = {"n_samples": "sample_size", "n_cases": "case_count", "n_controls": "control_count"}
    shown = masked_trait_counts(counts, min_cell_count)
    hidden = [names[k] for k, v in shown.items() if v is None or isinstance(v, str)]
    out = {names[k]: None if names[k] in hidden else int(v) for k, v in shown.items()
           if not pd.isna(counts[k])}
    return out | ({"cohortgen_counts_not_shown": hidden} if hidden else {})


def trait_test(null: dict, disease: str, settings: FallbackSettings | None) -> dict:
    """``{"test": ...}``, the trait's association test (:func:`describe_test`) under the
    assoc ``settings``; empty without them."""
    if settings is None:
        return {}
    quantitative = null["diseases"][disease].get("type") == "quantitative"
    return {"test": describe_test(settings, quantitative)}


def gather_gwas_or_failure(disease: str, chunk_paths: list[Path], null_json: Path,
                           genome_build: str, out_gz: Path, relatives: str = "remove",
                           wgr_json: Path | None = None,
                           imputed_qc: dict | None = None,
                           samples_tsv: Path | None = None,
                           min_cell_count: int = DEFAULT_MIN_CELL_COUNT,
                           settings: FallbackSettings | None = None) -> int:
    """:func:`gather_gwas`; when that fails for this trait (bad or stale chunk tables, a
    numerical error: anything but a system error, OSError or MemoryError, which stops the
    job so that a rerun retries it), write the trait's files with no rows and status
    ``FAILED: gather_gwas: <error>`` (:func:`failure_status`, any sample ID of ``samples_tsv``,
    qc/samples.tsv, taken out), so the summary and the report are made for the other traits
    and say why this one has no results."""
    try:
        return gather_gwas(disease, chunk_paths, null_json, genome_build, out_gz, relatives,
                           wgr_json, imputed_qc, min_cell_count, settings)
    except (OSError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - one trait's failure is that trait's result
        status = failure_status("gather_gwas", exc, cohort_sample_ids(samples_tsv))
        print(f"cohortgen gather-gwas: {disease}: {status}", file=sys.stderr)
        empty = pd.DataFrame({name: pd.Series(dtype=object) for name in GWAS_SSF_COLUMNS})
        return len(write_trait_files(disease, empty, read_json(null_json), genome_build,
                                     out_gz, status,
                                     trait_method(disease, relatives, wgr_json)
                                     | trait_test(read_json(null_json), disease, settings),
                                     min_cell_count=min_cell_count))


def failure_status(step: str, exc: Exception, sample_ids=()) -> str:
    """``FAILED: <step>: <first line of the error>``, the error's type first unless it is an
    InputError (whose message is written for users); tabs as spaces: one TSV field. The status
    is shareable (summary, sidecar, report), so each of ``sample_ids`` (str) in the error
    shows as :data:`~cohortgen.privacy.SAMPLE_ID_TEXT`."""
    lines = str(exc).strip().splitlines()
    why = without_sample_ids(lines[0], sample_ids) if lines else ""
    if not isinstance(exc, InputError):
        why = f"{type(exc).__name__}: {why}".removesuffix(": ")
    return f"FAILED: {step}: {why}".replace("\t", " ")


def cohort_sample_ids(samples_tsv: Path | None) -> list[str]:
    """The ``sample_id`` column (str) of qc/samples.tsv (every genotyped sample, kept or
    removed); empty without the file."""
    if samples_tsv is None:
        return []
    table = read_tsv(samples_tsv, ("sample_id",), dtype={"sample_id": str})
    return table["sample_id"].tolist()


def minor_allele_count(table: pd.DataFrame, path: Path) -> np.ndarray:
    """MAC (float64 (m,), NaN where missing) of the GWAS-SSF rows of ``path``: its ``mac``
    column, the chunk's exact count (a MAC rebuilt from ``n`` and the 6-digit
    ``effect_allele_frequency`` is off by up to n · 10⁻⁶ alleles)."""
    if "mac" not in table.columns:
        raise stale_input(path, "column mac")
    return table["mac"].to_numpy(float, na_value=np.nan)


def is_quantitative(info: dict) -> bool:
    """Whether a ``null_model.json`` trait entry is a quantitative trait (else a disease)."""
    return info.get("type") == "quantitative"


def trait_counts(info: dict) -> dict:
    """``n_cases``, ``n_controls``, ``n_samples`` (int, NA for a quantitative trait's cases and
    controls) of a ``null_model.json`` entry."""
    if is_quantitative(info):
        return {"n_cases": pd.NA, "n_controls": pd.NA, "n_samples": info["n"]}
    return {"n_cases": info["n_cases"], "n_controls": info["n_controls"],
            "n_samples": info["n_cases"] + info["n_controls"]}


def masked_trait_counts(counts: dict, min_cell_count: int) -> dict:
    """:func:`trait_counts` for a shareable output (:func:`shareable_counts`): cases and
    controls are one group (their total, ``n_samples``, is shown), ``n_samples`` a group of its
    own; a masked count is ``"<min_cell_count"``, its complement None, NA stays NA."""
    shown = {k: v for k, v in counts.items() if pd.isna(v)}
    pair = {k: counts[k] for k in ("n_cases", "n_controls") if k not in shown}
    if pair:
        shown |= shareable_counts(pair, min_cell_count)
    shown |= shareable_counts({"n_samples": counts["n_samples"]}, min_cell_count)
    return {k: shown[k] for k in counts}


def gwas_summary_row(disease: str, table: pd.DataFrame, loci: pd.DataFrame, info: dict,
                     gwas_path: Path, method: dict,
                     min_cell_count: int = DEFAULT_MIN_CELL_COUNT) -> dict:
    """One disease's or trait's line of ``gwas/summary.tsv`` (see the module docstring) from its
    GWAS-SSF rows ``table`` (read from ``gwas_path``), loci and method (:func:`trait_method`).
    Counts of people are masked (:func:`masked_trait_counts`), and so are the detectable
    effects computed from a masked count (they would give it back)."""
    p = table["p_value"].to_numpy(float)
    tested = np.isfinite(p)
    common = tested & (minor_allele_count(table, gwas_path) >= LAMBDA_MIN_MAC)
    lead_p = loci["p_value"].to_numpy(float)
    counts = masked_trait_counts(trait_counts(info), min_cell_count)
    exact = not any(v is None or isinstance(v, str) for v in counts.values())
    quantitative = is_quantitative(info)
    row = {"disease": disease, "kind": "quantitative" if quantitative else "binary",
           "status": info["status"], **counts,
           "n_variants": int(tested.sum()),
           "lambda_gc": lambda_gc(p[common]) if common.any() else np.nan,
           "n_genome_wide": int((lead_p < GENOME_WIDE).sum()),
           "n_suggestive": int((lead_p < SUGGESTIVE).sum()),
           "n_variants_mac20": int(common.sum()),
           "n_genome_wide_variants": int((p[tested] < GENOME_WIDE).sum()),
           "n_suggestive_variants": int((p[tested] < SUGGESTIVE).sum())}
    for key, maf in POWER_MAFS.items():
        row[f"detectable_or_{key}"] = np.nan if quantitative or not exact else (
            detectable_odds_ratio(info["n_cases"], info["n_controls"], maf, POWER_ALPHA,
                                  POWER_LEVEL))
    for key, maf in POWER_MAFS.items():
        row[f"detectable_beta_sd_{key}"] = detectable_beta_sd(
            info["n"], maf, POWER_ALPHA, POWER_LEVEL) if quantitative and exact else np.nan
    return row | method


def gathered_status(gwas_path: Path, null_status: str) -> str:
    """The status its gathering gave a trait: ``cohortgen_status`` of the GWAS-SSF sidecar
    (the null model's status, or the failure of :func:`gather_gwas_or_failure`);
    ``null_status`` for a sidecar without one (GWAS-SSF written by another program)."""
    return str(read_gwas_ssf_meta(Path(gwas_path)).get("cohortgen_status", null_status))


SUMMARY_COLUMNS = ("p_value", "mac")
"""The GWAS-SSF columns :func:`gwas_summary_row` uses (all rows: λGC is a median)."""


def summarize_gwas(diseases: list[str], gwas_paths: list[Path], loci_paths: list[Path],
                   null_json: Path, summary_tsv: Path, relatives: str = "remove",
                   wgr_json: Path | None = None,
                   min_cell_count: int = DEFAULT_MIN_CELL_COUNT) -> pd.DataFrame:
    """Write gwas/summary.tsv: one row per disease or quantitative trait, in the order given
    (see :func:`gwas_summary_row`, counts under ``min_cell_count`` masked); each trait's
    GWAS-SSF and loci files are found by name
    (:func:`~cohortgen.io.sumstats.paths_for_traits`), in whatever order they are given."""
    info = read_json(null_json)["diseases"]
    gwas_paths = paths_for_traits(diseases, gwas_paths, GWAS_SUFFIX)
    loci_paths = paths_for_traits(diseases, loci_paths, LOCI_SUFFIX)
    rows = [gwas_summary_row(d, read_gwas_ssf(g, SUMMARY_COLUMNS), read_tsv(lo),
                             info[d] | {"status": gathered_status(g, info[d]["status"])}, g,
                             trait_method(d, relatives, wgr_json), min_cell_count)
            for d, g, lo in zip(diseases, gwas_paths, loci_paths, strict=True)]
    summary = pd.DataFrame(rows)
    write_tsv(summary_tsv, summary, float_format="%.6g")
    return summary
