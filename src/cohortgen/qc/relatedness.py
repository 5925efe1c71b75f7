"""Relatedness QC: KING-robust kinship on the pruned set, related pairs, maximal unrelated set.

Kinship is computed among the samples given (those passing call rate), as PLINK 2
``--make-king-table`` on the pruned autosomal set. Pairs above the threshold (default 0.0884,
2nd degree or closer) are listed: :func:`related_pair_table` finds them tile by tile and never
holds an n x n matrix.
The policy lives here, the arithmetic in :mod:`cohortgen.kernels.relatedness`: the degree of a
pair (:func:`degree`, KING's cutoffs) and which relative to drop. The unrelated set is chosen
among the candidate samples (passing every earlier check) by :func:`maximal_unrelated_set` (drop
the sample in most pairs; between equals, a control before a case, then the lower call rate;
then take back any dropped sample left with no kept relative); it needs only the pairs above the
threshold (it counts each sample's relatives from them).
"""

import heapq

import numpy as np
import pandas as pd

DEGREE_CUTOFFS = (0.354, 0.177, 0.0884, 0.0442)
"""Kinship lower bounds (exclusive) of degree 0 (duplicate/MZ), 1, 2 and 3 (KING's cutoffs)."""

UNRELATED = -1
"""Degree returned by :func:`degree` for kinship <= 0.0442."""


def related_pair_table(packed: np.ndarray, n_samples: int, sample_idx: np.ndarray,
                       sample_ids: list[str], threshold: float) -> pd.DataFrame:
    """Related pairs (:func:`pair_frame`) among ``sample_idx`` (int64 (k,), .fam order), KING
    kinship above ``threshold``, from :func:`king_related_pairs`: memory O(n * variants) for the
    bit planes plus one tile of pairs, not O(n²). sample_ids: the IDs of ``sample_idx``, in its
    order."""
    from cohortgen.kernels.relatedness import king_related_pairs  # Numba: sample QC only
    from cohortgen.qc.genotypes import subset_samples

    if len(sample_ids) != len(sample_idx):
        raise ValueError(f"{len(sample_ids)} sample IDs for {len(sample_idx)} samples")
    sub = subset_samples(packed, n_samples, sample_idx)
    found = king_related_pairs(sub, len(sample_idx), threshold)
    return pair_frame(list(zip(found.i.tolist(), found.j.tolist(), found.kinship.tolist(),
                                strict=True)), sample_ids)


def pair_frame(pairs: list[tuple[int, int, float]], sample_ids: list[str]) -> pd.DataFrame:
    """Related pairs: id1, id2 (str), kinship, degree (:func:`degree`), from (i, j, kinship)
    index pairs into ``sample_ids``, i < j, ordered by i then j."""
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


def degree(kinship: float) -> int:
    """Relationship degree of a kinship coefficient: 0 (> 0.354, duplicate/MZ twin), 1
    (> 0.177), 2 (> 0.0884), 3 (> 0.0442), else :data:`UNRELATED` (also for nan)."""
    for deg, cutoff in enumerate(DEGREE_CUTOFFS):
        if kinship > cutoff:
            return deg
    return UNRELATED


def maximal_unrelated_set(n: int, pairs, call_rate: np.ndarray, is_case: np.ndarray) -> np.ndarray:
    """Keep-mask of a maximal set of samples with no related pair among them.

    pairs: iterable of (i, j, ...) sample-index pairs (e.g. of :func:`related_pair_table`);
    call_rate: float64, shape (n,); is_case: bool, shape (n,) (case for any disease).
    Rule: while a related pair has both members kept, drop the kept sample with the most
    related pairs among kept samples; among equal counts, drop a control before a case, then
    the lower call rate, then the higher index. Then each dropped sample whose relatives have
    all been dropped since is taken back (cases first, then the higher call rate, then the
    lower index), so no dropped sample could be added without a related pair. Case status
    comes before call rate because every candidate has already passed the sample call-rate
    threshold, and cases are the scarcer samples. Returns bool, shape (n,), True = keep; the
    result depends only on the inputs (not on the order of ``pairs``, nor of i and j).
    """
    call_rate = np.asarray(call_rate, dtype=np.float64)
    is_case = np.asarray(is_case, dtype=np.bool_)
    if call_rate.shape != (n,) or is_case.shape != (n,):
        raise ValueError(f"call_rate and is_case must have shape ({n},)")
    relatives = _relatives(n, pairs)
    keep = _drop_most_related(n, relatives, call_rate, is_case)
    dropped = sorted(np.flatnonzero(~keep).tolist(),
                     key=lambda s: (not is_case[s], -call_rate[s], s))
    for s in dropped:
        if not any(keep[t] for t in relatives[s]):
            keep[s] = True
    return keep


def _relatives(n: int, pairs) -> dict[int, set[int]]:
    """{sample: set of its related samples} of every sample in a pair (indices in [0, n))."""
    relatives: dict[int, set[int]] = {}
    for pair in pairs:
        i, j = int(pair[0]), int(pair[1])
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f"pair ({i}, {j}) is not two distinct sample indices in [0, {n})")
        relatives.setdefault(i, set()).add(j)
        relatives.setdefault(j, set()).add(i)
    return relatives


def _drop_most_related(n: int, relatives: dict[int, set[int]], call_rate: np.ndarray,
                       is_case: np.ndarray) -> np.ndarray:
    """bool (n,) keep-mask after the greedy drops of :func:`maximal_unrelated_set`."""
    kept_relatives = {s: set(r) for s, r in relatives.items()}

    def priority(s: int) -> tuple:
        # heapq pops the smallest: most pairs, then control, lowest call rate, highest index.
        return (-len(kept_relatives[s]), bool(is_case[s]), call_rate[s], -s)

    heap = [(priority(s), s) for s in kept_relatives]
    heapq.heapify(heap)
    keep = np.ones(n, dtype=np.bool_)
    while heap:
        key, s = heapq.heappop(heap)
        if not keep[s] or not kept_relatives[s]:
            continue
        if key != priority(s):  # stale entry: its pair count dropped since it was pushed
            heapq.heappush(heap, (priority(s), s))
            continue
        keep[s] = False
        for t in kept_relatives[s]:
            kept_relatives[t].discard(s)
            if kept_relatives[t]:
                heapq.heappush(heap, (priority(t), t))
        kept_relatives[s] = set()
    return keep


def relatives_kept(relatives: str, whole_genome_regression: bool) -> bool:
    """Whether related samples stay in the analysis: config ``qc.relatives`` ``keep`` with the
    whole-genome regression on (which models them); with step 1 off they are removed, as
    before step 1 existed, whatever ``qc.relatives`` says."""
    return relatives == "keep" and whole_genome_regression
