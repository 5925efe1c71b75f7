"""Gather step: lead loci from GWAS-SSF + chunk genotypes, and the per-trait summary."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2
from test_kernels_clump import naive_clump

from cohortgen.assoc.gather import summarize_gwas
from cohortgen.assoc.loci import find_loci
from cohortgen.assoc.power import detectable_beta_sd
from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_tsv, write_json
from cohortgen.io.sumstats import read_gwas_ssf, write_gwas_ssf
from cohortgen.kernels.bed import pack_dosages

N = 200


def two_chunks(tmp_path, rng):
    """Two chunk .bed sets on chr 1 (blocks of 10 correlated variants 10 kb apart) + the GWAS."""
    base = rng.binomial(2, 0.3, size=(8, N))
    dosage = np.repeat(base, 10, axis=0)
    noise = rng.random(dosage.shape) < 0.15
    dosage = np.where(noise, rng.binomial(2, 0.3, size=dosage.shape), dosage).astype(np.int8)
    pos = np.arange(len(dosage)) * 10_000 + 1
    ids = [f"1:{p}:C:T" for p in pos]
    fam = pd.DataFrame({"fid": [f"s{i}" for i in range(N)], "iid": [f"s{i}" for i in range(N)],
                        "father": "0", "mother": "0", "sex": 1, "pheno": "-9"})
    prefixes = []
    for k, rows in enumerate([slice(0, 40), slice(40, 80)]):
        bim = pd.DataFrame({"chrom": "1", "id": ids[rows], "cm": 0.0, "pos": pos[rows],
                            "a1": "T", "a2": "C"})
        write_bed(tmp_path / f"c{k}", pack_dosages(dosage[rows]), bim, fam)
        prefixes.append(tmp_path / f"c{k}")
    p = np.full(len(pos), 0.5)
    p[[5, 6, 7, 33, 45, 46, 70]] = [1e-9, 1e-4, 1e-3, 2e-6, 1e-12, 1e-6, 0.2]
    table = pd.DataFrame({"chromosome": "1", "base_pair_location": pos, "effect_allele": "T",
                          "other_allele": "C", "beta": 0.1, "standard_error": 0.05,
                          "effect_allele_frequency": 0.3, "p_value": p,
                          "variant_id": [f"1_{p}_C_T" for p in pos],
                          "n": N, "status": "OK", "mac": 120})
    write_gwas_ssf(tmp_path / "d.tsv.gz", table, {"genome_assembly": "GRCh38"})
    null = pd.DataFrame({"sample_id": fam["iid"], "y_d": (rng.random(N) < 0.3).astype(float)})
    null.to_csv(tmp_path / "null.tsv", sep="\t", index=False)
    return dosage, pos, p, prefixes


def test_find_loci__matches_naive_clump_across_chunks(tmp_path):
    dosage, pos, p, prefixes = two_chunks(tmp_path, np.random.default_rng(8))
    loci = find_loci("d", tmp_path / "d.tsv.gz", prefixes, tmp_path / "null.tsv",
                     tmp_path / "d.loci.tsv")
    is_index, clump_of = naive_clump(dosage, pos, p, 0.1, 250_000, 1e-5, 1e-2)
    assert loci["base_pair_location"].tolist() == pos[is_index].tolist()
    sizes = [int((clump_of == i).sum()) for i in np.flatnonzero(is_index)]
    assert loci["n_variants"].tolist() == sizes
    assert loci.loc[loci["p_value"] < 5e-8, "class"].eq("genome_wide").all()
    assert (loci["end"] - loci["start"] == loci["span_bp"]).all()


def test_summarize_gwas__loci_counts_power_and_skipped_disease(tmp_path):
    two_chunks(tmp_path, np.random.default_rng(8))
    find_loci("d", tmp_path / "d.tsv.gz", [tmp_path / "c0", tmp_path / "c1"],
              tmp_path / "null.tsv", tmp_path / "d.loci.tsv")
    empty = pd.DataFrame(columns=["chromosome", "base_pair_location", "effect_allele",
                                  "other_allele", "beta", "standard_error",
                                  "effect_allele_frequency", "p_value"])
    write_gwas_ssf(tmp_path / "e.tsv.gz", empty, {"genome_assembly": "GRCh38"})
    find_loci("e", tmp_path / "e.tsv.gz", [], tmp_path / "null.tsv", tmp_path / "e.loci.tsv")
    write_json(tmp_path / "null.json", {"diseases": {
        "d": {"status": "OK", "n_cases": 60, "n_controls": 140},
        "e": {"status": "SKIPPED: fewer than 20 cases or controls", "n_cases": 3,
              "n_controls": 197}}})
    summary = summarize_gwas(["d", "e"], [tmp_path / "d.tsv.gz", tmp_path / "e.tsv.gz"],
                             [tmp_path / "d.loci.tsv", tmp_path / "e.loci.tsv"],
                             tmp_path / "null.json", tmp_path / "summary.tsv")
    d, e = summary.iloc[0], summary.iloc[1]
    assert (d["n_genome_wide"], d["n_genome_wide_variants"], d["n_variants"]) == (2, 2, 80)
    assert d["n_suggestive"] >= d["n_genome_wide"]
    assert d["detectable_or_maf05"] > d["detectable_or_maf20"] > 1
    assert e["status"].startswith("SKIPPED")
    assert e["n_variants"] == 0
    assert np.isnan(e["lambda_gc"])


def test_summarize_gwas__quantitative_trait_row(tmp_path):
    rng = np.random.default_rng(9)
    _, pos, _, prefixes = two_chunks(tmp_path, rng)
    table = read_gwas_ssf(tmp_path / "d.tsv.gz")
    table["p_value"] = rng.uniform(size=len(pos))
    table.loc[[3, 50], "p_value"] = [1e-10, 1e-6]
    table["effect_allele_frequency"] = rng.choice([0.02, 0.3, 0.97], size=len(pos))
    table["mac"] = np.where(table["effect_allele_frequency"] == 0.3, 120, 8)
    write_gwas_ssf(tmp_path / "q.tsv.gz", table, {"genome_assembly": "GRCh38"})
    pd.DataFrame({"sample_id": [f"s{i}" for i in range(N)], "y_d": 1.0,
                  "y_q": rng.normal(size=N)}).to_csv(tmp_path / "null.tsv", sep="\t", index=False)
    for name in ("d", "q"):
        find_loci(name, tmp_path / f"{name}.tsv.gz", prefixes, tmp_path / "null.tsv",
                  tmp_path / f"{name}.loci.tsv")
    write_json(tmp_path / "null.json", {"diseases": {
        "d": {"type": "binary", "status": "OK", "n_cases": 60, "n_controls": 140},
        "q": {"type": "quantitative", "status": "OK", "n": N}}})
    summarize_gwas(["d", "q"], [tmp_path / "d.tsv.gz", tmp_path / "q.tsv.gz"],
                   [tmp_path / "d.loci.tsv", tmp_path / "q.loci.tsv"],
                   tmp_path / "null.json", tmp_path / "summary.tsv")
    summary = read_tsv(tmp_path / "summary.tsv")
    d, q = summary.iloc[0], summary.iloc[1]
    assert summary["kind"].tolist() == ["binary", "quantitative"]
    assert (d["n_cases"], d["n_controls"], d["n_samples"]) == (60, 140, 200)
    assert q["n_samples"] == N
    assert q[["n_cases", "n_controls", "detectable_or_maf05", "detectable_or_maf20"]].isna().all()
    assert d[["detectable_beta_sd_maf05", "detectable_beta_sd_maf20"]].isna().all()
    assert q["detectable_beta_sd_maf20"] == pytest.approx(detectable_beta_sd(N, 0.2), rel=1e-5)
    assert q["detectable_beta_sd_maf05"] > q["detectable_beta_sd_maf20"]
    common = table["effect_allele_frequency"].to_numpy() == 0.3  # MAC 120 vs 8 at 0.02 / 0.97
    p = table["p_value"].to_numpy()
    expected = np.median(chi2.isf(p[common], 1)) / chi2.ppf(0.5, 1)
    assert q["lambda_gc"] == pytest.approx(expected, rel=1e-5)  # 6 significant digits
    assert q["n_variants_mac20"] == common.sum()
    lead_p = read_tsv(tmp_path / "q.loci.tsv")["p_value"]
    assert (q["n_genome_wide"], q["n_suggestive"]) == (1, 2)  # the two planted signals
    assert q["n_suggestive"] == (lead_p < 1e-5).sum()
