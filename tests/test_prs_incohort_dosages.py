"""In-cohort scores built from imputed dosages (``--pgens``): equal to the array path when the
dosages are the hard calls, the C+T score equals ``plink2 --score`` on the same dosages and
weights, and the training GWAS equals statsmodels' score test on the same dosages."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from test_prs_incohort import DISEASES, OPTIONS, write_chunks

from cohortgen.assoc.genotypes import pgen_variants
from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages
from cohortgen.io.files import read_tsv
from cohortgen.io.scorefile import read_scoring_file
from cohortgen.kernels.bed import MISSING, pack_dosages, unpack_dosages
from cohortgen.kernels.ld_matrix import standardized_dosages, standardized_float_dosages
from cohortgen.prs.cplust import INNER_K
from cohortgen.prs.dosages import ChunkedDosages
from cohortgen.prs.folds import (
    cross_validated_scores,
    inner_validation,
    multilabel_stratified_folds,
    training_gwas_all,
)
from cohortgen.prs.incohort import (
    assign_folds,
    builders,
    evaluate_all,
    genotype_rows,
    load_cohort,
    run_fold,
    selected_variants,
)
from cohortgen.report.catalogue import Catalogue
from cohortgen.report.render import incohort_genotypes_text
from cohortgen.simulate import simulate_cohort
from cohortgen.simulate_imputed import simulate_imputed

NO_FILTER = DosageThresholds(min_r2=0.0, min_mac=0.0, max_missing=1.0)
SEED = 42


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A simulated cohort: array chunks (one per autosome, test_prs_incohort's), and per
    autosome two QC'd dosage chunks of the kept samples: ``gt`` the array's GT read as dosages
    (0/1/2, missing stays missing), ``ds`` the simulated imputed dosages (half the sites
    masked and imputed with errors)."""
    root = tmp_path_factory.mktemp("incohort_dosages")
    simulate_cohort(root, n_samples=400, n_chromosomes=2, chromosome_mb=5.0, seed=11)
    work = root / "chunks"
    work.mkdir()
    prefixes = write_chunks(root, work)
    simulate_imputed(root / "genotypes.vcf.gz", root / "imputed", mask_share=0.5, seed=3)
    pgens = {"gt": [], "ds": []}
    for chrom in ("1", "2"):
        for kind, source in (("gt", root / "genotypes.vcf.gz"),
                             ("ds", root / "imputed" / f"imputed.chr{chrom}.vcf.gz")):
            out = work / f"{kind}{chrom}"
            ingest_dosages(source, chrom, out, keep=work / "keep.txt", limits=NO_FILTER)
            pgens[kind].append(out)
    data = load_cohort(prefixes[0], work / "keep.txt", root / "phenotypes.tsv", DISEASES,
                       ["age", "sex"], work / "pcs.tsv")
    return {"root": root, "work": work, "prefixes": prefixes, "pgens": pgens, "data": data}


def _dosage_inputs(cohort, kind: str):
    """(variants, ChunkedDosages) of the selected variants of the ``kind`` dosage chunks."""
    variants = selected_variants([], OPTIONS["min_maf"], None, cohort["pgens"][kind])
    return variants, ChunkedDosages(cohort["pgens"][kind], variants, cohort["data"].sample_ids)


def _fold_split(data):
    folds = multilabel_stratified_folds(data.Y, OPTIONS["folds"], SEED, data.eligible)
    return folds, inner_validation(data.Y, folds, INNER_K, SEED)


def _cross_validated(cohort, variants, packed, dosages):
    data = cohort["data"]
    folds, inner = _fold_split(data)
    return cross_validated_scores(packed, len(data.sample_ids), variants["chrom"].to_numpy(),
                                  variants["pos"].to_numpy(np.int64), data.Y, data.design,
                                  folds, builders(OPTIONS), SEED, fold_ids=[0],
                                  inner_val=inner, dosages=dosages)


def test_chunked_dosages__hard_call_dosages_are_the_array_rows(cohort):
    """GT read as dosages, rounded and packed, equal the array chunks' .bed rows of the same
    variants in .fam sample order (the removed samples, absent from the .psam, read as
    missing)."""
    variants, dosages = _dosage_inputs(cohort, "gt")
    array = selected_variants([Path(f"{p}.variant_qc.tsv") for p in cohort["prefixes"]], 0.0)
    key = ["chrom", "pos", "ref", "alt"]
    rows = variants[key].merge(array.reset_index(), on=key, how="left")["index"]
    assert rows.notna().all()
    packed = genotype_rows(cohort["prefixes"], array.loc[rows.to_numpy()])[:]
    hard = dosages.hard_calls()[:]
    kept = np.flatnonzero(cohort["data"].eligible)
    n = len(cohort["data"].sample_ids)
    np.testing.assert_array_equal(unpack_dosages(hard, n)[:, kept],
                                  unpack_dosages(packed, n)[:, kept])


def test_cross_validated_scores__hard_call_dosages_equal_array_path(cohort):
    """With dosages equal to the hard calls, the dosage path (GWAS, LD, C+T grid, held-out
    scores read from the .pgen chunks) gives the array path's GWAS and scores."""
    variants, dosages = _dosage_inputs(cohort, "gt")
    hard = dosages.hard_calls()
    array = _cross_validated(cohort, variants, hard, None)
    imputed = _cross_validated(cohort, variants, hard, dosages)
    for a, b in zip(array, imputed, strict=True):
        np.testing.assert_allclose(b.gwas[0].z, a.gwas[0].z, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(b.gwas[0].beta, a.gwas[0].beta, rtol=1e-9, atol=1e-12)
        for method in ("ct", "ldpred2"):
            assert b.results[method][0].status == a.results[method][0].status
            np.testing.assert_allclose(b.scores[method], a.scores[method], rtol=1e-6,
                                       atol=1e-9, equal_nan=True)
        assert np.isfinite(b.scores["ct"]).sum() > 50


def test_training_gwas_all__dosages_equal_statsmodels_score_test(cohort):
    """The training GWAS on imputed dosages (missing mean-imputed over the training samples):
    each variant's score χ² (z²) equals statsmodels' GLM score test on the same dosages and
    design (relative 1e-9), and its one-step beta has the sign of z."""
    variants, dosages = _dosage_inputs(cohort, "ds")
    data = cohort["data"]
    folds, _ = _fold_split(data)
    train = np.flatnonzero(folds > 0)
    k = DISEASES.index("hypertension")
    gwas = training_gwas_all(None, len(data.sample_ids), train, data.Y[train][:, [k]],
                             data.design[train], dosages)[0]
    use = np.isfinite(data.Y[train, k])
    X = sm.add_constant(data.design[train][use], has_constant="add")
    fit = sm.GLM(data.Y[train, k][use], X, family=sm.families.Binomial()).fit()
    rows = np.linspace(0, len(variants) - 1, 12).astype(np.int64)
    block = dosages.read(rows)[:, train].astype(np.float64)
    for j, row in enumerate(rows):
        g = block[j]
        g = np.where(np.isnan(g), np.nanmean(g), g)[use]
        chi2 = fit.score_test(exog_extra=g[:, None])[0]
        np.testing.assert_allclose(gwas.z[row] ** 2, float(np.squeeze(chi2)), rtol=1e-9)
    assert np.all(np.sign(gwas.beta[gwas.testable]) == np.sign(gwas.z[gwas.testable]))


def _plink2_sums(plink2: str, prefix: Path, weights: pd.DataFrame, freq: pd.DataFrame,
                 out: Path) -> pd.Series:
    """``plink2 --score`` SUM per sample ID of one dosage chunk, missing dosages imputed from
    ``--read-freq`` (twice the given ALT frequency)."""
    weights.to_csv(f"{out}.score", sep="\t", index=False)
    freq.to_csv(f"{out}.afreq", sep="\t", index=False)
    subprocess.run([plink2, "--pfile", str(prefix), "--read-freq", f"{out}.afreq",
                    "--score", f"{out}.score", "1", "2", "3", "header", "cols=+scoresums",
                    "--out", str(out), "--threads", "1"], check=True, capture_output=True)
    table = pd.read_csv(f"{out}.sscore", sep="\t", dtype={"IID": str, "#IID": str})
    ids = table["#IID"] if "#IID" in table else table["IID"]
    return pd.Series(table["SCORE1_SUM"].to_numpy(), index=ids.to_numpy())


@pytest.mark.parametrize("kind", ["ds", "gt"])
def test_cross_validated_scores__ct_score_equals_plink2_score(cohort, plink2, tmp_path, kind):
    """The held-out C+T score of a fold on imputed dosages (``ds``; ``gt``: hard calls with
    about 2% missing) equals ``plink2 --score`` on the same .pgen chunks with the fold's C+T
    weights (per ALT allele), missing dosages at the training mean (``--read-freq``), after
    removing the centring Σ w · mean (plink2 prints 6 significant digits: relative 1e-5), and
    the slope of ours on plink2's is 1."""
    variants, dosages = _dosage_inputs(cohort, kind)
    data = cohort["data"]
    result = _cross_validated(cohort, variants, dosages.hard_calls(), dosages)[0]
    weights = result.results["ct"][0].weights
    assert weights is not None
    assert np.count_nonzero(weights) >= 5
    mean = result.gwas[0].mean
    total = None
    for chunk, prefix in enumerate(cohort["pgens"][kind]):
        in_chunk = (variants["chunk"] == chunk).to_numpy()
        rows = variants.loc[in_chunk, "row"].to_numpy()
        pvar_ids = pgen_variants(prefix)["id"].to_numpy()[rows]
        use = weights[in_chunk] != 0.0
        table = pd.DataFrame({"ID": pvar_ids[use], "A1": variants.loc[in_chunk, "alt"][use],
                              "W": weights[in_chunk][use]})
        freq = pd.DataFrame({"#CHROM": variants.loc[in_chunk, "chrom"], "ID": pvar_ids,
                             "REF": variants.loc[in_chunk, "ref"],
                             "ALT": variants.loc[in_chunk, "alt"],
                             "ALT_FREQS": [f"{m / 2:.17g}" for m in mean[in_chunk]],
                             "OBS_CT": 1000})
        sums = _plink2_sums(plink2, prefix, table, freq, tmp_path / f"c{chunk}")
        total = sums if total is None else total + sums
    test = np.flatnonzero(np.isfinite(result.scores["ct"]))
    ours = result.scores["ct"][test] + float(weights @ mean)
    reference = total.loc[np.asarray(data.sample_ids)[test]].to_numpy()
    scale = np.max(np.abs(reference))
    assert np.max(np.abs(ours - reference)) <= 1e-5 * scale
    assert np.polyfit(reference, ours, 1)[0] == pytest.approx(1.0, abs=1e-5)


def test_run_fold__from_dosages_writes_scores_and_scoring_file(cohort, tmp_path, capsys):
    """The fold and evaluation commands with ``pgens``: the log says imputed dosages, every
    held-out sample is scored, and the LDpred2 scoring file lists dosage variants."""
    data, pgens = cohort["data"], cohort["pgens"]["ds"]
    folds_tsv = tmp_path / "folds.tsv"
    assign_folds(data, OPTIONS["folds"], SEED, folds_tsv)
    files = [tmp_path / f"fold{f}.npz" for f in range(OPTIONS["folds"] + 1)]
    for f, path in enumerate(files):
        run_fold(f, cohort["prefixes"], [], data, folds_tsv, 10, SEED, OPTIONS, path, pgens)
    assert "(imputed dosages)" in capsys.readouterr().err
    table = evaluate_all(data, [], folds_tsv, files[1:], files[0], "GRCh38", {}, 10, 5, OPTIONS,
                         tmp_path, tmp_path / "all.tsv", pgens)
    assert set(table["score"]) == {"incohort_ct", "incohort_ldpred2"}
    scores = read_tsv(tmp_path / "hypertension.scores.tsv.gz", dtype={"sample_id": str})
    assert scores["incohort_ct"].notna().all()
    variants = selected_variants([], OPTIONS["min_maf"], None, pgens)
    scoring = read_scoring_file(tmp_path / "hypertension_ldpred2.txt.gz", "GRCh38").table
    assert len(scoring) > 0
    site = set(zip(variants["pos"], variants["alt"], strict=True))
    assert set(zip(scoring["pos"], scoring["effect_allele"], strict=True)) <= site


def test_standardized_float_dosages__equals_kernel_on_hard_calls():
    """The standardisation of decoded dosages (the LD of the dosage path) equals the .bed
    kernel's on hard calls with missing values, a monomorphic and an all-missing variant."""
    rng = np.random.default_rng(5)
    dosage = rng.integers(0, 3, size=(6, 37)).astype(np.int8)
    dosage[rng.random(dosage.shape) < 0.1] = MISSING
    dosage[4] = 1
    dosage[5] = MISSING
    idx = np.sort(rng.choice(37, 30, replace=False))
    z, mean, sd = standardized_dosages(pack_dosages(dosage), 37, idx)
    floats = np.where(dosage == MISSING, np.nan, dosage).astype(np.float32)[:, idx]
    z2, mean2, sd2 = standardized_float_dosages(floats)
    np.testing.assert_allclose(z2, z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(mean2, mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sd2, sd, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(("source", "lang", "words"), [
    ("imputed", "en", "on the imputed dosages"), ("array", "en", "on the array genotypes"),
    ("imputed", "ko", "대치한 유전형 용량"), ("array", "ko", "유전자 칩의 유전형")])
def test_incohort_genotypes_text__says_which_genotypes(source, lang, words):
    rows = [{"score": "pgs_demo"}, {"score": "incohort_ct"}]
    text = incohort_genotypes_text(rows, {"source": source}, Catalogue(lang))
    assert words in str(text)
    assert incohort_genotypes_text(rows[:1], {"source": source}, Catalogue(lang)) is None
