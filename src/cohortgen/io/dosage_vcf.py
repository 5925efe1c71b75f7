"""Imputed dosages from a bgzipped, indexed VCF/BCF (Minimac4, Beagle 5, imputation servers):
the rules, and the cyvcf2 (htslib) reader. A bgzipped VCF with DS, HDS or GP is read by the
native text reader (:mod:`cohortgen.io.dosage_text`), which applies these same rules; BCF and
files of hard calls only are read with cyvcf2 (:func:`vcf_reader` says which and why).

The dosage of a call comes from FORMAT ``DS`` when the header declares it (as ``plink2 --vcf
dosage=DS``), else ``HDS`` (the sum of the haplotype dosages), else ``GP`` (P(het) + 2 P(hom
ALT)), else, in a file with hard calls only, ``GT`` (:data:`HARD_CALLS`); when DS and GP
are both declared they must agree (:data:`cohortgen.io.dosage.DS_GP_TOLERANCE`). A call is
haploid when its GT has one allele (PLINK 2's rule; a record of non-PAR chrX, chrY or MT
without GT is refused, as plink2 refuses it, since DS cannot tell a haploid 0..1 from a
diploid 0..2 scale). The file's r² is INFO ``R2`` (Minimac4) or ``DR2``
(Beagle) or ``INFO``; a genotyped variant has the ``TYPED`` flag (Minimac4) or, in a file whose
header declares the ``IMP`` flag (Beagle), lacks it. Multi-allelic records: see
:func:`read_vcf_dosages` (``plink2`` cannot import their dosages). htslib holds the values as
float32; they are restored to the decimals written (:func:`cohortgen.io.dosage.decimal_values`)
before rounding, as plink2 rounds the text's double. A BCF stores float32 itself, so with more
than 3 decimals a rare value can differ by one 1/16384 step from ``plink2 --bcf``.

Speed (bench/bench_dosages.py, one thread, CPU time): the cyvcf2 reader reads about 65 MB/s of
VCF text, the text reader 2.5 to 6 times as much (the table in the README).
"""

from collections.abc import Iterator
from pathlib import Path

import cyvcf2
import numpy as np

from cohortgen.errors import InputError
from cohortgen.genome import contig_class
from cohortgen.io.bgzf import BGZF_MAGIC
from cohortgen.io.dosage import (
    GP_SUM_TOLERANCE,
    HARD_CALLS,
    DosageBlock,
    check_dosages,
    check_ds_gp,
    decimal_values,
    gp_dosage,
    record_name,
    stored_dosages,
)
from cohortgen.io.dosage_text import read_text_dosages
from cohortgen.io.vcf_guard import check_region_values
from cohortgen.io.vcf_htslib import _genotypes
from cohortgen.io.vcf_index import index_path

R2_KEYS = ("R2", "DR2", "INFO")
"""INFO keys holding the imputation r², in order of preference."""

DOSAGE_FIELDS = ("DS", "HDS", "GP")
"""FORMAT fields a dosage is read from, in order of preference."""


def open_dosage_vcf(path: Path) -> tuple[cyvcf2.VCF, list[str], bool]:
    """The opened file, its FORMAT dosage fields present (of DS, HDS, GP; ``["GT"]`` when the
    header declares none of them but GT: hard calls only) and whether the header declares INFO
    ``IMP``; InputError without an index or without any of DS, HDS, GP and GT."""
    index_path(path)
    try:
        vcf = cyvcf2.VCF(str(path), gts012=False, lazy=True, threads=1)
    except OSError as exc:
        raise InputError(f"{path}: cannot be read as VCF/BCF ({exc})") from None
    declared = {(h.type, h.info().get("ID")) for h in vcf.header_iter()}
    fields = [f for f in DOSAGE_FIELDS if ("FORMAT", f) in declared]
    if not fields and ("FORMAT", HARD_CALLS) in declared:
        fields = [HARD_CALLS]
    if not fields:
        vcf.close()
        raise InputError(f"{path}: the header declares none of FORMAT DS, HDS, GP or GT, so the "
                         "file holds no genotypes; give the imputed VCF (with DS or GP)")
    return vcf, fields, ("INFO", "IMP") in declared


def dosage_field(path: Path) -> str:
    """The FORMAT field the dosages of ``path`` come from: DS, HDS, GP or, in a file with none
    of them, GT (hard calls only)."""
    vcf, fields, _ = open_dosage_vcf(path)
    vcf.close()
    return fields[0]


def vcf_reader(path: Path, fields: list[str]) -> str:
    """Which reader :func:`read_vcf_dosages` uses for ``path`` with dosage ``fields``: "text"
    (:mod:`cohortgen.io.dosage_text`, for a bgzipped VCF with DS, HDS or GP), else "htslib"
    and why (BCF, hard calls only, not bgzip)."""
    if str(path).endswith(".bcf"):
        return "htslib (BCF)"
    if fields == [HARD_CALLS]:
        return "htslib (hard calls only)"
    with path.open("rb") as handle:
        if handle.read(4) != BGZF_MAGIC:
            return "htslib (not bgzip)"
    return "text"


def read_vcf_dosages(path: Path, contig: str, start: int, end: int, block_size: int = 1024,
                     multiallelic: str = "drop", reader: str = "auto") -> Iterator[DosageBlock]:
    """Blocks of at most ``block_size`` variants of ``contig``:``start``-``end`` (1-based,
    inclusive; records starting in the region). A multi-allelic record is one variant with NaN
    dosages (``multiallelic="drop"``) or one variant per ALT (``"split"``: REF vs that ALT,
    other ALTs counted as REF, as ``bcftools norm -m-`` splits DS; ID chrom:pos:ref:alt; from
    DS, GP or HDS, see :func:`hds_dosage`). ``reader``: "auto"
    (:func:`vcf_reader`), "text" or "htslib" (cyvcf2)."""
    vcf, fields, marks_imputed = open_dosage_vcf(path)
    samples = list(vcf.samples)
    split = multiallelic == "split"
    reader = vcf_reader(path, fields) if reader == "auto" else reader
    rows: list[tuple] = []
    try:
        if reader == "text":
            yield from read_text_dosages(path, samples, list(vcf.seqnames), fields,
                                         marks_imputed, contig, start, end, block_size,
                                         multiallelic)
            return
        check_region_values(path, vcf, contig, start, end)
        for variant in vcf(f"{contig}:{start}-{end}"):
            if not start <= variant.POS <= end:
                continue
            rows += record_rows(path, variant, fields, samples, marks_imputed, split)
            if len(rows) >= block_size:
                yield make_block(contig, rows[:block_size])
                rows = rows[block_size:]
    except InputError:
        raise
    except Exception as exc:  # htslib parse failures surface as assorted exception types
        raise InputError(f"{path}: unreadable record in {contig}:{start}-{end} ({exc}); check "
                         "the file (e.g. bcftools view) in that region") from None
    finally:
        vcf.close()
    while rows:
        yield make_block(contig, rows[:block_size])
        rows = rows[block_size:]


def record_rows(path: Path, variant, fields: list[str], samples: list[str], marks_imputed: bool,
                split: bool, stored: np.ndarray | None = None) -> list[tuple]:
    """(pos, id, ref, alt, dosage float32 (n,), file r², typed) per variant of one record (a
    cyvcf2 ``Variant`` or the text reader's twin); ``stored``: the dosages of a biallelic
    record already computed by the text reader's kernel."""
    alts = variant.ALT or ["."]
    typed = bool(variant.INFO.get("TYPED")) or (marks_imputed and not variant.INFO.get("IMP"))
    r2 = next((float(variant.INFO[k]) for k in R2_KEYS if variant.INFO.get(k) is not None),
              np.nan)
    variant_id = variant.ID or "."
    if len(alts) > 1 and not split:
        return [(variant.POS, variant_id, variant.REF, ",".join(alts),
                 np.full(len(samples), np.nan, np.float32), r2, typed)]
    if stored is not None:
        return [(variant.POS, variant_id, variant.REF, alts[0], stored, r2, typed)]
    where = f"{path}: record {record_name(variant.CHROM, variant.POS, variant_id)}"
    haploid = _haploid(variant, where, len(samples))
    dosage = _dosage(variant, fields, haploid, len(alts), where, samples)
    if len(alts) > 1:
        return [(variant.POS, f"{variant.CHROM}:{variant.POS}:{variant.REF}:{alt}", variant.REF,
                 alt, stored_dosages(dosage[:, j], haploid), r2, typed)
                for j, alt in enumerate(alts)]
    return [(variant.POS, variant_id, variant.REF, alts[0], stored_dosages(dosage[:, 0], haploid),
             r2, typed)]


def _haploid(variant, where: str, n: int) -> np.ndarray:
    """bool (n,): calls whose GT has one allele; all False on a diploid contig without GT."""
    gt = _genotypes(variant)
    if gt is None:
        if contig_class(variant.CHROM) in {"x", "y", "mt"}:
            raise InputError(f"{where}: dosages on chrX/chrY/MT need GT to tell haploid (0..1) "
                             "from diploid (0..2) calls; re-export the file with GT")
        return np.zeros(n, dtype=bool)
    return gt[:, 1] == -2


def _dosage(variant, fields: list[str], haploid: np.ndarray, n_alt: int, where: str,
            samples: list[str]) -> np.ndarray:
    """float64 (n, n_alt) ALT dosages as written (haploid 0..1), NaN missing, checked."""
    if fields == [HARD_CALLS]:
        return _gt_dosage(variant, n_alt, where)
    gp = variant.format("GP") if "GP" in fields else None
    gp_ds = None if gp is None else gp_dosage(decimal_values(gp), haploid, n_alt, where, samples)
    if "DS" in fields and (ds := variant.format("DS")) is not None:
        dosage = decimal_values(ds[:, :n_alt])
        field = "DS"
    elif "HDS" in fields and (hds := variant.format("HDS")) is not None:
        dosage = hds_dosage(decimal_values(hds), haploid, n_alt, where, samples)
        field = "HDS"
    elif gp_ds is not None:
        return gp_ds
    else:
        raise InputError(f"{where}: no {'/'.join(fields)} values; every record needs one")
    for j in range(n_alt):
        check_dosages(dosage[:, j], haploid, where, samples, field)
        if gp_ds is not None:
            check_ds_gp(dosage[:, j], gp_ds[:, j], where, samples)
    return dosage


def hds_dosage(hds: np.ndarray, haploid: np.ndarray, n_alt: int, where: str,
               samples: list[str]) -> np.ndarray:
    """float64 (n, n_alt) dosage of each ALT as written (haploid 0..1) from haplotype dosages.

    hds: float (n, widest cell), NaN missing or beyond a cell's values. A biallelic record's
    cell holds one ALT dosage per haplotype (Minimac4's HDS, Number=2; dosage h1 + h2, haploid
    h1). With K > 1 ALTs a cell holds, per haplotype, the probability of each ALT: h1's K
    values, then h2's (Beagle 5's AP1 and AP2 laid end to end; K values for a haploid call),
    so ALT j's dosage is ``h1[j] + h2[j]``; other ALTs count as REF, as in a split record. A
    call whose first value is missing is missing; any other count of values, or a haplotype
    whose ALT probabilities sum above 1 (beyond :data:`GP_SUM_TOLERANCE`), is an InputError.
    """
    if n_alt == 1:
        return np.where(haploid, hds[:, 0], hds[:, 0] + hds[:, -1])[:, None]
    present = ~np.isnan(hds[:, 0])
    wanted = np.where(haploid, n_alt, 2 * n_alt)
    haplotypes = np.full((len(hds), 2, n_alt), np.nan)
    width = min(hds.shape[1], 2 * n_alt)
    haplotypes.reshape(len(hds), -1)[:, :width] = hds[:, :width]
    haplotypes[haploid, 1] = 0.0
    bad = np.flatnonzero(present & (np.sum(~np.isnan(hds), axis=1) != wanted))
    if bad.size:
        j = int(bad[0])
        raise InputError(f"{where}: sample {samples[j]}: HDS has "
                         f"{int(np.sum(~np.isnan(hds[j])))} values; a "
                         f"{'haploid' if haploid[j] else 'diploid'} call of a record with "
                         f"{n_alt} ALTs needs {wanted[j]} (each ALT's dosage, per haplotype); "
                         "fix the file")
    over = np.round(np.nansum(haplotypes, axis=2) - 1, 9) > GP_SUM_TOLERANCE
    bad = np.flatnonzero(present & over.any(axis=1))
    if bad.size:
        j = int(bad[0])
        raise InputError(f"{where}: sample {samples[j]}: HDS gives a haplotype ALT "
                         f"probabilities summing above 1 (HDS "
                         f"{','.join(f'{v:g}' for v in hds[j] if not np.isnan(v))}); fix the "
                         "file")
    dosage = haplotypes.sum(axis=1)
    dosage[~present] = np.nan
    return dosage


def _gt_dosage(variant, n_alt: int, where: str) -> np.ndarray:
    """float64 (n, n_alt) copies of each ALT in the GT (haploid 0..1), NaN where an allele is
    missing (a half-call too: ``plink2 --vcf-half-call missing``)."""
    gt = _genotypes(variant)
    if gt is None:
        raise InputError(f"{where}: no GT values; a file without DS, HDS or GP needs GT in every "
                         "record")
    alleles = gt[:, :-1]
    called = alleles != -2
    copies = np.stack([((alleles == j) & called).sum(axis=1) for j in range(1, n_alt + 1)],
                      axis=1).astype(np.float64)
    copies[((alleles == -1) & called).any(axis=1)] = np.nan
    return copies


def make_block(contig: str, rows: list[tuple]) -> DosageBlock:
    """The :class:`DosageBlock` of ``rows`` (see :func:`record_rows`)."""
    pos, ids, ref, alt, dosage, r2, typed = zip(*rows, strict=True)
    return DosageBlock(contig, np.array(pos, dtype=np.int64), list(ids), list(ref), list(alt),
                       np.vstack(dosage), np.array(r2, dtype=np.float32),
                       np.array(typed, dtype=bool))
