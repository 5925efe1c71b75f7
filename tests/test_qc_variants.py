"""Variant QC decisions on small exact cases: reason codes, duplicates, chrX HWE in females."""

import numpy as np
import pandas as pd

from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.hwe import hwe_exact_midp
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_qc import VariantThresholds, duplicate_mask, variant_qc_table


def small_case():
    """8 variants x 40 samples (20 female), variant k designed to fail as listed in REASONS."""
    n = 40
    rng = np.random.default_rng(0)
    dosage = rng.integers(0, 3, size=(8, n)).astype(np.int8)
    dosage[1] = MISSING  # all missing
    dosage[2] = 0  # monomorphic
    dosage[3, :5] = MISSING  # call rate 0.875
    dosage[4] = 0
    dosage[4, 0] = 1  # MAF 1/80
    dosage[5] = np.repeat([0, 2], n // 2)  # no hets: HWE fails
    bim = pd.DataFrame({"chrom": ["1"] * 6 + ["1", "X"], "id": [f"v{k}" for k in range(7)] + ["v0"],
                        "cm": 0.0, "pos": [10, 20, 30, 40, 50, 60, 10, 5_000_000],
                        "a1": ["A"] * 8, "a2": ["G"] * 8})
    sheet = pd.DataFrame({"sex": np.repeat([1.0, 2.0], n // 2),
                          "d": np.tile([0.0, 1.0], n // 2)})
    return dosage, bim, sheet


def test_variant_qc_table__first_failing_reason():
    dosage, bim, sheet = small_case()
    kept = np.ones(dosage.shape[1], dtype=bool)
    table = variant_qc_table(pack_dosages(dosage), bim, kept, sheet,
                             VariantThresholds(0.95, 0.05, 1e-6), "GRCh38")
    assert table["reason"].tolist()[:7] == ["", "all_missing", "monomorphic", "low_call_rate",
                                            "low_maf", "hwe", "duplicate"]
    assert table["reason"].iloc[7] == "duplicate"  # same ID as v0
    assert not table.loc[table["pass"], ["call_rate", "maf", "hwe_midp"]].isna().any(axis=None)


def test_duplicate_mask__same_site_or_named_id():
    bim = pd.DataFrame({"chrom": ["1"] * 4, "pos": [5, 5, 5, 9], "a1": ["A", "C", "A", "T"],
                        "a2": ["G"] * 4, "id": ["."] * 4})
    np.testing.assert_array_equal(duplicate_mask(bim), [False, False, True, False])


def test_variant_qc_table__chrx_hwe_uses_females_only():
    n = 40
    sex = np.repeat([1.0, 2.0], n // 2)
    dosage = np.zeros((1, n), dtype=np.int8)
    dosage[0, : n // 4] = 2  # males hemizygous: 0/2 only
    dosage[0, n // 2: n // 2 + 10] = 1  # females: 10 het, 10 hom REF
    bim = pd.DataFrame({"chrom": ["X"], "id": ["x1"], "cm": 0.0, "pos": [5_000_000],
                        "a1": ["A"], "a2": ["G"]})
    table = variant_qc_table(pack_dosages(dosage), bim, np.ones(n, dtype=bool),
                             pd.DataFrame({"sex": sex}), VariantThresholds(0.9, 0.01, 1e-6),
                             "GRCh38")
    want = hwe_exact_midp(np.array([10]), np.array([0]), np.array([10]))
    np.testing.assert_allclose(table["hwe_midp"], want, rtol=1e-12)


def test_contig_classes__par_and_sex_chromosomes():
    chrom = np.array(["chr1", "X", "X", "chrX", "Y", "MT", "23", "25", "chr7_random"])
    pos = np.array([1, 20_000, 3_000_000, 155_800_000, 1, 1, 3_000_000, 1, 1])
    got = contig_classes(chrom, pos, "GRCh38").tolist()
    assert got == ["auto", "par", "x", "par", "y", "mt", "x", "par", "other"]
