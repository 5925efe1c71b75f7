"""Which rows go to Firth by default (score p < firth_p_threshold only, as REGENIE), and the
approximate Firth fit's Newton iteration (exact derivative of the modified score).

The routing default rests on bench/calibrate_firth_routing.py: on simulated nulls (unrelated and
family cohorts, 4% and 30% prevalence, MAC bins from 5), routing on p < 0.05 alone is as well
calibrated at 1e-3 and 1e-4 as adding the rows with < 10 expected minor alleles in the smaller
group, whose Firth p only replaces score p-values ≥ 0.05 and so cannot move a tail count.
"""

import math
from pathlib import Path

import numpy as np
import yaml
from scipy import special

from cohortgen.assoc.chunk import STATUSES, FallbackSettings, row_status
from cohortgen.kernels.firth import _approx_fit, _approx_state, firth_approx_batch

ROOT = Path(__file__).resolve().parents[1]


def test_row_status__default_routes_on_score_p_only():
    """Two rows with 0.3 expected minor alleles among the cases: the one with score p 0.5 keeps
    the score test, the one with p 0.01 goes to Firth."""
    stats = {"testable": np.ones((2, 1), bool), "p": np.array([[0.5], [0.01]])}
    mac, expected_minor = np.array([8.0, 8.0]), np.array([0.3, 0.3])
    status, firth = row_status(stats, 0, mac, expected_minor, FallbackSettings())
    assert firth.tolist() == [False, True]
    assert [STATUSES[code] for code in status] == ["OK", "OK"]
    _, firth = row_status(stats, 0, mac, expected_minor, FallbackSettings(firth_min_carriers=10))
    assert firth.tolist() == [True, True]


def test_firth_min_carriers__default_zero_in_schema_and_config():
    schema = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assoc = schema["properties"]["assoc"]["properties"]
    assert assoc["firth_min_carriers"]["default"] == 0
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    assert config["assoc"].get("firth_min_carriers", 0) == 0


def rare_null(rng, n, prevalence, maf):
    """(g, y, offset): one residualised rare dosage column, null phenotype, constant offset."""
    y = (rng.random(n) < prevalence).astype(np.float64)
    y[:2] = [1.0, 0.0]
    g = rng.binomial(2, maf, n).astype(np.float64)
    g[0] = 1.0  # a carrier among the cases
    offset = np.full(n, math.log(y.mean() / (1 - y.mean())))
    w = special.expit(offset) * (1 - special.expit(offset))
    return g - np.sum(w * g) / np.sum(w), y, offset


def test_approx_fit__newton_converges_in_few_iterations():
    """Rare variants (MAC ~ 2-30) at 4% and 30% cases, n = 2,000: at most 6 Newton iterations to
    |step| ≤ 1e-8 (the Fisher-scoring iteration before took up to 29, median 9-17 at MAF ≤ 0.002),
    and the same estimate as the Fisher-scoring twin in tests/test_kernels_firth.py."""
    rng = np.random.default_rng(3)
    iterations = []
    for prevalence in (0.04, 0.30):
        for maf in (0.0007, 0.002, 0.007):
            for _ in range(10):
                g, y, offset = rare_null(rng, 2_000, prevalence, maf)
                start = _approx_state(g, y, offset, 0.0)
                beta, ll, ll0, info, converged, n_iter = _approx_fit(g, y, offset, start, 100, 1e-8)
                assert converged
                assert math.isfinite(beta)
                assert ll >= ll0
                assert info > 0
                iterations.append(n_iter)
    assert max(iterations) <= 6, iterations


def test_firth_approx_batch__separation_converges_with_newton():
    """Every carrier a case: ℓ* is not concave far out, where the fit falls back to Fisher
    steps; it still converges to a finite estimate."""
    rng = np.random.default_rng(9)
    n = 1_000
    y = (rng.random(n) < 0.05).astype(np.float64)
    g = np.zeros(n)
    g[np.flatnonzero(y == 1)[:3]] = 1.0
    offset = np.full(n, math.log(y.mean() / (1 - y.mean())))
    beta, se, p, converged = firth_approx_batch((g - g.mean())[None, :], y, offset)
    assert converged.all()
    assert np.isfinite(beta).all()
    assert beta[0] > 1
    assert 0 < p[0] < 1e-2
