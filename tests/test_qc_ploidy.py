"""Variant QC metrics by ploidy (non-PAR chrX, PAR, chrY, MT) against a naive per-sample loop
and PLINK 2 ``--missing`` / ``--freq counts``, and chrY differential missingness against
plink1.9 ``--test-missing``.

Tolerances: counts are compared exactly (PLINK 2 prints ALT_CTS, OBS_CT and MISSING_CT as exact
integers or halves); plink1.9 prints P with 4 significant digits (relative 5e-4).
"""

import subprocess

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.qc.regions import contig_classes
from cohortgen.qc.variant_qc import VariantThresholds, diff_missingness, variant_qc_table

NO_REPEATS = pd.DataFrame(columns=["id", "chrom", "pos", "ref", "alt", "n_occurrences"])
LOCI = (("1", 1_000_000), ("X", 100_000), ("X", 5_000_000), ("X", 155_800_000),
        ("Y", 3_000_000), ("MT", 100))
"""(chrom, first position) of each block of simulated variants: an autosome, GRCh38 PAR1,
non-PAR chrX, PAR2, chrY and MT."""


def ploidy_case(seed: int, haploid_hets: bool, per_locus: int = 12, n: int = 60):
    """Dosages int8 (m, n) over :data:`LOCI`, .bim and .fam frames, sex (1/2/0) and a 0/1
    status; females are missing on chrY (as ingest writes them). With ``haploid_hets`` False,
    het calls of males on chrX/chrY and of anyone on MT are missing (as ingest writes them)."""
    rng = np.random.default_rng(seed)
    sex = rng.choice([1, 2], size=n)
    sex[:3] = 0
    status = rng.integers(0, 2, n)
    bim = pd.DataFrame([(chrom, f"{chrom}_{start + k}", 0.0, start + k, "A", "G")
                        for chrom, start in LOCI for k in range(per_locus)],
                       columns=["chrom", "id", "cm", "pos", "a1", "a2"])
    m = len(bim)
    dosage = rng.binomial(2, rng.uniform(0.05, 0.6, (m, 1)), (m, n)).astype(np.int8)
    miss_rate = rng.uniform(0, 0.3, (m, 1)) * (1 + status)  # missingness depends on status
    dosage[rng.random((m, n)) < miss_rate] = MISSING
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), "GRCh38")
    dosage[np.ix_(classes == "y", sex == 2)] = MISSING
    if not haploid_hets:
        haploid = ((classes == "x")[:, None] & (sex == 1)[None, :]) | np.isin(
            classes, ["y", "mt"])[:, None]
        dosage[haploid & (dosage == 1)] = MISSING
    ids = [f"S{k}" for k in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex,
                        "pheno": status + 1})
    return dosage, bim, fam, sex, status


def sheet_of(sex: np.ndarray, status: np.ndarray) -> pd.DataFrame:
    """Phenotype frame as variant QC reads it: sex NaN when unknown, one disease column."""
    return pd.DataFrame({"sex": np.where(sex == 0, np.nan, sex).astype(float),
                         "d": status.astype(float)})


def naive_ploidy_counts(dosage, kept, sex, classes):
    """Per variant, by a loop over samples: (called, missing, alt alleles, alleles) over the
    kept samples, reading the rules from PLINK 2's documentation of haploid calls."""
    out = np.zeros((dosage.shape[0], 4))
    for v, contig_class in enumerate(classes):
        for d, s, k in zip(dosage[v], sex, kept, strict=True):
            if not k or (contig_class == "y" and s != 1):
                continue  # chrY: a call is expected from males only
            if d == MISSING:
                out[v, 1] += 1
                continue
            haploid = contig_class == "mt" or (contig_class in ("x", "y") and s == 1)
            out[v, 0] += 1
            out[v, 2] += d / 2 if haploid else d
            out[v, 3] += 1 if haploid else 2
    return out


def qc_table(dosage, bim, kept, sex, status):
    return variant_qc_table(pack_dosages(dosage), bim, kept, sheet_of(sex, status),
                            VariantThresholds(0.9, 0.01, 1e-6), "GRCh38", NO_REPEATS)


def test_variant_qc_table__ploidy_counts_match_naive_loop():
    dosage, bim, _, sex, status = ploidy_case(1, haploid_hets=True)
    kept = np.random.default_rng(2).random(sex.size) < 0.85
    table = qc_table(dosage, bim, kept, sex, status)
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), "GRCh38")
    called, missing, alt, total = naive_ploidy_counts(dosage, kept, sex, classes).T
    np.testing.assert_array_equal(table[["n_hom_alt", "n_het", "n_hom_ref"]].sum(axis=1), called)
    np.testing.assert_array_equal(table["n_missing"], missing)
    np.testing.assert_allclose(table["call_rate"], called / (called + missing), rtol=1e-15)
    np.testing.assert_allclose(table["alt_freq"], alt / total, rtol=1e-15)
    np.testing.assert_array_equal(table["mac"], np.minimum(alt, total - alt))
    assert set(classes) == {"auto", "par", "x", "y", "mt"}


def test_diff_missingness__chry_counts_males_only_as_naive_fisher():
    dosage, bim, _, sex, status = ploidy_case(3, haploid_hets=False)
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), "GRCh38")
    kept = np.ones(sex.size, dtype=bool)
    p, _ = diff_missingness(pack_dosages(dosage), kept, pd.DataFrame({"d": status.astype(float)}),
                            classes, sex.astype(float))
    for v in np.flatnonzero(np.isin(classes, ["y", "auto"])):
        counted = (sex == 1) if classes[v] == "y" else kept
        miss = dosage[v] == MISSING
        table = [[(miss & counted & (status == s)).sum(), (~miss & counted & (status == s)).sum()]
                 for s in (1, 0)]
        assert p[v] == pytest.approx(fisher_exact(table)[1], rel=1e-9)


def test_variant_qc_table__chry_all_males_called_passes_call_rate():
    dosage, bim, _, sex, status = ploidy_case(4, haploid_hets=False)
    on_y = (bim["chrom"] == "Y").to_numpy()
    dosage[np.ix_(on_y, sex != 2)] = 2 * (np.arange((sex != 2).sum()) % 2)  # all called, MAF 1/2
    table = qc_table(dosage, bim, np.ones(sex.size, dtype=bool), sex, status)
    y_rows = table[on_y]
    assert (sex == 2).sum() > 10  # the females' missing chrY calls would fail a 0.9 call rate
    assert (y_rows["call_rate"] == 1.0).all()
    assert y_rows["pass"].all(), y_rows["reason"].tolist()


@pytest.mark.reference
def test_variant_qc_table__matches_plink2_freq_counts_and_missing(plink2, tmp_path):
    dosage, bim, fam, sex, status = ploidy_case(5, haploid_hets=True)
    kept = np.random.default_rng(6).random(sex.size) < 0.85
    kept[:3] = True  # the unknown-sex samples
    write_bed(tmp_path / "g", pack_dosages(dosage), bim, fam)
    (tmp_path / "keep.txt").write_text("".join(f"{s}\t{s}\n" for s in fam["iid"][kept]))
    subprocess.run([plink2, "--bfile", tmp_path / "g", "--keep", tmp_path / "keep.txt",
                    "--split-par", "hg38", "--freq", "counts", "--missing",
                    "--out", tmp_path / "g", "--threads", "1"], check=True, capture_output=True)
    freq = pd.read_csv(tmp_path / "g.acount", sep="\t").set_index("ID").loc[bim["id"]]
    vmiss = pd.read_csv(tmp_path / "g.vmiss", sep="\t").set_index("ID").loc[bim["id"]]
    table = qc_table(dosage, bim, kept, sex, status)
    alt, total = freq["ALT_CTS"].to_numpy(float), freq["OBS_CT"].to_numpy(float)
    np.testing.assert_array_equal(table["n_missing"], vmiss["MISSING_CT"])
    np.testing.assert_array_equal(table[["n_hom_alt", "n_het", "n_hom_ref", "n_missing"]].sum(
        axis=1), vmiss["OBS_CT"])
    np.testing.assert_allclose(table["call_rate"], 1 - vmiss["F_MISS"], atol=5e-7)
    np.testing.assert_allclose(table["alt_freq"], alt / total, rtol=1e-15)
    np.testing.assert_array_equal(table["mac"], np.minimum(alt, total - alt))
    assert (alt % 1 == 0.5).any()  # haploid het calls counted as half an ALT allele


@pytest.mark.reference
def test_diff_missingness__chry_matches_plink19_test_missing(plink19, tmp_path):
    dosage, bim, fam, sex, status = ploidy_case(7, haploid_hets=False, per_locus=20, n=200)
    write_bed(tmp_path / "g", pack_dosages(dosage), bim, fam)
    subprocess.run([plink19, "--bfile", tmp_path / "g", "--test-missing", "--allow-no-sex",
                    "--out", tmp_path / "g"], check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "g.missing", sep=r"\s+").set_index("SNP")
    classes = contig_classes(bim["chrom"].to_numpy(str), bim["pos"].to_numpy(), "GRCh38")
    packed, kept = pack_dosages(dosage), np.ones(sex.size, dtype=bool)
    status = pd.DataFrame({"d": status.astype(float)})
    p, _ = diff_missingness(packed, kept, status, classes, sex.astype(float))
    compared = classes != "par"  # plink1.9 reads chrX PAR calls as haploid without --split-x
    np.testing.assert_allclose(p[compared], ref.loc[bim["id"][compared], "P"], rtol=5e-4)
    on_y = classes == "y"
    everyone, _ = diff_missingness(packed, kept, status)  # females' missing chrY calls counted
    assert np.all(np.abs(everyone[on_y] / ref.loc[bim["id"][on_y], "P"] - 1) > 1e-2)
