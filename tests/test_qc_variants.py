"""Variant QC decisions on small exact cases (reason codes, duplicates, the HWE test per
contig class) and the HWE p-values against PLINK 2 ``--hardy midp`` (6 printed digits)."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.hwe_x import hwe_x_midp
from cohortgen.qc.regions import (
    LONG_RANGE_LD_REGIONS,
    contig_classes,
    has_long_range_ld_regions,
    in_long_range_ld,
)
from cohortgen.qc.variant_qc import (
    VariantThresholds,
    duplicate_id_mask,
    duplicate_site_mask,
    read_first_sites,
    variant_qc_table,
    write_repeated_ids,
)

NO_REPEATS = pd.DataFrame(columns=["id", "chrom", "pos", "ref", "alt", "n_occurrences"])


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
                             VariantThresholds(0.95, 0.05, 1e-6), "GRCh38", NO_REPEATS)
    assert table["reason"].tolist()[:7] == ["", "all_missing", "monomorphic", "low_call_rate",
                                            "low_maf", "hwe", "duplicate"]
    assert table["reason"].iloc[7] == "duplicate_id"  # same ID as v0
    assert not table.loc[table["pass"], ["call_rate", "maf", "hwe_midp"]].isna().any(axis=None)


def test_duplicate_site_mask__same_site_and_alleles_in_either_order_only():
    bim = pd.DataFrame({"chrom": ["1"] * 6 + ["2"], "pos": [5, 5, 5, 9, 5, 9, 5],
                        "a1": ["A", "C", "A", "T", "G", "G", "A"],
                        "a2": ["G", "G", "G", "G", "A", "T", "G"], "id": ["."] * 7})
    # rows 2 (A/G again) and 4 (G/A: alleles swapped) repeat row 0; row 5 (G/T) repeats row 3
    # (T/G); row 1 (C/G) is another allele at the site; row 6 is on another chromosome
    naive = []
    for k in range(len(bim)):
        here = bim.iloc[k]
        naive.append(any(
            bim.iloc[j]["chrom"] == here["chrom"] and bim.iloc[j]["pos"] == here["pos"]
            and {bim.iloc[j]["a1"], bim.iloc[j]["a2"]} == {here["a1"], here["a2"]}
            for j in range(k)))
    np.testing.assert_array_equal(duplicate_site_mask(bim), naive)
    np.testing.assert_array_equal(duplicate_site_mask(bim),
                                  [False, False, True, False, True, True, False])


@pytest.mark.reference
def test_duplicate_id_mask__across_chunks_matches_plink2_rm_dup_force_first(plink2, tmp_path):
    rng = np.random.default_rng(6)
    n_chunks, m, n = 3, 40, 8
    names = np.array([f"rs{k}" for k in range(60)] + ["."] * 10)
    ids = rng.choice(names, size=n_chunks * m)
    bim = pd.DataFrame({"chrom": "1", "id": ids, "cm": 0.0, "pos": 100 + np.arange(ids.size),
                        "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": [f"S{k}" for k in range(n)], "iid": [f"S{k}" for k in range(n)],
                        "father": "0", "mother": "0", "sex": 0, "pheno": "-9"})
    packed = pack_dosages(rng.integers(0, 3, size=(ids.size, n)).astype(np.int8))
    chunks = [tmp_path / f"c{k}" for k in range(n_chunks)]
    for k, chunk in enumerate(chunks):
        rows = slice(k * m, (k + 1) * m)
        write_bed(chunk, packed[rows], bim.iloc[rows].reset_index(drop=True), fam)
    write_bed(tmp_path / "all", packed, bim, fam)
    subprocess.run([plink2, "--bfile", tmp_path / "all", "--rm-dup", "force-first",
                    "--make-just-bim", "--out", tmp_path / "dedup", "--threads", "1"],
                   check=True, capture_output=True)
    plink_kept = pd.read_csv(tmp_path / "dedup.bim", sep="\t", header=None)[3].to_numpy()

    write_repeated_ids([f"{c}.bim" for c in chunks], tmp_path / "repeated.tsv")
    first_sites = read_first_sites(tmp_path / "repeated.tsv")
    removed = np.concatenate([duplicate_id_mask(bim.iloc[k * m:(k + 1) * m].reset_index(
        drop=True), first_sites) for k in range(n_chunks)])
    np.testing.assert_array_equal(bim["pos"].to_numpy()[~removed], plink_kept)
    assert removed.sum() > 20
    counts = pd.Series(ids[ids != "."]).value_counts()
    assert first_sites.set_index("id")["n_occurrences"].to_dict() == counts[counts > 1].to_dict()


def test_variant_qc_table__chrx_hwe_counts_female_genotypes_and_male_alleles():
    n = 44
    sex = np.repeat([1.0, 2.0], n // 2)
    sex[-2:] = np.nan  # unknown sex: left out of the chrX test
    dosage = np.zeros((2, n), dtype=np.int8)
    dosage[:, :10] = 2  # 10 hemizygous ALT males, 11 REF males
    dosage[:, 10] = 1  # a male het call: not counted
    dosage[:, 22:32] = 1  # females: 10 het, 10 hom REF
    dosage[:, -2:] = 2
    bim = pd.DataFrame({"chrom": ["X", "Y"], "id": ["x1", "y1"], "cm": 0.0,
                        "pos": [5_000_000, 5_000_000], "a1": "A", "a2": "G"})
    table = variant_qc_table(pack_dosages(dosage), bim, np.ones(n, dtype=bool),
                             pd.DataFrame({"sex": sex}), VariantThresholds(0.9, 0.01, 1e-6),
                             "GRCh38", NO_REPEATS)
    want = hwe_x_midp(np.array([10]), np.array([0]), np.array([10]), np.array([10]),
                      np.array([11]))
    np.testing.assert_allclose(table["hwe_midp"].iloc[0], want[0], rtol=1e-12)
    assert table["hwe_test"].tolist() == ["exact_x", "none"]
    assert np.isnan(table["hwe_midp"].iloc[1])


@pytest.mark.reference
def test_variant_qc_table__hwe_matches_plink2_hardy_on_autosomes_and_chrx(plink2, tmp_path):
    rng = np.random.default_rng(8)
    n, m = 400, 60
    sex = rng.choice([1, 2], size=n)
    sex[:4] = 0
    dosage = rng.binomial(2, rng.uniform(0.05, 0.5, (m, 1)), (m, n)).astype(np.int8)
    dosage[m // 2:, sex == 1] = 2 * rng.integers(0, 2, (m - m // 2, (sex == 1).sum()))
    dosage[m // 2:, rng.random(n) < 0.3] = 0  # off HWE: a REF excess in some females
    dosage[rng.random(dosage.shape) < 0.02] = MISSING
    bim = pd.DataFrame({"chrom": np.repeat(["1", "X"], m // 2), "id": [f"v{k}" for k in range(m)],
                        "cm": 0.0, "pos": 3_000_000 + np.arange(m), "a1": "A", "a2": "G"})
    ids = [f"S{k}" for k in range(n)]
    write_bed(tmp_path / "g", pack_dosages(dosage), bim, pd.DataFrame(
        {"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex, "pheno": "-9"}))
    kept = rng.random(n) < 0.9
    (tmp_path / "keep.txt").write_text("".join(f"{s}\t{s}\n" for s in np.array(ids)[kept]))
    subprocess.run([plink2, "--bfile", tmp_path / "g", "--keep", tmp_path / "keep.txt",
                    "--hardy", "midp", "--out", tmp_path / "g", "--threads", "1"],
                   check=True, capture_output=True)
    ref = pd.concat([pd.read_csv(tmp_path / f"g.{ext}", sep="\t") for ext in ("hardy", "hardy.x")])
    table = variant_qc_table(pack_dosages(dosage), bim, kept, pd.DataFrame(
        {"sex": np.where(sex == 0, np.nan, sex)}), VariantThresholds(0.9, 0.01, 1e-6), "GRCh38",
        NO_REPEATS)
    np.testing.assert_array_equal(table["id"], ref["ID"])
    want = ref["MIDP"].to_numpy()  # 6 significant digits: within half a unit of the last one
    assert np.all(np.abs(table["hwe_midp"] - want) <= 0.5e-5 * 10.0 ** np.floor(np.log10(want)))
    assert table["hwe_test"].tolist() == ["exact"] * (m // 2) + ["exact_x"] * (m // 2)
    assert (table["hwe_midp"] < 1e-6).sum() >= 5


def test_contig_classes__par_and_sex_chromosomes():
    chrom = np.array(["chr1", "X", "X", "chrX", "Y", "MT", "23", "25", "chr7_random"])
    pos = np.array([1, 20_000, 3_000_000, 155_800_000, 1, 1, 3_000_000, 1, 1])
    got = contig_classes(chrom, pos, "GRCh38").tolist()
    assert got == ["auto", "par", "x", "par", "y", "mt", "x", "par", "other"]


def test_long_range_ld_regions__grch38_segments_trace_to_price_rows():
    grch37 = LONG_RANGE_LD_REGIONS[LONG_RANGE_LD_REGIONS["build"] == "GRCh37"]
    grch38 = LONG_RANGE_LD_REGIONS[LONG_RANGE_LD_REGIONS["build"] == "GRCh38"]
    assert set(grch38["source_region"]) <= set(grch37["source_region"])
    assert len(set(grch38["source_region"])) == 18
    for label, segments in grch38.groupby("source_region"):
        source = grch37.set_index("source_region").loc[label]
        assert (segments["end"] > segments["start"]).all()
        main = segments.loc[(segments["end"] - segments["start"]).idxmax()]
        assert main["chrom"] == source["chrom"]  # liftOver keeps the bulk on its chromosome
        on_chrom = segments[segments["chrom"] == source["chrom"]]
        ratio = (on_chrom["end"] - on_chrom["start"]).sum() / (source["end"] - source["start"])
        assert 0.05 < ratio < 1.3, label  # 6:57-64 spans the centromere: 13% lifts over


def test_in_long_range_ld__both_builds():
    chrom = np.array(["chr6", "6", "1", "1", "2"])
    pos = np.array([30_000_000, 24_000_000, 47_761_740, 47_761_741, 136_000_000])
    assert in_long_range_ld(chrom, pos, "GRCh38").tolist() == [True, False, False, True, False]
    assert in_long_range_ld(chrom, pos, "hg19").tolist() == [True, False, False, False, True]
    assert has_long_range_ld_regions("GRCh38")
    assert has_long_range_ld_regions("b37")
    with pytest.raises(ValueError, match="no long-range LD regions"):
        in_long_range_ld(chrom, pos, "GRCh36")
