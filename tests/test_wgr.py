"""Whole-genome regression step 1 (cohortgen.wgr): closed-form ridge, sgkit's regenie, a
penalised logistic reference (statsmodels), the wgr-step1 command and its bad inputs."""

import gzip
import json
import stat
import subprocess
from pathlib import Path

import cyvcf2
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import require_reference_env, slope_and_max_abs_diff
from statsmodels.base._penalized import PenalizedMixin
from statsmodels.base._penalties import L2

from cohortgen.cli import main
from cohortgen.errors import InputError
from cohortgen.io.bed import write_bed
from cohortgen.io.files import write_tsv
from cohortgen.kernels.bed import MISSING, pack_dosages
from cohortgen.kernels.ridge import logistic_ridge
from cohortgen.qc.keep import write_keep
from cohortgen.simulate import simulate_cohort
from cohortgen.wgr.model import (
    covariate_basis,
    level0_block,
    level1_disease,
    level1_quantitative,
    loco_predictions,
    shrinkage_grid,
    standardise_predictions,
    standardised_genotypes,
    standardised_traits,
)

REFERENCE = Path(__file__).with_name("sgkit_regenie.py")


def naive_out_of_fold_ridge(G, Y, folds, lam):
    """Closed form: for each fold k, β = (GₜᵀGₜ + λI)⁻¹ GₜᵀYₜ on the other folds, then G_k β."""
    out = np.empty_like(Y)
    for k in np.unique(folds):
        train, test = folds != k, folds == k
        beta = np.linalg.solve(G[train].T @ G[train] + lam * np.eye(G.shape[1]),
                               G[train].T @ Y[train])
        out[test] = G[test] @ beta
    return out


def test_level0_block__equals_closed_form_ridge():
    rng = np.random.default_rng(5)
    G = rng.normal(size=(150, 40))
    Y = rng.normal(size=(150, 3))
    folds = rng.permutation(np.arange(150) % 5)
    lambdas = shrinkage_grid(400)
    pred = level0_block(G, Y, folds, 5, lambdas)
    for j, lam in enumerate(lambdas):
        expected = naive_out_of_fold_ridge(G, Y, folds, lam)
        assert np.max(np.abs(pred[j] - expected)) < 1e-8


def test_level0_block__masked_trait_rows_add_nothing():
    rng = np.random.default_rng(6)
    G = rng.normal(size=(90, 12))
    y = rng.normal(size=90)
    used = rng.random(90) > 0.2
    folds = np.arange(90) % 3
    pred = level0_block(G, np.where(used, y, 0.0)[:, None], folds, 3, np.array([7.0]))
    # a masked trait value (0) enters XᵀY as nothing, while the sample's genotypes stay in
    # XᵀX, as in REGENIE
    for k in range(3):
        train = folds != k
        beta = np.linalg.solve(G[train].T @ G[train] + 7.0 * np.eye(12),
                               G[train].T @ np.where(used, y, 0.0)[train])
        assert np.max(np.abs(pred[0, folds == k, 0] - G[folds == k] @ beta)) < 1e-10


class PenalizedGLM(PenalizedMixin, sm.GLM):
    """statsmodels' GLM with its penalised log-likelihood, ℓ(β) − w·Σβ² (L2 penalty)."""


def test_logistic_ridge__matches_statsmodels_penalised_fit():
    rng = np.random.default_rng(7)
    n, p = 400, 6
    X = rng.normal(size=(n, p))
    offset = rng.normal(scale=0.5, size=n) - 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-(offset + X @ rng.normal(scale=0.5, size=p))))) * 1.0
    for tau in (0.5, 5.0, 50.0):
        beta, converged, _ = logistic_ridge(X, y, offset, tau, np.zeros(p))
        # (τ/2)‖β‖² is statsmodels' L2 penalty with weight τ/2
        reference = PenalizedGLM(y, X, family=sm.families.Binomial(), offset=offset,
                                 penal=L2(), pen_weight=tau / 2).fit(
            method="newton", maxiter=100, tol=1e-14, disp=0)
        assert converged
        assert np.max(np.abs(beta - reference.params)) < 1e-8


def test_level1_disease__chooses_lowest_cv_deviance_and_offset_alone_for_noise():
    rng = np.random.default_rng(8)
    n = 300
    signal = rng.normal(size=n)
    X = np.column_stack([signal + rng.normal(scale=0.3, size=n), rng.normal(size=(n, 4))])
    y = (rng.random(n) < 1 / (1 + np.exp(-1.5 * signal))) * 1.0
    folds = np.arange(n) % 5
    fit = level1_disease(X, y, np.zeros(n), folds, 5, shrinkage_grid(5, scale=3 / np.pi**2))
    assert fit.converged
    assert fit.criterion == fit.scores.min()
    assert np.all(fit.beta[:, 0] > 0.5)
    assert fit.criterion < 2 * n * np.log(2)  # beats the offset-only model (p = 0.5)
    for k in range(5):
        train = folds != k
        reference = PenalizedGLM(y[train], X[train], family=sm.families.Binomial(),
                                 offset=np.zeros(train.sum()), penal=L2(),
                                 pen_weight=fit.shrinkage / 2).fit(
            method="newton", maxiter=100, tol=1e-14, disp=0)
        assert np.max(np.abs(fit.beta[k] - reference.params)) < 1e-6


def _cohort_dosages(tmp_path_factory):
    """A simulated cohort (cohortgen.simulate): sample IDs, chromosomes, ALT dosages (m, n)
    int8 with MISSING, the sheet path."""
    cohort = tmp_path_factory.mktemp("wgr_cohort")
    simulate_cohort(cohort, n_samples=500, n_chromosomes=3, chromosome_mb=3.0, seed=13,
                    n_related_pairs=0, n_low_call_samples=0)
    reader = cyvcf2.VCF(str(cohort / "genotypes.vcf.gz"))
    code = np.array([0, 1, MISSING, 2], dtype=np.int8)
    chrom, pos, dosage = [], [], []
    for v in reader:
        if len(v.ALT) == 1:
            chrom.append(v.CHROM)
            pos.append(v.POS)
            dosage.append(code[v.gt_types])
    return (list(reader.samples), np.array(chrom), np.array(pos), np.array(dosage),
            cohort / "phenotypes.tsv")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return _cohort_dosages(tmp_path_factory)


def _common(dosage, chrom, per_chrom: int):
    """Rows of the first ``per_chrom`` variants with MAF ≥ 5% on each chromosome."""
    called = np.where(dosage >= 0, dosage, 0).sum(axis=1) / (2.0 * (dosage >= 0).sum(axis=1))
    common = np.minimum(called, 1 - called) >= 0.05
    return np.concatenate([np.flatnonzero(common & (chrom == c))[:per_chrom]
                           for c in pd.unique(chrom)])


@pytest.mark.slow
def test_loco__quantitative_trait_agrees_with_sgkit_regenie(cohort, tmp_path):
    python = require_reference_env("sgkit", "python")
    samples, chrom, _, dosage, _ = cohort
    rows = _common(dosage, chrom, 240)
    raw = dosage[rows].T.astype(np.float64)
    raw[raw < 0] = np.nan
    raw = np.where(np.isnan(raw), np.nanmean(raw, axis=0), raw)
    rng = np.random.default_rng(21)
    n = raw.shape[0]
    age = rng.uniform(30, 80, size=n)
    design = np.column_stack([age, rng.normal(size=(n, 2))])
    effects = rng.normal(scale=0.15, size=raw.shape[1]) * (rng.random(raw.shape[1]) < 0.2)
    traits = np.column_stack([raw @ effects + 0.02 * age + rng.normal(size=n),
                              raw @ rng.normal(scale=0.05, size=raw.shape[1]) + rng.normal(size=n)])
    G = standardised_genotypes(raw, covariate_basis(design))
    Y, mask, _ = standardised_traits(traits, design, ["qt1", "qt2"])
    n_folds, block, r = 5, 60, 5
    folds = np.repeat(np.arange(n_folds), n // n_folds)
    block_sizes = np.full(G.shape[1] // block, block)
    contigs = np.repeat(np.arange(3), 240)
    lambda0 = shrinkage_grid(G.shape[1])
    tau = shrinkage_grid(block_sizes.size * r)
    base = np.stack([level0_block(G[:, i * block:(i + 1) * block], Y, folds, n_folds, lambda0)
                     for i in range(block_sizes.size)])
    stacked = np.stack([standardise_predictions(b, mask) for b in base])  # (b, r, n, t)

    np.savez(tmp_path / "in.npz", G=G, Y=Y, block_sizes=block_sizes, contigs=contigs,
             sample_blocks=np.full(n_folds, n // n_folds), alphas0=lambda0, alphas1=tau)
    subprocess.run([python, str(REFERENCE), str(tmp_path / "in.npz"), str(tmp_path / "out.npz")],
                   check=True, capture_output=True)
    ref = np.load(tmp_path / "out.npz")

    # Level 0 coincides: same blocks, folds (contiguous sample blocks) and shrinkage values.
    assert np.max(np.abs(base - ref["base"])) < 1e-6
    block_chrom = np.repeat(np.arange(3), 240 // block)
    for j in range(2):
        # sgkit's own scheme rebuilt from cohortgen's level 1 and LOCO: level-0 columns scaled
        # with SD (n), the fits applied to the unscaled columns (see sgkit_regenie.py).
        sd_n = np.sqrt(n / (n - 1))
        X = _block_major(stacked[..., j]) * sd_n
        fit = level1_quantitative(X, Y[:, j], mask[:, j], folds, n_folds, tau)
        as_sgkit = loco_predictions(_block_major(base[..., j]), fit.beta, folds, block_chrom, r)
        assert np.max(np.abs(as_sgkit - ref["loco"][:, :, j].T)) < 1e-6
        # Where they differ by design: cohortgen (as REGENIE) applies level 1 to the scaled
        # columns, scales with SD (n − 1) and picks τ by the pooled out-of-fold R², sgkit by
        # the mean of the per-fold R²s.
        fit = level1_quantitative(X / sd_n, Y[:, j], mask[:, j], folds, n_folds, tau)
        loco = loco_predictions(X / sd_n, fit.beta, folds, block_chrom, r)
        for c in range(3):
            slope, max_diff = slope_and_max_abs_diff(ref["loco_scaled"][c, :, j], loco[:, c])
            assert np.corrcoef(loco[:, c], ref["loco_scaled"][c, :, j])[0, 1] >= 0.99
            assert abs(slope - 1.0) < 0.005
            assert max_diff < 0.01


def _block_major(level0: np.ndarray) -> np.ndarray:
    """Level-0 predictions (b, r, n) of one trait as columns (n, b·r), block i's r columns at
    i·r .. i·r + r − 1."""
    return level0.transpose(2, 0, 1).reshape(level0.shape[2], -1)


def _write_inputs(cohort, out: Path, cases_of=None):
    """QC'd fileset, keep list, PCs and a sheet with a quantitative trait ``ldl``."""
    samples, chrom, pos, dosage, sheet_path = cohort
    rows = _common(dosage, chrom, 150)
    fam = pd.DataFrame({"fid": samples, "iid": samples, "father": "0", "mother": "0",
                        "sex": 0, "pheno": -9})
    bim = pd.DataFrame({"chrom": chrom[rows], "id": [f"{c}:{p}" for c, p in
                                                     zip(chrom[rows], pos[rows], strict=True)],
                        "cm": 0.0, "pos": pos[rows], "a1": "A", "a2": "G"})
    write_bed(out / "genotypes", pack_dosages(dosage[rows]), bim, fam)
    rng = np.random.default_rng(4)
    write_keep(out / "keep.txt", samples[3:])
    pcs = pd.DataFrame(rng.normal(size=(len(samples), 2)), columns=["PC1", "PC2"])
    write_tsv(out / "pcs.tsv", pcs.assign(sample_id=samples)[["sample_id", "PC1", "PC2"]])
    sheet = pd.read_csv(sheet_path, sep="\t", dtype=str, keep_default_na=False)
    g = np.where(dosage[rows] >= 0, dosage[rows], 1).astype(float)
    sheet["ldl"] = [f"{v:.6f}" for v in g[:20].sum(axis=0) * 0.3 + rng.normal(size=len(samples))]
    if cases_of is not None:
        sheet[cases_of] = ["1" if i < 4 else "0" for i in range(len(sheet))]
    sheet.to_csv(out / "phenotypes.tsv", sep="\t", index=False)


def _run(out: Path, block_size: int = 50, **wgr) -> int:
    options = {"diseases": ["hypertension"], "traits": {"ldl": "quantitative"},
               "covariates": ["age", "sex"], "seed": 3,
               "assoc": {"wgr": {"folds": 4, "block_size": block_size, **wgr}}}
    return main(["wgr-step1", "--bfile", str(out / "genotypes"), "--keep", str(out / "keep.txt"),
                 "--phenotypes", str(out / "phenotypes.tsv"), "--pcs", str(out / "pcs.tsv"),
                 "--options", json.dumps(options),
                 "--loco", str(out / "loco.tsv.gz"), "--summary", str(out / "wgr.json")])


@pytest.mark.slow
def test_wgr_step1__writes_private_loco_and_summary(cohort, tmp_path):
    _write_inputs(cohort, tmp_path)
    assert _run(tmp_path) == 0
    loco_path = tmp_path / "loco.tsv.gz"
    assert stat.S_IMODE(loco_path.stat().st_mode) == 0o600
    loco = pd.read_csv(loco_path, sep="\t", dtype={"sample_id": str})
    assert list(loco.columns) == ["trait", "sample_id", "1", "2", "3", "ALL"]
    assert set(loco["trait"]) == {"hypertension", "ldl"}
    assert np.all(np.isfinite(loco[["1", "2", "3"]].to_numpy()))
    summary = json.loads((tmp_path / "wgr.json").read_text())
    assert summary["n_blocks"] == 9
    assert summary["n_variants"] == 450
    assert summary["traits"]["ldl"]["cv_r2"] > 0.05
    assert summary["traits"]["hypertension"]["converged"]
    assert "sample" not in json.dumps(summary["traits"])
    first = loco_path.read_bytes()
    assert _run(tmp_path) == 0
    assert loco_path.read_bytes() == first
    assert gzip.decompress(first).startswith(b"trait\tsample_id\t1\t2\t3\tALL\n")


def test_standardised_traits__constant_trait_is_named():
    design = np.random.default_rng(1).normal(size=(20, 2))
    with pytest.raises(InputError, match="'flat'"):
        standardised_traits(np.column_stack([np.ones(20)]), design, ["flat"])


@pytest.mark.parametrize(("key", "value"), [("folds", 1), ("block_size", 0), ("min_maf", 0.5)])
def test_wgr_step1__bad_setting_is_named(tmp_path, capsys, key, value):
    assert _run(tmp_path, **{key: value}) == 2
    assert f"assoc.wgr.{key}" in capsys.readouterr().err
