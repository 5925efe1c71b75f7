"""Ingest one chunk: genotypes of one region -> PLINK 1 .bed/.bim/.fam + record tally (JSON).

Every sample of the genotype file is kept, in file order (sample QC decides later). The .bim's
A1 (5th column) is the ALT allele, so .bed dosages count ALT alleles. The .fam's sex column
comes from the phenotype sheet (1 male, 2 female, 0 unknown or not in the sheet). GT decoding
follows ``ingest.half_calls`` and ``ingest.multiallelic``; on X (non-PAR), Y and MT, calls a
sample's ploidy makes impossible are set missing and counted (see cohortgen.kernels.gt).
Before that, the sex check's per-sample sums over non-PAR X and Y are taken from the calls as
they came in (:func:`cohortgen.qc.variant_stats.sex_check_partials`), so that the sex check
still sees the chrX het calls of a woman recorded as a man. Alleles are kept as given (any
string; :mod:`cohortgen.io.alleles`). Every record of a contig outside the table of
:mod:`cohortgen.genome` (unplaced, alt, decoy) is excluded with that contig's reason. A VCF chunk
is converted without importing pandas (each chunk runs in a fresh process) unless a sheet is
read or the chunk has non-PAR X or Y calls to sum for the sex check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cohortgen.errors import InputError
from cohortgen.genome import excluded_contig_reason
from cohortgen.ingest.plan import is_plink_prefix
from cohortgen.ingest.ploidy import is_ploidy_aware, ploidy_regions, sample_sex
from cohortgen.io.alleles import is_missing_allele
from cohortgen.io.bed import BIM_COLUMNS, read_bed, write_bed
from cohortgen.io.files import write_json, write_npz
from cohortgen.io.vcf import VCF_READERS, RecordTally, read_region_blocks
from cohortgen.io.vcf_header import vcf_samples
from cohortgen.io.vcf_rules import exclusion_reason
from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.kernels.gt import (
    HALF_CALL_MODES,
    PLOIDY_COUNTS,
    REGION_X,
    REGION_Y,
    apply_ploidy,
    decode_calls,
)

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class IngestRules:
    """Decoding rules from the ``ingest`` config section and ``genome_build``."""

    half_calls: str = "missing"
    multiallelic: str = "drop"
    genome_build: str = "GRCh38"
    vcf_reader: str = "native"


def fam_for_samples(samples: list[str], sex: np.ndarray | None = None) -> pd.DataFrame:
    """A .fam frame for unrelated samples (FID = IID) of the given sex (int, 0 unknown)."""
    import pandas as pd

    return pd.DataFrame(_fam_columns(samples, sex))


def _fam_columns(samples: list[str], sex: np.ndarray | None = None) -> dict:
    """The columns of :func:`fam_for_samples`: lists of str, sex and pheno int64 arrays."""
    n = len(samples)
    sex = np.zeros(n, dtype=np.int64) if sex is None else sex.astype(np.int64)
    return {"fid": samples, "iid": samples, "father": ["0"] * n, "mother": ["0"] * n,
            "sex": sex, "pheno": np.full(n, -9, dtype=np.int64)}


def _ploidy(dosage: np.ndarray, contig: str, pos, sex: np.ndarray, rules: IngestRules,
            tally: RecordTally, sex_sums: dict | None) -> None:
    """Apply sex-aware ploidy to ``dosage`` in place (X, Y and MT only) and count changes;
    first add the sex check's sums of the calls as they came in to ``sex_sums`` (if given)."""
    if not is_ploidy_aware(contig) or dosage.shape[0] == 0:
        return
    region = ploidy_regions(contig, pos, rules.genome_build)
    if sex_sums is not None:
        _add_sex_sums(sex_sums, dosage, region, sex)
    counts = apply_ploidy(dosage, region, sex)
    for name, total in zip(PLOIDY_COUNTS, counts.sum(axis=0).tolist(), strict=True):
        tally.genotypes[name] += total


def _add_sex_sums(sex_sums: dict, dosage: np.ndarray, region: np.ndarray,
                  sex: np.ndarray) -> None:
    """Add the sex check's per-sample sums over the non-PAR X and Y rows of ``dosage`` (int8
    (m, n), calls as they came in; ``region``: int8 (m,) ``REGION_*``) to ``sex_sums``."""
    rows = (region == REGION_X) | (region == REGION_Y)
    if rows.any():
        from cohortgen.qc.variant_stats import add_partials, sex_check_partials  # with pandas

        add_partials(sex_sums, sex_check_partials(pack_dosages(dosage[rows]),
                                                  region[rows] == REGION_X,
                                                  region[rows] == REGION_Y, sex))


def _decode_block(path: Path, block, rules: IngestRules, tally: RecordTally) -> np.ndarray:
    dosage, n_half = decode_calls(block.alleles, block.alt_index, HALF_CALL_MODES[rules.half_calls])
    if n_half.any():
        if rules.half_calls == "error":
            first = int(np.flatnonzero(n_half)[0])
            raise InputError(
                f"{path}: record {block.chrom[first]}:{block.pos[first]} has {n_half[first]} "
                "half-call(s) such as './1'; set ingest.half_calls to missing, haploid or "
                "reference to accept them"
            )
        tally.genotypes[f"half_calls_{rules.half_calls}"] += int(n_half.sum())
    return dosage


def _vcf_chunk(path: Path, contig: str, start: int, end: int, sex_of, rules: IngestRules,
               tally: RecordTally, sex_sums: dict | None, threads: int = 1):
    """(packed .bed rows, .bim columns, .fam columns) of the region's records (module doc)."""
    samples = vcf_samples(path)
    sex = sex_of(samples)
    packed, bim = [], {name: [] for name in BIM_COLUMNS}
    dropped = excluded_contig_reason(contig)
    for block in read_region_blocks(path, contig, start, end, tally,
                                    multiallelic=rules.multiallelic, threads=threads,
                                    reader=rules.vcf_reader):
        if dropped:
            continue
        dosage = _decode_block(path, block, rules, tally)
        _ploidy(dosage, contig, block.pos, sex, rules, tally, sex_sums)
        packed.append(pack_dosages(dosage))
        columns = (block.chrom, block.ids, [0.0] * len(block.pos), block.pos, block.alt,
                   block.ref)
        for name, values in zip(BIM_COLUMNS, columns, strict=True):
            bim[name].extend(values)
    if dropped:
        _exclude_kept(tally, dropped)
    nb = (len(samples) + 3) // 4
    bed = np.concatenate(packed) if packed else np.zeros((0, nb), np.uint8)
    return bed, bim, _fam_columns(samples, sex)


def _exclude_kept(tally: RecordTally, reason: str) -> None:
    """Count the tally's kept records as excluded for ``reason`` (none written)."""
    tally.excluded[reason] += tally.n_kept
    tally.n_kept = tally.n_variants = tally.n_split = tally.split_alts_dropped = 0


def _bed_chunk(prefix: Path, contig: str, start: int, end: int, sex_of, rules: IngestRules,
               tally: RecordTally, sex_sums: dict | None):
    """The .bim rows of the region, in file order, less those with a missing or symbolic allele
    or on an excluded contig (tallied by reason, as VCF records). The .bed is memory-mapped, so
    only the region's rows are read (a .bim need not be sorted, nor hold a contig in one
    block)."""
    packed, bim, fam = read_bed(prefix)
    rows = np.flatnonzero((bim["chrom"] == contig).to_numpy()
                          & (bim["pos"] >= start).to_numpy() & (bim["pos"] <= end).to_numpy())
    dropped = excluded_contig_reason(contig)
    reasons = [dropped or _bim_exclusion(ref, alt) for ref, alt in
               zip(bim["a2"].iloc[rows], bim["a1"].iloc[rows], strict=True)]
    kept = np.array([reason is None for reason in reasons], dtype=bool)
    tally.n_in = len(rows)
    tally.n_kept = tally.n_variants = int(kept.sum())
    tally.excluded.update(reason for reason in reasons if reason is not None)
    rows = rows[kept]
    chunk_bim = bim.iloc[rows].reset_index(drop=True)
    bed = np.ascontiguousarray(packed[rows])
    sex = sex_of(fam["iid"].astype(str).tolist(), fam["sex"].to_numpy())
    if is_ploidy_aware(contig):
        dosage = unpack_dosages(bed, len(fam))
        _ploidy(dosage, contig, chunk_bim["pos"].to_numpy(), sex, rules, tally, sex_sums)
        bed = pack_dosages(dosage)
    return bed, chunk_bim, fam.assign(sex=sex.astype(np.int64))


def _bim_exclusion(ref: str, alt: str) -> str | None:
    """Why a .bim row is excluded (None if kept), by the VCF record rules: an ALT (A1) of "0" or
    "." (PLINK's missing allele) is no ALT, a missing REF (A2) no REF; symbolic alleles (such as
    ``<DEL>``) are excluded; any other allele string (``1``/``2``, ``A``/``B``, ``I``/``D``) is
    kept."""
    if is_missing_allele(alt):
        return "no_alt_allele"
    if is_missing_allele(ref):
        return "no_ref_allele"
    return exclusion_reason(ref, [alt])


def ingest_chunk(genotypes: str, contig: str, start: int, end: int, out_prefix: Path,
                 tally_json: Path, phenotypes: Path | None = None,
                 rules: IngestRules = IngestRules(), threads: int = 1,
                 sex_partials_npz: Path | None = None) -> dict:
    """Convert one region to ``out_prefix.{bed,bim,fam}`` and write its record tally, and
    with ``sex_partials_npz`` the sex check's per-sample sums of the calls as they came in
    (private; module doc).

    Sex comes from ``phenotypes`` (else a PLINK input's .fam, else unknown). ``threads``
    threads inflate a VCF's bgzip blocks."""
    if (rules.half_calls not in HALF_CALL_MODES or rules.multiallelic not in ("drop", "split")
            or rules.vcf_reader not in VCF_READERS):
        raise InputError(f"ingest: unknown rule in {rules}; see ingest.* in the config schema")

    def sex_of(samples: list[str], fallback: np.ndarray | None = None) -> np.ndarray:
        if phenotypes is None and fallback is not None:
            return np.where(np.isin(fallback, (1, 2)), fallback, 0).astype(np.int8)
        return sample_sex(phenotypes, samples)

    tally = RecordTally()
    sex_sums = None if sex_partials_npz is None else {}
    if is_plink_prefix(genotypes):
        bed, bim, fam = _bed_chunk(Path(genotypes), contig, start, end, sex_of, rules, tally,
                                   sex_sums)
    else:
        bed, bim, fam = _vcf_chunk(Path(genotypes), contig, start, end, sex_of, rules, tally,
                                   sex_sums, threads)
    write_bed(Path(out_prefix), bed, bim, fam)
    if sex_sums is not None:  # no array for a chunk without non-PAR X or Y calls
        write_npz(Path(sex_partials_npz), sex_sums, private=True)
    summary = {"contig": contig, "start": start, "end": end, **tally.as_dict()}
    write_json(Path(tally_json), summary)
    return summary
