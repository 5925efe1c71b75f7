"""LDpred2-auto Gibbs sampler (Privé, Arbel & Vilhjálmsson 2020, Bioinformatics 36:5424).

Model on standardised genotypes and phenotype: β_j = 0 with probability 1 − p, else
β_j ~ N(0, h² / (M p)); marginal effects β̂ ~ N(R β, R / n). One sweep visits every variant in
order; with the residual marginal effect β̃_j = β̂_j − s·Σ_{k≠j} R_jk β_k (s = ``shrink``, the
paper's later ``shrink_corr`` on off-diagonal LD), C1 = n h² / (M p), C2 = C1 / (1 + C1):

    postp_j = 1 / (1 + (1 − p)/p · √(1 + C1) · exp(−n C2 β̃_j² / 2))
    β_j ~ N(C2 β̃_j, C2 / n) with probability postp_j, else 0.

After each sweep p ~ Beta(1 + #nonzero, 1 + M − #nonzero) clipped to [p_lo, p_hi] and
h² = βᵀ R_s β (R_s: off-diagonal scaled by s), floored at ``h2_min``. A chain whose h² exceeds
``h2_max`` or becomes non-finite has diverged and stops. After burn-in the Rao-Blackwellised
posterior means postp_j · C2 β̃_j are averaged (as bigsnpr). M counts variants with R_jj > 0;
variants with R_jj = 0 (monomorphic in the LD samples) are skipped and stay 0.

LD is the flat block layout of :mod:`cohortgen.kernels.ld_matrix` (corr, offsets, bounds),
with each row's span of nonzero columns (:func:`row_spans`): when β_j changes, R·β is updated
over that span only (banded LD has exact zeros outside it, so the result is the same).
Burn-in sweeps skip exp for variants that a cheap bound shows to be excluded by their uniform
draw (:func:`surely_excluded`); the draws and decisions are the same as with exp.
Per-variant random numbers come from the chain's own SFC64 generator (Doty-Humphrey's small
fast counting generator, as NumPy's ``SFC64``; state uint64 (4,) a, b, c, counter, seeded by
:func:`rng_state`): per sweep, one uniform per polymorphic variant in order, followed by one
normal (Box-Muller) only when that variant is included. The per-sweep p ~ Beta draw uses
Numba's per-thread generator, seeded at kernel entry. One call is thus deterministic, and
several calls may run in parallel threads (the kernel releases the GIL). :func:`rng_state`,
:func:`draw_uniform` and :func:`draw_normal` expose the generator, so a Python twin can replay a
sweep's draws exactly.
"""

import numpy as np
from numba import uint64

from cohortgen.kernels._numba import kernel
from cohortgen.kernels.linalg_small import expit


@kernel
def gibbs_auto(
    corr,
    offsets,
    bounds,
    spans,
    beta_hat,
    n,
    h2_init,
    p_init,
    burn_in,
    num_iter,
    shrink,
    p_lo,
    p_hi,
    h2_min,
    h2_max,
    seed,
):
    """Run one LDpred2-auto chain.

    corr: float64 or float32 flat blocks; offsets, bounds: int64 (b + 1,); spans: int64 (m, 2)
    from :func:`row_spans`; beta_hat: float64 (m,) standardised marginal effects; n: sample
    size (float). Returns (beta_mean float64 (m,), postp_mean float64 (m,), path_p float64
    (burn_in + num_iter,), path_h2 (same),
    n_done int: sweeps completed; < burn_in + num_iter means the chain diverged; paths are NaN
    after it). Means are over post-burn-in sweeps (zeros if none completed).
    """
    np.random.seed(seed)
    state = rng_state(seed)
    m = beta_hat.shape[0]
    n_total = burn_in + num_iter
    curr = np.zeros(m)
    dotprods = np.zeros(m)  # R·curr with the unshrunk R, diagonal included
    beta_sum = np.zeros(m)
    postp_sum = np.zeros(m)
    path_p = np.full(n_total, np.nan)
    path_h2 = np.full(n_total, np.nan)
    diag = block_diagonal(corr, offsets, bounds)
    n_poly = np.count_nonzero(diag > 0.0)
    if n_poly == 0:
        return beta_sum, postp_sum, path_p, path_h2, n_total
    p = p_init
    h2 = h2_init
    for it in range(n_total):
        n_causal = gibbs_sweep(corr, offsets, bounds, spans, diag, beta_hat, curr, dotprods,
                               state, n, h2, p, n_poly, shrink, beta_sum, postp_sum,
                               it >= burn_in)
        p = min(max(np.random.beta(1.0 + n_causal, 1.0 + n_poly - n_causal), p_lo), p_hi)
        h2_est = 0.0
        for j in range(m):
            if curr[j] != 0.0:  # a zero term adds exactly nothing
                h2_est += curr[j] * (shrink * (dotprods[j] - curr[j]) + curr[j])
        if not np.isfinite(h2_est) or h2_est > h2_max:
            n_kept = it - burn_in + 1 if it >= burn_in else 0
            scale = 1.0 / n_kept if n_kept > 0 else 0.0
            return beta_sum * scale, postp_sum * scale, path_p, path_h2, it
        h2 = max(h2_est, h2_min)
        path_p[it] = p
        path_h2[it] = h2
    scale = 1.0 / num_iter if num_iter > 0 else 0.0
    return beta_sum * scale, postp_sum * scale, path_p, path_h2, n_total


@kernel
def gibbs_sweep(corr, offsets, bounds, spans, diag, beta_hat, curr, dotprods, state, n, h2, p,
                n_poly, shrink, beta_sum, postp_sum, accumulate):
    """One sweep over all variants in order; updates ``curr`` and ``dotprods`` (= R·curr) in place.

    diag: float64 (m,) the LD diagonal (:func:`block_diagonal`), contiguous so that a sweep
    reads the large blocks only for the rows of variants whose β changes, and then only the
    row's nonzero span (spans: int64 (m, 2), :func:`row_spans`).
    Draws from ``state`` (SFC64, updated in place; module docstring): a uniform per
    polymorphic variant, then a normal if it is included. When ``accumulate``, adds
    postp·C2·β̃ to ``beta_sum`` and postp to ``postp_sum``.
    Returns the number of nonzero β after the sweep's updates (variants sampled nonzero).
    """
    c1 = n * h2 / (n_poly * p)
    c2 = c1 / (1.0 + c1)
    c4 = c2 / n
    sd_post = np.sqrt(c4)
    half_inv_c4 = 0.5 / c4
    log_prior = np.log(p) - np.log1p(-p) - 0.5 * np.log1p(c1) if p < 1.0 else np.inf
    n_causal = 0
    for b in range(bounds.shape[0] - 1):
        s = bounds[b]
        size = bounds[b + 1] - s
        off = offsets[b]
        for loc in range(size):
            j = s + loc
            if diag[j] <= 0.0:
                continue
            resid = beta_hat[j] - shrink * (dotprods[j] - diag[j] * curr[j])
            c3 = c2 * resid
            u = draw_uniform(state)
            new = 0.0
            # postp is needed to accumulate, or when the bound cannot exclude (c3²·half_inv_c4
            # is c3²/(2·c4) up to rounding, without a division)
            if accumulate or not surely_excluded(u, log_prior + c3 * c3 * half_inv_c4):
                postp = expit(log_prior + 0.5 * c3 * c3 / c4)
                if accumulate:
                    beta_sum[j] += c3 * postp
                    postp_sum[j] += postp
                if u < postp:
                    new = c3 + sd_post * draw_normal(state)
                    n_causal += 1
            diff = new - curr[j]
            if diff != 0.0:
                lo, hi = spans[j, 0], spans[j, 1]
                row = off + loc * size
                _axpy(diff, corr[row + lo : row + hi], dotprods[s + lo : s + hi])
                curr[j] = new
    return n_causal


@kernel
def rng_state(seed):
    """SFC64 state uint64 (4,) from an integer seed: a, b, c from SplitMix64 of the seed,
    counter 1, then 12 outputs discarded (the reference seeding of SFC64)."""
    state = np.empty(4, dtype=np.uint64)
    x = uint64(seed)
    for t in range(3):
        x += uint64(0x9E3779B97F4A7C15)
        z = x
        z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
        state[t] = z ^ (z >> uint64(31))
    state[3] = uint64(1)
    for _ in range(12):
        _next_uint64(state)
    return state


@kernel
def _next_uint64(state):
    """One SFC64 output; advances ``state`` (uint64 (4,): a, b, c, counter) in place."""
    a, b, c, counter = state[0], state[1], state[2], state[3]
    out = a + b + counter
    state[0] = b ^ (b >> uint64(11))
    state[1] = c + (c << uint64(3))
    state[2] = ((c << uint64(24)) | (c >> uint64(40))) + out
    state[3] = counter + uint64(1)
    return out


@kernel
def draw_uniform(state):
    """One U[0, 1) draw, 53 bits (NumPy's ``Generator.random`` on the same SFC64 state)."""
    return (_next_uint64(state) >> uint64(11)) * (1.0 / 9007199254740992.0)


@kernel
def draw_normal(state):
    """One N(0, 1) draw by Box-Muller from two uniforms of ``state``."""
    radius = np.sqrt(-2.0 * np.log(1.0 - draw_uniform(state)))
    return radius * np.cos(2.0 * np.pi * draw_uniform(state))


@kernel(fastmath={"contract"})
def _axpy(a, x, y):
    """y += a·x in place (float64 1-D views of equal length; a contiguous loop that LLVM
    vectorises, with fused multiply-adds)."""
    for t in range(x.shape[0]):
        y[t] += a * x[t]


@kernel
def surely_excluded(u, log_odds):
    """True only if u >= expit(log_odds), decided without exp or division (so burn-in sweeps,
    which need only the inclusion decision, skip exp for most variants; False: compute postp).

    For y = −log_odds > 0: expit(−y) < e^(−y) < 1 / Σ_{i≤5} yⁱ/i! (a truncated series of e^y),
    so u · Σ > 1.01 implies u > expit; the 1% margin covers rounding, also of a log_odds off
    by a few ulps. Σ is evaluated in Estrin's scheme (short dependency chains). An overflowing
    Σ gives inf (excluded unless u = 0); NaN gives False.
    """
    if not log_odds < 0.0:
        return False
    y = -log_odds
    y2 = y * y
    series = (1.0 + y) + y2 * ((0.5 + y * (1.0 / 6.0)) + y2 * (1.0 / 24.0 + y * (1.0 / 120.0)))
    return u * series > 1.01


@kernel
def row_spans(corr, offsets, bounds):
    """int64 (m, 2): per LD row, the first and one past the last nonzero column, in the
    block's local coordinates ((0, 0) for an all-zero row). Entries outside are exact zeros."""
    spans = np.zeros((bounds[-1], 2), dtype=np.int64)
    for b in range(bounds.shape[0] - 1):
        size = bounds[b + 1] - bounds[b]
        for loc in range(size):
            row = offsets[b] + loc * size
            lo = 0
            while lo < size and corr[row + lo] == 0.0:
                lo += 1
            if lo < size:  # an all-zero row keeps (0, 0)
                hi = size
                while corr[row + hi - 1] == 0.0:
                    hi -= 1
                spans[bounds[b] + loc, 0] = lo
                spans[bounds[b] + loc, 1] = hi
    return spans


@kernel
def block_diagonal(corr, offsets, bounds):
    """float64 (m,): the diagonal of the flat LD blocks (0 for monomorphic variants)."""
    diag = np.zeros(bounds[-1])
    for b in range(bounds.shape[0] - 1):
        size = bounds[b + 1] - bounds[b]
        for loc in range(size):
            diag[bounds[b] + loc] = corr[offsets[b] + loc * size + loc]
    return diag
