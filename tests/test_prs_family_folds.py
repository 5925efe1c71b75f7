"""In-cohort PRS folds keep relatives together: every connected group of related pairs goes to
one fold (and one inner-validation part), deterministically, with fold sizes still balanced."""

import numpy as np
import pandas as pd
import pytest

from cohortgen.io.files import read_tsv, write_tsv
from cohortgen.prs.folds import inner_validation, multilabel_stratified_folds, related_groups
from cohortgen.prs.incohort import Cohort, assign_folds
from cohortgen.simulate import simulate_family_cohort


@pytest.fixture(scope="module")
def families():
    """2,000 samples, 40% in nuclear families, 6% first cousins; diseases at 4% and 30%."""
    return simulate_family_cohort(11, n_samples=2000, n_variants=200, n_causal=20,
                                  family_fraction=0.4, cousin_fraction=0.06)


def pair_ids(cohort) -> tuple[list[str], list[str]]:
    """(id1, id2) of the simulated related pairs."""
    return ([cohort.sample_ids[i] for i, *_ in cohort.pairs],
            [cohort.sample_ids[j] for _, j, *_ in cohort.pairs])


def split_pairs(folds: np.ndarray, cohort) -> int:
    """Related pairs whose two samples are in different folds."""
    return sum(int(folds[i] != folds[j]) for i, j, *_ in cohort.pairs)


def test_related_groups__connected_components():
    ids = ["a", "b", "c", "d", "e"]
    groups = related_groups(ids, ["a", "c", "x"], ["b", "b", "e"])  # x is not a sample
    assert groups[0] == groups[1] == groups[2]
    assert len({groups[0], groups[3], groups[4]}) == 3


def test_multilabel_stratified_folds__relatives_share_a_fold(families):
    groups = related_groups(families.sample_ids, *pair_ids(families))
    folds = multilabel_stratified_folds(families.status, 5, 7, groups=groups)
    assert split_pairs(folds, families) == 0
    assert split_pairs(multilabel_stratified_folds(families.status, 5, 7), families) > 0
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= np.bincount(groups).max()  # within one family
    for d in range(families.status.shape[1]):
        for status in (0.0, 1.0):
            counts = np.bincount(folds[families.status[:, d] == status], minlength=5)
            assert counts.max() - counts.min() <= 6, (d, status, counts)
    again = multilabel_stratified_folds(families.status, 5, 7, groups=groups)
    assert np.array_equal(folds, again)


def test_multilabel_stratified_folds__singleton_groups_unchanged(families):
    """Groups of one sample each give the very folds of no groups."""
    plain = multilabel_stratified_folds(families.status, 5, 3)
    single = multilabel_stratified_folds(families.status, 5, 3,
                                         groups=np.arange(families.status.shape[0]))
    assert np.array_equal(plain, single)


def test_inner_validation__relatives_share_a_part(families):
    groups = related_groups(families.sample_ids, *pair_ids(families))
    folds = multilabel_stratified_folds(families.status, 5, 7, groups=groups)
    inner = inner_validation(families.status, folds, 4, 7, groups)
    assert all(inner[i] == inner[j] for i, j, *_ in families.pairs)
    assert 0.2 < inner.mean() < 0.3


def test_assign_folds__reads_related_pairs(families, tmp_path):
    """``prs-incohort-folds --related-pairs``: folds.tsv keeps every related pair together."""
    id1, id2 = pair_ids(families)
    write_tsv(tmp_path / "related_pairs.tsv",
              pd.DataFrame({"id1": id1, "id2": id2, "kinship": 0.25, "degree": 1}))
    n = len(families.sample_ids)
    cohort = Cohort(families.sample_ids, ["d4", "d30"], families.status, np.zeros((n, 1)),
                    np.ones(n, dtype=bool))
    assign_folds(cohort, 5, 2, tmp_path / "folds.tsv", tmp_path / "related_pairs.tsv")
    table = read_tsv(tmp_path / "folds.tsv", dtype={"sample_id": str}).set_index("sample_id")
    assert (table.loc[id1, "fold"].to_numpy() == table.loc[id2, "fold"].to_numpy()).all()
    assert (table.loc[id1, "inner"].to_numpy() == table.loc[id2, "inner"].to_numpy()).all()
