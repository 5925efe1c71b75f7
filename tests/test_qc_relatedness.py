"""Relatedness policy of QC: KING's degree cutoffs and which relative to drop (exact small
cases and a naive twin of the maximal unrelated set)."""

import numpy as np
import pytest

from cohortgen.qc.relatedness import UNRELATED, degree, maximal_unrelated_set


def test_degree__kings_cutoffs():
    assert [degree(k) for k in (0.5, 0.3541, 0.354, 0.2, 0.1, 0.05, 0.0442, 0.0, np.nan)] == [
        0,
        0,
        1,
        1,
        2,
        3,
        UNRELATED,
        UNRELATED,
        UNRELATED,
    ]


def test_maximal_unrelated_set__drops_the_hub_first():
    pairs = [(0, 1, 0.25), (0, 2, 0.25), (0, 3, 0.25), (3, 4, 0.1)]
    keep = maximal_unrelated_set(5, pairs, np.ones(5), np.zeros(5, dtype=bool))
    # 0 has 3 pairs: dropped; then 3-4 tie on pairs and call rate: higher index (4) dropped.
    np.testing.assert_array_equal(keep, [False, True, True, True, False])


def test_maximal_unrelated_set__keeps_the_case_over_a_better_call_rate():
    # 0-1: case (0.97) vs control (0.999); 2-3: two controls; 4-5: two cases, equal rates.
    pairs = [(0, 1, 0.3), (2, 3, 0.3), (4, 5, 0.3)]
    call_rate = np.array([0.97, 0.999, 0.98, 0.99, 0.99, 0.99])
    is_case = np.array([True, False, False, False, True, True])
    keep = maximal_unrelated_set(6, pairs, call_rate, is_case)
    np.testing.assert_array_equal(keep, [True, False, False, True, True, False])
    swapped = [(j, i, k) for i, j, k in reversed(pairs)]
    np.testing.assert_array_equal(keep, maximal_unrelated_set(6, swapped, call_rate, is_case))


def test_maximal_unrelated_set__takes_back_a_sample_whose_relatives_all_went():
    # 0 (3 pairs) goes first; then 1-4, 2-5, 3-6 each drop the lower call rate (1, 2, 3), so
    # 0 has no kept relative left and is taken back.
    pairs = [(0, 1, 0.2), (0, 2, 0.2), (0, 3, 0.2), (1, 4, 0.2), (2, 5, 0.2), (3, 6, 0.2)]
    call_rate = np.array([1.0, 0.9, 0.9, 0.9, 1.0, 1.0, 1.0])
    keep = maximal_unrelated_set(7, pairs, call_rate, np.zeros(7, dtype=bool))
    np.testing.assert_array_equal(keep, [True, False, False, False, True, True, True])


def naive_maximal_unrelated_set(n, pairs, call_rate, is_case) -> np.ndarray:
    """Twin of maximal_unrelated_set: recount every kept sample's kept relatives each step."""
    related = np.zeros((n, n), dtype=bool)
    for i, j, *_ in pairs:
        related[i, j] = related[j, i] = True
    keep = np.ones(n, dtype=bool)
    while (counts := (related & keep).sum(axis=1) * keep).any():
        keep[min(np.flatnonzero(counts),
                 key=lambda s: (-counts[s], is_case[s], call_rate[s], -s))] = False
    for s in sorted(np.flatnonzero(~keep), key=lambda s: (not is_case[s], -call_rate[s], s)):
        keep[s] = not (related[s] & keep).any()
    return keep


def test_maximal_unrelated_set__matches_naive_twin_unrelated_and_maximal():
    rng = np.random.default_rng(42)
    for _ in range(300):
        n = int(rng.integers(2, 13))
        edges = np.argwhere(np.triu(rng.random((n, n)) < rng.uniform(0.1, 0.6), k=1))
        pairs = [(int(i), int(j), 0.2) for i, j in edges]
        call_rate = rng.choice([0.97, 0.98, 0.99], size=n)  # ties on purpose
        is_case = rng.random(n) < 0.3
        keep = maximal_unrelated_set(n, pairs, call_rate, is_case)
        np.testing.assert_array_equal(keep, naive_maximal_unrelated_set(n, pairs, call_rate,
                                                                        is_case))
        related = np.zeros((n, n), dtype=bool)
        for i, j, _ in pairs:
            related[i, j] = related[j, i] = True
        assert not related[np.ix_(keep, keep)].any()  # no related pair kept
        assert related[np.ix_(~keep, keep)].any(axis=1).all()  # none could be added back
        shuffled = [(j, i, k) if rng.random() < 0.5 else (i, j, k)
                    for i, j, k in rng.permutation(np.array(pairs, dtype=object))]
        np.testing.assert_array_equal(keep, maximal_unrelated_set(n, shuffled, call_rate,
                                                                  is_case))


def test_maximal_unrelated_set__rejects_bad_pair():
    with pytest.raises(ValueError, match=r"pair \(1, 1\)"):
        maximal_unrelated_set(3, [(1, 1, 0.5)], np.ones(3), np.zeros(3, dtype=bool))
