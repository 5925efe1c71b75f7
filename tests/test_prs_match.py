"""Score-to-cohort variant matching: every status, exact counts, overlap check."""

import numpy as np
import pandas as pd
import pytest

from cohortgen.errors import InputError
from cohortgen.prs.match import check_overlap, match_variants

VARIANTS = pd.DataFrame(
    [("1", 100, "A", "G", 0.3, True), ("1", 200, "C", "T", 0.3, True),
     ("1", 300, "A", "C", 0.3, True), ("1", 400, "G", "T", 0.3, True),
     ("1", 500, "A", "T", 0.2, True), ("1", 600, "C", "G", 0.2, True),
     ("1", 650, "A", "T", 0.45, True), ("1", 700, "A", "G", 0.3, False),
     ("1", 800, "A", "G", 0.3, True), ("1", 800, "A", "C", 0.3, True),
     ("1", 900, "A", "G", 0.3, True), ("2", 100, "A", "G", 0.3, True),
     ("2", 100, "A", "G", 0.3, False), ("1", 950, "A", "G", 0.3, True),
     ("X", 5_000_000, "A", "G", 0.3, True)],
    columns=["chrom", "pos", "ref", "alt", "alt_freq", "score_pass"]).assign(
        diploid=lambda t: t["chrom"] != "X", **{"pass": lambda t: t["pos"] != 950})

# (chrom, pos, effect, other, eaf, effect type, expected status, expected variant)
LINES = [
    ("1", 100, "G", "A", np.nan, "additive", "same", 0),
    ("1", 200, "C", "T", np.nan, "additive", "swapped", 1),
    ("1", 300, "G", "T", np.nan, "additive", "flipped", 2),
    ("1", 400, "C", "A", np.nan, "additive", "flipped_swapped", 3),
    ("1", 500, "T", "A", 0.2, "additive", "ambiguous_excluded", -1),
    ("1", 600, "G", "C", 0.8, "additive", "ambiguous_excluded", -1),
    ("1", 650, "T", "A", 0.45, "additive", "ambiguous_excluded", -1),
    ("1", 700, "G", "A", np.nan, "additive", "failed_filter", -1),
    ("1", 800, "A", "", np.nan, "additive", "multiallelic", -1),
    ("1", 800, "C", "A", np.nan, "additive", "same", 9),
    ("1", 900, "G", "A", np.nan, "additive", "duplicate", -1),
    ("1", 900, "A", "G", np.nan, "additive", "duplicate", -1),
    ("1", 1000, "G", "A", np.nan, "additive", "missing", -1),
    ("1", 100, "AT", "A", np.nan, "additive", "allele_mismatch", -1),
    ("X", 5_000_000, "G", "A", np.nan, "recessive", "not_diploid", -1),
    ("", -1, "C", "T", np.nan, "additive", "no_position", -1),
    ("2", 100, "G", "A", np.nan, "additive", "same", 11),
    ("1", 950, "G", "A", np.nan, "dominant", "same", 13),
]


def _score() -> pd.DataFrame:
    table = pd.DataFrame([line[:6] for line in LINES],
                         columns=["chrom", "pos", "effect_allele", "other_allele",
                                  "effect_allele_frequency", "effect_type"])
    return table.assign(weight=np.arange(len(LINES)) + 1.0, line=np.arange(len(LINES)) + 2)


def test_match_variants__every_status():
    result = match_variants(_score(), VARIANTS)
    assert result.lines["status"].tolist() == [line[6] for line in LINES]
    assert result.lines["variant"].tolist() == [line[7] for line in LINES]
    assert result.used["effect_is_alt"].tolist() == [True, False, True, False, True, True, True]
    assert result.lines["failed_gwas_qc"].tolist() == [False] * 17 + [True]
    counts = result.counts
    assert {k: counts[k] for k in ("same", "swapped", "flipped", "flipped_swapped")} == {
        "same": 4, "swapped": 1, "flipped": 1, "flipped_swapped": 1}
    assert counts["matched_failed_gwas_qc"] == 1
    assert counts["ambiguous_excluded"] == 3
    assert counts["ambiguous_kept"] == 0
    assert counts["duplicate"] == 2
    assert counts["multiallelic"] == 1
    assert counts["n_score_variants"] == 18
    assert counts["n_matched"] == 7
    assert counts["overlap"] == pytest.approx(7 / 18)


def test_match_variants__keep_ambiguous_by_frequency():
    result = match_variants(_score(), VARIANTS, keep_ambiguous=True)
    lines = result.lines.set_index("pos").loc[[500, 600, 650]]
    assert lines["status"].tolist() == ["same", "flipped_swapped", "ambiguous_excluded"]
    assert lines["effect_is_alt"].tolist() == [True, False, False]
    assert result.counts["ambiguous_kept"] == 2
    assert result.counts["ambiguous_excluded"] == 1


def test_match_variants__ambiguous_without_frequency_excluded():
    score = _score().assign(effect_allele_frequency=np.nan)
    result = match_variants(score, VARIANTS, keep_ambiguous=True)
    assert result.counts["ambiguous_excluded"] == 3


def test_check_overlap__below_minimum_names_file():
    counts = match_variants(_score(), VARIANTS).counts
    with pytest.raises(InputError, match=r"PGS1\.txt: only 7 of 18 .*38\.9%.*prs\.min_overlap"):
        check_overlap(counts, 0.75, "PGS1.txt")
    check_overlap(counts, 0.3, "PGS1.txt")


def test_score_targets__default_and_listed():
    from cohortgen.prs.targets import score_file, score_targets

    scores = {"a": "a.txt", "b": {"file": "b.txt", "diseases": ["asthma"]}, "c": {"file": "c"}}
    assert score_targets(scores, ["x", "y"]) == ["a=x,y", "b=asthma", "c=x,y"]
    assert [score_file(e) for e in scores.values()] == ["a.txt", "b.txt", "c"]
