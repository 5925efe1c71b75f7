"""Small dense linear algebra and elementary functions for the regression kernels.

Written out for the p × p systems of one regression (p is a handful of covariates), where a
LAPACK call per iteration would cost more than the arithmetic, and for per-sample loops that
LLVM should vectorise. Arithmetic only: the estimators live in :mod:`cohortgen.kernels.firth`,
:mod:`cohortgen.kernels.spa` and :mod:`cohortgen.kernels.ldpred`.
"""

import math

import numpy as np

from cohortgen.kernels._numba import kernel


@kernel
def cholesky_into(info, chol, pivot_rtol):
    """Cholesky factor of a symmetric positive definite matrix: info = L Lᵀ.

    info: float64 (p, p), only the lower triangle read; chol: float64 (p, p), filled with L
    (lower; upper triangle zero). Returns ½ log|info| = Σ log L_aa, or −inf when a pivot is
    ≤ ``pivot_rtol`` × its diagonal entry of ``info`` (singular up to rounding; ``chol`` is then
    only partly filled).
    """
    p = info.shape[0]
    chol[:, :] = 0.0
    half_logdet = 0.0
    for a in range(p):
        for b in range(a + 1):
            s = info[a, b]
            for k in range(b):
                s -= chol[a, k] * chol[b, k]
            if a == b:
                if not s > pivot_rtol * info[a, a]:
                    return -np.inf
                chol[a, a] = math.sqrt(s)
                half_logdet += math.log(chol[a, a])
            else:
                chol[a, b] = s / chol[b, b]
    return half_logdet


@kernel
def cholesky_solve(chol, rhs, out, n_free):
    """Solve (L Lᵀ)[:n_free, :n_free] x = rhs[:n_free] into out[:n_free] (rest set to 0).

    chol: float64 (p, p), lower factor L from :func:`cholesky_into`; rhs, out: float64 (p,).
    The leading block of a Cholesky factor is the factor of the leading block of the matrix.
    """
    p = out.shape[0]
    for a in range(n_free):
        s = rhs[a]
        for k in range(a):
            s -= chol[a, k] * out[k]
        out[a] = s / chol[a, a]
    for a in range(n_free - 1, -1, -1):
        s = out[a]
        for k in range(a + 1, n_free):
            s -= chol[k, a] * out[k]
        out[a] = s / chol[a, a]
    for a in range(n_free, p):
        out[a] = 0.0


@kernel
def lower_inverse_into(chol, linv):
    """L⁻¹ of a lower-triangular L with a non-zero diagonal, by forward substitution.

    chol: float64 (p, p), L (lower); linv: float64 (p, p), filled with L⁻¹ (lower; upper zero).
    """
    p = chol.shape[0]
    linv[:, :] = 0.0
    for c in range(p):
        for a in range(c, p):
            s = 1.0 if a == c else 0.0
            for k in range(c, a):
                s -= chol[a, k] * linv[k, c]
            linv[a, c] = s / chol[a, a]


@kernel
def expit(x):
    """The logistic function 1 / (1 + e⁻ˣ) of a float64, without overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


EXP_FLOOR = -700.0
""":func:`exp_nonpositive` clamps its argument here (exp(−700) ≈ 1e-304): below it a sample's
terms in ℓ*, U* and I change by less than 1e-300, and 2^k stays a normal number."""

_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_LN2 = math.log(2.0)
_INV_LN2 = 1.0 / _LN2
_EXP_SHIFTER = 1.5 * 2.0**52
_EXP_COEFFS = tuple(1.0 / math.factorial(k) for k in range(12, -1, -1))

# A branch-free, call-free helper: Numba inlines it and LLVM vectorises a per-sample loop that
# calls it (libm's exp is a scalar call that blocks vectorisation).


@kernel(inline="always", error_model="numpy", fastmath={"contract"})
def exp_nonpositive(x):
    """exp(x) for float64 x ≤ 0 (clamped at :data:`EXP_FLOOR`); relative error ≤ 2 ulp.

    x = k ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-13 Taylor
    polynomial (truncation < 1e-17), 2^k written into the exponent bits of a float64.
    """
    x = max(x, EXP_FLOOR)
    k = np.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    poly = 1.0 / 6227020800.0
    for coeff in _EXP_COEFFS:
        poly = poly * r + coeff
    # k + 1.5·2⁵² holds the integer k in its low mantissa bits; k + 1023 shifted into the
    # exponent field is 2^k exactly (vectorises, unlike a float-to-int conversion).
    scale = (np.float64(k + _EXP_SHIFTER).view(np.int64) + 1023) << 52
    return poly * np.int64(scale).view(np.float64)
