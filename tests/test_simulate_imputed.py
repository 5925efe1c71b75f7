"""Demo imputed data: seeded and byte-reproducible, valid for plink2 and for our reader's
checks, typed sites exact, imputed sites as accurate as their file r² says."""

import subprocess
from pathlib import Path

import cyvcf2
import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages
from cohortgen.io.dosage_vcf import read_vcf_dosages
from cohortgen.io.pgen import read_pgen_dosages
from cohortgen.simulate import simulate_cohort
from cohortgen.simulate_imputed import rounded_units, simulate_imputed


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("imputed")
    simulate_cohort(root, n_samples=300, n_chromosomes=1, chromosome_mb=4.0, seed=5, x_mb=4.0)
    paths = simulate_imputed(root / "genotypes.vcf.gz", root / "imp", mask_share=0.6, seed=3,
                             site_share=0.6)
    return root, paths


def _truth(root: Path, contig: str) -> dict[str, np.ndarray]:
    """ALT copies (NaN missing; a haploid call 0/1) per variant ID of the cohort VCF."""
    out = {}
    for v in cyvcf2.VCF(str(root / "genotypes.vcf.gz"))(contig):
        gt = v.genotype.array()[:, :-1] if v.ploidy > 1 else v.genotype.array()[:, :1]
        alleles = np.where(gt >= 0, gt, 0).sum(axis=1).astype(float)
        alleles[(gt == -1).any(axis=1)] = np.nan
        out[v.ID] = alleles
    return out


def test_simulate_imputed__files_and_reproducible(demo, tmp_path):
    root, paths = demo
    assert [p.name for p in paths] == ["imputed.chr1.vcf.gz", "imputed.chrX.vcf.gz"]
    assert all(Path(f"{p}.tbi").is_file() for p in paths)
    again = simulate_imputed(root / "genotypes.vcf.gz", tmp_path, mask_share=0.6, seed=3,
                             site_share=0.6)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]
    other = simulate_imputed(root / "genotypes.vcf.gz", tmp_path / "o", mask_share=0.6, seed=4,
                             site_share=0.6)
    assert other[0].read_bytes() != paths[0].read_bytes()
    header = cyvcf2.VCF(str(paths[0])).raw_header
    for key in ("ID=AF,", "ID=MAF,", "ID=R2,", "ID=TYPED,", "ID=IMPUTED,", "ID=DS,", "ID=GP,"):
        assert key in header


def test_simulate_imputed__typed_exact_imputed_as_accurate_as_r2(demo):
    """Typed sites carry the array genotype (missing calls imputed from the prior); masked
    sites' true r² (DS vs truth) follows the file's R2, and the mask share holds."""
    root, paths = demo
    truth = _truth(root, "1")
    typed, accuracy = [], []
    for v in cyvcf2.VCF(str(paths[0])):
        true, ds = truth[v.ID], v.format("DS")[:, 0].astype(float)
        called = ~np.isnan(true)
        if v.INFO.get("TYPED"):
            typed.append(np.abs(ds[called] - true[called]).max())
        elif np.std(true[called]) > 0:
            accuracy.append((np.corrcoef(true[called], ds[called])[0, 1] ** 2, v.INFO["R2"]))
    masked = len(accuracy) / (len(accuracy) + len(typed))
    assert abs(masked - 0.6) < 0.05
    assert max(typed) < 1e-6
    true_r2, file_r2 = np.array(accuracy).T
    assert 0.5 < np.median(true_r2) < 0.95
    assert np.quantile(true_r2, 0.1) < 0.5
    assert np.corrcoef(true_r2, file_r2)[0, 1] > 0.85


@pytest.mark.reference
def test_simulate_imputed__plink2_imports_what_we_read(demo, tmp_path, plink2):
    """plink2 reads the chrX file (males haploid outside PAR1) as our reader does; ingest
    passes every check (DS in range, GP sums, DS = GP) and gates on the MaCH r²."""
    root, paths = demo
    sheet = pd.read_csv(root / "phenotypes.tsv", sep="\t", dtype={"sample_id": str})
    (tmp_path / "s.psam").write_text("#IID\tSEX\n" + "".join(
        f"{s}\t{x}\n" for s, x in zip(sheet["sample_id"], sheet["sex"], strict=True)))
    subprocess.run([plink2, "--vcf", str(paths[1]), "dosage=DS", "--psam",
                    str(tmp_path / "s.psam"), "--make-pgen", "--out", str(tmp_path / "ref")],
                   check=True, capture_output=True)
    ours = np.vstack([b.dosage for b in read_vcf_dosages(paths[1], "X", 1, 10**9)])
    ref = np.vstack([b.dosage for b in read_pgen_dosages(tmp_path / "ref", "X", 1, 10**9)])
    np.testing.assert_array_equal(ours, ref)
    assert (ours[:, sheet["sex"].to_numpy() == 1] == 2).any()  # haploid ALT calls doubled
    summary = ingest_dosages(paths[0], "1", tmp_path / "c1",
                             phenotypes=root / "phenotypes.tsv",
                             limits=DosageThresholds(min_mac=0.0))
    assert summary["excluded"]["low_r2"] > 0
    assert 0 < summary["variants_passed"] < summary["variants_in"]


def test_rounded_units__rows_sum_exactly():
    rng = np.random.default_rng(0)
    gp = rng.dirichlet([0.3, 0.3, 0.3], size=2000)
    units = rounded_units(gp, 100)
    assert (units.sum(axis=1) == 100).all()
    assert np.abs(units / 100 - gp).max() < 0.01


def test_simulate_imputed__bad_arguments(demo, tmp_path):
    with pytest.raises(InputError, match="--mask-share"):
        simulate_imputed(demo[0] / "genotypes.vcf.gz", tmp_path, mask_share=1.5)
