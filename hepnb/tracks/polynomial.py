"""The naive parametrised extrapolator: a least-squares polynomial of total degree N in the start state.

LHCb's fast extrapolators between fixed planes (Allen's ``extrapUTT``, the parametrised Kalman filter,
Billoir's polynomial tables) replace the integration by a fitted function of the start state. This module is
the naive form of that baseline, kept as a row beside the physics polynomial of :mod:`hepnb.tracks.physpoly`:

- the five inputs (x, y, tx, ty, q/p) are centred, whitened (rotated onto the principal axes of the training
  set's standardised inputs) and mapped to [−1, 1] with the range of the rotated training set. A total degree
  is invariant under an invertible linear change of variables, so the fitted function is the polynomial of
  total degree ``degree`` in (x, y, tx, ty, q/p) itself; the rotation only makes its basis well conditioned.
  Over the raw bounding box, where x and tx are correlated to 0.999 on UT → T and most of the box is empty, the
  coefficients reached 8 × 10⁴ mm and float32 sums of them lost tens of µm (two float32 evaluations, JAX and
  onnxruntime, differed by 36 µm); on the rotated box, at degree 5, the terms of a track sum to at most
  3.7 × 10³ mm in absolute value, twice the largest correction (at degree 9 still 4 × 10⁴ mm: the naive
  variables need large high-degree terms);
- the correction to the straight line, (x, y, tx, ty)_end − line(s₀), is a polynomial of total degree
  ``degree`` on an orthogonal basis (Chebyshev T_k or Legendre P_k products), C(degree + 5, 5) terms;
- the coefficients are fitted by linear least squares in float64 (:func:`solve_least_squares`: normal
  equations on the column-scaled design matrix, accumulated in chunks, solved by Cholesky with a tiny ridge,
  plus a step of iterative refinement);
- it is evaluated in float32 in an order that every runtime rounds alike, so that the exported ONNX graph gives
  the same numbers as JAX (:func:`pairwise_sum`): the inputs' scale is folded into the rotation (XLA turns a
  division by a constant into a multiplication by its reciprocal, ONNX Runtime divides), every product is kept
  apart from the addition that follows it (:func:`unfused`: XLA on CPU fuses ``a * b + c`` into one
  multiply–add, ONNX Runtime rounds twice), and the terms are added by a pairwise tree rather than a matrix
  product (whose summation order each runtime chooses). A single float32 matmul of the degree-9 basis put JAX
  and ONNX Runtime 1.2–1.3 µm apart; the pairwise sum is also closer to the float64 sum (0.5 µm against 0.7 µm
  at degree 9), at about 1.7 times the cost on a CPU.

In float32 a raw monomial basis loses its precision at degree 7 (hundreds of µm); the orthogonal basis
keeps it (../shared/reference/tracks.md §7).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from hepnb.tracks.arrays import Array

__all__ = ["BASES", "LOW_DEGREE", "PolynomialExtrapolator", "design_matrix", "exponents", "fit_polynomial",
           "map_in_chunks", "pairwise_sum", "solve_least_squares", "split_sum", "unfused", "whitening"]

BASES = ("chebyshev", "legendre")
_FIT_CHUNK = 8192
#: Above this batch the evaluation runs in chunks of this size (the basis matrix, batch × terms, stays in cache).
EVAL_CHUNK = 1024
#: The naive polynomial's chunk: its (chunk, 4, terms) products stay in cache for the pairwise sum.
PAIRWISE_CHUNK = 256
#: Terms of total degree up to this one are summed apart from the rest and added last (:func:`split_sum`).
LOW_DEGREE = 2


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


def unfused(product: Array) -> Array:
    """``product`` as rounded on its own, never fused with the addition that follows it.

    XLA on CPU contracts ``a * b + c`` into one fused multiply–add (one rounding); ONNX Runtime rounds the product
    and the sum apart. A select on the product (the product where it equals itself, else NaN: the same value) sits between
    the two, so that both runtimes round alike. NumPy never fuses: its arrays pass through unchanged.
    """
    if isinstance(product, np.ndarray):
        return product
    # x == x rather than isnan: jax2onnx leaves isnan's output untyped (onnx_ir then warns on every export)
    return jnp.where(product == product, product, jnp.asarray(jnp.nan, product.dtype))  # noqa: PLR0124


def _univariate(u: Array, degree: int, basis: str, xp: Any) -> list[Array]:
    """T_k(u) or P_k(u) for k = 0..degree, each shaped (N, 1); every product :func:`unfused`."""
    out = [xp.ones_like(u), u]
    for k in range(1, degree):
        if basis == "chebyshev":
            out.append(unfused(2.0 * u * out[k]) - out[k - 1])
        else:  # a multiplication by 1/(k + 1), which XLA would make of the division anyway
            out.append((unfused((2 * k + 1) * u * out[k]) - unfused(k * out[k - 1])) * (1.0 / (k + 1)))
    return [o[:, None] for o in out[: degree + 1]]


def design_matrix(u: Array, degree: int, basis: str, xp: Any) -> Array:
    """The basis matrix (N, terms) for normalised inputs ``u`` (N, 5), in the order of :func:`exponents`.

    Built degree block by degree block with broadcast products and concatenations only (no gathers), which
    XLA fuses into a few loops.
    """
    items = [_univariate(u[:, i], degree, basis, xp) for i in range(u.shape[1])]
    return _graded(items, degree, lambda a, b: a * b, lambda parts: xp.concatenate(parts, axis=1))


def split_sum(basis: Array, coef: Array, edges: Sequence[int]) -> Array:
    """``basis @ coef`` summed block by block, the last block first: ``edges`` are the column indices where blocks
    start (increasing; the first block starts at 0), so that a graded basis adds its low degrees last.

    In a polynomial fitted on an orthogonal basis over its data the few low-degree terms carry nearly all of a
    metre-scale correction and the many high-degree terms a few hundred mm at most. One float32 matmul over all
    of them rounds its partial sums at the metre scale hundreds of times (1.5 µm worst case on UT → T, and a
    different 1.5 µm in each runtime's summation order); the high-degree terms alone sum with errors at their own
    scale, and the few large terms add a few roundings of the result.
    """
    bounds = [0, *[int(e) for e in edges if 0 < e < basis.shape[1]], basis.shape[1]]
    total = None
    for lo, hi in reversed(list(itertools.pairwise(bounds))):
        part = basis[:, lo:hi] @ coef[lo:hi]
        total = part if total is None else total + part
    return total


def map_in_chunks(fn: Callable[[Array], Array], states: Array, chunk: int, *, pad_value: float = 0.0) -> Array:
    """``fn`` (states (n, 5) → (n, 4)) applied in chunks of ``chunk`` rows with :func:`jax.lax.map`, so that each
    chunk's intermediate arrays stay in cache; the last chunk is padded with ``pad_value`` (rows dropped from the
    result). A batch of at most ``chunk`` rows, or a symbolic one (ONNX export), is one call."""
    n = states.shape[0]
    if not isinstance(n, int) or n <= chunk:
        return fn(states)
    n_chunks = -(-n // chunk)
    padded = jnp.pad(states, ((0, n_chunks * chunk - n), (0, 0)), constant_values=pad_value)
    return jax.lax.map(fn, padded.reshape(n_chunks, chunk, states.shape[1])).reshape(n_chunks * chunk, -1)[:n]


def pairwise_sum(basis: Array, coef: Array) -> Array:
    """``basis @ coef`` (N, outputs) as a pairwise tree of elementwise additions in a fixed order.

    The products basis[:, t] · coef[t] are :func:`unfused` and padded with zeros to a power of two; each level adds
    the second half of the terms to the first. Every runtime performs these roundings in this order, so JAX and
    the exported ONNX graph agree to the bit where a matrix product (whose summation order each runtime picks)
    put them a micrometre apart; the pairwise sum's round-off grows with log(terms), a running sum's with terms.
    """
    n_terms = basis.shape[1]
    width = 1 << max(n_terms - 1, 0).bit_length()
    terms = unfused(basis[:, None, :] * jnp.transpose(coef)[None, :, :])  # (N, outputs, terms)
    terms = jnp.pad(terms, ((0, 0), (0, 0), (0, width - n_terms)))
    while terms.shape[2] > 1:
        half = terms.shape[2] // 2
        terms = terms[:, :, :half] + terms[:, :, half:]
    return terms[:, :, 0]


@dataclass(frozen=True, eq=False)
class PolynomialExtrapolator:
    """A fitted polynomial extrapolator; call it on float32 start states (N, 5) to get end states (N, 5).

    Attributes
    ----------
    degree, basis
        Total degree and ``"chebyshev"`` or ``"legendre"``.
    centre, half_range, rotation
        Input normalisation u = ((s − centre) @ rotation) / half_range (the rotated training range → [−1, 1]);
        ``rotation`` (5, 5) is the identity when ``None``.
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
    rotation: np.ndarray | None = None

    def normalise(self, start: Array, xp: Any = np) -> Array:
        """The basis inputs u (N, 5) of start states (N, 5), in the dtype of ``start``.

        With ``xp = jax.numpy`` the half-range is folded into the rotation and the 5 × 5 product is written out
        term by term (:func:`unfused`), so that XLA and ONNX Runtime compute the same float32 u.
        """
        dtype = start.dtype
        d = start - xp.asarray(self.centre, dtype)
        if xp is np:
            if self.rotation is not None:
                d = d @ self.rotation.astype(dtype)
            return d / self.half_range.astype(dtype)
        matrix = np.asarray(self.input_matrix(), np.float32)
        cols = []
        for j in range(matrix.shape[1]):
            col = unfused(d[:, 0] * matrix[0, j])
            for i in range(1, matrix.shape[0]):
                col = col + unfused(d[:, i] * matrix[i, j])
            cols.append(col)
        return xp.stack(cols, axis=1)

    def input_matrix(self) -> np.ndarray:
        """The (5, 5) float64 matrix M with u = (s − centre) @ M: the rotation divided by the half-ranges."""
        rotation = np.eye(len(self.half_range)) if self.rotation is None else np.asarray(self.rotation, np.float64)
        return rotation / np.asarray(self.half_range, np.float64)[None, :]

    @property
    def n_terms(self) -> int:
        """Number of basis functions (coefficients per output)."""
        return int(self.coef.shape[0])

    @property
    def n_params(self) -> int:
        """Number of fitted coefficients (terms × 4 outputs)."""
        return int(self.coef.size)

    def correction(self, start: Array) -> Array:
        """The polynomial part (N, 4) in float32 (the straight line is not included), summed by
        :func:`pairwise_sum` in chunks of :data:`PAIRWISE_CHUNK` tracks."""
        coef = jnp.asarray(self.coef, jnp.float32)
        s = start.astype(jnp.float32)

        def one(chunk: Array) -> Array:
            return pairwise_sum(design_matrix(self.normalise(chunk, jnp), self.degree, self.basis, jnp), coef)

        return map_in_chunks(one, s, PAIRWISE_CHUNK)

    def __call__(self, start: Array) -> Array:
        s = start.astype(jnp.float32)
        line = jnp.concatenate([s[:, :2] + unfused(s[:, 2:4] * jnp.float32(self.dz_mm)), s[:, 2:4]], axis=1)
        return jnp.concatenate([line + self.correction(s), s[:, 4:5]], axis=1)


def whitening(start: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre, rotation and half-range that map the training inputs (N, 5) onto [−1, 1] along their principal axes.

    The inputs are standardised, rotated onto the eigenvectors of their correlation matrix and scaled by the
    half-range of the rotated set: u = ((s − centre) @ rotation) / half_range, with ``centre`` the point that
    maps to the middle of the rotated box.
    """
    s = np.asarray(start, np.float64)
    mean, std = s.mean(0), np.maximum(s.std(0), 1e-300)
    _, vectors = np.linalg.eigh(np.corrcoef(s.T) if len(s) > 1 else np.eye(s.shape[1]))
    rotation = vectors / std[:, None]
    r = (s - mean) @ rotation
    mid = 0.5 * (r.min(0) + r.max(0))
    half = np.maximum(0.5 * (r.max(0) - r.min(0)), 1e-12)
    centre = mean + np.linalg.solve(rotation.T, mid)
    return centre, rotation, half


def solve_least_squares(blocks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]], n_terms: int, n_out: int, *,
                        ridge: float = 1e-12, refinements: int = 1) -> np.ndarray:
    """Linear least squares min ‖A c − t‖² in float64 from blocks of rows, without holding A.

    Parameters
    ----------
    blocks
        Called once per pass; yields ``(a, t)``: rows of the design matrix (n, ``n_terms``) and of the targets
        (n, ``n_out``) (weighted rows: multiply both by √w).
    n_terms, n_out
        Columns of A and of the targets.
    ridge
        Relative Tikhonov term added to the column-scaled normal equations' diagonal (guards rank deficiency).
    refinements
        Steps of iterative refinement on the residuals (each one more pass): the normal equations square the
        condition number.

    Returns
    -------
    numpy.ndarray
        The coefficients (``n_terms``, ``n_out``).
    """
    gram = np.zeros((n_terms, n_terms), order="F")
    rhs = np.zeros((n_terms, n_out))
    for a, t in blocks():
        gram = scipy.linalg.blas.dsyrk(1.0, a, beta=1.0, c=gram, trans=1, lower=0, overwrite_c=1)  # AᵀA, upper half
        rhs += a.T @ t
    gram = np.triu(gram) + np.triu(gram, 1).T
    scale = np.sqrt(np.maximum(np.diag(gram), 1e-300))
    gram_s = gram / np.outer(scale, scale)
    gram_s[np.diag_indices(n_terms)] += ridge
    factor = scipy.linalg.cho_factor(gram_s)
    coef_s = scipy.linalg.cho_solve(factor, rhs / scale[:, None])
    for _ in range(refinements):
        resid_rhs = np.zeros((n_terms, n_out))
        for a, t in blocks():
            resid_rhs += a.T @ (t - a @ (coef_s / scale[:, None]))
        coef_s = coef_s + scipy.linalg.cho_solve(factor, resid_rhs / scale[:, None])
    return coef_s / scale[:, None]


def fit_polynomial(start: np.ndarray, end: np.ndarray, dz_mm: float, degree: int, *, basis: str = "chebyshev",
                   ridge: float = 1e-12, refinements: int = 1) -> PolynomialExtrapolator:
    """Fit the correction to the straight line by least squares in float64, on whitened inputs (:func:`whitening`).

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
    ridge, refinements
        See :func:`solve_least_squares`.

    Raises
    ------
    ValueError
        Unknown basis, degree < 1, or fewer tracks than twice the coefficients per output.
    """
    if basis not in BASES:
        msg = f"unknown polynomial basis {basis!r}; choose one of {list(BASES)}"
        raise ValueError(msg)
    if degree < 1:
        msg = f"degree must be >= 1, found {degree}"
        raise ValueError(msg)
    s = np.asarray(start, np.float64)
    e = np.asarray(end, np.float64)
    n_terms = len(exponents(degree))
    if len(s) < 2 * n_terms:
        msg = f"a degree-{degree} polynomial has {n_terms} terms: fit it on at least {2 * n_terms} tracks, found {len(s)}"
        raise ValueError(msg)
    centre, rotation, half = whitening(s)
    shell = PolynomialExtrapolator(degree, basis, centre, half, np.zeros((n_terms, 4)), float(dz_mm), rotation)
    target = e[:, :4] - np.concatenate([s[:, :2] + s[:, 2:4] * dz_mm, s[:, 2:4]], axis=1)

    def blocks() -> Iterable[tuple[np.ndarray, np.ndarray]]:
        for i in range(0, len(s), _FIT_CHUNK):
            yield design_matrix(shell.normalise(s[i:i + _FIT_CHUNK]), degree, basis, np), target[i:i + _FIT_CHUNK]

    coef = solve_least_squares(blocks, n_terms, 4, ridge=ridge, refinements=refinements)
    return PolynomialExtrapolator(degree, basis, centre, half, coef, float(dz_mm), rotation)
