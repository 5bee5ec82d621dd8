"""LHCb-style parametrised extrapolator: a least-squares polynomial in the normalised start state.

LHCb's fast extrapolators between fixed planes (Allen's ``extrapUTT``, the parametrised Kalman filter,
Billoir's polynomial tables) replace the integration by a fitted function of the start state. This is
that baseline, made as strong as a polynomial can be:

- the five inputs (x, y, tx, ty, q/p) are mapped to [−1, 1] with the training set's range;
- the correction to the straight line, (x, y, tx, ty)_end − line(s₀), is a polynomial of total degree
  ``degree`` on an orthogonal basis (Chebyshev T_k or Legendre P_k products), C(degree + 5, 5) terms;
- the coefficients are fitted by linear least squares in float64 (normal equations on the column-scaled
  design matrix, accumulated in chunks, solved by Cholesky with a tiny ridge, plus a step of iterative
  refinement);
- it is evaluated in float32, the straight line added last, as a deployed extrapolator would be.

In float32 a raw monomial basis loses its precision at degree 7 (hundreds of µm); the orthogonal basis
keeps it (../shared/reference/tracks.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from hepnb.tracks.arrays import Array

__all__ = ["BASES", "PolynomialExtrapolator", "design_matrix", "exponents", "fit_polynomial"]

BASES = ("chebyshev", "legendre")
_FIT_CHUNK = 8192
#: Above this batch the evaluation runs in chunks of this size (the basis matrix, batch × terms, stays in cache).
EVAL_CHUNK = 1024



def _graded(items_by_var: list[list[Any]], degree: int, combine: Any, concat: Any) -> Any:
    """Products of one item per variable with total degree ≤ ``degree``, grouped by total degree.

    ``items_by_var[k][e]`` is variable k's factor of degree e; the result is the concatenation of the degree
    blocks 0, 1, …, ``degree`` (within a block, earlier variables' degrees vary slowest).
    """
    blocks = [items_by_var[0][m] for m in range(degree + 1)]
    for factors in items_by_var[1:]:
        blocks = [concat([combine(blocks[m - e], factors[e]) for e in range(m + 1)]) for m in range(degree + 1)]
    return concat(blocks)


def exponents(degree: int, n_vars: int = 5) -> np.ndarray:
    """Exponent tuples of the basis (total degree ≤ ``degree``), shaped (terms, n_vars), in the basis order."""
    unit = np.eye(n_vars, dtype=np.int32)
    items = [[(e * unit[k])[None, :] for e in range(degree + 1)] for k in range(n_vars)]
    return _graded(items, degree, lambda a, b: a + b, lambda parts: np.concatenate(parts, axis=0))


def _univariate(u: Array, degree: int, basis: str, xp: Any) -> list[Array]:
    """T_k(u) or P_k(u) for k = 0..degree, each shaped (N, 1)."""
    out = [xp.ones_like(u), u]
    for k in range(1, degree):
        if basis == "chebyshev":
            out.append(2.0 * u * out[k] - out[k - 1])
        else:
            out.append(((2 * k + 1) * u * out[k] - k * out[k - 1]) / (k + 1))
    return [o[:, None] for o in out[: degree + 1]]


def design_matrix(u: Array, degree: int, basis: str, xp: Any) -> Array:
    """The basis matrix (N, terms) for normalised inputs ``u`` (N, 5), in the order of :func:`exponents`.

    Built degree block by degree block with broadcast products and concatenations only (no gathers), which
    XLA fuses into a few loops.
    """
    items = [_univariate(u[:, i], degree, basis, xp) for i in range(u.shape[1])]
    return _graded(items, degree, lambda a, b: a * b, lambda parts: xp.concatenate(parts, axis=1))


@dataclass(frozen=True, eq=False)
class PolynomialExtrapolator:
    """A fitted polynomial extrapolator; call it on float32 start states (N, 5) to get end states (N, 5).

    Attributes
    ----------
    degree, basis
        Total degree and ``"chebyshev"`` or ``"legendre"``.
    centre, half_range
        Input normalisation u = (s − centre) / half_range (training range → [−1, 1]).
    coef
        (terms, 4) float64 coefficients of the correction to the straight line.
    dz_mm
        Length of the leg.
    """

    degree: int
    basis: str
    centre: np.ndarray
    half_range: np.ndarray
    coef: np.ndarray
    dz_mm: float

    @property
    def n_terms(self) -> int:
        """Number of basis functions (coefficients per output)."""
        return int(self.coef.shape[0])

    @property
    def n_params(self) -> int:
        """Number of fitted coefficients (terms × 4 outputs)."""
        return int(self.coef.size)

    def correction(self, start: Array) -> Array:
        """The polynomial part (N, 4) in float32 (the straight line is not included), in chunks of
        :data:`EVAL_CHUNK` tracks so that the basis matrix stays in cache."""
        centre = jnp.asarray(self.centre, jnp.float32)
        half = jnp.asarray(self.half_range, jnp.float32)
        coef = jnp.asarray(self.coef, jnp.float32)
        s = start.astype(jnp.float32)

        def one(chunk: Array) -> Array:
            return design_matrix((chunk - centre) / half, self.degree, self.basis, jnp) @ coef

        n = s.shape[0]
        if not isinstance(n, int) or n <= EVAL_CHUNK:  # a symbolic batch (ONNX export) is not chunked
            return one(s)
        n_chunks = -(-n // EVAL_CHUNK)
        padded = jnp.pad(s, ((0, n_chunks * EVAL_CHUNK - n), (0, 0)))
        return jax.lax.map(one, padded.reshape(n_chunks, EVAL_CHUNK, 5)).reshape(-1, 4)[:n]

    def __call__(self, start: Array) -> Array:
        s = start.astype(jnp.float32)
        line = jnp.concatenate([s[:, :2] + s[:, 2:4] * jnp.float32(self.dz_mm), s[:, 2:4]], axis=1)
        return jnp.concatenate([line + self.correction(s), s[:, 4:5]], axis=1)


def fit_polynomial(start: np.ndarray, end: np.ndarray, dz_mm: float, degree: int, *, basis: str = "chebyshev",
                   ridge: float = 1e-12, refinements: int = 1) -> PolynomialExtrapolator:
    """Fit the correction to the straight line by least squares in float64.

    Parameters
    ----------
    start, end
        Training start states (N, 5) and reference end states (N, ≥ 4).
    dz_mm
        Length of the leg (z₁ − z₀).
    degree
        Total degree (LHCb-style tables use 3–9).
    basis
        ``"chebyshev"`` or ``"legendre"``.
    ridge
        Relative Tikhonov term added to the normal equations' diagonal (guards rank deficiency).
    refinements
        Steps of iterative refinement on the residuals (each one pass over the data).

    Raises
    ------
    ValueError
        Unknown basis, degree < 1, or fewer tracks than coefficients per output.
    """
    if basis not in BASES:
        msg = f"unknown polynomial basis {basis!r}; choose one of {list(BASES)}"
        raise ValueError(msg)
    if degree < 1:
        msg = f"degree must be >= 1, found {degree}"
        raise ValueError(msg)
    s = np.asarray(start, np.float64)
    e = np.asarray(end, np.float64)
    exps = exponents(degree)
    if len(s) < 2 * len(exps):
        msg = f"a degree-{degree} polynomial has {len(exps)} terms: fit it on at least {2 * len(exps)} tracks, found {len(s)}"
        raise ValueError(msg)
    lo, hi = s.min(0), s.max(0)
    centre, half = 0.5 * (lo + hi), np.maximum(0.5 * (hi - lo), 1e-12)
    target = e[:, :4] - np.concatenate([s[:, :2] + s[:, 2:4] * dz_mm, s[:, 2:4]], axis=1)
    p = len(exps)

    def chunks() -> Any:
        for i in range(0, len(s), _FIT_CHUNK):
            yield design_matrix((s[i:i + _FIT_CHUNK] - centre) / half, degree, basis, np), target[i:i + _FIT_CHUNK]

    gram = np.zeros((p, p), order="F")
    rhs = np.zeros((p, 4))
    for a, t in chunks():
        gram = scipy.linalg.blas.dsyrk(1.0, a, beta=1.0, c=gram, trans=1, lower=0, overwrite_c=1)  # AᵀA, upper half
        rhs += a.T @ t
    gram = np.triu(gram) + np.triu(gram, 1).T
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    gram_s = gram / np.outer(scale, scale)
    gram_s[np.diag_indices(p)] += ridge
    factor = scipy.linalg.cho_factor(gram_s)
    coef_s = scipy.linalg.cho_solve(factor, rhs / scale[:, None])
    for _ in range(refinements):  # iterative refinement: the normal equations square the condition number
        resid_rhs = np.zeros((p, 4))
        for a, t in chunks():
            resid_rhs += a.T @ (t - a @ (coef_s / scale[:, None]))
        coef_s = coef_s + scipy.linalg.cho_solve(factor, resid_rhs / scale[:, None])
    return PolynomialExtrapolator(degree, basis, centre, half, coef_s / scale[:, None], float(dz_mm))
