"""Match score variants to the cohort's variants by chromosome, position and alleles.

Cohort variants (``variants``): one row per ingested variant with columns ``chrom`` (str),
``pos`` (int), ``ref``, ``alt`` (ALT = A1 = the allele whose dosage the .bed holds),
``alt_freq`` (float, over QC-passed samples) and ``pass`` (bool, variant QC).

Every score line gets exactly one ``status`` (the rules, applied in this order):

``non_additive``       dominant/recessive weight: an additive score cannot use it.
``no_position``        the line has no (harmonised) position.
``missing``            no cohort variant at chrom:pos.
``allele_mismatch``    cohort variants at chrom:pos, none with these alleles (also after a
                       strand flip).
``multiallelic``       the best match is not unique: several cohort variants at the position
                       fit equally well (e.g. unknown other allele at a split multi-allelic site).
``ambiguous_excluded`` A/T or C/G SNP whose strand cannot be told (always without
                       ``keep_ambiguous``; with it, when either frequency is in [0.4, 0.6] or
                       the score has no effect-allele frequency).
``duplicate``          two or more score lines match the same cohort variant: all are excluded
                       (no line is preferred over another).
``failed_qc``          the cohort variant failed variant QC.
``same``               effect = ALT, other = REF.
``swapped``            effect = REF, other = ALT.
``flipped``            complement(effect) = ALT, complement(other) = REF (non-ambiguous SNPs).
``flipped_swapped``    complement(effect) = REF, complement(other) = ALT.

Candidates are ranked same/swapped before flipped/flipped_swapped (the order of pgscatalog-match):
an allele pair that matches without a flip is never flipped; at equal rank a QC-passed cohort
variant is preferred to a failed one (e.g. a duplicate record). Strand flips apply to SNPs only.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohortgen.errors import InputError

MATCHED = ("same", "swapped", "flipped", "flipped_swapped")
EXCLUDED = ("non_additive", "no_position", "missing", "allele_mismatch", "multiallelic",
            "ambiguous_excluded", "duplicate", "failed_qc")
COMPLEMENT = str.maketrans("ACGT", "TGCA")
AMBIGUOUS_FREQ = (0.4, 0.6)
"""An ambiguous SNP keeps its orientation only if both frequencies lie outside this range."""

_RANK = {"same": 0, "swapped": 0, "flipped": 1, "flipped_swapped": 1}
_OPPOSITE = {"same": "flipped_swapped", "swapped": "flipped", "flipped": "swapped",
             "flipped_swapped": "same"}


@dataclass(frozen=True)
class MatchResult:
    """``lines``: one row per score line (input order) with ``status``, ``variant`` (row of the
    cohort table, -1 when unmatched), ``effect_is_alt`` (bool) and ``ambiguous_kept``; ``used``:
    the matched lines only. ``counts``: lines per status plus totals and ``overlap``."""

    lines: pd.DataFrame
    counts: dict

    @property
    def used(self) -> pd.DataFrame:
        return self.lines.loc[self.lines["status"].isin(MATCHED)]


def complement(alleles: pd.Series) -> pd.Series:
    """Base-wise complement of allele strings (A<->T, C<->G)."""
    return alleles.str.translate(COMPLEMENT)


def is_ambiguous(a: pd.Series, b: pd.Series) -> pd.Series:
    """True where (a, b) is an A/T or C/G SNP: its complement is the same pair."""
    return (a.str.len() == 1) & (b.str.len() == 1) & (complement(a) == b)


def _orientation(ea, oa, ref, alt) -> pd.Series:
    """Match type of each candidate pair (see module docstring); '' where alleles do not fit.

    ``oa`` may be '' (unknown: only the effect allele is compared) or 'A/G' (several inferred
    other alleles: any of them may fit).
    """
    oa_fits = {}
    for name, allele in (("ref", ref), ("alt", alt)):
        fits = (oa == "") | (oa == allele)
        several = oa.str.contains("/", regex=False)
        if several.any():
            options = oa.str.split("/")
            fits |= several & pd.Series([a in o for a, o in zip(allele, options, strict=True)],
                                        index=oa.index)
        oa_fits[name] = fits
    snp = (ea.str.len() == 1) & (ref.str.len() == 1) & (alt.str.len() == 1)
    cea, coa = complement(ea), complement(oa)
    coa_fits = {"ref": (oa == "") | (coa == ref), "alt": (oa == "") | (coa == alt)}
    kind = pd.Series("", index=ea.index, dtype=object)
    kind = kind.mask(snp & (cea == ref) & coa_fits["alt"], "flipped_swapped")
    kind = kind.mask(snp & (cea == alt) & coa_fits["ref"], "flipped")
    kind = kind.mask((ea == ref) & oa_fits["alt"], "swapped")
    return kind.mask((ea == alt) & oa_fits["ref"], "same")


def _candidates(score: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Every (score line, cohort variant) pair at the same chrom:pos with its match type."""
    left = score[["chrom", "pos", "effect_allele", "other_allele"]].reset_index(names="row")
    right = variants[["chrom", "pos", "ref", "alt", "pass"]].reset_index(names="variant")
    pairs = left.merge(right, on=["chrom", "pos"], how="inner")
    pairs["kind"] = _orientation(pairs["effect_allele"], pairs["other_allele"], pairs["ref"],
                                 pairs["alt"])
    pairs["rank"] = pairs["kind"].map(_RANK).fillna(9) + np.where(pairs["pass"], 0.0, 0.5)
    return pairs


def _best(pairs: pd.DataFrame) -> pd.DataFrame:
    """Per score line, its best-ranked fitting candidate and how many tie with it."""
    fitting = pairs.loc[pairs["kind"] != ""]
    best_rank = fitting.groupby("row")["rank"].transform("min")
    top = fitting.loc[fitting["rank"] == best_rank]
    n_top = top.groupby("row")["variant"].transform("size")
    return top.assign(n_top=n_top).drop_duplicates("row")


def _on_ambiguous_variant(lines: pd.DataFrame, variants: pd.DataFrame) -> pd.Series:
    """True for matched lines whose cohort variant is an A/T or C/G SNP."""
    matched = lines["status"].isin(MATCHED)
    idx = lines["variant"].where(matched, 0).to_numpy()
    ref = pd.Series(variants["ref"].to_numpy(object)[idx], index=lines.index)
    alt = pd.Series(variants["alt"].to_numpy(object)[idx], index=lines.index)
    return matched & is_ambiguous(ref, alt)


def _resolve_ambiguous(lines, variants, keep_ambiguous: bool) -> pd.Series:
    """Status of matched A/T, C/G lines: kept orientation, opposite one, or excluded."""
    ambiguous = _on_ambiguous_variant(lines, variants)
    status = lines["status"].where(~ambiguous, "ambiguous_excluded")
    if not keep_ambiguous or not ambiguous.any():
        return status
    rows = lines.index[ambiguous]
    alt_freq = variants["alt_freq"].to_numpy(float)[lines.loc[rows, "variant"].to_numpy()]
    as_read = lines.loc[rows, "status"].isin(["same", "flipped"]).to_numpy()
    cohort_f = np.where(as_read, alt_freq, 1.0 - alt_freq)
    score_f = lines.loc[rows, "effect_allele_frequency"].to_numpy(float)
    lo, hi = AMBIGUOUS_FREQ
    clear = ~((score_f >= lo) & (score_f <= hi)) & ~((cohort_f >= lo) & (cohort_f <= hi))
    clear &= np.isfinite(score_f) & np.isfinite(cohort_f)
    agree = (cohort_f > 0.5) == (score_f > 0.5)
    read = lines.loc[rows, "status"].to_numpy(object)
    chosen = np.where(agree, read, [_OPPOSITE[s] for s in read])
    status.loc[rows] = np.where(clear, chosen, "ambiguous_excluded")
    return status


def match_variants(score: pd.DataFrame, variants: pd.DataFrame,
                   keep_ambiguous: bool = False) -> MatchResult:
    """Match score lines (:data:`cohortgen.io.scorefile.TABLE_COLUMNS`) to cohort variants.

    Returns a :class:`MatchResult`; ``effect_is_alt`` is True for same/flipped (the effect
    allele's dosage is the .bed A1 dosage) and False for swapped/flipped_swapped (2 − dosage).
    """
    score = score.reset_index(drop=True)
    variants = variants.reset_index(drop=True)
    pairs = _candidates(score, variants)
    best = _best(pairs).set_index("row")
    lines = score.copy()
    lines["variant"] = best["variant"].reindex(lines.index).fillna(-1).astype(np.int64)
    status = best["kind"].reindex(lines.index).fillna("").astype(object)
    status = status.mask(best["n_top"].reindex(lines.index).fillna(0) > 1, "multiallelic")
    at_position = lines.index.isin(pairs["row"])
    status = status.mask(status.eq("") & at_position, "allele_mismatch")
    status = status.mask(status.eq(""), "missing")
    status = status.mask(lines["pos"] < 0, "no_position")
    lines["status"] = status.mask(lines["non_additive"], "non_additive")
    lines.loc[~lines["status"].isin(MATCHED), "variant"] = -1
    lines["status"] = _resolve_ambiguous(lines, variants, keep_ambiguous)
    lines["ambiguous_kept"] = _on_ambiguous_variant(lines, variants)
    lines["status"] = _mark_duplicates_and_qc(lines, variants)
    unused = ~lines["status"].isin(MATCHED)
    lines.loc[unused, "variant"] = -1
    lines.loc[unused, "ambiguous_kept"] = False
    lines["effect_is_alt"] = lines["status"].isin(["same", "flipped"])
    return MatchResult(lines, match_counts(lines["status"], lines["ambiguous_kept"]))


def _mark_duplicates_and_qc(lines: pd.DataFrame, variants: pd.DataFrame) -> pd.Series:
    """Status with ``duplicate`` (several lines on one cohort variant) and ``failed_qc``."""
    status = lines["status"].copy()
    matched = status.isin(MATCHED)
    shared = lines.loc[matched].groupby("variant")["variant"].transform("size") > 1
    status.loc[shared.index[shared.to_numpy()]] = "duplicate"
    matched = status.isin(MATCHED)
    passed = variants["pass"].to_numpy(bool)[lines.loc[matched, "variant"].to_numpy()]
    status.loc[lines.index[matched][~passed]] = "failed_qc"
    return status


def match_counts(status: pd.Series, ambiguous_kept: pd.Series) -> dict:
    """Lines per status, ``n_score_variants``, ``n_matched``, ``ambiguous_kept``, ``overlap``."""
    tally = status.value_counts()
    counts = {name: int(tally.get(name, 0)) for name in (*MATCHED, *EXCLUDED)}
    n_total = int(len(status))
    n_matched = sum(counts[name] for name in MATCHED)
    counts.update(n_score_variants=n_total, n_matched=n_matched,
                  ambiguous_kept=int(ambiguous_kept.sum()),
                  overlap=n_matched / n_total if n_total else 0.0)
    return counts


def check_overlap(counts: dict, min_overlap: float, path) -> None:
    """InputError when the fraction of score lines matched is below ``min_overlap``."""
    if counts["overlap"] < min_overlap:
        worst = sorted(((counts[k], k) for k in EXCLUDED if counts[k]), reverse=True)[:3]
        reasons = ", ".join(f"{k} {n}" for n, k in worst) or "none"
        raise InputError(
            f"{path}: only {counts['n_matched']} of {counts['n_score_variants']} score variants "
            f"({counts['overlap']:.1%}) match the cohort, below prs.min_overlap "
            f"{min_overlap:.0%} (largest losses: {reasons}); check the genome build, use the "
            "harmonised scoring file, or lower prs.min_overlap")
