"""Kernels of cohortgen.kernels.bed against naive bit-by-bit twins."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohortgen.kernels.bed import (
    MISSING,
    dosages_mean_imputed,
    group_allele_counts,
    pack_dosages,
    unpack_dosages,
)

CODE_OF_DOSAGE = {2: 0b00, MISSING: 0b01, 1: 0b10, 0: 0b11}
DOSAGE_OF_CODE = {code: dosage for dosage, code in CODE_OF_DOSAGE.items()}


def naive_pack(dosage: np.ndarray) -> np.ndarray:
    """Pack bit by bit: sample j goes to bits 2*(j % 4) of byte j // 4, pad bits zero."""
    n_variants, n_samples = dosage.shape
    packed = np.zeros((n_variants, (n_samples + 3) // 4), dtype=np.uint8)
    for v in range(n_variants):
        for j in range(n_samples):
            code = CODE_OF_DOSAGE[int(dosage[v, j])]
            packed[v, j // 4] |= code << (2 * (j % 4))
    return packed


def naive_unpack(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """Decode bit by bit."""
    out = np.empty((packed.shape[0], n_samples), dtype=np.int8)
    for v in range(packed.shape[0]):
        for j in range(n_samples):
            out[v, j] = DOSAGE_OF_CODE[(int(packed[v, j // 4]) >> (2 * (j % 4))) & 3]
    return out


def naive_mean_imputed(dosage: np.ndarray, sample_idx: np.ndarray) -> np.ndarray:
    """Select columns, then replace missing by the mean of the called selected values."""
    selected = dosage[:, sample_idx].astype(np.float64)
    out = selected.copy()
    for v in range(selected.shape[0]):
        called = selected[v][selected[v] != MISSING]
        out[v][selected[v] == MISSING] = called.mean() if called.size else 0.0
    return out


def random_dosages(rng, n_variants, n_samples, p_missing=0.1):
    dosage = rng.integers(0, 3, size=(n_variants, n_samples)).astype(np.int8)
    dosage[rng.random(dosage.shape) < p_missing] = MISSING
    return dosage


@settings(max_examples=60, deadline=None)
@given(
    n_variants=st.integers(0, 7),
    n_samples=st.integers(0, 23),
    seed=st.integers(0, 2**32 - 1),
)
def test_pack_dosages__round_trip_and_naive_twin(n_variants, n_samples, seed):
    dosage = random_dosages(np.random.default_rng(seed), n_variants, n_samples)
    packed = pack_dosages(dosage)
    assert packed.dtype == np.uint8
    np.testing.assert_array_equal(packed, naive_pack(dosage))
    np.testing.assert_array_equal(unpack_dosages(packed, n_samples), dosage)


def test_pack_dosages__pad_bits_are_zero():
    packed = pack_dosages(np.full((2, 5), MISSING, dtype=np.int8))
    assert packed.shape == (2, 2)
    np.testing.assert_array_equal(packed[:, 1], [0b01, 0b01])


def test_pack_dosages__rejects_invalid_value():
    dosage = np.zeros((2, 3), dtype=np.int8)
    dosage[1, 2] = 3
    with pytest.raises(ValueError, match="variant 1, sample 2"):
        pack_dosages(dosage)


def test_unpack_dosages__every_byte_value():
    packed = np.arange(256, dtype=np.uint8)[:, None]
    np.testing.assert_array_equal(unpack_dosages(packed, 4), naive_unpack(packed, 4))


def test_unpack_dosages__ignores_pad_bits():
    packed = np.array([[0b11111111]], dtype=np.uint8)
    np.testing.assert_array_equal(unpack_dosages(packed, 1), [[0]])


def test_unpack_dosages__wrong_width_raises():
    with pytest.raises(ValueError, match="shape"):
        unpack_dosages(np.zeros((1, 2), dtype=np.uint8), 9)


@settings(max_examples=40, deadline=None)
@given(
    n_variants=st.integers(1, 6),
    n_samples=st.integers(1, 21),
    seed=st.integers(0, 2**32 - 1),
)
def test_dosages_mean_imputed__naive_twin(n_variants, n_samples, seed):
    rng = np.random.default_rng(seed)
    dosage = random_dosages(rng, n_variants, n_samples, p_missing=0.3)
    sample_idx = rng.integers(0, n_samples, size=rng.integers(0, 2 * n_samples))
    got = dosages_mean_imputed(pack_dosages(dosage), n_samples, sample_idx)
    np.testing.assert_allclose(got, naive_mean_imputed(dosage, sample_idx), rtol=1e-15)


def test_dosages_mean_imputed__all_missing_is_zero():
    dosage = np.full((1, 6), MISSING, dtype=np.int8)
    got = dosages_mean_imputed(pack_dosages(dosage), 6, np.array([5, 0]))
    np.testing.assert_array_equal(got, [[0.0, 0.0]])


def test_dosages_mean_imputed__out_of_range_index_raises():
    with pytest.raises(ValueError, match="sample_idx"):
        dosages_mean_imputed(np.zeros((1, 1), dtype=np.uint8), 3, np.array([3]))


def test_dosages_mean_imputed__reused_buffer_matches_fresh_output():
    rng = np.random.default_rng(5)
    buffer = np.full(4 * 30, np.nan)
    for n_variants in (4, 2):  # the second call reuses the front of the buffer
        dosage = random_dosages(rng, n_variants, 30, p_missing=0.2)
        packed, sample_idx = pack_dosages(dosage), rng.permutation(30)
        got = dosages_mean_imputed(packed, 30, sample_idx, out=buffer)
        assert np.shares_memory(got, buffer)
        np.testing.assert_array_equal(got, dosages_mean_imputed(packed, 30, sample_idx))
    with pytest.raises(ValueError, match="out must be"):
        dosages_mean_imputed(packed, 30, sample_idx, out=np.empty(10))


def naive_group_counts(dosage: np.ndarray, groups: np.ndarray):
    """ALT count and called samples per variant and group, by masking int8 dosages."""
    called = dosage != MISSING
    alt = np.where(called, dosage, 0).astype(np.int64)
    return alt @ groups.T.astype(np.int64), called.astype(np.int64) @ groups.T.astype(np.int64)


@settings(max_examples=40, deadline=None)
@given(
    n_variants=st.integers(0, 5),
    n_samples=st.integers(1, 150),
    n_groups=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_group_allele_counts__naive_twin(n_variants, n_samples, n_groups, seed):
    """Word boundaries (64 samples), pad samples and overlapping groups."""
    rng = np.random.default_rng(seed)
    dosage = random_dosages(rng, n_variants, n_samples, p_missing=0.2)
    groups = rng.random((n_groups, n_samples)) < 0.5
    alt, called = group_allele_counts(pack_dosages(dosage), n_samples, groups)
    expected_alt, expected_called = naive_group_counts(dosage, groups)
    np.testing.assert_array_equal(alt, expected_alt)
    np.testing.assert_array_equal(called, expected_called)


def test_group_allele_counts__wrong_group_width_raises():
    with pytest.raises(ValueError, match="groups must have shape"):
        group_allele_counts(np.zeros((1, 1), dtype=np.uint8), 3, np.ones((2, 4), dtype=bool))
