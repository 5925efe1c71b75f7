"""Seeded demo imputed data: the demo cohort's array sites, a share masked and "imputed" with a
realistic error model, written as one Minimac4-style VCF per chromosome.

:func:`simulate_imputed` reads the true genotypes from a cohort VCF (``cohortgen simulate``'s
``genotypes.vcf.gz``, GT only, bi-allelic) and writes ``<out>/imputed.chr<C>.vcf.gz`` (bgzipped,
``.tbi``) with FORMAT ``GT:DS:GP`` and INFO ``AF``, ``MAF``, ``R2`` and the flag ``TYPED`` or
``IMPUTED``, the way Minimac4 writes a chromosome. Of the sites, a share ``mask_share`` (chosen
at random) is masked, i.e. imputed; the others are typed.

Error model, per site with true ALT frequency p (over the called samples) and HWE prior
π = ((1 − p)², 2p(1 − p), p²) (haploid calls: (1 − p, p)):

- a per-variant quality q: 1 at typed sites; at masked sites q ~ Beta(5, 1) for MAF ≥ 0.05
  and Beta(2, 1.5) below (rare variants impute worse);
- each call is informed with probability q (typed sites: every called genotype); an informed
  call's evidence points at its true genotype g* with strength u ~ Beta(20, 1): likelihood
  L(g) = a for g = g*, (1 − a) / 2 (haploid: 1 − a) otherwise, a = 1/3 + 2u/3 (haploid:
  1/2 + u/2; typed: u = 1, so GP is the genotype itself); an uninformed call, and a missing
  array call, has no evidence (a = 1/3: GP = π, DS = 2p), so a site's dosage r² is about q;
- GP = π · L normalised (the posterior), rounded to ``decimals`` so that the written values
  still sum to 1 (largest remainder); DS = GP₁ + 2 GP₂ (haploid: GP₁) of the written values, so
  DS and GP agree exactly; GT is the most probable genotype (unphased; haploid one allele);
- INFO ``AF`` = mean DS / 2, ``MAF``, ``R2`` = var(DS) / (2 AF (1 − AF)) over the diploid calls
  (Minimac4's estimated r², 0 when AF is 0 or 1).

The quality q, not the file's R2, is what a site's imputation accuracy follows; the MaCH r² that
ingest recomputes estimates it. Every draw comes from one ``numpy.random.Generator`` seeded with
``seed``, so the same inputs and arguments give byte-identical files. ``site_share`` keeps a
random share of the sites of every chromosome (the demo keeps its files small, and chrX keeps
sites in and out of PAR1).
"""

from pathlib import Path

import numpy as np
import pysam

from cohortgen.errors import InputError

QUALITY_COMMON = (5.0, 1.0)
"""Beta parameters of the per-variant quality of a masked site with MAF ≥ 0.05."""
QUALITY_RARE = (2.0, 1.5)
"""... and of one with MAF < 0.05."""
RARE_MAF = 0.05
CALL_CONFIDENCE = (20.0, 1.0)
"""Beta parameters of an informed call's evidence strength u."""

HEADER_LINES = (
    '##INFO=<ID=AF,Number=1,Type=Float,Description="Estimated Alternate Allele Frequency">',
    '##INFO=<ID=MAF,Number=1,Type=Float,Description="Estimated Minor Allele Frequency">',
    '##INFO=<ID=R2,Number=1,Type=Float,Description="Estimated Imputation Accuracy (R-square)">',
    '##INFO=<ID=TYPED,Number=0,Type=Flag,Description="Marker was genotyped">',
    '##INFO=<ID=IMPUTED,Number=0,Type=Flag,Description="Marker was imputed">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DS,Number=A,Type=Float,Description="Estimated Alternate Allele Dosage">',
    '##FORMAT=<ID=GP,Number=G,Type=Float,Description="Estimated Posterior Probabilities">',
)


def true_genotypes(record) -> tuple[np.ndarray, np.ndarray]:
    """(ALT copies int8 (n,), −1 missing; haploid bool (n,)) of a bi-allelic GT record."""
    from cohortgen.io.vcf_htslib import _genotypes

    gt = _genotypes(record)
    alleles = gt[:, :2]
    haploid = alleles[:, 1] == -2
    copies = ((alleles == 1) & (alleles >= 0)).sum(axis=1).astype(np.int8)
    copies[(alleles == -1).any(axis=1)] = -1
    return copies, haploid


def posteriors(copies: np.ndarray, haploid: np.ndarray, quality: float,
               rng: np.random.Generator) -> np.ndarray:
    """float64 (n, 3) genotype posteriors of one site (module docstring); haploid calls use
    the first two columns (0 and 1 ALT) and 0 in the third. ``quality`` 1 (a typed site):
    every called genotype exactly."""
    called = copies >= 0
    p = copies[called].sum() / max(np.where(haploid, 1, 2)[called].sum(), 1)
    prior = np.where(haploid[:, None], [[1 - p, p, 0.0]], [[(1 - p) ** 2, 2 * p * (1 - p),
                                                           p * p]])
    if quality >= 1:
        strength = called.astype(np.float64)
    else:
        informed = called & (rng.random(copies.size) < quality)
        strength = np.where(informed, rng.beta(*CALL_CONFIDENCE, size=copies.size), 0.0)
    a = np.where(haploid, 0.5 + strength / 2, 1 / 3 + 2 * strength / 3)
    other = np.where(haploid, 1 - a, (1 - a) / 2)
    likelihood = np.where(np.arange(3)[None, :] == np.clip(copies, 0, 2)[:, None],
                          a[:, None], other[:, None])
    posterior = prior * likelihood
    total = posterior.sum(axis=1, keepdims=True)
    return np.divide(posterior, total, out=prior.copy(), where=total > 0)


def rounded_units(gp: np.ndarray, units: int) -> np.ndarray:
    """int64 (n, 3): ``gp`` (rows summing to 1) in 1/``units`` steps, rows summing to
    ``units`` exactly (largest remainder; ties to the lower genotype)."""
    scaled = gp * units
    floor = np.floor(scaled).astype(np.int64)
    short = units - floor.sum(axis=1)
    order = np.argsort(-(scaled - floor), axis=1, kind="stable")
    bump = np.arange(3)[None, :] < short[:, None]
    np.add.at(floor, (np.repeat(np.arange(len(gp)), 3), order.ravel()),
              bump.astype(np.int64).ravel())
    return floor


def _cell_tables(decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell texts ``GT:DS:GP`` of every diploid GP triple (index a·(U + 1) + b, c = U − a − b)
    and every haploid pair (index b); object arrays."""
    units = 10**decimals

    def text(value: int) -> str:
        return f"{value / units:.{decimals}f}"

    values = [text(v) for v in range(2 * units + 1)]
    diploid = np.empty((units + 1) ** 2, dtype=object)
    for a in range(units + 1):
        for b in range(units + 1 - a):
            c = units - a - b
            gt = "0/0" if a >= b and a >= c else ("0/1" if b >= c else "1/1")
            gp = f"{values[a]},{values[b]},{values[c]}"
            diploid[a * (units + 1) + b] = f"{gt}:{values[b + 2 * c]}:{gp}"
    haploid = np.array([f"{int(2 * b > units)}:{text(b)}:{text(units - b)},{text(b)}"
                        for b in range(units + 1)], dtype=object)
    return diploid, haploid


def site_info(ds: np.ndarray, haploid: np.ndarray, typed: bool) -> str:
    """INFO of a written site from its written dosages (0..2 diploid, 0..1 haploid)."""
    alleles = np.where(haploid, 1.0, 2.0)
    af = ds.sum() / alleles.sum()
    diploid = ds[~haploid]
    spread = 2 * af * (1 - af)
    r2 = float(np.var(diploid) / spread) if spread > 0 and diploid.size else 0.0
    flag = "TYPED" if typed else "IMPUTED"
    return f"AF={af:.5f};MAF={min(af, 1 - af):.5f};R2={min(r2, 1.0):.5f};{flag}"


def simulate_imputed(genotypes: Path, out_dir: Path, mask_share: float = 0.5, seed: int = 1,
                     decimals: int = 3, site_share: float = 1.0) -> list[Path]:
    """Write one imputed VCF per chromosome of ``genotypes`` under ``out_dir`` (module
    docstring); returns their paths in contig order."""
    import cyvcf2

    if not (0 <= mask_share <= 1 and 0 < site_share <= 1) or decimals not in (2, 3):
        raise InputError("simulate-imputed: --mask-share must lie in [0, 1], --site-share in "
                         "(0, 1] and --decimals be 2 or 3")
    rng = np.random.default_rng(seed)
    tables = _cell_tables(decimals)
    units = 10**decimals
    vcf = cyvcf2.VCF(str(genotypes), gts012=False, lazy=True, threads=1)
    samples = list(vcf.samples)
    contigs = [(c, length) for c, length in zip(vcf.seqnames, vcf.seqlens, strict=True)]
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for contig, length in contigs:
            path = out_dir / f"imputed.chr{contig}.vcf.gz"
            plain = path.with_name(path.name.removesuffix(".gz"))
            n_sites = 0
            with open(plain, "w", encoding="utf-8") as handle:
                handle.write(_header(contig, length, samples))
                for record in vcf(contig):
                    if rng.random() < site_share and len(record.ALT) == 1:
                        handle.write(_site_line(record, rng, mask_share, tables, units) + "\n")
                        n_sites += 1
            if n_sites:
                written.append(_compress(plain, path))
            else:
                plain.unlink()
    finally:
        vcf.close()
    return written


def _site_line(record, rng: np.random.Generator, mask_share: float, tables, units: int) -> str:
    copies, haploid = true_genotypes(record)
    called = copies >= 0
    p = copies[called].sum() / max(np.where(haploid, 1, 2)[called].sum(), 1)
    typed = rng.random() >= mask_share
    shape = QUALITY_COMMON if min(p, 1 - p) >= RARE_MAF else QUALITY_RARE
    quality = 1.0 if typed else float(rng.beta(*shape))
    gp = rounded_units(posteriors(copies, haploid, quality, rng), units)
    index = np.where(haploid, gp[:, 1], gp[:, 0] * (units + 1) + gp[:, 1])
    cells = np.where(haploid, tables[1][np.minimum(index, units)],
                     tables[0][np.where(haploid, 0, index)])
    ds = np.where(haploid, gp[:, 1], gp[:, 1] + 2 * gp[:, 2]) / units
    info = site_info(ds, haploid, typed)
    return (f"{record.CHROM}\t{record.POS}\t{record.ID or '.'}\t{record.REF}\t{record.ALT[0]}\t.\t"
            f"PASS\t{info}\tGT:DS:GP\t" + "\t".join(cells))


def _header(contig: str, length: int, samples: list[str]) -> str:
    fixed = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
    return "\n".join(["##fileformat=VCFv4.2", "##source=cohortgen-simulate-imputed",
                      f"##contig=<ID={contig},length={length}>", *HEADER_LINES,
                      "\t".join([*fixed, *samples])]) + "\n"


def _compress(plain: Path, path: Path) -> Path:
    """bgzip ``plain`` to ``path`` (removing it) and index it (``.tbi``)."""
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path
