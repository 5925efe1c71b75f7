"""Multi-allelic imputed records split per ALT from HDS-only VCFs and from BGEN (phased and
unphased, diploid and haploid calls) against plink2's import of the same dosages written as a
GT:DS VCF and split by ``bcftools norm -m-``; exact small cases; ``drop`` still drops."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
from conftest import require_tool
from test_dosage import HEADER, SAMPLES, _split_by_bcftools, all_dosages, plink2_pgen

from cohortgen.errors import InputError
from cohortgen.io.bgen import alt_dosages, read_bgen_dosages
from cohortgen.io.dosage_vcf import hds_dosage, read_vcf_dosages
from cohortgen.io.pgen import read_pgen_dosages

N = len(SAMPLES)
MALE = np.arange(N) % 2 == 0
RECORDS = (("22", 1000, 24), ("X", 5_000_000, 12))
"""(contig, first position, records): records alternate one and two ALTs; chrX lies outside
the GRCh37/38 PARs, so males are haploid there."""
STEP = 1 / 16384


def _draws(seed: int = 4) -> list[tuple]:
    """(contig, pos, n_alt, haplotype allele probabilities) per record: float64 (n, 2,
    n_alt + 1) in thousandths (REF first; a haploid call's second haplotype NaN; a missing call
    all NaN, 5% of calls)."""
    rng = np.random.default_rng(seed)
    records = []
    for contig, first, count in RECORDS:
        for k in range(count):
            n_alt = 1 + k % 2
            probs = rng.multinomial(1000, rng.dirichlet(np.ones(n_alt + 1) * 0.6),
                                    size=(N, 2)) / 1000
            if contig == "X":
                probs[MALE, 1] = np.nan
            probs[rng.random(N) < 0.05] = np.nan
            records.append((contig, first + 10 * k, n_alt, probs))
    return records


def _genotype_probabilities(probs: np.ndarray, n_alt: int) -> np.ndarray:
    """float64 (n, G) unphased genotype probabilities in VCF/BGEN order (a/b, a <= b, at index
    b (b + 1) / 2 + a) of diploid calls; a haploid call's allele probabilities then NaN."""
    width = (n_alt + 1) * (n_alt + 2) // 2
    gp = np.full((len(probs), width), np.nan)
    for b in range(n_alt + 1):
        for a in range(b + 1):
            both = probs[:, 0, a] * probs[:, 1, b] + (probs[:, 0, b] * probs[:, 1, a] if a != b
                                                       else 0.0)
            gp[:, b * (b + 1) // 2 + a] = both
    haploid = np.isnan(probs[:, 1, 0]) & ~np.isnan(probs[:, 0, 0])
    gp[haploid] = np.nan
    gp[haploid, :n_alt + 1] = probs[haploid, 0]
    return gp


def _cell(probs: np.ndarray, field: str) -> str:
    """One call's FORMAT value: GT (each haplotype's likeliest allele), DS (per ALT) or HDS (per
    haplotype, each ALT); '.' when missing."""
    haplotypes = [h for h in probs if not np.isnan(h[0])]
    if np.isnan(probs[0, 0]):  # DS ".,.": bcftools splits it into "." per ALT
        return {"GT": "./.", "DS": ",".join(["."] * (probs.shape[1] - 1)), "HDS": "."}[field]
    if field == "GT":
        return "/".join(str(int(np.argmax(h))) for h in haplotypes)
    if field == "DS":
        return ",".join(f"{round(sum(h[j] for h in haplotypes), 3):g}"
                        for j in range(1, probs.shape[1]))
    return ",".join(f"{v:g}" for h in haplotypes for v in h[1:])


def write_vcf(path: Path, records: list[tuple], field: str) -> Path:
    """A bgzipped, indexed VCF of ``records`` (:func:`_draws`), FORMAT GT:``field`` (the only
    FORMAT lines of its header)."""
    header = "".join(line + "\n" for line in HEADER.splitlines()
                     if not line.startswith("##FORMAT") or f"ID={field}," in line
                     or "ID=GT," in line)
    lines = [header + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(SAMPLES)]
    for contig, pos, n_alt, probs in records:
        cells = "\t".join(f"{_cell(p, 'GT')}:{_cell(p, field)}" for p in probs)
        lines.append(f"{contig}\t{pos}\t{contig}_{pos}\tA\t{'G,T'[:2 * n_alt - 1]}\t.\tPASS\t"
                     f"R2=0.9\tGT:{field}\t{cells}")
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    return Path(pysam.tabix_index(str(plain), preset="vcf", force=True))


def write_bgen(path: Path, records: list[tuple], phased: bool) -> Path:
    """``records`` as BGEN v1.2 (32 bits, zstd, sample IDs embedded): phased, each haplotype's
    allele probabilities, or unphased genotype probabilities; haploid calls of ploidy 1."""
    import bgen

    with bgen.BgenWriter(str(path), N, samples=SAMPLES) as writer:
        for contig, pos, n_alt, probs in records:
            ploidy = np.where(np.isnan(probs[:, 1, 0]) & ~np.isnan(probs[:, 0, 0]), 1, 2)
            if phased:
                values = probs.reshape(N, -1)
            else:
                values = _genotype_probabilities(probs, n_alt)
            writer.add_variant(f"{contig}_{pos}", f"{contig}_{pos}", contig, pos,
                               ["A", "G", "T"][:n_alt + 1], values,
                               ploidy=ploidy.astype(np.uint8), phased=phased, bit_depth=32)
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, plink2):
    """(records, plink2's stored dosages of the bcftools-split GT:DS VCF per contig)."""
    bcftools = require_tool("bcftools")
    tmp = tmp_path_factory.mktemp("multiallelic")
    records = _draws()
    split = _split_by_bcftools(bcftools, write_vcf(tmp / "ds.vcf.gz", records, "DS"),
                               tmp / "split.vcf.gz")
    pgen = plink2_pgen(plink2, split, "DS", tmp / "ref")
    return records, {contig: all_dosages([list(read_pgen_dosages(pgen, contig, 1, 10**9))])
                     for contig, _, _ in RECORDS}


def _split_ids(records: list[tuple], contig: str) -> list[str]:
    return [f"{c}_{pos}" if n_alt == 1 else f"{c}:{pos}:A:{alt}"
            for c, pos, n_alt, _ in records if c == contig for alt in "GT"[:n_alt]]


@pytest.mark.parametrize("reader", ["text", "htslib"])
def test_read_vcf_dosages__hds_split_equals_bcftools_norm_then_plink2(tmp_path, reference,
                                                                       reader):
    """An HDS-only VCF (per haplotype, each ALT's dosage) split per ALT equals plink2's
    import of the same calls written as DS and split by bcftools, exactly (chrX males haploid,
    doubled; missing calls missing); IDs as the DS split; ``drop`` keeps the record whole."""
    records, expected = reference
    vcf = write_vcf(tmp_path / "hds.vcf.gz", records, "HDS")
    for contig, _, _ in RECORDS:
        blocks = list(read_vcf_dosages(vcf, contig, 1, 10**9, block_size=5,
                                       multiallelic="split", reader=reader))
        assert np.array_equal(all_dosages([blocks]), expected[contig], equal_nan=True)
        assert [i for b in blocks for i in b.ids] == _split_ids(records, contig)
    dropped = next(read_vcf_dosages(vcf, "22", 1, 10**9, multiallelic="drop", reader=reader))
    assert dropped.alt[:2] == ["G", "G,T"]
    assert np.isnan(dropped.dosage[1]).all()
    assert not np.isnan(dropped.dosage[0]).all()


@pytest.mark.parametrize("phased", [False, True])
def test_read_bgen_dosages__split_equals_bcftools_norm_then_plink2(tmp_path, reference, phased):
    """A BGEN of the same calls (32 bits; phased haplotype or unphased genotype probabilities,
    haploid males on chrX) split per ALT equals plink2's import of the bcftools-split DS VCF:
    every dosage within one stored step (1/16384, BGEN's float32 probabilities can cross a
    rounding boundary), nearly all exactly; ``drop`` keeps the record whole."""
    records, expected = reference
    path = write_bgen(tmp_path / "imp.bgen", records, phased)
    for contig, _, _ in RECORDS:
        blocks = list(read_bgen_dosages(path, contig, 1, 10**9, block_size=5,
                                        multiallelic="split"))
        ours = all_dosages([blocks])
        assert np.array_equal(np.isnan(ours), np.isnan(expected[contig]))
        diff = np.abs(ours - expected[contig])[~np.isnan(ours)]
        assert diff.max() <= STEP
        assert (diff == 0).mean() > 0.99
        assert [i for b in blocks for i in b.ids] == _split_ids(records, contig)
    dropped = next(read_bgen_dosages(path, "22", 1, 10**9, multiallelic="drop"))
    assert dropped.alt[:2] == ["G", "G,T"]
    assert np.isnan(dropped.dosage[1]).all()


def test_hds_dosage__exact_small_case():
    """Two ALTs: a diploid call's ALT j dosage is h1[j] + h2[j], a haploid call's h1[j] (as
    written: doubling comes with storage); a missing call is missing."""
    hds = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.5, np.nan, np.nan],
                    [np.nan, np.nan, np.nan, np.nan]])
    dosage = hds_dosage(hds, np.array([False, True, False]), 2, "f: record r", ["a", "b", "c"])
    np.testing.assert_allclose(dosage, [[0.4, 0.6], [0.25, 0.5], [np.nan, np.nan]])


def test_alt_dosages__exact_small_case():
    """Unphased diploid (VCF GP order), unphased haploid and phased probabilities of a record
    with two ALTs, by hand."""
    samples = ["a", "b"]
    gp = np.array([[0.1, 0.2, 0.1, 0.3, 0.2, 0.1], [0.2, 0.5, 0.3] + [np.nan] * 3])
    np.testing.assert_allclose(
        alt_dosages(gp, np.array([2, 1]), False, 2, "f", samples),
        [[0.2 + 2 * 0.1 + 0.2, 0.3 + 0.2 + 2 * 0.1], [0.5, 0.3]])
    phased = np.array([[0.5, 0.2, 0.3, 0.1, 0.6, 0.3], [0.2, 0.5, 0.3] + [np.nan] * 3])
    np.testing.assert_allclose(alt_dosages(phased, np.array([2, 1]), True, 2, "f", samples),
                               [[0.8, 0.6], [0.5, 0.3]])


@pytest.mark.parametrize(("cell", "message"), [
    ("0.1,0.2,0.3", r"sample s01: HDS has 3 values; a diploid call of a record with 2 ALTs "
                    r"needs 4"),
    ("0.6,0.5,0.1,0.1", r"sample s01: HDS gives a haplotype ALT probabilities summing above 1")])
def test_read_vcf_dosages__hds_split_bad_cells(tmp_path, cell, message):
    """A multi-allelic HDS cell with the wrong number of values, or a haplotype whose ALT
    probabilities sum above 1, is an InputError naming the file, record and sample."""
    records = [r for r in _draws() if r[0] == "22"][:2]
    vcf = write_vcf(tmp_path / "bad.vcf.gz", records, "HDS")
    with gzip.open(vcf, "rt") as handle:
        lines = handle.read().splitlines()
    plain = vcf.with_suffix("")
    columns = lines[-1].split("\t")
    columns[10] = f"0/1:{cell}"
    lines[-1] = "\t".join(columns)
    plain.write_text("\n".join(lines) + "\n")
    vcf = Path(pysam.tabix_index(str(plain), preset="vcf", force=True))
    for reader in ("text", "htslib"):
        with pytest.raises(InputError, match=r"bad\.vcf\.gz: record 22:1010 \(22_1010\): "
                                             + message):
            list(read_vcf_dosages(vcf, "22", 1, 10**9, multiallelic="split", reader=reader))


def test_main__ingest_dosages_splits_bgen(tmp_path):
    """The command line with ``--multiallelic split`` on a BGEN file: every ALT a variant,
    none excluded as multiallelic (with ``drop``: the 12 two-ALT records are)."""
    from cohortgen.cli import main

    path = write_bgen(tmp_path / "imp.bgen", _draws(), phased=False)
    counts = {}
    for mode in ("split", "drop"):
        out = tmp_path / mode
        assert main(["ingest-dosages", "--imputed", str(path), "--region", "22",
                     "--out-prefix", str(out), "--options",
                     f'{{"ingest": {{"multiallelic": "{mode}"}}, "imputed_qc": {{"min_r2": 0}}}}'
                     ]) == 0
        table = pd.read_csv(f"{out}.variants.tsv", sep="\t", keep_default_na=False)
        counts[mode] = (len(table), int((table["reason"] == "multiallelic").sum()))
    assert counts == {"split": (36, 0), "drop": (24, 12)}
