"""Relatedness QC: KING-robust kinship on the pruned set, related pairs, maximal unrelated set.

Kinship is computed among the samples given (those passing call rate), as PLINK 2
``--make-king-table`` on the pruned autosomal set. Pairs above the threshold (default 0.0884,
2nd degree or closer) are listed: :func:`related_pair_table` finds them tile by tile and never
holds an n x n matrix (:func:`kinship_matrix` is the full matrix, for small cohorts and tests).
The unrelated set is chosen among the candidate samples (passing every earlier check) by
:func:`cohortgen.kernels.relatedness.maximal_unrelated_set` (drop the sample in most pairs;
between equals, a control before a case, then the lower call rate; then take back any dropped
sample left with no kept relative); it needs only the pairs above the threshold (it counts
each sample's relatives from them).
"""

import numpy as np
import pandas as pd

from cohortgen.kernels.relatedness import (
    degree,
    king_counts,
    king_kinship,
    king_related_pairs,
    maximal_unrelated_set,
    related_pairs,
)
from cohortgen.qc.genotypes import subset_samples


def kinship_matrix(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray) -> np.ndarray:
    """float64 (k, k): KING-robust kinship among ``sample_idx`` (int64 (k,), .fam order)."""
    sub = subset_samples(packed, n_samples, sample_idx)
    return king_kinship(*king_counts(sub, len(sample_idx)))


def related_pair_table(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
                       sample_ids: list[str], threshold: float) -> pd.DataFrame:
    """``pair_table(kinship_matrix(packed, n_samples, sample_idx), sample_ids, threshold)``,
    the same table, from :func:`king_related_pairs`: memory O(n * variants) for the bit planes
    plus one tile of pairs, not O(n²). sample_ids: the IDs of ``sample_idx``, in its order."""
    if len(sample_ids) != len(sample_idx):
        raise ValueError(f"{len(sample_ids)} sample IDs for {len(sample_idx)} samples")
    sub = subset_samples(packed, n_samples, sample_idx)
    found = king_related_pairs(sub, len(sample_idx), threshold)
    return _pair_frame(list(zip(found.i.tolist(), found.j.tolist(), found.kinship.tolist(),
                                strict=True)), sample_ids)


def pair_table(kinship: np.ndarray, sample_ids: list[str], threshold: float) -> pd.DataFrame:
    """Related pairs: id1, id2 (str), kinship, degree (0 duplicate/MZ, 1, 2, 3)."""
    return _pair_frame(related_pairs(kinship, sample_ids, threshold), sample_ids)


def _pair_frame(pairs: list[tuple[int, int, float]], sample_ids: list[str]) -> pd.DataFrame:
    """The related-pairs table of (i, j, kinship) index pairs, i < j, ordered by i then j."""
    return pd.DataFrame({"id1": [sample_ids[i] for i, _, _ in pairs],
                         "id2": [sample_ids[j] for _, j, _ in pairs],
                         "kinship": [k for _, _, k in pairs],
                         "degree": [degree(k) for _, _, k in pairs]})


def unrelated_mask(pairs: pd.DataFrame, sample_ids: list[str], candidate: np.ndarray,
                   call_rate: np.ndarray, is_case: np.ndarray) -> np.ndarray:
    """bool (n,) over ``sample_ids``: False for candidates dropped to break related pairs
    among candidates (non-candidates stay True: they fail for another reason)."""
    index = {s: k for k, s in enumerate(sample_ids)}
    i = pairs["id1"].map(index).to_numpy(np.int64)
    j = pairs["id2"].map(index).to_numpy(np.int64)
    among = candidate[i] & candidate[j]
    return maximal_unrelated_set(len(sample_ids), list(zip(i[among], j[among], strict=True)),
                                 call_rate, is_case)
