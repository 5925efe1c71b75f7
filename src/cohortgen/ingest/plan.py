"""Chunk planning: split the genome into regions of about ``variants_per_chunk`` records.

VCF/BCF: per-contig record counts from the index; within a contig, boundaries follow the
compressed offsets of the .tbi linear index (so chunks hold similar numbers of records), or equal
base-pair spans for .csi. PLINK filesets: consecutive .bim rows, never splitting a contig's
position across chunks. The plan is a table: chunk_id, contig, start, end (1-based inclusive
positions), n_variants (estimated for VCF, exact for PLINK). One chunk's row is read without
pandas (:func:`read_plan_chunk`, for the ingest of that chunk).
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.bed import read_bim
from cohortgen.io.files import write_text_atomic
from cohortgen.io.vcf_header import declared_contigs, open_vcf
from cohortgen.io.vcf_index import TBI_WINDOW_BP, ContigIndex, index_path, read_index

if TYPE_CHECKING:
    import pandas as pd

PLAN_COLUMNS = ["chunk_id", "contig", "start", "end", "n_variants"]


def is_plink_prefix(genotypes: str) -> bool:
    """True when ``genotypes`` names a PLINK 1 fileset prefix rather than a VCF/BCF file."""
    return not genotypes.endswith((".vcf.gz", ".vcf.bgz", ".bcf", ".vcf"))


def _contig_header(vcf_path: Path) -> tuple[list[str], dict[str, int]]:
    """Contig names in header order (a BCF index refers to them by number) and the lengths the
    header declares ({} when it declares none)."""
    vcf = open_vcf(vcf_path)
    names = list(vcf.seqnames)
    try:
        lengths = dict(zip(names, vcf.seqlens, strict=True))
    except (AttributeError, ValueError):  # cyvcf2: "no sequence lengths found in header"
        lengths = {}
    return names, lengths


def _boundaries(contig: ContigIndex, n_chunks: int, length: int) -> list[int]:
    """1-based start positions of chunks 2..n_chunks within one contig."""
    offsets = np.asarray(contig.window_offsets, dtype=np.float64)
    if n_chunks <= 1:
        return []
    if offsets.size > 1 and offsets[-1] > offsets[0]:
        targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(1, n_chunks) / n_chunks
        windows = np.searchsorted(offsets, targets, side="left")
        starts = windows * TBI_WINDOW_BP + 1
    else:
        starts = 1 + (np.arange(1, n_chunks) * length) // n_chunks
    return sorted({int(s) for s in starts if 1 < s <= length})


def _check_declared(vcf_path: Path, contigs: list[str]) -> None:
    """InputError if records lie on a contig the VCF header does not declare; a warning (on
    stderr) if it declares none, which the VCF specification allows: the index names them."""
    declared = declared_contigs(vcf_path)
    if declared == set():
        print(f"warning: {vcf_path}: the header has no ##contig lines; contigs "
              f"{', '.join(contigs[:5])}{' ...' if len(contigs) > 5 else ''} are taken from the "
              "index (add ##contig lines with lengths to set chunk ends)", file=sys.stderr)
        return
    undeclared = [c for c in contigs if declared is not None and c not in declared]
    if undeclared:
        raise InputError(
            f"{vcf_path}: records on contig {undeclared[0]!r}, which the header does not "
            f"declare; add '##contig=<ID={undeclared[0]},length=...>' (bcftools reheader) or "
            "fix the CHROM column"
        )


def plan_vcf_chunks(vcf_path: Path, variants_per_chunk: int) -> pd.DataFrame:
    """Chunk plan of an indexed VCF/BCF (see module doc)."""
    vcf_path = Path(vcf_path)
    names, lengths = _contig_header(vcf_path)
    contigs = read_index(index_path(vcf_path), contig_names=names)
    _check_declared(vcf_path, [c.name for c in contigs if c.n_records])
    rows = []
    for contig in contigs:
        if contig.n_records == 0:
            continue
        length = lengths.get(contig.name) or contig.max_pos
        n_chunks = max(1, math.ceil(contig.n_records / variants_per_chunk))
        starts = [1, *_boundaries(contig, n_chunks, length)]
        ends = [s - 1 for s in starts[1:]] + [max(length, contig.max_pos, 1)]
        for start, end in zip(starts, ends, strict=True):
            rows.append((contig.name, start, end, contig.n_records // len(starts)))
    if not rows:
        raise InputError(f"{vcf_path}: the index lists no records; is the VCF empty?")
    return _as_plan(rows)


def plan_bed_chunks(prefix: Path, variants_per_chunk: int) -> pd.DataFrame:
    """Chunk plan of a PLINK 1 fileset from its .bim (see module doc)."""
    bim = read_bim(Path(f"{prefix}.bim"))
    return positions_plan(zip(bim["chrom"].astype(str), bim["pos"], strict=True),
                          variants_per_chunk)


def positions_plan(sites, variants_per_chunk: int) -> pd.DataFrame:
    """Chunk plan of the variants at ``sites`` (iterable of (contig, position)), contigs in order
    of first appearance, positions in any order; a position is never split over chunks."""
    by_contig: dict[str, list[int]] = {}
    for contig, pos in sites:
        by_contig.setdefault(str(contig), []).append(int(pos))
    rows = []
    for contig, positions in by_contig.items():
        pos = np.sort(np.asarray(positions, dtype=np.int64))
        n_chunks = max(1, math.ceil(len(pos) / variants_per_chunk))
        cuts = [int(pos[(k * len(pos)) // n_chunks]) for k in range(1, n_chunks)]
        starts = sorted({int(pos.min()), *cuts})
        ends = [s - 1 for s in starts[1:]] + [int(pos.max())]
        for start, end in zip(starts, ends, strict=True):
            rows.append((contig, start, end, int(((pos >= start) & (pos <= end)).sum())))
    return _as_plan(rows)


def _as_plan(rows: list[tuple]) -> pd.DataFrame:
    import pandas as pd

    plan = pd.DataFrame(rows, columns=PLAN_COLUMNS[1:])
    plan.insert(0, "chunk_id", [f"c{k:04d}" for k in range(1, len(plan) + 1)])
    return plan


def plan_chunks(genotypes: str, variants_per_chunk: int) -> pd.DataFrame:
    """Chunk plan for a VCF/BCF path or a PLINK prefix."""
    if variants_per_chunk < 1:
        raise InputError(f"variants_per_chunk is {variants_per_chunk}; it must be at least 1")
    if is_plink_prefix(genotypes):
        return plan_bed_chunks(Path(genotypes), variants_per_chunk)
    return plan_vcf_chunks(Path(genotypes), variants_per_chunk)


def write_plan(plan: pd.DataFrame, path: Path) -> None:
    """Write the plan as TSV (atomically)."""
    write_text_atomic(path, plan.to_csv(sep="\t", index=False, lineterminator="\n"))


def read_plan(path: Path) -> pd.DataFrame:
    """Read a plan written by :func:`write_plan` (contig as string)."""
    import pandas as pd

    return pd.read_csv(path, sep="\t", dtype={"chunk_id": str, "contig": str})


def read_plan_chunk(path: Path, chunk_id: str) -> tuple[str, int, int]:
    """(contig, start, end) of chunk ``chunk_id`` in a plan written by :func:`write_plan`;
    InputError when the plan is not one or has no such chunk."""
    with Path(path).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not set(PLAN_COLUMNS) <= set(reader.fieldnames or ()):
            raise InputError(f"{path}: not a chunk plan (columns {', '.join(PLAN_COLUMNS)} "
                             "expected); re-plan the chunks")
        for row in reader:
            if row["chunk_id"] != chunk_id:
                continue
            try:
                return row["contig"], int(row["start"]), int(row["end"])
            except (TypeError, ValueError):
                raise InputError(
                    f"{path}, line {reader.line_num}: chunk {chunk_id!r} has start "
                    f"{row['start']!r}, end {row['end']!r}; expected whole numbers: re-plan the "
                    "chunks"
                ) from None
    raise InputError(f"{path}: no chunk {chunk_id!r}; re-plan the chunks")
