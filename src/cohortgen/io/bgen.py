"""Imputed dosages from a BGEN file (v1.2/v1.3 layout 2, 1-32 bits, zlib or zstd; phased or
not), read with the ``bgen`` package.

The first allele is REF and the second ALT (``plink2 --export bgen-1.2 ref-first``, the UK
Biobank convention); the dosage is the ALT allele's expected count, stored as PLINK 2 stores
it (:func:`cohortgen.io.dosage.stored_dosages`). A record with K > 1 ALTs is one variant with
NaN dosages (``multiallelic="drop"``) or one variant per ALT (``"split"``, the rules of the VCF
split: REF vs that ALT, other ALTs counted as REF, ID chrom:pos:ref:alt), ALT j's dosage the
expected count of allele j from the genotype probabilities (:func:`alt_dosages`). Sample IDs
are the file's own, else those of a ``.sample`` file beside it (``<name>.sample`` or
``<name>.bgen.sample``). BGEN holds no imputation r² or typed flag. Calls are haploid or
diploid: a sample of ploidy above 2 is an InputError (:func:`check_ploidy`).
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from cohortgen.errors import InputError
from cohortgen.io.dosage import DosageBlock, gp_dosage, record_name, stored_dosages

SAMPLE_HEADER_LINES = 2
"""Header lines of an Oxford ``.sample`` file (column names, then column types)."""

MAX_PLOIDY = 2
"""Highest ploidy of a call read (BGEN allows up to 63)."""


def sample_file(path: Path) -> Path | None:
    """The ``.sample`` file beside a BGEN file, None if there is none."""
    for candidate in (path.with_suffix(".sample"), Path(f"{path}.sample")):
        if candidate.is_file():
            return candidate
    return None


def read_sample_ids(path: Path) -> list[str]:
    """The ID_2 column (the sample IDs PLINK 2 matches) of an Oxford ``.sample`` file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split()
    if len(lines) < SAMPLE_HEADER_LINES or header[:2] != ["ID_1", "ID_2"]:
        raise InputError(f"{path}: not an Oxford .sample file (the first line must start with "
                         "ID_1 ID_2, the second hold the column types)")
    return [line.split()[1] for line in lines[SAMPLE_HEADER_LINES:] if line.strip()]


def open_bgen(path: Path):
    """(reader, sample IDs) of a BGEN file; InputError if it cannot be read or has no IDs."""
    import bgen

    try:
        reader = bgen.BgenReader(str(path), "", True)
    except Exception as exc:  # noqa: BLE001  the library raises assorted types on bad files
        raise InputError(f"{path}: cannot be read as BGEN ({exc})") from None
    if reader.header.has_sample_ids:
        return reader, list(reader.samples)
    sidecar = sample_file(path)
    if sidecar is None:
        reader.close()
        raise InputError(f"{path}: the BGEN file holds no sample IDs and there is no .sample file "
                         f"beside it ({path.with_suffix('.sample')}); add one")
    samples = read_sample_ids(sidecar)
    if len(samples) != reader.header.nsamples:
        reader.close()
        raise InputError(f"{sidecar}: {len(samples)} samples, but {path} holds "
                         f"{reader.header.nsamples}; give the .sample file of this BGEN file")
    return reader, samples


def read_bgen_dosages(path: Path, contig: str, start: int, end: int, block_size: int = 1024,
                      multiallelic: str = "drop") -> Iterator[DosageBlock]:
    """Blocks of at most ``block_size`` variants of ``contig``:``start``-``end`` (1-based,
    inclusive), in file order: through the bgenix index ``<file>.bgi`` when there is one, else
    by scanning every variant of the file. ``multiallelic``: "drop" or "split" (module doc)."""
    reader, samples = open_bgen(path)
    indexed = Path(f"{path}.bgi").is_file()
    rows: list[tuple] = []
    try:
        for variant in reader.fetch(contig, start, end) if indexed else reader:
            if variant.chrom != contig or not start <= variant.pos <= end:
                continue
            rows += _rows(path, variant, samples, multiallelic == "split")
            while len(rows) >= block_size:
                yield _block(contig, rows[:block_size])
                rows = rows[block_size:]
    finally:
        reader.close()
    if rows:
        yield _block(contig, rows)


def _rows(path: Path, variant, samples: list[str], split: bool) -> list[tuple]:
    """(pos, id, ref, alt, dosage float32 (n,)) per variant of one record: one per ALT when
    ``split``, else one (NaN dosages if multi-allelic)."""
    ref, alts = variant.alleles[0], variant.alleles[1:]
    variant_id = variant.rsid or variant.varid or "."
    ploidy = variant.ploidy
    check_ploidy(ploidy, f"{path}: record {record_name(variant.chrom, variant.pos, variant_id)}",
                 samples)
    haploid = ploidy == 1
    if len(alts) == 1:
        return [(variant.pos, variant_id, ref, alts[0],
                 stored_dosages(variant.alt_dosage, haploid))]
    if not split or not alts:
        return [(variant.pos, variant_id, ref, ",".join(alts) or ".",
                 np.full(variant.n_samples, np.nan, dtype=np.float32))]
    where = f"{path}: record {record_name(variant.chrom, variant.pos, variant_id)}"
    dosage = alt_dosages(variant.probabilities, ploidy, variant.is_phased, len(alts),
                         where, samples)
    return [(variant.pos, f"{variant.chrom}:{variant.pos}:{ref}:{alt}", ref, alt,
             stored_dosages(dosage[:, j], haploid)) for j, alt in enumerate(alts)]


def check_ploidy(ploidy: np.ndarray, where: str, samples: list[str]) -> None:
    """InputError naming the record (``where``) and the first sample whose ploidy (uint8 (n,),
    as the ``bgen`` package gives it) exceeds :data:`MAX_PLOIDY`: an expected ALT count is
    defined here for haploid and diploid calls only."""
    above = np.flatnonzero(np.asarray(ploidy) > MAX_PLOIDY)
    if above.size:
        j = int(above[0])
        raise InputError(f"{where}: sample {samples[j]}: ploidy {int(ploidy[j])} ({above.size} "
                         f"sample(s) above {MAX_PLOIDY}); cohortgen reads haploid and diploid "
                         "calls only: write the calls with ploidy 1 or 2 (e.g. plink2 "
                         "--export bgen-1.2 from the imputed VCF), or leave the variant out")


def alt_dosages(probabilities: np.ndarray, ploidy: np.ndarray, phased: bool, n_alt: int,
                where: str, samples: list[str]) -> np.ndarray:
    """float64 (n, n_alt): the expected count of each ALT (haploid 0..1), NaN missing, from a
    record's probabilities as the ``bgen`` package gives them (float32, NaN missing or beyond a
    sample's values).

    Unphased: per sample the probabilities of its genotypes in BGEN's order, which for a
    diploid call is VCF's GP order (0/0, 0/1, 1/1, 0/2, ...) and for a haploid one the alleles'
    (:func:`cohortgen.io.dosage.gp_dosage`, with its checks). Phased: per haplotype the
    probability of each allele (REF, ALT 1, ..., ALT K), haplotypes end to end, so ALT j's
    count is the sum over the sample's haplotypes of their allele j probability. BGEN stores
    all but the last probability of each set, the library gives the last as 1 minus the others
    in float32, a few 1e-8 below 0 at times: clipped to [0, 1].
    """
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if not phased:
        return gp_dosage(probabilities, ploidy == 1, n_alt, where, samples)
    n_alleles = n_alt + 1
    haplotypes = probabilities.reshape(len(probabilities), -1, n_alleles)[:, :, 1:]
    present = ~np.isnan(probabilities[:, 0])
    dosage = np.nansum(haplotypes, axis=1)
    dosage[~present] = np.nan
    return dosage


def _block(contig: str, rows: list[tuple]) -> DosageBlock:
    pos, ids, ref, alt, dosage = zip(*rows, strict=True)
    m = len(pos)
    return DosageBlock(contig, np.array(pos, dtype=np.int64), list(ids), list(ref), list(alt),
                       np.vstack(dosage), np.full(m, np.nan, np.float32), np.zeros(m, bool))
