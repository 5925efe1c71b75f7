"""Match score variants to the cohort's variants by chromosome, position and alleles.

Cohort variants (``variants``): one row per ingested variant with columns ``chrom`` (str),
``pos`` (int), ``ref``, ``alt`` (ALT = A1 = the allele whose dosage the .bed holds),
``alt_freq`` (float), ``score_pass`` (bool: passes the scoring filter, see
:func:`cohortgen.prs.stage.cohort_variants`), ``pass`` (bool: passes the GWAS variant QC, which
adds HWE, MAF/MAC and differential missingness) and optionally ``diploid`` (bool, default
True: every sample carries two alleles, i.e. not non-PAR chrX, chrY or MT).

Every score line gets exactly one ``status`` (the rules, applied in this order):

``no_position``        the line has no (harmonised) position.
``missing``            no cohort variant at chrom:pos.
``allele_mismatch``    cohort variants at chrom:pos, none with these alleles (also after a
                       strand flip).
``multiallelic``       the best match is not unique: several cohort variants at the position
                       fit equally well (e.g. unknown other allele at a split multi-allelic site).
``failed_filter``      the best-fitting cohort variant fails the scoring filter (call rate,
                       duplicate) and no variant passing it fits.
``not_diploid``        a dominant or recessive weight on a locus that is not diploid for every
                       sample (``plink2 --score dominant|recessive`` refuses chrX).
``ambiguous_excluded`` A/T or C/G SNP whose strand cannot be told (always without
                       ``keep_ambiguous``; with it, when either frequency is in [0.4, 0.6] or
                       the score has no effect-allele frequency).
``duplicate``          two or more score lines match the same cohort variant: all are excluded
                       (no line is preferred over another).
``same``               effect = ALT, other = REF.
``swapped``            effect = REF, other = ALT.
``flipped``            complement(effect) = ALT, complement(other) = REF (non-ambiguous SNPs).
``flipped_swapped``    complement(effect) = REF, complement(other) = ALT.

Candidates are ranked same/swapped before flipped/flipped_swapped (the order of pgscatalog-match):
an allele pair that matches without a flip is never flipped; every variant passing the scoring
filter ranks before every failing one (so a failing duplicate record never displaces its first
copy). Strand flips apply to SNPs whose alleles are all A, C, G or T: a line or variant with
other allele codes (``I``/``D``, ``0``, ``N``, symbolic) matches as is or swapped only.
A matched variant that fails the GWAS variant QC is still used; ``failed_gwas_qc`` says so.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohortgen.errors import InputError
from cohortgen.genome import site_chromosome

MATCHED = ("same", "swapped", "flipped", "flipped_swapped")
EXCLUDED = ("no_position", "missing", "allele_mismatch", "multiallelic", "failed_filter",
            "not_diploid", "ambiguous_excluded", "duplicate")
COMPLEMENT = str.maketrans("ACGT", "TGCA")
NUCLEOTIDE = r"^[ACGT]$"
"""A SNP allele that has a complement on the other strand."""
AMBIGUOUS_FREQ = (0.4, 0.6)
"""An ambiguous SNP keeps its orientation only if both frequencies lie outside this range."""

_RANK = {"same": 0, "swapped": 0, "flipped": 1, "flipped_swapped": 1}
_FILTER_FAILED_RANK = 10
"""Added to the rank of a candidate failing the scoring filter: after every passing one."""
_OPPOSITE = {"same": "flipped_swapped", "swapped": "flipped", "flipped": "swapped",
             "flipped_swapped": "same"}


@dataclass(frozen=True)
class MatchResult:
    """``lines``: one row per score line (input order) with ``status``, ``variant`` (row of the
    cohort table, -1 when unmatched), ``candidate`` (the variant the line matched before the
    ``failed_filter``, ``not_diploid``, ``ambiguous_excluded`` and ``duplicate`` exclusions;
    -1 when none fits or several tie), ``effect_is_alt`` (bool), ``ambiguous_kept`` and
    ``failed_gwas_qc`` (bool, matched lines only); ``used``: the matched lines only.
    ``counts``: lines per status plus totals, ``matched_failed_gwas_qc`` and ``overlap``."""

    lines: pd.DataFrame
    counts: dict

    @property
    def used(self) -> pd.DataFrame:
        return self.lines.loc[self.lines["status"].isin(MATCHED)]


def complement(alleles: pd.Series) -> pd.Series:
    """Base-wise complement of allele strings (A<->T, C<->G)."""
    return alleles.str.translate(COMPLEMENT)


def is_nucleotide(alleles: pd.Series) -> pd.Series:
    """True where the allele is one of A, C, G, T (a SNP allele with a complement)."""
    return alleles.str.fullmatch(NUCLEOTIDE).fillna(False).astype(bool)


def is_ambiguous(a: pd.Series, b: pd.Series) -> pd.Series:
    """True where (a, b) is an A/T or C/G SNP: its complement is the same pair."""
    return is_nucleotide(a) & is_nucleotide(b) & (complement(a) == b)


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
    snp = (is_nucleotide(ea) & is_nucleotide(ref) & is_nucleotide(alt)
           & (is_nucleotide(oa) | (oa == "") | oa.str.contains("/", regex=False)))
    cea, coa = complement(ea), complement(oa)
    coa_fits = {"ref": (oa == "") | (coa == ref), "alt": (oa == "") | (coa == alt)}
    kind = pd.Series("", index=ea.index, dtype=object)
    kind = kind.mask(snp & (cea == ref) & coa_fits["alt"], "flipped_swapped")
    kind = kind.mask(snp & (cea == alt) & coa_fits["ref"], "flipped")
    kind = kind.mask((ea == ref) & oa_fits["alt"], "swapped")
    return kind.mask((ea == alt) & oa_fits["ref"], "same")


def _site_chromosomes(chrom: pd.Series) -> pd.Series:
    """:func:`cohortgen.genome.site_chromosome` of canonical chromosome names (as
    :func:`cohortgen.io.scorefile.canonical_chrom` gives them)."""
    return chrom.map({name: site_chromosome(name, "gwas_ssf") for name in chrom.unique()})


def _candidates(score: pd.DataFrame, variants: pd.DataFrame) -> pd.DataFrame:
    """Every (score line, cohort variant) pair at the same chrom:pos with its match type; the
    chromosomes are compared as :func:`cohortgen.genome.site_chromosome` names (a score line on
    X finds a cohort variant on PLINK's XY at its position)."""
    left = score[["chrom", "pos", "effect_allele", "other_allele"]].reset_index(names="row")
    right = variants[["chrom", "pos", "ref", "alt", "score_pass"]].reset_index(names="variant")
    left["site"] = _site_chromosomes(left["chrom"])
    right["site"] = _site_chromosomes(right["chrom"])
    pairs = left.drop(columns="chrom").merge(right.drop(columns="chrom"), on=["site", "pos"],
                                             how="inner")
    pairs["kind"] = _orientation(pairs["effect_allele"], pairs["other_allele"], pairs["ref"],
                                 pairs["alt"])
    pairs["rank"] = (pairs["kind"].map(_RANK).fillna(9)
                     + np.where(pairs["score_pass"], 0, _FILTER_FAILED_RANK))
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
    lines["status"] = status.mask(lines["pos"] < 0, "no_position")
    lines.loc[~lines["status"].isin(MATCHED), "variant"] = -1
    lines["status"] = _filter_and_ploidy(lines, variants)
    lines["status"] = _resolve_ambiguous(lines, variants, keep_ambiguous)
    lines["ambiguous_kept"] = _on_ambiguous_variant(lines, variants)
    lines["status"] = _mark_duplicates(lines)
    matched = lines["status"].isin(MATCHED)
    lines["candidate"] = lines["variant"]
    lines.loc[~matched, "variant"] = -1
    lines.loc[~matched, "ambiguous_kept"] = False
    lines["effect_is_alt"] = lines["status"].isin(["same", "flipped"])
    gwas_pass = variants["pass"].to_numpy(bool)[lines["variant"].clip(lower=0).to_numpy()]
    lines["failed_gwas_qc"] = matched.to_numpy() & ~gwas_pass
    counts = match_counts(lines["status"], lines["ambiguous_kept"])
    counts["matched_failed_gwas_qc"] = int(lines["failed_gwas_qc"].sum())
    return MatchResult(lines, counts)


def _filter_and_ploidy(lines: pd.DataFrame, variants: pd.DataFrame) -> pd.Series:
    """Status with ``failed_filter`` (the matched variant fails the scoring filter) and
    ``not_diploid`` (a dominant/recessive weight on a locus not diploid for everyone)."""
    status = lines["status"].copy()
    matched = status.isin(MATCHED).to_numpy()
    idx = lines["variant"].clip(lower=0).to_numpy()
    passing = variants["score_pass"].to_numpy(bool)[idx]
    diploid = (variants["diploid"].to_numpy(bool)[idx] if "diploid" in variants.columns
               else np.ones(len(lines), dtype=bool))
    dominance = lines["effect_type"].ne("additive").to_numpy()
    status[matched & ~passing] = "failed_filter"
    status[matched & passing & dominance & ~diploid] = "not_diploid"
    return status


def _mark_duplicates(lines: pd.DataFrame) -> pd.Series:
    """Status with ``duplicate`` where several matched lines share one cohort variant."""
    status = lines["status"].copy()
    matched = status.isin(MATCHED)
    shared = lines.loc[matched].groupby("variant")["variant"].transform("size") > 1
    status.loc[shared.index[shared.to_numpy()]] = "duplicate"
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
