"""Contig names, builds and PAR boundaries shared by ingest (ploidy) and QC (contig classes)."""

import numpy as np
import pytest

from cohortgen.genome import PAR_REGIONS, canonical_build, checked_build, contig_class, in_par
from cohortgen.ingest.ploidy import is_ploidy_aware, ploidy_regions
from cohortgen.kernels.gt import REGION_DIPLOID, REGION_MT, REGION_X, REGION_Y
from cohortgen.qc.regions import contig_classes

NAMES = {
    "x": ["X", "x", "chrX", "CHRX", "chrx", "23", "chr23", " X "],
    "par": ["XY", "xy", "25", "PAR1", "par2", "chrXY"],
    "y": ["Y", "chrY", "y", "24"],
    "mt": ["MT", "M", "chrM", "chrMT", "mt", "26"],
    "auto": ["1", "chr1", "22", "chr22"],
    "other": ["23a", "GL000192.1", "chrUn_KI270302v1", "0", "27", "X_alt"],
}


@pytest.mark.parametrize("kind", sorted(NAMES))
def test_contig_class__every_spelling(kind):
    assert [contig_class(name) for name in NAMES[kind]] == [kind] * len(NAMES[kind])


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_in_par__boundaries_are_inclusive(build):
    (first1, last1), (first2, last2) = PAR_REGIONS[build]
    pos = np.array([1, first1 - 1, first1, last1, last1 + 1, first2 - 1, first2, last2,
                    last2 + 1])
    np.testing.assert_array_equal(in_par(pos, build),
                                  [False, False, True, True, False, False, True, True, False])


@pytest.mark.parametrize("build", ["GRCh37", "hg38"])
def test_ploidy_regions__agree_with_qc_contig_classes(build):
    """Ingest's ploidy codes and QC's classes come from one table: for every spelling and for
    positions around both PARs of either build, X non-PAR <-> REGION_X, Y <-> REGION_Y,
    MT <-> REGION_MT, everything else diploid."""
    pos = np.array(sorted({p + d for region in PAR_REGIONS.values() for pair in region
                           for p in pair for d in (-1, 0, 1)}))
    code_of = {"x": REGION_X, "y": REGION_Y, "mt": REGION_MT}
    for names in NAMES.values():
        for name in names:
            classes = contig_classes(np.full(pos.size, name), pos, build)
            expected = [code_of.get(c, REGION_DIPLOID) for c in classes]
            np.testing.assert_array_equal(ploidy_regions(name, pos, build), expected)
            assert is_ploidy_aware(name) == (contig_class(name) in code_of)


def test_canonical_build__aliases_and_unknown():
    assert [canonical_build(b) for b in ("hg19", "b37", " GRCh37", "hg38", "B38", "NR", None)] \
        == ["GRCh37", "GRCh37", "GRCh37", "GRCh38", "GRCh38", None, None]
    with pytest.raises(ValueError, match="unknown genome build 'hg17'"):
        checked_build("hg17")
