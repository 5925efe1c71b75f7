"""Saddlepoint p-values vs scipy root-finding + Lugannani–Rice, and vs exact enumeration."""

import itertools

import numpy as np
import pytest
from scipy import optimize, special, stats

from cohortgen.kernels.spa import spa_p_values


def residualised_genotype(g, X, mu):
    """g − X(XᵀWX)⁻¹XᵀWg with W = diag(μ(1 − μ))."""
    w = mu * (1 - mu)
    return g - X @ np.linalg.solve(X.T @ (X * w[:, None]), X.T @ (w * g))


def small_design(seed: int, n: int, carriers: int, intercept: float):
    """(g̃ (n,), η (n,)) of a rare variant (one homozygote) and two covariates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    eta = intercept + x @ [0.5, -0.4]
    g = np.zeros(n)
    g[:carriers] = 1.0
    g[0] = 2.0
    return residualised_genotype(g, np.column_stack([np.ones(n), x]), special.expit(eta)), eta


def reference_tail(u, g, eta, v_rest=0.0):
    """P(U ≥ u) (u > 0) or P(U ≤ u) (u < 0) of U = Σ g(y − μ) + N(0, v_rest): scipy brentq on
    K'(t) = u, then Lugannani–Rice."""
    mu = special.expit(eta)

    def cgf(t):
        exact = np.logaddexp(0, eta + t * g) - np.logaddexp(0, eta) - t * mu * g
        return np.sum(exact) + 0.5 * t * t * v_rest

    def cgf1(t):
        return np.sum(g * (special.expit(eta + t * g) - mu)) + t * v_rest

    def cgf2(t):
        q = special.expit(eta + t * g)
        return np.sum(g * g * q * (1 - q)) + v_rest

    t = optimize.brentq(lambda s: cgf1(s) - u, -1e6, 1e6, xtol=1e-14, rtol=1e-14)
    w = np.sign(t) * np.sqrt(2 * (t * u - cgf(t)))
    v = t * np.sqrt(cgf2(t))
    if u > 0:
        return stats.norm.sf(w) + stats.norm.pdf(w) * (1 / v - 1 / w)
    return stats.norm.cdf(w) - stats.norm.pdf(w) * (1 / v - 1 / w)


def exact_distribution(g, eta):
    """(sorted values of U = Σ g(y − μ) over all 2ⁿ outcomes, their probabilities)."""
    mu = special.expit(eta)
    Y = np.array(list(itertools.product([0.0, 1.0], repeat=len(g))))
    prob = np.exp(Y @ np.log(mu) + (1 - Y) @ np.log1p(-mu))
    U = (Y - mu) @ g
    order = np.argsort(U)
    return U[order], prob[order]


def exact_two_sided(values, prob, u):
    """P(U ≥ |u|) + P(U ≤ −|u|) from the enumerated distribution (1e-12 slack for ties)."""
    cdf = np.concatenate([[0.0], np.cumsum(prob)])
    upper = 1 - cdf[np.searchsorted(values, np.abs(u) - 1e-12, side="left")]
    lower = cdf[np.searchsorted(values, -np.abs(u) + 1e-12, side="right")]
    return upper + lower


def test_spa_p_values__matches_scipy_root_and_lugannani_rice():
    """Both tails computed independently (brentq to 1e-14): agreement to 1e-8 relative, from
    z = 2 to z = 12, for a rare and a common variant at 5% and 30% prevalence."""
    rng = np.random.default_rng(1)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    for freq, intercept in ((0.005, -3.0), (0.2, -0.8)):
        eta = X @ [intercept, 0.4, -0.3]
        g = residualised_genotype(rng.binomial(2, freq, n).astype(float), X, special.expit(eta))
        sd = np.sqrt(np.sum(special.expit(eta) * (1 - special.expit(eta)) * g * g))
        u = np.array([2.0, -2.5, 4.0, -6.0, 9.0, 12.0]) * sd
        steps = np.stack([g * (1 - special.expit(eta)), -g * special.expit(eta)])
        inside = min(steps.max(axis=0).sum(), -steps.min(axis=0).sum())  # both tails' roots
        u = u[np.abs(u) < 0.99 * inside]
        assert len(u) >= 4
        p, ok = spa_p_values(np.repeat(g[None], len(u), axis=0), eta, u)
        assert ok.all()
        expected = [reference_tail(abs(x), g, eta) + reference_tail(-abs(x), g, eta) for x in u]
        np.testing.assert_allclose(p, expected, rtol=1e-8)


def test_spa_p_values__carriers_exact_rest_normal():
    """exact = carriers: equal to the independent evaluation with the non-carriers' part as
    N(0, Σ μ(1 − μ) g̃²) (1e-8), and within 3% of the all-exact SPA (rare variants, n = 2,000;
    measured ≤ 0.5%)."""
    rng = np.random.default_rng(9)
    n = 2000
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    eta = X @ [-3.0, 0.4, -0.3]
    mu = special.expit(eta)
    for carriers in (3, 10, 40):
        g_raw = np.zeros(n)
        g_raw[rng.choice(n, carriers, replace=False)] = 1.0
        g = residualised_genotype(g_raw, X, mu)
        sd = np.sqrt(np.sum(mu * (1 - mu) * g * g))
        u = np.array([2.5, -3.0, 5.0]) * sd
        exact = np.repeat((g_raw != 0)[None], len(u), axis=0)
        G = np.repeat(g[None], len(u), axis=0)
        fast, ok = spa_p_values(G, eta, u, exact=exact)
        assert ok.all()
        c = g_raw != 0
        v_rest = np.sum(mu[~c] * (1 - mu[~c]) * g[~c] ** 2)
        expected = [reference_tail(abs(x), g[c], eta[c], v_rest)
                    + reference_tail(-abs(x), g[c], eta[c], v_rest) for x in u]
        np.testing.assert_allclose(fast, expected, rtol=1e-8)
        np.testing.assert_allclose(fast, spa_p_values(G, eta, u)[0], rtol=0.03)


@pytest.mark.parametrize(("seed", "carriers", "intercept"), [(3, 5, -1.8), (4, 3, -2.5),
                                                           (5, 8, -1.2)])
def test_spa_p_values__close_to_exact_enumeration(seed, carriers, intercept):
    """n = 16, all 2¹⁶ outcomes: at every attainable |u| ≥ 2 SD with exact p in [1e-6, 1e-2],
    SPA's |log10(p / exact)| has median ≤ 0.12 and max ≤ 0.6 (measured 0.08 / 0.11 / 0.01 and
    0.22 / 0.50 / 0.24: a discrete U, no continuity correction) and is ≥ 5 times smaller in
    median than the normal approximation's (measured 1.7 / 1.8 / 0.14)."""
    g, eta = small_design(seed, 16, carriers, intercept)
    values, prob = exact_distribution(g, eta)
    mu = special.expit(eta)
    sd = np.sqrt(np.sum(mu * (1 - mu) * g * g))
    u = values[np.abs(values) >= 2 * sd]
    exact = exact_two_sided(values, prob, u)
    keep = (exact > 1e-6) & (exact < 1e-2)
    u, exact = u[keep], exact[keep]
    assert len(u) > 1000
    p, ok = spa_p_values(np.repeat(g[None], len(u), axis=0), eta, u)
    assert ok.all()
    spa_error = np.abs(np.log10(p / exact))
    normal_error = np.abs(np.log10(2 * stats.norm.sf(np.abs(u) / sd) / exact))
    assert np.median(spa_error) <= 0.12
    assert spa_error.max() <= 0.6
    assert np.median(spa_error) * 5 <= np.median(normal_error)


def test_spa_p_values__support_end_is_the_exact_outcome_probability():
    """At the largest attainable U (carriers cases, non-carriers controls) the upper tail is that
    one outcome's probability, and the lower tail beyond the smallest U is 0: the sum is exact."""
    g, eta = small_design(6, 12, 2, -2.0)
    values, prob = exact_distribution(g, eta)
    top = values[-1]
    assert -top < values[0]
    p, ok = spa_p_values(g[None], eta, np.array([top]))
    assert ok.all()
    np.testing.assert_allclose(p, exact_two_sided(values, prob, np.array([top])), rtol=1e-10)


def test_spa_p_values__shape_mismatch_raises():
    with pytest.raises(ValueError, match="do not match"):
        spa_p_values(np.zeros((2, 5)), np.zeros(4), np.zeros(2))
