"""Outputs that do not depend on the job's thread count: the ancestry PCA and the whole
sample-QC step, the published-score job, and the in-cohort C+T grid (scores of every (r², p_T)
and their partial R²). Each runs on one thread (Numba and BLAS) and on two, as Snakemake's
``threads`` sets them (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``), and the arrays must be
equal bit for bit, the files byte for byte."""

import subprocess
from pathlib import Path

import numba
import numpy as np
import pytest
from test_prs_published import THRESHOLDS, _lines, _write_pgs
from test_prs_published import cohort as published_cohort  # noqa: F401 (the fixture)
from threadpoolctl import threadpool_limits

from cohortgen.io.bed import read_bed
from cohortgen.kernels.bed import pack_dosages
from cohortgen.prs.cplust import partial_r2
from cohortgen.prs.folds import grid_scores
from cohortgen.prs.stage import score_published, scoring_variants
from cohortgen.qc.pca import PcaSettings, pca_scores
from cohortgen.qc.pruned import PruneSettings, select_pruned_set
from cohortgen.qc.sample_qc import SampleQcPaths, SampleSettings, preliminary_samples, sample_qc
from cohortgen.qc.variant_stats import variant_stats_chunk
from cohortgen.simulate import simulate_cohort

THREADS = (1, 2)


def on_threads(threads: int, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` with Numba and BLAS on ``threads`` threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(threads, user_api="blas"):
            return fn(*args, **kwargs)
    finally:
        numba.set_num_threads(before)


def files_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def genotypes():
    """(packed .bed rows of 3,000 variants × 1,500 samples, ALT frequencies)."""
    rng = np.random.default_rng(1)
    freq = rng.uniform(0.05, 0.5, 3000)
    calls = rng.binomial(2, freq[:, None], size=(3000, 1500)).astype(np.int8)
    calls[rng.random(calls.shape) < 0.01] = -1
    return pack_dosages(calls), freq


def test_pca_scores__same_bits_on_one_and_two_threads(genotypes):
    """OpenBLAS on two threads changed the eigenvalues by up to 3e-13 and the scores by 2e-11
    before the PCA ran on one BLAS thread."""
    packed, _ = genotypes
    fitted, projected = np.arange(1200), np.arange(1200, 1500)
    runs = [on_threads(t, pca_scores, packed, 1500, fitted, PcaSettings(seed=42), projected)
            for t in THREADS]
    for name, one, two in zip(("eigenvalues", "scores", "projected"), *runs, strict=True):
        np.testing.assert_array_equal(one, two, err_msg=name)


def test_grid_scores_and_partial_r2__same_bits_on_one_and_two_threads(genotypes):
    """The C+T grid's scores and partial R² (OpenBLAS on two threads changed them by 1e-14 and
    4e-18, enough to change which (r², p_T) wins a near tie)."""
    packed, freq = genotypes
    rng = np.random.default_rng(5)
    W = rng.normal(size=(3000, 36)) * (rng.random((3000, 36)) < 0.3)
    y = (rng.random(1500) < 0.3).astype(float)
    covariates = rng.normal(size=(1500, 12))

    def grid():
        S = grid_scores(packed, 1500, np.arange(1500), W, 2.0 * freq)
        return S, partial_r2(S, y, covariates)

    (S1, r1), (S2, r2) = (on_threads(t, grid) for t in THREADS)
    np.testing.assert_array_equal(S1, S2)
    np.testing.assert_array_equal(r1, r2)


@pytest.fixture(scope="module")
def qc_inputs(tmp_path_factory, plink2):
    """A simulated cohort of 600 samples in two chunks, with the variant-stats partials and the
    pruned set that sample QC reads."""
    root = tmp_path_factory.mktemp("threads_qc")
    simulate_cohort(root / "sim", n_samples=600, n_chromosomes=2, chromosome_mb=5.0, seed=11)
    full = root / "full"
    for args in (("--vcf", root / "sim/genotypes.vcf.gz", "--make-bed", "--out", full),
                 *(("--bfile", full, "--chr", k, "--make-bed", "--out", root / f"c{k}")
                   for k in (1, 2))):
        subprocess.run([plink2, *map(str, args), "--threads", "1"], check=True,
                       capture_output=True)
    chunks = [root / f"c{k}" for k in (1, 2)]
    pheno = root / "sim/phenotypes.tsv"
    partials = [root / f"c{k}.npz" for k in (1, 2)]
    for chunk, part in zip(chunks, partials, strict=True):
        variant_stats_chunk(chunk, pheno, "GRCh38", part)
    prelim = preliminary_samples(Path(f"{chunks[0]}.fam"), partials, pheno, 0.95)
    select_pruned_set(chunks, prelim, PruneSettings(genome_build="GRCh38"), root / "pruned",
                      root / "pruned.json")
    assert read_bed(root / "pruned")[0].shape[0] > 500
    return Path(f"{chunks[0]}.fam"), partials, pheno, root / "pruned"


def test_sample_qc__same_files_on_one_and_two_threads(qc_inputs, tmp_path):
    fam, partials, pheno, pruned = qc_inputs
    written = []
    for threads in THREADS:
        out = tmp_path / f"t{threads}"
        out.mkdir()
        paths = SampleQcPaths(out / "samples.tsv", out / "keep.txt", out / "pairs.tsv",
                              out / "pcs.tsv", out / "pca.json")
        on_threads(threads, sample_qc, fam, partials, pheno, ["hypertension"], ["age", "sex"],
                   pruned, SampleSettings(), paths)
        written.append(files_bytes(out))
    assert len(written[0]) == 5
    assert written[0] == written[1]


def test_score_published__same_files_on_one_and_two_threads(published_cohort, tmp_path):  # noqa: F811
    cohort = published_cohort
    variants = scoring_variants(cohort["qc"], THRESHOLDS.call_rate, "GRCh38")
    _write_pgs(tmp_path / "s.txt", _lines(np.random.default_rng(7), cohort["bim"], variants))
    root = cohort["root"]
    for threads in THREADS:
        on_threads(threads, score_published, ["s"], [tmp_path / "s.txt"], cohort["chunks"],
                   cohort["qc"], root / "samples.tsv", root / "pcs.tsv", "GRCh38", 0.5, False,
                   THRESHOLDS.call_rate, tmp_path / f"t{threads}")
    one, two = (files_bytes(tmp_path / f"t{t}") for t in THREADS)
    assert set(one) == {"scores/s.tsv.gz", "match/s.json", "match/s.variants.tsv.gz"}
    assert one == two
