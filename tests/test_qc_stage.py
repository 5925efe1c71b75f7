"""QC stage functions on a tiny simulated cohort, against PLINK 2 / plink1.9 and the truth.

Tolerances: PLINK 2 prints F_MISS, F, KINSHIP and P with 6 significant digits (|value| <= 1, so
within 5e-6 absolute or relative for p-values); plink1.9 prints --test-missing P and --check-sex
F with 4 significant digits (relative 5e-4, absolute 5e-5).
"""

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_kernels_relatedness import kinship_matrix

from cohortgen.io.bed import read_bed, write_bed
from cohortgen.io.files import read_tsv, write_json
from cohortgen.io.vcf import RecordTally
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.qc.genotypes import write_qc_genotypes
from cohortgen.qc.keep import read_keep
from cohortgen.qc.pca import pca_scores
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, preliminary_samples, sample_qc
from cohortgen.qc.sexcheck import sex_check
from cohortgen.qc.summary import summarize_qc
from cohortgen.qc.variant_qc import (
    VariantThresholds,
    diff_missingness,
    variant_qc_chunk,
    write_repeated_ids,
)
from cohortgen.qc.variant_stats import sample_partials, variant_stats_chunk
from cohortgen.simulate import simulate_cohort

DISEASES = ["hypertension", "type2_diabetes", "obesity", "stroke"]
BUILD = "GRCh38"

pytestmark = pytest.mark.reference


def run(*command):
    subprocess.run([str(c) for c in command], check=True, capture_output=True)


def read_report(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep=r"\s+", dtype={"IID": str, "#IID": str, "ID2": str})
    return table.rename(columns=lambda c: c.lstrip("#"))


@pytest.fixture(scope="module")
def qc_run(tmp_path_factory, plink2):
    """Simulated cohort split into two chunks (one per chromosome), every QC stage run."""
    root = tmp_path_factory.mktemp("qc")
    simulate_cohort(root / "sim", n_samples=300, n_chromosomes=2, chromosome_mb=5.0, seed=7)
    full = root / "full"
    run(plink2, "--vcf", root / "sim/genotypes.vcf.gz", "--make-bed", "--out", full,
        "--threads", "1")
    pheno = root / "sim/phenotypes.tsv"
    chunks = [root / f"c{k}" for k in (1, 2)]
    for k, chunk in enumerate(chunks, start=1):
        run(plink2, "--bfile", full, "--chr", k, "--make-bed", "--out", chunk, "--threads", "1")
    partials = [root / f"c{k}.npz" for k in (1, 2)]
    variant_qc = [root / f"c{k}.vqc.tsv" for k in (1, 2)]
    tallies = []
    for chunk, part in zip(chunks, partials, strict=True):
        variant_stats_chunk(chunk, pheno, BUILD, part)
        n = len(read_bed(chunk)[1])
        tallies.append(root / f"{chunk.name}.json")
        write_json(tallies[-1], RecordTally(n_in=n, n_kept=n, n_variants=n).as_dict())
    prelim = preliminary_samples(Path(f"{chunks[0]}.fam"), partials, pheno, 0.95)
    select_pruned_set(chunks, prelim, PruneSettings(genome_build=BUILD), root / "pruned",
                      root / "pruned.json")
    out = SampleQcPaths(root / "samples.tsv", root / "keep.txt", root / "pairs.tsv",
                        root / "pcs.tsv", root / "pca.json")
    sample_qc(Path(f"{chunks[0]}.fam"), partials, pheno, DISEASES, ["age", "sex"], root / "pruned",
              SampleSettings(), out)
    thresholds = VariantThresholds(0.95, 0.01, 1e-6, 0, 1e-5)
    write_repeated_ids([f"{c}.bim" for c in chunks], root / "repeated_ids.tsv")
    for chunk, path in zip(chunks, variant_qc, strict=True):
        variant_qc_chunk(chunk, out.keep_txt, pheno, DISEASES, thresholds, BUILD,
                         root / "repeated_ids.tsv", path)
    write_qc_genotypes(chunks, variant_qc, out.keep_txt, root / "genotypes")
    summary = summarize_qc(tallies, out.samples_tsv, out.related_pairs_tsv, variant_qc,
                           root / "genotypes", root / "summary.json", root / "variants.tsv.gz")
    (root / "prelim.txt").write_text("".join(
        f"{s}\n" for s in read_bed(full)[2]["iid"][prelim]))
    return {"root": root, "full": full, "pheno": pheno, "out": out, "summary": summary,
            "prelim": prelim, "variant_qc": variant_qc,
            "truth": json.loads((root / "sim/truth.json").read_text())}


def samples_table(qc_run) -> pd.DataFrame:
    return read_tsv(qc_run["out"].samples_tsv, dtype={"sample_id": str, "reason": str})


def test_sample_qc__call_rate_matches_plink2_missing(qc_run, plink2):
    root = qc_run["root"]
    run(plink2, "--bfile", qc_run["full"], "--missing", "--out", root / "miss")
    ref = read_report(root / "miss.smiss")
    got = samples_table(qc_run)
    np.testing.assert_allclose(got["call_rate"], 1 - ref["F_MISS"], rtol=0, atol=5e-6)


def test_sample_qc__het_f_matches_plink2_het_on_pruned_set(qc_run, plink2):
    root = qc_run["root"]
    run(plink2, "--bfile", root / "pruned", "--keep", root / "prelim.txt", "--het",
        "--out", root / "het")
    ref = read_report(root / "het.het").set_index("IID")
    got = samples_table(qc_run).set_index("sample_id").loc[ref.index]
    np.testing.assert_allclose(got["het_f"], ref["F"], rtol=5e-6, atol=1e-7)


def test_kinship_matrix__matches_plink2_king_table_on_pruned_set(qc_run, plink2):
    root = qc_run["root"]
    run(plink2, "--bfile", root / "pruned", "--keep", root / "prelim.txt", "--make-king-table",
        "--out", root / "king")
    ref = read_report(root / "king.kin0")
    packed, _, fam = read_bed(root / "pruned")
    idx = np.flatnonzero(qc_run["prelim"]).astype(np.int64)
    kinship = kinship_matrix(packed, len(fam), idx)
    pos = {s: k for k, s in enumerate(fam["iid"].to_numpy()[idx])}
    got = kinship[ref["IID1"].map(pos).to_numpy(), ref["IID2"].map(pos).to_numpy()]
    assert len(ref) == len(idx) * (len(idx) - 1) // 2
    np.testing.assert_allclose(got, ref["KINSHIP"], rtol=0, atol=1e-6)


def test_sample_qc__finds_truth_relatives_and_low_call_samples(qc_run):
    table = samples_table(qc_run).set_index("sample_id")
    truth = qc_run["truth"]
    assert set(table.index[table["reason"] == "low_call_rate"]) == set(truth["low_call_samples"])
    pairs = read_tsv(qc_run["out"].related_pairs_tsv, dtype={"id1": str, "id2": str})
    found = {frozenset(p) for p in zip(pairs["id1"], pairs["id2"], strict=True)}
    expected = {frozenset((p["sample_1"], p["sample_2"])) for p in truth["related_pairs"]
                if p["realized_kinship"] > 0.0884 + 0.03
                and not {p["sample_1"], p["sample_2"]} & set(truth["low_call_samples"])}
    assert expected
    assert expected <= found
    kept = set(read_keep(qc_run["out"].keep_txt))
    assert not any(pair <= kept for pair in found)
    pcs = read_tsv(qc_run["out"].pcs_tsv, dtype={"sample_id": str})
    assert kept <= set(pcs["sample_id"])
    assert pcs.shape[1] == 12


def test_sample_qc__relatives_projected_onto_pcs_fitted_on_unrelated(qc_run):
    """pcs.tsv: the unrelated QC-passed samples fitted (their PCs exactly the PCA of those
    samples alone), every relative that passed the other checks projected with finite PCs."""
    table = samples_table(qc_run)
    pcs = read_tsv(qc_run["out"].pcs_tsv, dtype={"sample_id": str, "pca": str})
    relatives = table.loc[table["reason"] == "related", "sample_id"].tolist()
    assert relatives
    assert pcs.loc[pcs["pca"] == "projected", "sample_id"].tolist() == relatives
    fitted = pcs.loc[pcs["pca"] == "fitted", "sample_id"].tolist()
    assert set(table.loc[table["keep"], "sample_id"]) <= set(fitted)
    assert not set(fitted) & set(relatives)
    assert np.isfinite(pcs.filter(like="PC").to_numpy()).all()
    packed, _, fam = read_bed(qc_run["root"] / "pruned")
    ids = fam["iid"].astype(str).tolist()
    fit_idx = np.array([ids.index(s) for s in fitted], dtype=np.int64)
    _, alone, _ = pca_scores(packed, len(ids), fit_idx, SampleSettings().pca)
    text = pd.DataFrame(alone).to_csv(sep="\t", index=False, header=False, float_format="%.10g")
    written = qc_run["out"].pcs_tsv.read_text().splitlines()[1:1 + len(fitted)]
    assert [line.split("\t", 2)[2] for line in written] == text.splitlines()


def test_variant_qc_chunk__hwe_matches_plink2_hardy_midp_on_kept(qc_run, plink2):
    root = qc_run["root"]
    kept = read_keep(qc_run["out"].keep_txt)
    (root / "keep2.txt").write_text("".join(f"{s}\n" for s in kept))
    run(plink2, "--bfile", qc_run["full"], "--keep", root / "keep2.txt", "--hardy", "midp",
        "--out", root / "hardy")
    ref = read_report(root / "hardy.hardy")
    got = pd.concat([read_tsv(p, dtype={"id": str}) for p in qc_run["variant_qc"]])
    np.testing.assert_array_equal(got["id"].to_numpy(), ref["ID"].to_numpy())
    # monomorphic among the kept samples included: the one possible table's mid-p is 0.5
    np.testing.assert_allclose(got["hwe_midp"], ref["MIDP"], rtol=5e-6, atol=0)


def test_diff_missingness__matches_plink19_test_missing(qc_run, plink19, tmp_path):
    packed, bim, fam = read_bed(qc_run["full"])
    rng = np.random.default_rng(3)
    status = rng.integers(0, 2, len(fam)).astype(float)
    dosage_missing = packed.copy()
    for v in range(40):  # missingness of the first 40 variants depends on status
        for s in np.flatnonzero(status == 1)[: 3 * v + 1]:
            dosage_missing[v, s // 4] = (dosage_missing[v, s // 4] & ~(3 << 2 * (s % 4))) | (
                1 << 2 * (s % 4))
    write_bed(tmp_path / "dm", dosage_missing, bim, fam.assign(pheno=(status + 1).astype(int)))
    run(plink19, "--bfile", tmp_path / "dm", "--test-missing", "--allow-no-sex",
        "--out", tmp_path / "dm")
    ref = read_report(tmp_path / "dm.missing")
    kept = np.ones(len(fam), dtype=bool)
    p, _ = diff_missingness(dosage_missing, kept, pd.DataFrame({"d": status}))
    ref_p = pd.Series(ref["P"].to_numpy(float), index=ref["SNP"].astype(str))
    got = pd.Series(p, index=bim["id"].astype(str)).loc[ref_p.index]
    np.testing.assert_allclose(got, ref_p, rtol=5e-4, atol=0)
    assert (got.iloc[:40] < 1e-5).sum() > 10


def test_sex_check__matches_plink19_check_sex(plink19, tmp_path):
    rng = np.random.default_rng(11)
    n, m = 120, 500
    sex = np.where(np.arange(n) % 2 == 0, 1, 2)
    freq = rng.uniform(0.05, 0.5, size=(m, 1))
    dosage = ((rng.random((m, n)) < freq).astype(np.int8) + (rng.random((m, n)) < freq))
    genetic_male = sex == 1
    genetic_male[:3] = False  # sheet males that are genetically female
    genetic_male[3:7:2] = True  # sheet females that are genetically male
    hemi = (dosage == 1) & genetic_male[None, :]
    dosage[hemi] = 2 * (rng.random(hemi.sum()) < 0.5)
    partly = (dosage == 1) & np.isin(np.arange(n), [7, 8, 9])[None, :]  # intermediate F
    dosage[partly & (rng.random(dosage.shape) < 0.6)] = 0
    dosage[rng.random(dosage.shape) < 0.02] = MISSING
    bim = pd.DataFrame({"chrom": "23", "id": [f"x{k}" for k in range(m)], "cm": 0.0,
                        "pos": 3_000_000 + 1000 * np.arange(m), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": [f"S{k}" for k in range(n)], "iid": [f"S{k}" for k in range(n)],
                        "father": "0", "mother": "0", "sex": sex, "pheno": "-9"})
    write_bed(tmp_path / "x", pack_dosages(dosage), bim, fam)
    run(plink19, "--bfile", tmp_path / "x", "--check-sex", "--out", tmp_path / "x")
    ref = read_report(tmp_path / "x.sexcheck")
    classes = np.full(m, "x", dtype=object)
    got = sex_check(sample_partials(pack_dosages(dosage), classes, sex), sex)
    np.testing.assert_allclose(got["x_f"], ref["F"], rtol=0, atol=5e-5)
    np.testing.assert_array_equal(got["genetic_sex"], ref["SNPSEX"])
    problem = (ref["STATUS"] == "PROBLEM").to_numpy()
    np.testing.assert_array_equal(got["sex_mismatch"], problem & (ref["SNPSEX"] == 3 - sex))
    np.testing.assert_array_equal(got["sex_ambiguous"], problem & (ref["SNPSEX"] == 0))
    assert np.flatnonzero(got["sex_mismatch"]).tolist() == [0, 2, 3, 5]  # 0, 2: sheet males
    assert got["sex_ambiguous"].sum() >= 2


def test_sex_check__chry_male_calls_veto_a_mismatch_never_cause_one():
    f = np.array([0.05, 0.05, 0.5, 0.95, 0.95, 0.05])  # chrX F per sample
    sheet = np.array([1, 1, 1, 2, 2, 2])
    y_called = np.array([98, 3, 0, 100, 0, 0])  # of 100 chrY variants; sheet females: missing
    partials = {"x_o_hom": f * 100, "x_e_hom": np.zeros(6), "x_n_called": np.full(6, 100),
                "y_variants": np.full(6, 100), "y_called": y_called}
    got = sex_check(partials, sheet)
    np.testing.assert_allclose(got["x_f"], f)
    assert got["sex_mismatch"].tolist() == [False, True, False, True, True, False]
    assert got["sex_ambiguous"].tolist() == [True, False, True, False, False, False]
    no_y = sex_check(partials | {"y_variants": np.zeros(6), "y_called": np.zeros(6)}, sheet)
    assert no_y["sex_mismatch"].tolist() == [True, True, False, True, True, False]
    assert np.isnan(no_y["y_call_rate"]).all()


def test_write_qc_genotypes__plink2_reads_kept_samples_and_passing_variants(qc_run, plink2):
    root = qc_run["root"]
    run(plink2, "--bfile", root / "genotypes", "--freq", "counts", "--out", root / "qcfreq")
    ref = read_report(root / "qcfreq.acount")
    table = pd.concat([read_tsv(p, dtype={"id": str}) for p in qc_run["variant_qc"]])
    passing = table[table["pass"]]
    np.testing.assert_array_equal(ref["ID"].to_numpy(), passing["id"].to_numpy())
    alt_count = 2 * passing["n_hom_alt"] + passing["n_het"]
    np.testing.assert_array_equal(ref["ALT_CTS"].to_numpy(), alt_count.to_numpy())
    fam = read_bed(root / "genotypes", variant_slice=slice(0, 0))[2]
    assert fam["iid"].tolist() == read_keep(qc_run["out"].keep_txt)


def test_summarize_qc__funnel_reconciles(qc_run):
    summary = qc_run["summary"]
    samples, variants = summary["samples"], summary["variants"]
    assert samples["in"] == samples["kept"] + sum(samples["removed"].values())
    assert variants["in"] == variants["kept"] + sum(variants["removed"].values())
    assert variants["in"] == summary["ingest"]["variants_written"]
    assert samples["removed"]["low_call_rate"] == 10
    assert samples["removed"]["related"] >= 5
    assert set(samples["flagged"]) == {"pca_outlier", "sex_mismatch", "sex_ambiguous"}
    table = samples_table(qc_run)
    assert not table.filter(like="het_f").isna().to_numpy()[qc_run["prelim"]].any()
