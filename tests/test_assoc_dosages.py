"""Association on imputed dosages (.pgen from ``ingest-dosages``) against PLINK 2 ``--glm`` on
the same dosages, samples and covariates, statsmodels on a small case, and the three input
formats (VCF, BGEN, PGEN) giving identical results."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest
import statsmodels.api as sm
import yaml
from conftest import require_reference_env, slope_and_max_abs_diff
from test_firth_plink2_precision import (
    PLINK2_BAIL_STEP,
    PLINK2_GCONV,
    exact_firth,
    profile_score,
)

from cohortgen.assoc.chunk import FallbackSettings, dosage_association_chunk
from cohortgen.assoc.gather import gather_gwas
from cohortgen.assoc.genotypes import (
    PgenDosages,
    group_dosage_sums,
    pgen_variants,
)
from cohortgen.assoc.loci import candidate_genotypes
from cohortgen.assoc.stage import fit_null_stage
from cohortgen.ingest.dosages import DosageThresholds, ingest_dosages
from cohortgen.io.sumstats import gwas_ssf_variant_ids, meta_path_for, read_gwas_ssf
from cohortgen.kernels.bed import unpack_dosages
from cohortgen.kernels.dosage import mean_impute_rows_naive

DISEASES = ["common_d", "rare_d"]
HEADER = """##fileformat=VCFv4.2
##contig=<ID=22,length=51304566>
##contig=<ID=X,length=156040895>
##INFO=<ID=R2,Number=1,Type=Float,Description="Estimated imputation accuracy">
##INFO=<ID=TYPED,Number=0,Type=Flag,Description="Genotyped marker">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">
"""
ALL = DosageThresholds(min_r2=0.0, min_maf=0.0, min_mac=0.0, max_missing=1.0)


def simulate_imputed(path: Path, n: int, contigs: tuple, seed: int, missing: float = 0.0):
    """A bgzipped, indexed VCF (GT:DS, 3 decimals) of ``contigs`` ((name, first position,
    records)) for n samples (even ones male, haploid on chrX), imputed with a per-variant
    quality q: each haplotype's dosage is q · allele + (1 − q) · frequency; ``missing`` share of
    calls missing. Returns (samples, male, true hard calls float (m, n) on 0..2)."""
    rng = np.random.default_rng(seed)
    samples = [f"p{i:04d}" for i in range(n)]
    male = np.arange(n) % 2 == 0
    lines = [HEADER + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
             + "\t".join(samples)]
    truth = []
    for contig, first, count in contigs:
        haploid = male & (contig == "X")
        for k in range(count):
            freq = rng.uniform(0.02, 0.5)
            quality = rng.uniform(0.6, 1.0)
            alleles = rng.random((n, 2)) < freq
            alleles[haploid, 1] = False
            hap = np.round((quality * alleles + (1 - quality) * freq) * 1000) / 1000
            hap[haploid, 1] = 0.0
            ds = hap.sum(axis=1)
            truth.append(np.where(haploid, 2.0, 1.0) * alleles.sum(axis=1))
            gone = rng.random(n) < missing
            gt = [("." if h else "./.") if g else
                  (str(int(a[0])) if h else f"{int(a[0])}|{int(a[1])}")
                  for a, h, g in zip(alleles, haploid, gone, strict=True)]
            cells = [f"{t}:." if g else f"{t}:{d:.3f}"
                     for t, d, g in zip(gt, ds, gone, strict=True)]
            info = f"R2={quality:.3f}" + (";TYPED" if k % 5 == 0 else "")
            lines.append(f"{contig}\t{first + 100 * k}\t{contig}_{k}\tA\tG\t.\tPASS\t{info}\t"
                         "GT:DS\t" + "\t".join(cells))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return samples, male, np.array(truth)


def write_cohort(tmp: Path, samples: list[str], male: np.ndarray, truth: np.ndarray, seed: int):
    """Sheet (sex, age, two diseases from a few causal variants: prevalence ~30% and ~4%),
    keep list and .fam; the null models fitted (covariates age, sex)."""
    rng = np.random.default_rng(seed)
    n = len(samples)
    age = rng.integers(30, 80, n)
    signal = truth[:5].sum(axis=0) - truth[:5].sum(axis=0).mean()
    sheet = pd.DataFrame({"sample_id": samples, "sex": np.where(male, 1, 2), "age": age})
    for name, base in zip(DISEASES, (-0.9, -3.3), strict=True):
        logit = base + 0.03 * (age - 55) + 0.4 * signal
        sheet[name] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    sheet.to_csv(tmp / "sheet.tsv", sep="\t", index=False)
    (tmp / "keep.txt").write_text("".join(f"{s}\n" for s in samples))
    (tmp / "a.fam").write_text("".join(f"{s} {s} 0 0 0 -9\n" for s in samples))
    fit_null_stage(tmp / "a.fam", tmp / "keep.txt", tmp / "sheet.tsv", DISEASES, ["age", "sex"],
                   10, tmp / "null.tsv", tmp / "null.json")
    return sheet


def ingest_all(path: Path, out: Path, sheet: Path, contigs) -> list[Path]:
    """ingest_dosages of each contig (no filter); the output prefixes."""
    prefixes = []
    for contig, _, _ in contigs:
        prefix = Path(f"{out}.{contig}")
        ingest_dosages(path, contig, prefix, phenotypes=sheet, limits=ALL)
        prefixes.append(prefix)
    return prefixes


def run_ours(tmp: Path, prefixes: list[Path], settings: FallbackSettings) -> pd.DataFrame:
    return pd.concat([dosage_association_chunk(p, tmp / "null.tsv", tmp / "null.json",
                                               tmp / f"assoc_{p.name}", settings)
                      for p in prefixes], ignore_index=True)


CONTIGS = (("22", 16_000_000, 700), ("X", 5_000_000, 200))


@pytest.fixture(scope="session")
def glm_inputs(plink2, tmp_path_factory):
    """1,600 samples × 900 imputed variants (chr22, non-PAR chrX), no missing dosages
    (PLINK 2 drops a sample without a dosage, we mean-impute it): (directory with the fitted
    null models, our QC'd .pgen prefixes, PLINK 2 reports) with PLINK 2 ``--glm
    firth-fallback`` and ``--glm firth`` on those .pgen, covariates age and sex (PLINK 2's
    default ``--xchr-model 2``: males 0..2; ``no-x-sex`` as sex is a covariate already). Made
    once per session, for every module that imports this fixture (:func:`_glm_inputs`)."""
    key = id(tmp_path_factory)
    if key not in _GLM_INPUTS:
        _GLM_INPUTS[key] = _glm_inputs(plink2, tmp_path_factory)
    return _GLM_INPUTS[key]


_GLM_INPUTS = {}
"""The session's :func:`glm_inputs`: a fixture imported into another module is a second
fixture of its own, which would simulate and run PLINK 2 again."""


def _glm_inputs(plink2, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dosage_glm")
    samples, male, truth = simulate_imputed(tmp / "imp.vcf.gz", 1600, CONTIGS, seed=11)
    sheet = write_cohort(tmp, samples, male, truth, seed=12)
    prefixes = ingest_all(tmp / "imp.vcf.gz", tmp / "q", tmp / "sheet.tsv", CONTIGS)
    covar = sheet[["sample_id", "age", "sex"]].rename(columns={"sample_id": "IID"})
    covar.to_csv(tmp / "covar.tsv", sep="\t", index=False)
    pheno = sheet[["sample_id", *DISEASES]].rename(columns={"sample_id": "IID"})
    pheno[DISEASES] = pheno[DISEASES] + 1
    pheno.to_csv(tmp / "pheno.tsv", sep="\t", index=False)
    reports = {}
    for prefix in prefixes:
        for mode, suffix in (("firth-fallback", "logistic.hybrid"), ("firth", "firth")):
            out = tmp / f"{mode}_{prefix.name}"
            subprocess.run([plink2, "--pfile", str(prefix), "--pheno", str(tmp / "pheno.tsv"),
                            "--covar", str(tmp / "covar.tsv"), "--covar-variance-standardize",
                            "--glm", mode, "hide-covar", "omit-ref", "no-x-sex",
                            "cols=+a1count,+a1freq,+beta", "--threads", "1", "--out", str(out)],
                           check=True, capture_output=True)
            for d in DISEASES:
                reports.setdefault((mode, d), []).append(
                    pd.read_csv(f"{out}.{d}.glm.{suffix}", sep="\t", dtype={"ID": str},
                                na_values=["NA"]))
    return tmp, prefixes, {k: pd.concat(v, ignore_index=True).set_index("ID")
                           for k, v in reports.items()}


@pytest.fixture(scope="module")
def glm_run(glm_inputs):
    """Our dosage chunk step on :func:`glm_inputs` in full Firth mode with Wald p (as PLINK 2),
    and PLINK 2's reports."""
    tmp, prefixes, reports = glm_inputs
    # Firth also on < 10 expected minor alleles in the cases (not the default): with the default
    # those rows of the 4% disease are score-test rows, further from PLINK 2's ML Wald (r 0.99957).
    ours = run_ours(tmp, prefixes, FallbackSettings(firth_mode="full", firth_p_value="wald",
                                                    firth_min_carriers=10))
    ours.attrs["run"] = tmp, prefixes  # the inputs, for tests that refit rows independently
    return ours, reports


def log10_p_agreement(mine: pd.DataFrame, ref: pd.DataFrame, rows: pd.Series) -> tuple:
    """(Pearson r, slope, max |Δ|, median |Δ|) of −log10 p, ours (``p_value``) against PLINK 2's
    (``P``) on ``rows`` (bool, indexed as both), after checking that they hold more than 300
    rows, over 50 of them on chrX."""
    assert rows.sum() > 300
    assert rows[mine["chromosome"] == "X"].sum() > 50
    ours_lp = -np.log10(mine.loc[rows, "p_value"])
    ref_lp = -np.log10(ref.loc[rows, "P"])
    slope, max_diff = slope_and_max_abs_diff(ref_lp, ours_lp)
    r = np.corrcoef(ours_lp, ref_lp)[0, 1]
    return r, slope, max_diff, np.median(np.abs(ours_lp - ref_lp))


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("disease", DISEASES)
def test_dosage_association__score_rows_match_plink2_firth_fallback(glm_run, disease):
    """Score-test rows (status OK) with MAC ≥ 20 against PLINK 2's ML logistic Wald test on the
    same dosages; counts and frequencies equal. Our p is the score test's, PLINK 2's Wald's:
    they differ where the one-step beta U/V and the ML beta differ (larger |beta|, fewer
    cases), so the bounds are per design. Observed: the 30% disease r 0.999994, slope 1.0025,
    max |Δ| 0.017 (median 6e-5); the 4% disease (64 cases) r 0.99984, slope 1.012, max |Δ| 0.13
    (median 3e-4), at the Firth boundary (MAC · cases / n just above 10)."""
    bounds = {"common_d": (0.9999, 0.01, 0.02), "rare_d": (0.9998, 0.02, 0.15)}[disease]
    ours, reports = glm_run
    mine = ours[ours["disease"] == disease].set_index("variant_id")
    ref = reports[("firth-fallback", disease)].loc[mine.index]
    assert (ref["A1"] == mine["effect_allele"]).all()
    assert (ref["OBS_CT"] == mine["n"]).all()
    np.testing.assert_allclose(mine["effect_allele_frequency"], ref["A1_FREQ"], atol=1e-6)
    rows = (mine["status"] == "OK") & (mine["mac"] >= 20) & ref["P"].notna()
    r, slope, max_diff, median = log10_p_agreement(mine, ref, rows)
    print(f"{disease}: r {r:.6f} slope {slope:.5f} max |diff| {max_diff:.4f} median "
          f"{median:.2e} over {rows.sum()} rows")
    assert r >= bounds[0]
    assert abs(slope - 1) <= bounds[1]
    assert max_diff <= bounds[2]


@pytest.mark.slow
@pytest.mark.reference
@pytest.mark.parametrize("disease", DISEASES)
def test_dosage_association__full_firth_matches_plink2_firth(glm_run, disease):
    """Rows where we fell back to full-mode Firth against the exact penalised MLE of the same
    dosages (:func:`exact_firth`, scipy) and ``--glm firth``. Ours: beta and SE within 1e-6 of
    the exact fit (observed 1e-8). PLINK 2.00a3.5: SE within 1e-4 (observed 4e-5); beta within
    1e-4 of ours wherever its fit met its own tolerance ``gconv`` 1e-4 on the gradient its BETA
    leaves (the profile score, :func:`profile_score`; observed 2.3e-5). Elsewhere its
    single-precision fit may stop short (``hs_bail``, module docstring of
    test_firth_plink2_precision), within its 1e-3 step bound, off by about gradient × SE²: here
    2 of 189 rows beyond 1e-4, both of the 4% disease (74 cases): 22_307 (MAC 78, 3.2 carrier
    dosage in the cases, SE 0.86) by 1.33e-4 and X_190 (MAC 178, SE 0.41) by 1.26e-4, their
    gradients 1.8e-4 and 7.5e-4. −log10 p (Wald, as PLINK 2) within 1e-3."""
    ours, reports = glm_run
    mine = ours[ours["disease"] == disease].set_index("variant_id")
    firth = mine.index[mine["status"] == "FIRTH"]
    assert firth.size > 20
    ref = reports[("firth", disease)].loc[firth]
    tmp, prefixes = ours.attrs["run"]
    sheet = pd.read_csv(tmp / "sheet.tsv", sep="\t", dtype={"sample_id": str})
    dosage = pd.concat([pgen_dosage_rows(p, len(sheet)) for p in prefixes]).loc[firth]
    covariates = sheet[["age", "sex"]].to_numpy(float)
    # Covariates centred and scaled (as --covar-variance-standardize): the genotype's beta and
    # SE do not change, and BFGS from 0 is well conditioned.
    covariates = (covariates - covariates.mean(axis=0)) / covariates.std(axis=0)
    y = sheet[disease].to_numpy(float)
    exact = np.empty((firth.size, 2))
    gradient = np.empty(firth.size)
    for k, g in enumerate(dosage.to_numpy()):
        X = np.column_stack([np.ones(len(y)), covariates, g])
        beta, se = exact_firth(X, y)
        exact[k] = beta[-1], se[-1]
        gradient[k] = profile_score(X, y, X.shape[1] - 1, ref["BETA"].iloc[k], beta)
    np.testing.assert_allclose(mine.loc[firth, ["beta", "standard_error"]], exact, rtol=0,
                               atol=1e-6)
    beta_diff = np.abs(mine.loc[firth, "beta"] - ref["BETA"]).to_numpy()
    se_diff = np.abs(mine.loc[firth, "standard_error"] - ref["SE"]).to_numpy()
    converged = np.abs(gradient) < PLINK2_GCONV
    off = beta_diff >= 1e-4
    print(f"{disease} Firth: ours vs exact max |diff| beta "
          f"{np.abs(mine.loc[firth, 'beta'] - exact[:, 0]).max():.1e}; PLINK 2 vs ours SE "
          f"{se_diff.max():.2e}, beta {beta_diff[converged].max(initial=0):.2e} over "
          f"{converged.sum()} of {firth.size} rows converged by its gconv, "
          f"{beta_diff.max():.2e} over all")
    for k in np.flatnonzero(off):
        print(f"  beyond 1e-4: {firth[k]} MAC {mine.loc[firth[k], 'mac']:.0f} SE "
              f"{exact[k, 1]:.2f} |diff| {beta_diff[k]:.2e} gradient {gradient[k]:.1e}")
    assert not (off & converged).any(), "PLINK 2 converged by its gconv, yet 1e-4 from ours"
    assert off.mean() <= 0.03
    assert beta_diff.max() < PLINK2_BAIL_STEP
    assert se_diff.max() < 1e-4
    np.testing.assert_allclose(-np.log10(mine.loc[firth, "p_value"]), -np.log10(ref["P"]),
                               atol=1e-3)


def pgen_dosage_rows(prefix: Path, n: int) -> pd.DataFrame:
    """float64 (variants, n) ALT dosages of a .pgen as pgenlib reads them, indexed by ID."""
    import pgenlib

    ids = pgen_variants(prefix)["id"]
    dosage = np.empty((len(ids), n))
    reader = pgenlib.PgenReader(f"{prefix}.pgen".encode(), raw_sample_ct=n)
    for j in range(len(ids)):
        reader.read_dosages(j, dosage[j])
    reader.close()
    return pd.DataFrame(dosage, index=ids.to_numpy())


def test_dosage_association__score_test_equals_statsmodels_with_missing(tmp_path):
    """A small case with 10% missing dosages: each OK row's p equals statsmodels' GLM score test
    of the mean-imputed dosage (our stored dosages, read back), to 1e-8 relative; frequency and
    n count the samples with a dosage; the rows carry the file's r² (r2_source file) and the
    typed flag."""
    contigs = (("22", 16_000_000, 40),)
    samples, male, truth = simulate_imputed(tmp_path / "imp.vcf.gz", 300, contigs, seed=3,
                                            missing=0.1)
    sheet = write_cohort(tmp_path, samples, male, truth, seed=4)
    prefix = tmp_path / "q.22"
    ingest_dosages(tmp_path / "imp.vcf.gz", "22", prefix, phenotypes=tmp_path / "sheet.tsv",
                   limits=DosageThresholds(min_r2=0.0, r2_source="file", min_mac=0.0,
                                           max_missing=1.0))
    ours = dosage_association_chunk(prefix, tmp_path / "null.tsv", tmp_path / "null.json",
                                    tmp_path / "assoc", FallbackSettings(p_value="spa"))
    import pgenlib

    dosage = np.empty((40, 300), dtype=np.float32)
    reader = pgenlib.PgenReader(bytes(Path(f"{prefix}.pgen")), raw_sample_ct=300)
    for j in range(40):
        reader.read_dosages(j, dosage[j])
    reader.close()
    dosage[dosage == -9] = np.nan
    assert np.isnan(dosage).mean() == pytest.approx(0.1, abs=0.02)
    X = sm.add_constant(np.column_stack([sheet["age"], sheet["sex"]]).astype(float))
    imputed = mean_impute_rows_naive(dosage, np.arange(300))[0]
    vcf_info = pd.read_csv(tmp_path / "imp.vcf.gz", sep="\t", comment="#", header=None)[7]
    for disease in DISEASES:
        y = sheet[disease].to_numpy(float)
        fit = sm.GLM(y, X, family=sm.families.Binomial()).fit()
        mine = ours[ours["disease"] == disease].reset_index(drop=True)
        ok = (mine["status"] == "OK").to_numpy()
        assert ok.sum() > 10
        for j in np.flatnonzero(ok):
            p_value = fit.score_test(exog_extra=imputed[j][:, None])[1]
            assert mine.loc[j, "p_value"] == pytest.approx(float(np.ravel(p_value)[0]),
                                                           rel=1e-8)
        called = ~np.isnan(dosage)
        np.testing.assert_array_equal(mine["n"], called.sum(axis=1))
        np.testing.assert_allclose(mine["effect_allele_frequency"],
                                   np.nansum(dosage, axis=1) / (2 * called.sum(axis=1)),
                                   rtol=1e-12)
        np.testing.assert_allclose(mine["info"],
                                   vcf_info.str.extract(r"R2=([0-9.]+)")[0].astype(float),
                                   atol=1e-6)
        np.testing.assert_array_equal(mine["typed"], (np.arange(40) % 5 == 0).astype(int))


def test_group_dosage_sums__equal_naive_loops():
    """Dosage sums and called counts per group against plain loops."""
    rng = np.random.default_rng(0)
    dosage = rng.uniform(0, 2, (7, 13)).astype(np.float32)
    dosage[rng.random(dosage.shape) < 0.2] = np.nan
    groups = rng.random((3, 13)) < 0.5
    alt, called = group_dosage_sums(dosage, groups)
    for j in range(7):
        for g in range(3):
            values = [float(dosage[j, i]) for i in range(13)
                      if groups[g, i] and not np.isnan(dosage[j, i])]
            assert alt[j, g] == pytest.approx(sum(values), rel=1e-12)
            assert called[j, g] == len(values)


def test_dosage_association__vcf_bgen_pgen_inputs_identical(tmp_path, plink2):
    """The same dosages given as VCF, BGEN v1.2 (16 bits, from plink2) and PGEN (plink2's import)
    give identical association rows (r² and typed flags aside: BGEN has none, and the
    gating r² of chrX falls back to the file's)."""
    contigs = (("22", 16_000_000, 60), ("X", 5_000_000, 20))
    samples, male, truth = simulate_imputed(tmp_path / "imp.vcf.gz", 400, contigs, seed=5,
                                            missing=0.05)
    write_cohort(tmp_path, samples, male, truth, seed=6)
    psam = tmp_path / "ref.psam"
    psam.write_text("#IID\tSEX\n" + "".join(f"{s}\t{1 if m else 2}\n"
                                             for s, m in zip(samples, male, strict=True)))
    subprocess.run([plink2, "--vcf", str(tmp_path / "imp.vcf.gz"), "dosage=DS", "--psam",
                    str(psam), "--make-pgen", "--out", str(tmp_path / "ref")],
                   check=True, capture_output=True)
    subprocess.run([plink2, "--pfile", str(tmp_path / "ref"), "--export", "bgen-1.2",
                    "ref-first", "--out", str(tmp_path / "ref")], check=True, capture_output=True)
    inputs = {"vcf": tmp_path / "imp.vcf.gz", "pgen": tmp_path / "ref",
              "bgen": tmp_path / "ref.bgen"}
    results = {}
    for name, path in inputs.items():
        prefixes = ingest_all(path, tmp_path / f"o_{name}", tmp_path / "sheet.tsv", contigs)
        table = run_ours(tmp_path, prefixes, FallbackSettings())
        results[name] = table.drop(columns=["info", "typed", "variant_id"])
    assert (results["vcf"]["status"] == "FIRTH").any()
    for name in ("pgen", "bgen"):
        pd.testing.assert_frame_equal(results[name], results["vcf"])


def test_gather_gwas__dosage_results_pass_the_official_validator(tmp_path):
    """GWAS-SSF of dosage chunks (the 22 autosomes, as the validator's coverage check asks):
    ``gwas-ssf validate`` accepts it with the extra ``info`` and ``typed`` columns, and the
    sidecar says the data were imputed and which r² filter applied."""
    validator = require_reference_env("gwas-ssf", "gwas-ssf")
    contigs = tuple((str(c), 1_000_000, 6) for c in range(1, 23))
    samples, male, truth = simulate_imputed(tmp_path / "imp.vcf.gz", 300, contigs, seed=8)
    write_cohort(tmp_path, samples, male, truth, seed=9)
    prefixes = ingest_all(tmp_path / "imp.vcf.gz", tmp_path / "q", tmp_path / "sheet.tsv",
                          contigs)
    run_ours(tmp_path, prefixes, FallbackSettings())
    out = tmp_path / "gwas" / "common_d.tsv.gz"
    gather_gwas("common_d", [tmp_path / f"assoc_{p.name}" / "common_d.columns" for p in prefixes],
                tmp_path / "null.json", "GRCh37", out,
                imputed_qc={"min_r2": 0.3, "r2_source": "mach"})
    header = pd.read_csv(out, sep="\t", nrows=0).columns.tolist()
    assert header[-2:] == ["info", "typed"]
    table = read_gwas_ssf(out)
    assert table["typed"].isin([0, 1]).all()
    assert (table["info"] > 0).all()  # MaCH r² may exceed 1, as plink2 reports it
    meta = yaml.safe_load(meta_path_for(out).read_text())
    assert meta["cohortgen_genotypes"] == "imputed dosages"
    assert meta["cohortgen_imputation_r2_filter"] == {"min_r2": 0.3, "r2_source": "mach"}
    result = subprocess.run([validator, "validate", str(out), "--min-rows", "1"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation status: True" in result.stdout


def test_candidate_genotypes__dosage_chunks_read_as_rounded_hard_calls(tmp_path):
    """find-loci on dosage chunks: the candidates' rows are the stored dosages rounded to hard
    calls (missing kept missing), matched by position and alleles, in the .pgen sample order."""
    contigs = (("22", 16_000_000, 30),)
    samples, _, _ = simulate_imputed(tmp_path / "imp.vcf.gz", 50, contigs, seed=2, missing=0.1)
    (prefix,) = ingest_all(tmp_path / "imp.vcf.gz", tmp_path / "q", None, contigs)
    bim = pgen_variants(prefix)
    wanted = bim.iloc[[3, 17]]
    candidates = pd.DataFrame({
        "chromosome": wanted["chrom"].to_numpy(), "base_pair_location": wanted["pos"].to_numpy(),
        "variant_id": gwas_ssf_variant_ids(wanted["chrom"], wanted["pos"], wanted["a1"],
                                           wanted["a2"])})
    packed, rows, n_fam, mask = candidate_genotypes([prefix], candidates, samples[:10],
                                                    dosages=True)
    dosage = PgenDosages(prefix, len(bim)).read(slice(None))[[3, 17]]
    expected = np.where(np.isnan(dosage), -1, np.rint(dosage)).astype(np.int8)
    assert np.array_equal(unpack_dosages(packed, 50), expected)
    assert rows.tolist() == [0, 1]
    assert n_fam == 50
    assert mask.tolist() == [True] * 10 + [False] * 40
