"""Power of the allelic case-control test and the smallest detectable odds ratio; for a
quantitative trait, the smallest detectable per-allele effect.

Model (as the Genetic Association Study power calculator, Skol et al. 2006, one-stage design):
the risk allele has frequency ``maf`` in controls; with allelic odds ratio OR its frequency in
cases is p₁ = OR·p₀ / (1 + p₀(OR − 1)). The allelic test compares the 2·n_cases and
2·n_controls allele frequencies; its χ²₁ statistic has non-centrality
λ = (p₁ − p₀)² / (p₁(1 − p₁)/(2 n_cases) + p₀(1 − p₀)/(2 n_controls)),
and power = P(χ²₁(λ) > χ²₁ critical value at α). Logistic regression per allele has the same
asymptotic power for a multiplicative (allelic) model.

Quantitative trait (per-variant linear regression on n samples, additive model): a variant of
minor allele frequency f with per-allele effect b, in units of the trait's standard deviation,
explains q² = 2f(1 − f)b² of the trait's variance; the test's non-centrality is
λ = n q² / (1 − q²) (Cohen's f² = q² / (1 − q²) times n). The test is the exact t-test, so
power is read from the non-central F(1, n − 2, λ) (at α = 5e-8 and a few thousand samples
χ²₁(λ) would overstate it by about 0.01).

SciPy's ``stats`` and ``optimize`` are imported by the functions that use them: only the
``gwas-summary`` job computes power, and the other jobs importing this module (``gather-gwas``)
skip their import cost.
"""

import math

MAX_OR = 1e3
"""Detectable ORs above this are reported as not detectable (NaN)."""

MAX_NCP = 1e4
"""Largest non-centrality searched for a detectable quantitative effect."""


def case_allele_frequency(maf: float, odds_ratio: float) -> float:
    """Allele frequency in cases given the control frequency and the allelic odds ratio."""
    return odds_ratio * maf / (1.0 + maf * (odds_ratio - 1.0))


def allelic_ncp(n_cases: int, n_controls: int, maf: float, odds_ratio: float) -> float:
    """Non-centrality λ of the allelic χ²₁ test (see the module docstring)."""
    p0 = maf
    p1 = case_allele_frequency(maf, odds_ratio)
    variance = p1 * (1 - p1) / (2 * n_cases) + p0 * (1 - p0) / (2 * n_controls)
    return (p1 - p0) ** 2 / variance


def allelic_power(n_cases: int, n_controls: int, maf: float, odds_ratio: float,
                  alpha: float = 5e-8) -> float:
    """Power of the two-sided allelic test at level ``alpha``."""
    from scipy import stats

    critical = stats.chi2.isf(alpha, 1)
    return float(stats.ncx2.sf(critical, 1, allelic_ncp(n_cases, n_controls, maf, odds_ratio)))


def detectable_beta_sd(n: int, maf: float, alpha: float = 5e-8, power: float = 0.8) -> float:
    """Smallest per-allele effect (trait SD units) detected with ``power`` at ``alpha`` by a
    test on ``n`` samples; NaN for n ≤ 2 or when even λ = :data:`MAX_NCP` falls short."""
    if n <= 2 or not 0.0 < maf < 1.0:
        return math.nan
    from scipy import optimize, stats

    critical = stats.f.isf(alpha, 1, n - 2)

    def gap(ncp: float) -> float:
        return stats.ncf.sf(critical, 1, n - 2, ncp) - power

    if gap(MAX_NCP) < 0:
        return math.nan
    ncp = optimize.brentq(gap, 1e-9, MAX_NCP, xtol=1e-12, rtol=1e-14)
    q2 = ncp / (n + ncp)  # λ = n q² / (1 − q²) solved for q²
    return math.sqrt(q2 / (2.0 * maf * (1.0 - maf)))


def detectable_odds_ratio(n_cases: int, n_controls: int, maf: float, alpha: float = 5e-8,
                          power: float = 0.8) -> float:
    """Smallest OR > 1 detected with ``power`` at ``alpha``; NaN if none up to :data:`MAX_OR`
    (or no cases or controls)."""
    if min(n_cases, n_controls) <= 0 or not 0.0 < maf < 1.0:
        return math.nan
    from scipy import optimize

    def gap(log_or: float) -> float:
        return allelic_power(n_cases, n_controls, maf, math.exp(log_or), alpha) - power

    if gap(math.log(MAX_OR)) < 0:
        return math.nan
    return math.exp(optimize.brentq(gap, 1e-9, math.log(MAX_OR), xtol=1e-10, rtol=1e-12))
