"""``cohortgen ingest-dosages``: one region of one imputed file -> QC'd dosages + a per-variant
table.

Internal format: a PLINK 2 fileset written with pgenlib (``<out>.pgen/.pvar/.psam``, private),
dosages of the ALT allele at PLINK 2's precision of 1/16384 (round-trip error at most 1/32768 =
3.1e-5), so plink2 runs on it directly and the QC'd set needs no export step. Memory is bounded
by the block size while reading (about 5 copies of ``block_size`` × samples × 4 bytes: rows,
block, kept-sample subset, weights, spill); the passing
variants' dosages wait in a temporary float32 file beside the output until their count is
known (pgenlib writes the count in the header first), and are read back ``block_size`` rows at
a time, so the job's peak memory does not grow with the region's variant count.

The readers round dosages to the stored precision, so the metrics are those of the stored
dosages (as ``plink2 --freq`` on the output reports them). Per-variant QC on the kept samples
(``<out>.variants.tsv``, shareable: no individual data), first failing reason per variant, in
this order: ``multiallelic`` (a multi-allelic record kept whole: ``multiallelic="drop"``;
PLINK 2 cannot import multi-allelic dosages either), ``duplicate`` (a second variant with the
same position and alleles, or ID),
``missing_rate`` (share of samples without a dosage above ``max_missing``),
``low_mac`` (minor allele dosage count below ``min_mac``), ``low_maf`` (below ``min_maf``),
``low_r2`` (the gating r² below ``min_r2``: the MaCH r² recomputed from the kept samples'
dosages by default, the file's R2/DR2 with ``r2_source="file"``; where the chosen r² is
undefined, e.g. the MaCH r² on non-PAR chrX, which PLINK 2 leaves NA too, the other one gates).
"""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.ingest.ploidy import ploidy_regions, sample_sex
from cohortgen.io.dosage import HARD_CALLS, DosageBlock
from cohortgen.io.files import atomic_output, write_json, write_text_atomic, write_tsv
from cohortgen.kernels.dosage import dosage_summaries
from cohortgen.qc.keep import sample_mask

REASONS = ("multiallelic", "duplicate", "missing_rate", "low_mac", "low_maf", "low_r2")
"""Reason codes of removed variants, in the order they are tested."""

PVAR_HEADER = ('##INFO=<ID=R2,Number=1,Type=Float,Description="Imputation r2 that passed QC">\n'
               '##INFO=<ID=TYPED,Number=0,Type=Flag,Description="Genotyped variant">\n'
               "#CHROM\tPOS\tID\tREF\tALT\tINFO\n")
"""Header of the output .pvar (plink2 reads the INFO lines)."""

TABLE_COLUMNS = ("chrom", "pos", "id", "ref", "alt", "file_r2", "mach_r2", "alt_freq", "mac",
                 "missing_rate", "typed", "reason")
"""Columns of ``<out>.variants.tsv`` (``reason`` empty when the variant passes)."""


@dataclass(frozen=True)
class DosageThresholds:
    """Imputed-variant QC thresholds (see the module docstring)."""

    min_r2: float = 0.3
    r2_source: str = "mach"  # "mach" or "file"
    min_maf: float = 0.0
    min_mac: float = 1.0
    max_missing: float = 0.1


def input_kind(path: Path) -> str:
    """"vcf", "bgen" or "pgen" from the name; InputError for anything else."""
    name = str(path)
    if name.endswith((".vcf.gz", ".vcf.bgz", ".bcf")):
        return "vcf"
    if name.endswith(".bgen"):
        return "bgen"
    if Path(f"{name}.pgen").is_file():
        return "pgen"
    raise InputError(f"{path}: not an imputed-dosage input: give a bgzipped VCF (.vcf.gz), a BCF, "
                     "a .bgen file or a PLINK 2 prefix (with .pgen/.pvar/.psam)")


def file_samples(path: Path, kind: str) -> list[str]:
    """Sample IDs of the input, in file order."""
    if kind == "vcf":
        from cohortgen.io.dosage_vcf import open_dosage_vcf

        vcf = open_dosage_vcf(path)[0]
        samples = list(vcf.samples)
        vcf.close()
        return samples
    if kind == "bgen":
        from cohortgen.io.bgen import open_bgen

        reader, samples = open_bgen(path)
        reader.close()
        return samples
    from cohortgen.io.pgen import read_psam_ids

    return read_psam_ids(Path(f"{path}.psam"))


def source_field(path: Path, kind: str) -> str:
    """Where the dosages come from: the VCF's FORMAT field (DS, HDS, GP, or GT for a file of
    hard calls only), ``GP`` for BGEN (genotype probabilities), ``dosage`` for PGEN."""
    if kind == "vcf":
        from cohortgen.io.dosage_vcf import dosage_field

        return dosage_field(path)
    return "GP" if kind == "bgen" else "dosage"


def reader_name(path: Path, kind: str) -> str | None:
    """Which VCF reader reads ``path``: "text" (the native reader) or "htslib (why)"
    (:func:`cohortgen.io.dosage_vcf.vcf_reader`); None for BGEN and PGEN."""
    if kind != "vcf":
        return None
    from cohortgen.io.dosage_vcf import open_dosage_vcf, vcf_reader

    vcf, fields, _ = open_dosage_vcf(path)
    vcf.close()
    return vcf_reader(path, fields)


def read_blocks(path: Path, kind: str, contig: str, start: int, end: int, block_size: int,
                multiallelic: str) -> Iterator[DosageBlock]:
    """The input's :class:`DosageBlock` s of the region."""
    if kind == "bgen":
        from cohortgen.io.bgen import read_bgen_dosages as read
    elif kind == "vcf":
        from cohortgen.io.dosage_vcf import read_vcf_dosages as read
    else:
        from cohortgen.io.pgen import read_pgen_dosages as read
    return read(path, contig, start, end, block_size, multiallelic)


def parse_region(region: str) -> tuple[str, int, int]:
    """(contig, start, end) of ``chrom`` or ``chrom:start-end`` (1-based, inclusive)."""
    contig, _, span = region.partition(":")
    if not span:
        return contig, 1, 2**31 - 1
    first, _, last = span.replace(",", "").partition("-")
    if not (first.isdigit() and last.isdigit()) or int(first) > int(last):
        raise InputError(f"region {region!r}: write it as chrom or chrom:start-end")
    return contig, int(first), int(last)


def kept_samples(samples: list[str], keep: Path | None) -> np.ndarray:
    """bool (n,) samples listed in ``keep`` (first column, one per line; all without it).
    Listed samples absent from the file are skipped, with their number on stderr (the workflow
    bounds it by ``ingest.max_sample_loss`` when planning: ``cohortgen plan-imputed``)."""
    if keep is None:
        return np.ones(len(samples), dtype=bool)
    wanted = {line.split()[0] for line in keep.read_text(encoding="utf-8").splitlines()
              if line.strip() and not line.startswith("#")}
    unknown = wanted - set(samples)
    if unknown:
        print(f"{keep}: {len(unknown)} kept sample(s) not in the imputed file, skipped",
              file=sys.stderr)
    return sample_mask(samples, wanted)


def kept_columns(dosage: np.ndarray, kept: np.ndarray, out: np.ndarray) -> np.ndarray:
    """float32 (m, kept samples), C order: the ``kept`` (bool (n,)) columns of ``dosage``
    written into ``out[:m]`` (float32 (at least m, kept samples), re-used from block to
    block: a new array of a block's size would be mapped and faulted in page by page each
    time); ``dosage`` itself when every sample is kept (no copy)."""
    if kept.all():
        return np.ascontiguousarray(dosage)
    return np.take(dosage, np.flatnonzero(kept), axis=1, out=out[:len(dosage)])


def write_rows(handle, dosage: np.ndarray, passing: np.ndarray) -> None:
    """Write the ``passing`` (bool (m,)) rows of ``dosage`` (float32 (m, n), C order) to the
    binary file ``handle``, a run of consecutive passing rows at a time (no copy of them)."""
    edges = np.flatnonzero(np.diff(passing, prepend=False, append=False))
    for first, last in edges.reshape(-1, 2).tolist():
        handle.write(dosage[first:last].data)


def variant_metrics(block: DosageBlock, male: np.ndarray, build: str) -> dict[str, np.ndarray]:
    """Per-variant metrics of a block whose dosages are those of the kept samples."""
    region = ploidy_regions(block.chrom, block.pos, build)
    summaries = dosage_summaries(block.dosage, region, male)
    alt, obs, missing, mach_r2 = summaries.T
    with np.errstate(invalid="ignore", divide="ignore"):
        freq = alt / obs
    return {"alt_freq": freq, "mac": np.minimum(alt, obs - alt), "mach_r2": mach_r2,
            "missing_rate": missing / max(block.dosage.shape[1], 1)}


def gating_r2(block: DosageBlock, metrics: dict, r2_source: str) -> np.ndarray:
    """float (m,): the r² that gates each variant: that of ``r2_source`` ("mach" or "file"),
    the other where it is undefined (NaN when both are)."""
    chosen, other = ((metrics["mach_r2"], block.file_r2) if r2_source == "mach"
                     else (block.file_r2, metrics["mach_r2"]))
    return np.where(np.isnan(chosen), other, chosen)


def failing_reasons(block: DosageBlock, metrics: dict, duplicate: np.ndarray,
                    limits: DosageThresholds) -> np.ndarray:
    """object (m,): the first failing reason code per variant, "" when it passes."""
    r2 = gating_r2(block, metrics, limits.r2_source)
    maf = np.minimum(metrics["alt_freq"], 1 - metrics["alt_freq"])
    failed = (np.array(["," in a for a in block.alt], dtype=bool), duplicate,
              metrics["missing_rate"] > limits.max_missing,
              ~(metrics["mac"] >= limits.min_mac), ~(maf >= limits.min_maf), r2 < limits.min_r2)
    reason = np.full(len(block.pos), "", dtype=object)
    for code, fails in reversed(list(zip(REASONS, failed, strict=True))):
        reason = np.where(fails, code, reason)
    return reason


def duplicates(block: DosageBlock, seen: set) -> np.ndarray:
    """bool (m,): variants whose position and alleles, or ID (other than "."), came earlier in
    the region (as the array variant QC, ``plink2 --rm-dup force-first``); updates ``seen``."""
    flags = np.zeros(len(block.pos), dtype=bool)
    for i, (pos, variant_id, ref, alt) in enumerate(zip(block.pos.tolist(), block.ids, block.ref,
                                                        block.alt, strict=True)):
        keys = [(pos, ref, alt)] + ([variant_id] if variant_id != "." else [])
        flags[i] = any(key in seen for key in keys)
        seen.update(keys)
    return flags


def ingest_dosages(path: Path, region: str, out: Path, keep: Path | None = None,
                   phenotypes: Path | None = None, limits: DosageThresholds = DosageThresholds(),
                   build: str = "GRCh38", block_size: int = 1024,
                   multiallelic: str = "drop") -> dict:
    """Write ``<out>.pgen/.pvar/.psam`` (passing variants, kept samples; private),
    ``<out>.variants.tsv`` and ``<out>.json`` (counts per reason); returns the counts."""
    kind = input_kind(path)
    contig, start, end = parse_region(region)
    field = source_field(path, kind)
    if field == HARD_CALLS:
        print(f"warning: {path}: no DS, HDS or GP in the header: hard calls only, read from GT "
              "as dosages 0/1/2 (imputation uncertainty is lost; hard_calls_only in "
              f"{out}.json)", file=sys.stderr)
    samples = file_samples(path, kind)
    kept = kept_samples(samples, keep)
    ids = [s for s, k in zip(samples, kept, strict=True) if k]
    sex = sample_sex(phenotypes, ids)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, spill = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".dosages")
    try:
        with os.fdopen(fd, "wb") as spill_file:
            blocks = read_blocks(path, kind, contig, start, end, block_size, multiallelic)
            tables, pvar_lines, n_pass = _spill_passing(blocks, kept, sex == 1, build, limits,
                                                        spill_file, block_size)
        _write_pgen(out, Path(spill), n_pass, ids, sex, pvar_lines, block_size)
    finally:
        Path(spill).unlink(missing_ok=True)
    return _write_tables(out, tables, n_in_samples=len(samples), n_kept=len(ids),
                         contig=contig, kind=kind, field=field, reader=reader_name(path, kind))


def _spill_passing(blocks: Iterator[DosageBlock], kept: np.ndarray, male: np.ndarray,
                   build: str, limits: DosageThresholds, spill_file,
                   block_size: int) -> tuple[list[dict], list[str], int]:
    """(per-variant tables, .pvar lines, number of passing variants) of ``blocks``, the
    passing variants' dosages of the ``kept`` samples (bool (n,)) written to ``spill_file``
    as float32 rows. The kept columns of each block go into one buffer, freed on return,
    before the .pgen writer makes its own."""
    tables, pvar_lines, seen, n_pass = [], [], set(), 0
    columns = np.empty((block_size, int(kept.sum())), dtype=np.float32)  # untouched if unused
    for block in blocks:
        block = block._replace(dosage=kept_columns(block.dosage, kept, columns))
        metrics = variant_metrics(block, male, build)
        reason = failing_reasons(block, metrics, duplicates(block, seen), limits)
        passing = reason == ""
        write_rows(spill_file, block.dosage, passing)
        n_pass += int(passing.sum())
        pvar_lines += pvar_records(block, gating_r2(block, metrics, limits.r2_source), passing)
        tables.append(_table(block, metrics, reason))
    return tables, pvar_lines, n_pass


def pvar_records(block: DosageBlock, r2: np.ndarray, passing: np.ndarray) -> list[str]:
    """.pvar lines (CHROM POS ID REF ALT INFO) of the passing variants: INFO ``R2`` the gating
    r² (:func:`gating_r2`, 6 digits; absent when undefined) and the ``TYPED`` flag."""
    lines = []
    for i in np.flatnonzero(passing).tolist():
        info = [f"R2={r2[i]:.6g}"] if np.isfinite(r2[i]) else []
        info += ["TYPED"] if block.typed[i] else []
        lines.append(f"{block.chrom}\t{block.pos[i]}\t{block.ids[i]}\t{block.ref[i]}\t"
                     f"{block.alt[i]}\t{';'.join(info) or '.'}")
    return lines


def _table(block: DosageBlock, metrics: dict, reason: np.ndarray) -> dict:
    return {"chrom": [block.chrom] * len(block.pos), "pos": block.pos, "id": block.ids,
            "ref": block.ref, "alt": block.alt, "file_r2": block.file_r2,
            "mach_r2": metrics["mach_r2"], "alt_freq": metrics["alt_freq"],
            "mac": metrics["mac"], "missing_rate": metrics["missing_rate"],
            "typed": block.typed.astype(np.int8), "reason": reason}


def _write_pgen(out: Path, spill: Path, n_pass: int, ids: list[str], sex: np.ndarray,
                pvar_lines: list[str], block_size: int) -> None:
    """The passing variants' dosages (float32 rows in ``spill``) as a private PLINK 2 fileset,
    each file written atomically (an empty .pgen marks "no variants": pgenlib cannot write an
    empty file)."""
    psam_text = "#IID\tSEX\n" + "".join(f"{s}\t{x if x else 'NA'}\n"
                                        for s, x in zip(ids, sex.tolist(), strict=True))
    write_text_atomic(Path(f"{out}.psam"), psam_text, private=True)
    pvar_text = PVAR_HEADER + "".join(f"{line}\n" for line in pvar_lines)
    write_text_atomic(Path(f"{out}.pvar"), pvar_text, private=True)
    with atomic_output(Path(f"{out}.pgen"), private=True) as pgen:
        if n_pass > 0:
            _write_dosages(pgen, spill, n_pass, len(ids), block_size)


def _write_dosages(pgen: Path, spill: Path, n_pass: int, n_samples: int,
                   block_size: int) -> None:
    """``spill``'s float32 dosage rows, shape (n_pass, n_samples), as the .pgen ``pgen``, read
    ``block_size`` rows at a time into one buffer (not mapped: the mapped pages of the whole
    spill, n_pass × n_samples × 4 bytes, would count in the job's resident memory)."""
    import pgenlib

    rows = np.empty((min(block_size, n_pass), n_samples), dtype=np.float32)
    writer = pgenlib.PgenWriter(bytes(pgen), n_samples, variant_ct=n_pass, nonref_flags=False,
                                dosage_present=True)
    with contextlib.closing(writer), open(spill, "rb") as handle:
        for first in range(0, n_pass, block_size):
            block = rows[:min(block_size, n_pass - first)]
            handle.readinto(block.data)
            writer.append_dosages_batch(block)


def _write_tables(out: Path, tables: list[dict], n_in_samples: int, n_kept: int, contig: str,
                  kind: str, field: str, reader: str | None) -> dict:
    import pandas as pd

    table = pd.concat([pd.DataFrame(t) for t in tables], ignore_index=True) if tables else \
        pd.DataFrame({c: [] for c in TABLE_COLUMNS})
    write_tsv(Path(f"{out}.variants.tsv"), table[list(TABLE_COLUMNS)])
    counts = table["reason"].value_counts()
    summary = {"input_format": kind, "dosage_field": field, "vcf_reader": reader,
               "hard_calls_only": field == HARD_CALLS, "contig": contig,
               "samples_in_file": n_in_samples, "samples_kept": n_kept,
               "variants_in": len(table), "variants_passed": int((table["reason"] == "").sum()),
               "excluded": {code: int(counts.get(code, 0)) for code in REASONS}}
    write_json(Path(f"{out}.json"), summary)
    return summary
