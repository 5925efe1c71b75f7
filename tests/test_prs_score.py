"""Scoring kernel (naive twin, plink2 --score), published-score stage and Z_norm1/Z_norm2."""

import gzip
import stat
import subprocess

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cohortgen.io.bed import write_bed
from cohortgen.io.files import read_json, read_tsv, write_tsv
from cohortgen.io.scorefile import read_scoring_file, write_scoring_file
from cohortgen.kernels.bed import pack_dosages
from cohortgen.kernels.prs import code_values, score_sums
from cohortgen.prs.match import complement, is_ambiguous, match_variants
from cohortgen.prs.stage import cohort_variants, score_published
from cohortgen.prs.standardize import gamma_log_glm, z_norm1, z_norm2

BASES = np.array(list("ACGT"))


def naive_score_sums(dosage, weights, effect_is_alt, keep):
    """Twin of score_sums: mean-impute over kept samples, effect dosage, matrix product."""
    d = dosage.astype(float)
    d[d < 0] = np.nan
    mean = np.nanmean(d[:, keep], axis=1)
    d = np.where(np.isnan(d), mean[:, None], d)
    total = np.zeros((d.shape[1], weights.shape[1]))
    for k in range(weights.shape[1]):
        effect = np.where(effect_is_alt[:, k][:, None], d, 2.0 - d)
        total[:, k] = effect.T @ weights[:, k]
    return total


def _random_dosages(rng, m, n, missing=0.03):
    freq = rng.uniform(0.05, 0.5, m)
    d = rng.binomial(2, freq[:, None], (m, n)).astype(np.int8)
    d[rng.random((m, n)) < missing] = -1
    return d


def test_score_sums__naive_twin():
    rng = np.random.default_rng(3)
    m, n, k = 150, 203, 3
    d = _random_dosages(rng, m, n)
    weights = rng.normal(size=(m, k)) * (rng.random((m, k)) < 0.7)
    alt = rng.random((m, k)) < 0.5
    keep = rng.random(n) < 0.8
    dd = d.astype(float)
    dd[dd < 0] = np.nan
    alt_mean = np.nanmean(dd[:, keep], axis=1)
    additive = np.zeros((m, k), dtype=np.int8)
    got = score_sums(pack_dosages(d), n, code_values(weights, alt, additive, alt_mean))
    np.testing.assert_allclose(got, naive_score_sums(d, weights, alt, keep), rtol=1e-12,
                               atol=1e-10)


def test_score_sums__shape_errors():
    packed = pack_dosages(np.zeros((2, 5), np.int8))
    with pytest.raises(ValueError, match="values"):
        score_sums(packed, 5, np.zeros((3, 4, 1)))
    with pytest.raises(ValueError, match="alt_mean"):
        code_values(np.zeros((2, 1)), np.ones((2, 1), bool), np.zeros((2, 1), np.int8),
                    np.array([0.0, np.nan]))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two chunk filesets (300 variants, 240 samples), variant QC tables, keep list, PCs."""
    root = tmp_path_factory.mktemp("prs")
    rng = np.random.default_rng(11)
    m, n = 300, 240
    dosage = _random_dosages(rng, m, n)
    pairs = np.array([rng.choice(4, 2, replace=False) for _ in range(m)])
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.arange(m) * 100 + 1000, "a1": BASES[pairs[:, 0]],
                        "a2": BASES[pairs[:, 1]]})
    ids = [f"S{i:03d}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 1,
                        "pheno": "-9"})
    draw = rng.random(n)
    keep = [s for s, r in zip(ids, draw, strict=True) if r < 0.9]
    reason = np.select([draw < 0.9, draw < 0.95], ["", "related"], "low_call_rate")
    write_tsv(root / "samples.tsv", pd.DataFrame({"sample_id": ids, "reason": reason}))
    scored = [s for s, r in zip(ids, reason, strict=True) if r in ("", "related")]
    kept = np.isin(ids, keep)
    write_bed(root / "all", pack_dosages(dosage), bim, fam)
    chunks = []
    for c, rows in enumerate((slice(0, 140), slice(140, m))):
        prefix = root / f"c{c}"
        write_bed(prefix, pack_dosages(dosage[rows]), bim.iloc[rows], fam)
        d = dosage[rows].astype(float)
        d[d < 0] = np.nan
        qc = pd.DataFrame({"chrom": "1", "pos": bim["pos"].iloc[rows], "id": bim["id"].iloc[rows],
                           "ref": bim["a2"].iloc[rows], "alt": bim["a1"].iloc[rows],
                           "alt_freq": np.nanmean(d[:, kept], axis=1) / 2,
                           "call_rate": 1.0, "reason": "", "pass": True})
        qc.loc[qc.index[:3], ["pass", "reason"]] = [False, "hwe"]
        write_tsv(root / f"c{c}.variant_qc.tsv", qc)
        chunks.append(prefix)
    (root / "keep.txt").write_text("".join(f"{s}\n" for s in keep))
    pcs = pd.DataFrame(rng.normal(size=(n, 3)), columns=["PC1", "PC2", "PC3"])
    write_tsv(root / "pcs.tsv", pcs.assign(sample_id=ids)[["sample_id", "PC1", "PC2", "PC3"]])
    return {"root": root, "chunks": chunks, "bim": bim, "keep": keep, "ids": ids, "scored": scored,
            "qc": [root / "c0.variant_qc.tsv", root / "c1.variant_qc.tsv"]}


def _score_lines(bim, rng, every):
    """Score lines on every ``every``-th variant: same, swapped, flipped, flipped+swapped
    (cycled), plus a duplicate and three positions the cohort lacks."""
    rows = np.arange(0, len(bim), every)
    ea, oa = bim["a1"].to_numpy()[rows].copy(), bim["a2"].to_numpy()[rows].copy()
    kind = np.arange(rows.size) % 4
    swap = (kind == 1) | (kind == 3)
    ea[swap], oa[swap] = oa[swap], ea[swap].copy()
    flip = kind >= 2
    ea[flip] = complement(pd.Series(ea[flip])).to_numpy()
    oa[flip] = complement(pd.Series(oa[flip])).to_numpy()
    table = pd.DataFrame({"chrom": "1", "pos": bim["pos"].to_numpy()[rows], "effect_allele": ea,
                          "other_allele": oa, "weight": rng.normal(size=rows.size)})
    dup = int(np.flatnonzero(~is_ambiguous(table["effect_allele"], table["other_allele"]))[0])
    extra = pd.DataFrame({"chrom": "1", "pos": [5, 6, 7, table["pos"].iloc[dup]],
                          "effect_allele": ["A", "A", "A", table["effect_allele"].iloc[dup]],
                          "other_allele": ["C", "C", "C", table["other_allele"].iloc[dup]],
                          "weight": [1.0, 1.0, 1.0, 0.5]})
    return pd.concat([table, extra], ignore_index=True)


@pytest.fixture(scope="module")
def scored(cohort):
    rng = np.random.default_rng(5)
    root = cohort["root"]
    header = {"pgs_id": "T1", "trait_reported": "t", "genome_build": "GRCh38"}
    write_scoring_file(root / "one.txt.gz", _score_lines(cohort["bim"], rng, 2), header)
    plain = _score_lines(cohort["bim"], rng, 3).rename(
        columns={"chrom": "chr", "pos": "position"})
    write_tsv(root / "two.tsv", plain)
    write_scoring_file(root / "old.txt", _score_lines(cohort["bim"], rng, 5),
                       {**header, "genome_build": "hg19"})
    names = ["one", "two", "old"]
    files = [root / "one.txt.gz", root / "two.tsv", root / "old.txt"]
    records = score_published(names, files, cohort["chunks"], cohort["qc"], root / "samples.tsv",
                              root / "pcs.tsv", "GRCh38", 0.5, False, 0.95, root / "prs")
    return {"names": names, "files": files, "records": records, "out": root / "prs"}


def test_score_published__one_failure_does_not_stop_others(scored):
    records = scored["records"]
    assert [records[n]["status"] for n in scored["names"]] == ["OK", "OK", "FAILED"]
    assert "GRCh37" in records["old"]["error"]
    logged = read_json(scored["out"] / "match" / "old.json")
    assert logged["status"] == "FAILED"
    assert "n_matched" not in logged
    one = read_json(scored["out"] / "match" / "one.json")
    assert one["duplicate"] == 2
    assert one["missing"] == 3
    assert one["matched_failed_gwas_qc"] > 0
    assert min(one[k] for k in ("same", "swapped", "flipped", "flipped_swapped")) > 0
    assert one["n_variants_scored"] == one["n_matched"]


def test_score_published__private_files(scored):
    for name in scored["names"]:
        path = scored["out"] / "scores" / f"{name}.tsv.gz"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert gzip.decompress((scored["out"] / "scores" / "old.tsv.gz").read_bytes()).decode() \
        .startswith("sample_id\tSUM\tAVG\tZ_norm1\tZ_norm2")


@pytest.mark.reference
@pytest.mark.parametrize("name", ["one", "two"])
def test_score_published__matches_plink2_score(scored, cohort, plink2, name, tmp_path):
    variants = cohort_variants(cohort["qc"]).assign(score_pass=True)
    index = 0 if name == "one" else 1
    used = match_variants(read_scoring_file(scored["files"][index]).table, variants).used
    bim = cohort["bim"]
    allele = np.where(used["effect_is_alt"], bim["a1"].to_numpy()[used["variant"]],
                      bim["a2"].to_numpy()[used["variant"]])
    pd.DataFrame({"id": bim["id"].to_numpy()[used["variant"]], "allele": allele,
                  "w": used["weight"].to_numpy()}).to_csv(tmp_path / "s.txt", sep="\t",
                                                          index=False)
    (tmp_path / "keep").write_text("".join(f"{s}\t{s}\n" for s in cohort["scored"]))
    subprocess.run([plink2, "--bfile", str(cohort["root"] / "all"), "--keep",
                    str(tmp_path / "keep"), "--score", str(tmp_path / "s.txt"), "1", "2", "3",
                    "header", "cols=+scoresums", "--threads", "1", "--out",
                    str(tmp_path / "ref")], check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "ref.sscore", sep="\t", dtype={"IID": str}).set_index("IID")
    ours = read_tsv(scored["out"] / "scores" / f"{name}.tsv.gz",
                    dtype={"sample_id": str}).set_index("sample_id")
    assert ours.index.tolist() == cohort["scored"]
    # plink2 writes 6 significant digits: SUM agrees to that (relative 5e-6), AVG to 1e-6.
    np.testing.assert_allclose(ours["SUM"], ref.loc[ours.index, "SCORE1_SUM"], rtol=5e-6)
    np.testing.assert_allclose(ours["AVG"], ref.loc[ours.index, "SCORE1_AVG"], rtol=5e-6,
                               atol=1e-6)


def test_z_norm1__statsmodels_ols():
    rng = np.random.default_rng(2)
    pcs = rng.normal(size=(300, 4))
    score = pcs @ [1.0, -0.5, 0.2, 0.0] + rng.normal(size=300)
    fit = sm.OLS(score, sm.add_constant(pcs)).fit()
    np.testing.assert_allclose(z_norm1(score, pcs), fit.resid / np.std(fit.resid), rtol=1e-10)


def test_z_norm2__statsmodels_gamma_glm():
    rng = np.random.default_rng(4)
    pcs = rng.normal(size=(400, 3))
    score = pcs @ [0.5, 0.1, 0.0] + rng.normal(size=400) * np.exp(0.3 * pcs[:, 0])
    resid = sm.OLS(score, sm.add_constant(pcs)).fit().resid
    glm = sm.GLM(resid**2, sm.add_constant(pcs),
                 family=sm.families.Gamma(link=sm.families.links.Log())).fit(tol=1e-12)
    np.testing.assert_allclose(gamma_log_glm(resid**2, sm.add_constant(pcs)), glm.params,
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(z_norm2(score, pcs), resid / np.sqrt(glm.fittedvalues),
                               rtol=1e-6)


def test_evaluate_published__shareable_tables(scored, cohort):
    from cohortgen.prs.stage import evaluate_published

    rng = np.random.default_rng(8)
    root, ids = cohort["root"], cohort["ids"]
    sheet = pd.DataFrame({"sample_id": ids, "sex": rng.integers(1, 3, len(ids)),
                          "age": rng.integers(30, 80, len(ids)),
                          "asthma": rng.integers(0, 2, len(ids)).astype(float)})
    sheet.loc[:4, "asthma"] = np.nan
    write_tsv(root / "pheno.tsv", sheet)
    out = scored["out"]
    names = scored["names"]
    table = evaluate_published(
        names, [out / "scores" / f"{n}.tsv.gz" for n in names],
        [out / "match" / f"{n}.json" for n in names], dict.fromkeys(names, ["asthma"]),
        root / "pheno.tsv", root / "keep.txt", root / "pcs.tsv", ["age", "sex"],
        {"asthma": 0.07}, 5, "Z_norm1", out / "performance.tsv", out / "deciles.tsv")
    assert all(s.startswith("OK") for s in table["status"].iloc[:2])
    assert table["status"].iloc[2].startswith("FAILED")
    assert 0.3 < table["auc"].iloc[0] < 0.7
    deciles = read_tsv(out / "deciles.tsv")
    assert deciles["decile"].tolist() == list(range(1, 11)) * 2
    assert stat.S_IMODE((out / "performance.tsv").stat().st_mode) == 0o644


def test_evaluate_published__categorical_covariate_as_statsmodels_c(scored, cohort):
    """A text-labelled site enters as level indicators (first sorted level the reference): the
    OR per SD is statsmodels' Logit on age + C(site) + PCs + the standardised score."""
    import statsmodels.formula.api as smf

    from cohortgen.prs.stage import evaluate_published, read_design

    rng = np.random.default_rng(9)
    root, ids = cohort["root"], cohort["ids"]
    site = rng.choice(["north", "east", "west"], len(ids))
    sheet = pd.DataFrame({"sample_id": ids, "sex": rng.integers(1, 3, len(ids)),
                          "age": rng.integers(30, 80, len(ids)), "site": site,
                          "asthma": rng.integers(0, 2, len(ids)).astype(float)})
    sheet.loc[3, "site"] = "NA"
    write_tsv(root / "pheno_site.tsv", sheet)
    out, name = scored["out"], scored["names"][0]
    table = evaluate_published(
        [name], [out / "scores" / f"{name}.tsv.gz"], [out / "match" / f"{name}.json"],
        {name: ["asthma"]}, root / "pheno_site.tsv", root / "keep.txt", root / "pcs.tsv",
        ["age"], {}, 5, "SUM", out / "perf_site.tsv", out / "dec_site.tsv", ["site"])
    keep = (root / "keep.txt").read_text().split()
    rows, design = read_design(root / "pheno_site.tsv", ["asthma"], ["age"], ["site"],
                               root / "pcs.tsv", keep)
    assert design.shape[1] == 1 + 2 + read_tsv(root / "pcs.tsv").shape[1] - 1
    frame = rows.assign(site=rows["site"].astype(object)).join(
        read_tsv(root / "pcs.tsv", dtype={"sample_id": str}).set_index("sample_id"))
    scores = read_tsv(out / "scores" / f"{name}.tsv.gz", dtype={"sample_id": str})
    frame = frame.join(scores.set_index("sample_id")["SUM"]).dropna()
    frame["z"] = (frame["SUM"] - frame["SUM"].mean()) / frame["SUM"].std(ddof=0)
    pcs = " + ".join(c for c in frame.columns if c.startswith("PC"))
    fit = smf.logit(f"asthma ~ age + C(site) + {pcs} + z", frame).fit(disp=0, tol=1e-12)
    assert table["or_per_sd"].iloc[0] == pytest.approx(np.exp(fit.params["z"]), rel=1e-5)
    assert table["n_cases"].iloc[0] + table["n_controls"].iloc[0] == len(frame)


@pytest.mark.reference
def test_score_published__chrx_imputation_matches_plink2(plink2, tmp_path):
    """Non-PAR chrX with males coded 0/2, unknown-sex samples (diploid, as ``plink2 --freq``)
    and missing calls: SUM as ``plink2 --score``."""
    rng = np.random.default_rng(23)
    m, n = 40, 120
    sex = np.select([np.arange(n) < n // 2, np.arange(n) < 2 * n // 3], [1, 0], 2)
    dosage = _random_dosages(rng, m, n, missing=0.1)
    male = dosage[:, sex == 1]
    dosage[:, sex == 1] = np.where(male > 0, 2, male)
    bim = pd.DataFrame({"chrom": "X", "id": [f"x{i}" for i in range(m)], "cm": 0.0,
                        "pos": 5_000_000 + np.arange(m) * 100, "a1": "A", "a2": "G"})
    ids = [f"S{i:03d}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": sex,
                        "pheno": "-9"})
    write_bed(tmp_path / "x", pack_dosages(dosage), bim, fam)
    keep = [s for s, r in zip(ids, rng.random(n), strict=True) if r < 0.8]
    write_tsv(tmp_path / "samples.tsv", pd.DataFrame({
        "sample_id": ids, "reason": np.where(np.isin(ids, keep), "", "low_call_rate")}))
    write_tsv(tmp_path / "qc.tsv", pd.DataFrame({
        "chrom": "X", "pos": bim["pos"], "id": bim["id"], "ref": "G", "alt": "A",
        "alt_freq": 0.3, "call_rate": 0.9, "reason": "", "pass": True}))
    pcs = pd.DataFrame({"sample_id": ids, "PC1": rng.normal(size=n)})
    write_tsv(tmp_path / "pcs.tsv", pcs)
    table = pd.DataFrame({"chrom": "X", "pos": bim["pos"], "effect_allele": "A",
                          "other_allele": "G", "weight": rng.normal(size=m)})
    write_tsv(tmp_path / "w.tsv", table)
    score_published(["x"], [tmp_path / "w.tsv"], [tmp_path / "x"], [tmp_path / "qc.tsv"],
                    tmp_path / "samples.tsv", tmp_path / "pcs.tsv", "GRCh38", 0.5, False, 0.5,
                    tmp_path / "prs")
    pd.DataFrame({"id": bim["id"], "allele": "A", "w": table["weight"]}).to_csv(
        tmp_path / "s.txt", sep="\t", index=False)
    (tmp_path / "keep").write_text("".join(f"{s}\t{s}\n" for s in keep))
    subprocess.run([plink2, "--bfile", str(tmp_path / "x"), "--keep", str(tmp_path / "keep"),
                    "--score", str(tmp_path / "s.txt"), "1", "2", "3", "header",
                    "cols=+scoresums", "--threads", "1", "--out", str(tmp_path / "ref")],
                   check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "ref.sscore", sep="\t", dtype={"IID": str}).set_index("IID")
    ours = read_tsv(tmp_path / "prs" / "scores" / "x.tsv.gz",
                    dtype={"sample_id": str}).set_index("sample_id")
    np.testing.assert_allclose(ours["SUM"], ref.loc[ours.index, "SCORE1_SUM"], rtol=5e-6,
                               atol=1e-6)
    imputed = (dosage[:, np.isin(ids, keep)] < 0).any()
    assert imputed
