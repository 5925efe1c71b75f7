"""Relatives kept for the whole-genome regression, and only with it on; a cohort of one family
(a single unrelated sample) gets a message saying what to do, and needs no unrelated pair
without PCA."""

from pathlib import Path

import pytest

from cohortgen.errors import InputError
from cohortgen.qc.relatedness import relatives_kept
from cohortgen.qc.sample_qc import check_pca_input


def test_check_pca_input__one_family_says_to_drop_the_pca():
    with pytest.raises(InputError, match=r"p: .* there are 1 and 40: .*pca\.n_pcs: 0"):
        check_pca_input(Path("p"), 1, 40, n_pcs=10)


def test_check_pca_input__no_pca_needs_no_unrelated_pair():
    check_pca_input(Path("p"), 1, 40, n_pcs=0)


@pytest.mark.parametrize(("relatives", "wgr", "kept"), [("keep", True, True),
                                                        ("keep", False, False),
                                                        ("remove", True, False),
                                                        ("remove", False, False)])
def test_relatives_kept__only_with_the_whole_genome_regression(relatives, wgr, kept):
    assert relatives_kept(relatives, wgr) is kept
