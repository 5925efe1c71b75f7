"""Centred dosages: naive twin on every byte value, reused buffers, plink2 --score center."""

import subprocess

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.bed import write_bed
from cohortgen.kernels.bed import pack_dosages, unpack_dosages
from cohortgen.kernels.centred import centred_dosages


def naive_centred_dosages(dosage: np.ndarray, rows, sample_idx, fill) -> np.ndarray:
    """Clarity twin (tests only) on int8 dosages (m, n), -1 = missing."""
    x = dosage[np.ix_(rows, sample_idx)].astype(np.float64)
    return np.where(x >= 0, x - np.asarray(fill)[rows, None], 0.0)


def every_byte_dosages(n_rows: int, seed: int) -> np.ndarray:
    """int8 (n_rows, 1023), -1 = missing: each row holds every byte value once (shuffled),
    the last byte padded (1023 samples), so all 4 codes occur at all 4 positions."""
    rng = np.random.default_rng(seed)
    packed = np.stack([rng.permutation(256).astype(np.uint8) for _ in range(n_rows)])
    return unpack_dosages(packed, 1023)


def test_centred_dosages__every_byte_unordered_repeated_samples_match_naive_twin():
    G = every_byte_dosages(6, seed=1)
    rng = np.random.default_rng(2)
    rows = np.array([5, 0, 3, 3])
    idx = np.concatenate([rng.permutation(1023), [1022, 0, 0, 517]])
    fill = np.array([0.0, 2.0, 0.37, 1.5, 1.0, 0.013])
    got = centred_dosages(pack_dosages(G), 1023, rows, idx, fill)
    np.testing.assert_array_equal(got, naive_centred_dosages(G, rows, idx, fill))


def test_centred_dosages__reused_buffer_holds_the_result():
    G = every_byte_dosages(8, seed=3)
    packed = pack_dosages(G)
    fill = np.linspace(0.1, 1.9, 8)
    idx = np.arange(0, 1023, 3)
    buffer = np.full(8 * idx.size + 5, np.nan)
    for rows in (np.arange(8), np.array([6, 1, 2])):
        got = centred_dosages(packed, 1023, rows, idx, fill, out=buffer)
        assert got.shape == (rows.size, idx.size)
        assert np.shares_memory(got, buffer)
        np.testing.assert_array_equal(got, naive_centred_dosages(G, rows, idx, fill))


@pytest.mark.parametrize("buffer", [np.empty(10), np.empty(100, dtype=np.float32),
                                    np.empty((20, 10))[:, ::2]])
def test_centred_dosages__unusable_buffer_raises(buffer):
    packed = pack_dosages(np.zeros((3, 10), dtype=np.int8))
    with pytest.raises(ValueError, match="C-contiguous float64 buffer of >= 30 elements"):
        centred_dosages(packed, 10, np.arange(3), np.arange(10), np.zeros(3), out=buffer)


@pytest.mark.reference
def test_centred_dosages__scores_match_plink2_score_center(plink2, tmp_path):
    """Σ_j w_j (dosage − 2 f_j) over called genotypes (a missing call at the mean adds 0), on
    a subset of samples: the held-out scores of the folds. plink2 computes this with ``center
    no-mean-imputation`` (missing adds 0 after centring); 2.00a3.5's ``center`` with its
    default mean imputation instead adds w_j · 2 f_j for a missing call."""
    rng = np.random.default_rng(7)
    m, n = 50, 130
    G = rng.binomial(2, rng.uniform(0.05, 0.6, m)[:, None], size=(m, n)).astype(np.int8)
    G[rng.random(G.shape) < 0.05] = -1
    ids = [f"S{i:03d}" for i in range(n)]
    bim = pd.DataFrame({"chrom": "1", "id": [f"v{j}" for j in range(m)], "cm": 0.0,
                        "pos": 1000 + 100 * np.arange(m), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 0,
                        "pheno": "-9"})
    write_bed(tmp_path / "g", pack_dosages(G), bim, fam)
    run = [plink2, "--bfile", str(tmp_path / "g"), "--threads", "1", "--out"]
    subprocess.run([*run, str(tmp_path / "g"), "--freq"], check=True, capture_output=True)
    fill = 2.0 * pd.read_csv(tmp_path / "g.afreq", sep="\t")["ALT_FREQS"].to_numpy()
    W = rng.normal(size=(m, 3))
    pd.DataFrame({"id": bim["id"], "allele": "A", "w1": W[:, 0], "w2": W[:, 1],
                  "w3": W[:, 2]}).to_csv(tmp_path / "s.txt", sep="\t", index=False)
    held_out = np.sort(rng.choice(n, 40, replace=False))
    (tmp_path / "keep").write_text("".join(f"{ids[i]}\t{ids[i]}\n" for i in held_out))
    subprocess.run([*run, str(tmp_path / "ref"), "--keep", str(tmp_path / "keep"),
                    "--read-freq", str(tmp_path / "g.afreq"), "--score", str(tmp_path / "s.txt"),
                    "1", "2", "header", "center", "no-mean-imputation", "cols=+scoresums",
                    "--score-col-nums", "3-5"],
                   check=True, capture_output=True)
    ref = pd.read_csv(tmp_path / "ref.sscore", sep="\t", dtype={"IID": str}).set_index("IID")
    ours = centred_dosages(pack_dosages(G), n, np.arange(m), held_out, fill).T @ W
    sums = [f"SCORE{c}_SUM" for c in (1, 2, 3)]
    expected = ref.loc[[ids[i] for i in held_out], sums].to_numpy()
    assert (G[:, held_out] < 0).any()
    # plink2 prints 6 significant digits: relative 5e-6, and absolute for sums near 0.
    np.testing.assert_allclose(ours, expected, rtol=5e-6, atol=5e-6 * np.abs(expected).max())
