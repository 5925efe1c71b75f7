"""Sample-QC decisions on a small cohort with planted problems, and long-range LD regions kept
out of the pruned set.

The cohort is written directly (independent variants, so no LD and no relatives): samples with
extreme heterozygosity, swapped or ambiguous chrX sex, a low call rate, a missing sheet row and
one ancestry outlier (every allele frequency p replaced by 1 - p, so its heterozygosity stays
ordinary while it sits far from everyone on PC1). Each test checks the planted truth and the rule
of the module docstrings, recomputed here from the written outputs.
"""

import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_tsv
from cohortgen.kernels.bed import MISSING, pack_dosages, unpack_dosages
from cohortgen.qc.pca import PcaSettings
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, preliminary_samples, sample_qc
from cohortgen.qc.variant_stats import variant_stats_chunk

BUILD = "GRCh38"
N_SAMPLES = 200
N_AUTO_PER_CHROM, N_X = 1500, 400
HET_HIGH, HET_LOW, PCA_OUT = 3, 4, 5
SWAP_TO_FEMALE, SWAP_TO_MALE, SEX_AMBIGUOUS = 6, 7, 9
LOW_CALL, NOT_IN_SHEET, SEX_UNKNOWN = 10, 11, 12
SHEET_SEX = np.where(np.arange(N_SAMPLES) % 2 == 0, 1, 2)
"""Sheet sex: even samples male (1), odd female (2); SEX_UNKNOWN is NA in the sheet."""


def sample_ids(n: int) -> list[str]:
    return [f"P{k:04d}" for k in range(n)]


def fam_table(n: int) -> pd.DataFrame:
    ids = sample_ids(n)
    return pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                         "pheno": "-9"})


def bim_table(chrom: list[str], pos: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"chrom": chrom, "id": [f"v{k}" for k in range(len(pos))], "cm": 0.0,
                         "pos": pos, "a1": "A", "a2": "G"})


def diploid(rng, freq: np.ndarray, n: int) -> np.ndarray:
    """int8 (m, n) ALT dosages drawn under HWE at ``freq`` (m,)."""
    return rng.binomial(2, np.repeat(freq[:, None], n, axis=1)).astype(np.int8)


def autosomal_dosages(rng) -> np.ndarray:
    """Two autosomes of independent variants with the het and ancestry outliers planted."""
    freq = rng.uniform(0.15, 0.5, 2 * N_AUTO_PER_CHROM)
    dosage = diploid(rng, freq, N_SAMPLES)
    dosage[:, PCA_OUT] = rng.binomial(2, 1 - freq)
    hom = dosage[:, HET_HIGH] != 1
    dosage[hom & (rng.random(hom.size) < 0.6), HET_HIGH] = 1  # contaminated-like: F << 0
    for inbred in (HET_LOW, LOW_CALL):
        het = dosage[:, inbred] == 1
        dosage[het & (rng.random(het.size) < 0.9), inbred] = 0  # inbred-like: F >> 0
    dosage[rng.random(len(freq)) < 0.2, LOW_CALL] = MISSING
    return dosage


def chrx_dosages(rng) -> np.ndarray:
    """Non-PAR chrX: diploid in genetic females, hemizygous (0/2) in genetic males."""
    freq = rng.uniform(0.15, 0.5, N_X)
    genetic_male = SHEET_SEX == 1
    genetic_male[[SWAP_TO_FEMALE, SWAP_TO_MALE, SEX_UNKNOWN]] = [False, True, True]
    dosage = diploid(rng, freq, N_SAMPLES)
    hemizygous = 2 * (rng.random((N_X, N_SAMPLES)) < freq[:, None])
    dosage[:, genetic_male] = hemizygous[:, genetic_male]
    het = dosage[:, SEX_AMBIGUOUS] == 1
    dosage[het & (rng.random(N_X) < 0.5), SEX_AMBIGUOUS] = 0  # chrX F near 0.5
    return dosage


def write_sheet(path: Path, rng) -> None:
    ids = sample_ids(N_SAMPLES)
    sheet = pd.DataFrame({"sample_id": ids, "sex": SHEET_SEX.astype(str),
                          "age": rng.integers(30, 80, N_SAMPLES),
                          "hypertension": rng.integers(0, 2, N_SAMPLES)})
    sheet.loc[SEX_UNKNOWN, "sex"] = "NA"
    sheet.drop(index=NOT_IN_SHEET).to_csv(path, sep="\t", index=False)


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """The planted cohort as one chunk, its partial sums and pruned set (as the workflow)."""
    root = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(2024)
    dosage = np.concatenate([autosomal_dosages(rng), chrx_dosages(rng)])
    step = np.arange(N_AUTO_PER_CHROM)
    pos = np.concatenate([100_000 + 5_000 * step, 100_000 + 5_000 * step,
                          3_000_000 + 5_000 * np.arange(N_X)])
    chrom = ["1"] * N_AUTO_PER_CHROM + ["2"] * N_AUTO_PER_CHROM + ["X"] * N_X
    write_bed(root / "chunk", pack_dosages(dosage), bim_table(chrom, pos), fam_table(N_SAMPLES))
    write_sheet(root / "pheno.tsv", rng)
    partials = [root / "partials.npz"]
    variant_stats_chunk(root / "chunk", root / "pheno.tsv", BUILD, partials[0])
    prelim = preliminary_samples(root / "chunk.fam", partials, root / "pheno.tsv", 0.95)
    select_pruned_set([root / "chunk"], prelim, PruneSettings(genome_build=BUILD),
                      root / "pruned", root / "pruned.json")
    return {"root": root, "partials": partials, "prelim": prelim}


def run_sample_qc(planted: dict, name: str, settings: SampleSettings) -> tuple[pd.DataFrame,
                                                                                SampleQcPaths]:
    root = planted["root"]
    out = SampleQcPaths(*(root / f"{name}.{suffix}" for suffix in
                          ("samples.tsv", "keep.txt", "pairs.tsv", "pcs.tsv", "pca.json")))
    sample_qc(root / "chunk.fam", planted["partials"], root / "pheno.tsv", ["hypertension"],
              ["age", "sex"], root / "pruned", settings, out)
    table = read_tsv(out.samples_tsv, dtype={"sample_id": str, "reason": str})
    return table.fillna({"reason": ""}), out


@pytest.fixture(scope="module")
def default_run(planted):
    """Defaults: sex mismatch removed, ambiguous sex and PCA outliers flagged."""
    return run_sample_qc(planted, "default", SampleSettings())


@pytest.fixture(scope="module")
def swapped_actions_run(planted):
    """Sex mismatch flagged only; ambiguous sex and PCA outliers removed."""
    return run_sample_qc(planted, "swapped", SampleSettings(
        sex_mismatch_action="flag", sex_ambiguous_action="remove", pca_outlier_action="remove"))


def removed(table: pd.DataFrame) -> dict[int, str]:
    return {int(k): str(r) for k, r in zip(np.flatnonzero(~table["keep"]),
                                            table.loc[~table["keep"], "reason"], strict=True)}


def naive_het_f(dosage: np.ndarray, prelim: np.ndarray) -> np.ndarray:
    """PLINK 2 --het F per sample (m, n dosages), frequencies from the ``prelim`` samples."""
    called = dosage != MISSING
    use = called[:, prelim]
    p = np.where(use, dosage[:, prelim], 0).sum(axis=1) / (2.0 * use.sum(axis=1))
    e_hom_row = 1.0 - 2.0 * p * (1.0 - p)
    o_hom = ((dosage != 1) & called).sum(axis=0)
    e_hom = (e_hom_row[:, None] * called).sum(axis=0)
    return (o_hom - e_hom) / (called.sum(axis=0) - e_hom)


def test_sample_qc__default_actions_give_the_planted_reasons(default_run):
    table, _ = default_run
    assert removed(table) == {HET_HIGH: "het_outlier", HET_LOW: "het_outlier",
                              SWAP_TO_FEMALE: "sex_mismatch", SWAP_TO_MALE: "sex_mismatch",
                              LOW_CALL: "low_call_rate", NOT_IN_SHEET: "not_in_phenotype_sheet"}
    assert np.flatnonzero(table["sex_ambiguous"]).tolist() == [SEX_AMBIGUOUS]
    assert np.flatnonzero(table["pca_outlier"]).tolist() == [PCA_OUT]
    assert table.loc[[SEX_AMBIGUOUS, PCA_OUT], "keep"].all()
    assert table.loc[SEX_UNKNOWN, ["keep", "sex_mismatch", "sex_ambiguous"]].tolist() == [
        True, False, False]


def test_sample_qc__flag_action_keeps_mismatches_and_remove_drops_ambiguous(swapped_actions_run):
    table, _ = swapped_actions_run
    assert removed(table) == {HET_HIGH: "het_outlier", HET_LOW: "het_outlier",
                              PCA_OUT: "pca_outlier", SEX_AMBIGUOUS: "sex_ambiguous",
                              LOW_CALL: "low_call_rate", NOT_IN_SHEET: "not_in_phenotype_sheet"}
    flagged = table.loc[[SWAP_TO_FEMALE, SWAP_TO_MALE]]
    assert flagged["keep"].all()
    assert flagged["sex_mismatch"].all()
    assert (flagged["reason"] == "").all()


def test_sample_qc__het_outliers_follow_mean_k_sd_over_preliminary_samples(planted, default_run):
    table, _ = default_run
    packed, _, _ = read_bed(planted["root"] / "pruned")
    prelim = planted["prelim"]
    f = naive_het_f(unpack_dosages(packed, N_SAMPLES), prelim)
    np.testing.assert_allclose(table["het_f"], f, rtol=1e-9, atol=1e-12)  # written as %.10g
    assert not prelim[LOW_CALL]
    assert f[LOW_CALL] > 0.5
    z = np.abs(f - f[prelim].mean()) / f[prelim].std(ddof=1)
    probe = np.argsort(np.where(prelim, z, -1.0))[-3]  # the most extreme unplanted sample
    for k, flagged in ((z[probe] * (1 - 1e-6), True), (z[probe] * (1 + 1e-6), False)):
        got, _ = run_sample_qc(planted, f"het{k}", SampleSettings(het_sd=k))
        np.testing.assert_array_equal(got["reason"] == "het_outlier", prelim & (z > k))
        assert (got["reason"].iloc[probe] == "het_outlier") == flagged


def pc_z_scores(pcs_tsv: Path) -> pd.Series:
    """Per PCA sample: the largest |PC - mean| / SD (ddof 1) over PC1 and PC2."""
    pcs = read_tsv(pcs_tsv, dtype={"sample_id": str}).set_index("sample_id")
    top = pcs[["PC1", "PC2"]]
    return ((top - top.mean()).abs() / top.std(ddof=1)).max(axis=1)


def test_sample_qc__pca_outliers_follow_k_sd_on_pc1_pc2(planted, default_run):
    table, out = default_run
    z = pc_z_scores(out.pcs_tsv)
    flagged = table.set_index("sample_id")["pca_outlier"]
    np.testing.assert_array_equal(flagged.loc[z.index], z > 6.0)
    assert not flagged.drop(z.index).any()
    probe = z.drop(sample_ids(N_SAMPLES)[PCA_OUT]).idxmax()  # the most extreme unplanted sample
    for k, expected in ((z[probe] * (1 - 1e-6), True), (z[probe] * (1 + 1e-6), False)):
        got, again = run_sample_qc(planted, f"pca{k}", SampleSettings(
            pca=PcaSettings(outlier_sd=k), pca_outlier_action="remove"))
        pd.testing.assert_series_equal(pc_z_scores(again.pcs_tsv), z)
        got = got.set_index("sample_id")
        np.testing.assert_array_equal(got.loc[z.index, "reason"] == "pca_outlier", z > k)
        assert (got.loc[probe, "reason"] == "pca_outlier") == expected


def test_sample_qc__individual_level_outputs_are_owner_only(planted, default_run):
    root, (_, out) = planted["root"], default_run
    for path in [out.samples_tsv, out.keep_txt, out.related_pairs_tsv, out.pcs_tsv,
                 root / "pruned.bed", root / "pruned.fam", *planted["partials"]]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} has mode {oct(mode)}"


# Long-range LD regions. Bounds from the sources cited in cohortgen.qc.regions: Price et al.
# (2008) Table 1 for GRCh37 (6:25.5-33.5 Mb, 8:8-12 Mb, 1-based inclusive) and plinkQC's GRCh38
# BED (6:25391792-33424245, 8:8105067-12105082, BED starts: 1-based start + 1).
REGION_PROBES = {  # position -> inside the region in (GRCh37, GRCh38)
    "6": {25_000_000: (False, False), 25_450_000: (False, True), 25_600_000: (True, True),
          30_000_000: (True, True), 33_450_000: (True, False), 34_000_000: (False, False)},
    "8": {7_900_000: (False, False), 8_050_000: (True, False), 10_000_000: (True, True),
          12_050_000: (False, True), 12_500_000: (False, False)},
}


@pytest.mark.parametrize(("build", "column"), [("GRCh37", 0), ("GRCh38", 1)])
def test_select_pruned_set__drops_long_range_ld_regions_keeps_neighbours(tmp_path, build, column):
    chrom = [c for c, probes in REGION_PROBES.items() for _ in probes]
    pos = np.array([p for probes in REGION_PROBES.values() for p in probes])
    inside = np.array([flags[column] for probes in REGION_PROBES.values()
                       for flags in probes.values()])
    rng = np.random.default_rng(5)
    n = 400
    dosage = diploid(rng, rng.uniform(0.3, 0.5, len(pos)), n)
    write_bed(tmp_path / "g", pack_dosages(dosage), bim_table(chrom, pos), fam_table(n))
    summary = select_pruned_set([tmp_path / "g"], np.ones(n, dtype=bool),
                                PruneSettings(genome_build=build), tmp_path / "pruned",
                                tmp_path / "pruned.json")
    _, bim, _ = read_bed(tmp_path / "pruned")
    kept = set(zip(bim["chrom"].astype(str), bim["pos"].to_numpy(np.int64), strict=True))
    expected = {(c, int(p)) for c, p, i in zip(chrom, pos, inside, strict=True) if not i}
    assert kept == expected
    assert summary["long_range_ld_excluded"]
    assert summary["n_candidates"] == len(expected)
