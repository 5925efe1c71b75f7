"""Counts, missingness, het calls and HWE mid-p against PLINK 2 (Debian 2.00a3.5) on a
simulated fileset.

PLINK 2 reads a PLINK 1 fileset with the .bim's 5th column (A1) as ALT and the 6th (A2) as REF,
which is cohortgen's convention. Its .hardy prints p-values with 6 significant digits (there is no
precision option in this version), so HWE mid-p values are compared to within half a unit of the
6th printed digit, i.e. a relative error of at most 5e-6.
"""

import subprocess

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.hwe import hwe_exact_midp, hwe_exact_p
from cohortgen.kernels.stats import genotype_counts, sample_missing_counts, variant_sample_counts

N_SAMPLES = 300
N_VARIANTS = 500

pytestmark = pytest.mark.reference


def simulated_dosages(rng) -> np.ndarray:
    """int8 (N_VARIANTS, N_SAMPLES): ALT frequency 0.01-0.5, 10% with inbreeding-like HWE
    deviations (F in -0.5, 0.5, 1), per-variant missingness 0-10%, plus edge cases."""
    freq = rng.uniform(0.01, 0.5, size=N_VARIANTS)
    inbreeding = np.where(
        rng.random(N_VARIANTS) < 0.1, rng.choice([-0.5, 0.5, 1.0], size=N_VARIANTS), 0.0
    )
    pq = freq * (1 - freq)
    genotype_freqs = np.stack(
        [(1 - freq) ** 2 + inbreeding * pq, 2 * pq * (1 - inbreeding), freq**2 + inbreeding * pq],
        axis=1,
    ).clip(0, None)
    genotype_freqs /= genotype_freqs.sum(axis=1, keepdims=True)
    uniform = rng.random((N_VARIANTS, N_SAMPLES))
    dosage = (uniform[:, :, None] > genotype_freqs.cumsum(axis=1)[:, None, :2]).sum(axis=2)
    dosage = dosage.astype(np.int8)
    missing_rate = rng.uniform(0.0, 0.1, size=(N_VARIANTS, 1))
    dosage[rng.random(dosage.shape) < missing_rate] = MISSING
    dosage[0] = 0  # monomorphic REF
    dosage[1, :] = 1  # all het
    dosage[2, :] = 2  # monomorphic ALT
    dosage[3, 1:] = MISSING  # one call
    dosage[3, 0] = 1
    dosage[4] = MISSING  # no call
    return dosage


def write_fileset(prefix, dosage, rng):
    bim = pd.DataFrame(
        {
            "chrom": rng.integers(1, 23, size=N_VARIANTS).astype(str),
            "id": [f"v{i}" for i in range(N_VARIANTS)],
            "cm": 0.0,
            "pos": np.arange(1, N_VARIANTS + 1) * 100,
            "a1": "T",
            "a2": "C",
        }
    ).sort_values("chrom", key=lambda c: c.astype(int), kind="stable")
    order = bim.index.to_numpy()
    bim = bim.reset_index(drop=True)
    fam = pd.DataFrame(
        {
            "fid": [f"0{i:04d}" for i in range(N_SAMPLES)],
            "iid": [f"0{i:04d}" for i in range(N_SAMPLES)],
            "father": "0",
            "mother": "0",
            "sex": rng.integers(1, 3, size=N_SAMPLES),
            "pheno": "-9",
        }
    )
    dosage = dosage[order]
    write_bed(prefix, pack_dosages(dosage), bim, fam)
    return dosage, bim, fam


def assert_equal_to_printed_digits(got, printed):
    """|got - printed| within half a unit of the 6th significant digit PLINK 2 prints."""
    half_last_digit = 0.5 * 10.0 ** (np.floor(np.log10(printed)) - 5)
    np.testing.assert_array_less(np.abs(got - printed), half_last_digit * (1 + 1e-9))


def read_report(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"ID": str, "IID": str, "#FID": str})


@pytest.fixture(scope="module")
def plink2_run(plink2, tmp_path_factory):
    """Simulated fileset, our packed genotypes and PLINK 2's reports (mid-p and plain .hardy)."""
    rng = np.random.default_rng(20240611)
    tmp = tmp_path_factory.mktemp("plink2")
    dosage, bim, fam = write_fileset(tmp / "cohort", simulated_dosages(rng), rng)
    command = [plink2, "--bfile", str(tmp / "cohort"), "--freq", "counts", "--missing"]
    command += ["--hardy", "midp", "--het", "--threads", "1", "--out", str(tmp / "ref")]
    subprocess.run(command, check=True, capture_output=True)
    command = [plink2, "--bfile", str(tmp / "cohort"), "--hardy", "--threads", "1"]
    subprocess.run([*command, "--out", str(tmp / "plain")], check=True, capture_output=True)
    names = ("acount", "vmiss", "smiss", "hardy", "het")
    reports = {name: read_report(tmp / f"ref.{name}") for name in names}
    reports["hardy_plain"] = read_report(tmp / "plain.hardy")
    return pack_dosages(dosage), bim, fam, reports


def test_genotype_counts__alt_counts_match_plink2(plink2_run):
    packed, bim, _, reports = plink2_run
    acount = reports["acount"]
    assert acount["ID"].tolist() == bim["id"].tolist()
    assert (acount["ALT"] == bim["a1"]).all()
    counts = genotype_counts(packed, N_SAMPLES, np.ones(N_SAMPLES, dtype=bool))
    np.testing.assert_array_equal(acount["ALT_CTS"], 2 * counts[:, 0] + counts[:, 1])
    np.testing.assert_array_equal(acount["OBS_CT"], 2 * (N_SAMPLES - counts[:, 3]))


def test_genotype_counts__variant_missing_matches_plink2(plink2_run):
    packed, bim, _, reports = plink2_run
    vmiss = reports["vmiss"]
    assert vmiss["ID"].tolist() == bim["id"].tolist()
    counts = genotype_counts(packed, N_SAMPLES, np.ones(N_SAMPLES, dtype=bool))
    np.testing.assert_array_equal(vmiss["MISSING_CT"], counts[:, 3])


def test_sample_missing_counts__match_plink2(plink2_run):
    packed, _, fam, reports = plink2_run
    smiss = reports["smiss"]
    assert smiss["IID"].tolist() == fam["iid"].tolist()
    got = sample_missing_counts(packed, N_SAMPLES, np.ones(N_VARIANTS, dtype=bool))
    np.testing.assert_array_equal(smiss["MISSING_CT"], got)


def test_variant_sample_counts__one_pass_matches_plink2(plink2_run):
    """The fused pass: --freq counts, --missing sample counts, and per-sample het calls over
    the variants --het uses (ALT frequency strictly between 0 and 1) from its O(HOM), OBS_CT."""
    packed, _, fam, reports = plink2_run
    counts = variant_sample_counts(packed, N_SAMPLES, np.zeros(N_VARIANTS, dtype=np.int64), 1)
    acount = reports["acount"]
    hom_alt, het_ct, _, missing = counts.variant.T
    np.testing.assert_array_equal(acount["ALT_CTS"], 2 * hom_alt + het_ct)
    np.testing.assert_array_equal(acount["OBS_CT"], 2 * (N_SAMPLES - missing))
    np.testing.assert_array_equal(reports["smiss"]["MISSING_CT"], counts.missing[0])
    het = reports["het"]
    assert het["IID"].tolist() == fam["iid"].tolist()
    with np.errstate(invalid="ignore"):
        freq = (acount["ALT_CTS"] / acount["OBS_CT"]).to_numpy()
    used = (freq > 0) & (freq < 1)
    het_pass = variant_sample_counts(packed, N_SAMPLES, np.where(used, 0, -1), 1)
    np.testing.assert_array_equal(het["OBS_CT"], used.sum() - het_pass.missing[0])
    np.testing.assert_array_equal(het["OBS_CT"] - het["O(HOM)"], het_pass.het[0])


def test_hwe_exact_midp__matches_plink2(plink2_run):
    packed, bim, _, reports = plink2_run
    hardy = reports["hardy"]
    assert hardy["ID"].tolist() == bim["id"].tolist()
    counts = genotype_counts(packed, N_SAMPLES, np.ones(N_SAMPLES, dtype=bool))
    a1_is_ref = (hardy["A1"] == bim["a2"]).to_numpy()
    hom_a1 = np.where(a1_is_ref, counts[:, 2], counts[:, 0])
    hom_ax = np.where(a1_is_ref, counts[:, 0], counts[:, 2])
    np.testing.assert_array_equal(hardy["HOM_A1_CT"], hom_a1)
    np.testing.assert_array_equal(hardy["HET_A1_CT"], counts[:, 1])
    np.testing.assert_array_equal(hardy["TWO_AX_CT"], hom_ax)

    got = hwe_exact_midp(counts[:, 1], counts[:, 0], counts[:, 2])
    expected = hardy["MIDP"].to_numpy(dtype=np.float64)
    polymorphic = counts[:, 1] + np.minimum(counts[:, 0], counts[:, 2]) > 0
    assert (expected < 1e-10).sum() >= 10, "the simulation should hold strong HWE deviations"
    assert not polymorphic.all(), "the simulation should hold monomorphic variants"
    # monomorphic included: the single possible het count is a tie, mid-p 0.5
    assert_equal_to_printed_digits(got, expected)


def test_hwe_exact_p__matches_plink2(plink2_run):
    packed, bim, _, reports = plink2_run
    hardy = reports["hardy_plain"]
    assert hardy["ID"].tolist() == bim["id"].tolist()
    counts = genotype_counts(packed, N_SAMPLES, np.ones(N_SAMPLES, dtype=bool))
    got = hwe_exact_p(counts[:, 1], counts[:, 0], counts[:, 2])
    assert_equal_to_printed_digits(got, hardy["P"].to_numpy(dtype=np.float64))
