"""The LHCb-style polynomial extrapolator at its strongest: physics variables, the dipole's parities, q/p factored
out and a weighting that holds at high momentum.

The end state on the leg's last plane is the straight line plus a correction,

    (x, y, tx, ty)_end = line(s₀) + (q/p) · P(v),   v = (q/p, tx, ty, x − tx·z₀, y − ty·z₀),

with P a sum of products of Chebyshev polynomials T_k(vᵢ / max|vᵢ|), fitted by least squares in float64 and
evaluated in float32. Each choice is one of LHCb's parametrised extrapolators' (../shared/reference/tracks.md):

- **q/p factored out.** The bend is proportional to q/p at high momentum, so P is smooth and finite there and
  a high-momentum track's error is P's error scaled down by its small q/p.
- **Physics variables.** x and tx are correlated (a track from the beam line has x ≈ tx·z₀), so most of the
  (x, tx) box of the naive polynomial (:mod:`hepnb.tracks.polynomial`) is empty; x − tx·z₀ and y − ty·z₀ (the
  straight-line position at z = 0: near zero for prompt tracks, mm to cm for displaced ones) decorrelate them.
- **A weighted degree.** The correction varies over the slopes and q/p far more than over the small offsets at
  z = 0, so a term T_a(q/p) T_b(tx) T_c(ty) T_d(x₀) T_e(y₀) is kept when a + b + c + 3(d + e) ≤ degree
  (:data:`DEGREE_WEIGHTS`). Measured on UT → T (40 000 training tracks, validation median): weights
  (1, 1, 1, 3, 3) at degree 12 gave 1.94 µm with 1418 coefficients, (1, 1, 1, 2, 2) 1.92 µm with 2116, and
  equal weights at degree 8 8.6 µm with 1582.
- **The dipole's parities.** The map is symmetric under y → −y (By even, Bx and Bz odd in y) and under x → −x
  (By and Bz even, Bx odd in x). The equations of motion then make the transport equivariant under
  (y, ty) → −(y, ty) — x_end and tx_end unchanged, y_end and ty_end reversed — and under (x, tx, q/p) →
  −(x, tx, q/p) — x_end and tx_end reversed, y_end and ty_end unchanged. With q/p factored out, P's x and tx
  components are even in (ty, y₀) and even in (q/p, tx, x₀); its y and ty components are odd in both. Only
  those monomials are fitted (:func:`parity_exponents`); the others are zero for this field, and a fit that
  includes them finds them zero (tests/tracks/test_physpoly.py). A user's map need not have both symmetries:
  :func:`field_parities` measures which ones it has, and only those are imposed.
- **Weighting that holds at high momentum.** P is fitted with equal weights for every track (relative
  weighting: each track's residual divided by its q/p), so the many high-momentum tracks, whose absolute
  corrections are small, are not neglected (absolute weighting, ``"absolute"``, weights P's residual by
  (q/p)²). Measured on UT → T (equal degree weights, degree 7, 592 coefficients): validation median 14.7 µm
  relative against 18.7 µm absolute, and 3.3 µm against 4.3 µm above 50 GeV.

In float32 the basis is summed in two blocks, the many high-degree terms first and the few low-degree ones,
which carry nearly all of the metre-scale bend, last (:func:`hepnb.tracks.polynomial.split_sum`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

from hepnb.tracks.arrays import Array
from hepnb.tracks.polynomial import EVAL_CHUNK, LOW_DEGREE, map_in_chunks, solve_least_squares, split_sum

__all__ = [
    "DEGREE_WEIGHTS",
    "PARITIES",
    "WEIGHTINGS",
    "PhysicsPolynomial",
    "field_parities",
    "fit_physics_polynomial",
    "parity_exponents",
    "physics_variables",
]

#: Weight of each variable's degree in the weighted degree (q/p, tx, ty, x − tx·z₀, y − ty·z₀).
DEGREE_WEIGHTS: tuple[int, ...] = (1, 1, 1, 3, 3)
#: The symmetries a fit may use: ``"y"`` for (y, ty) → −(y, ty), ``"x"`` for (x, tx, q/p) → −(x, tx, q/p).
PARITIES: tuple[str, ...] = ("x", "y")
#: How tracks are weighted in the fit of P (see the module's notes).
WEIGHTINGS: tuple[str, ...] = ("relative", "absolute")
#: Variables odd under each symmetry (indices into the physics variables).
_ODD = {"y": (2, 4), "x": (0, 1, 3)}
_FIT_CHUNK = 8192
#: The order in which the basis grows, one variable at a time: the low-degree offsets first and q/p, of the
#: highest degree, last, so that the parity selection at the last step prunes the largest block.
_ORDER = (3, 4, 2, 1, 0)


def physics_variables(start: Array, z0_mm: float, xp: Any = np) -> Array:
    """(q/p, tx, ty, x − tx·z₀, y − ty·z₀) of start states (N, 5) on the plane z₀, in the dtype of ``start``."""
    z0 = xp.asarray(z0_mm, start.dtype)
    return xp.stack([start[:, 4], start[:, 2], start[:, 3], start[:, 0] - start[:, 2] * z0,
                     start[:, 1] - start[:, 3] * z0], axis=1)


def field_parities(field_fn: Any, z0_mm: float, z1_mm: float, *, rel_tol: float = 1e-4) -> tuple[str, ...]:
    """The symmetries of :data:`PARITIES` that a field has between two planes, within ``rel_tol`` of its largest |B|.

    Checked at 2000 fixed random points with |x| ≤ 2 m, |y| ≤ 1.5 m: ``"y"`` when (Bx, By, Bz)(x, −y, z) =
    (−Bx, By, −Bz)(x, y, z), ``"x"`` when (Bx, By, Bz)(−x, y, z) = (−Bx, By, Bz)(x, y, z).
    """
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-2000.0, 2000.0, 2000), rng.uniform(-1500.0, 1500.0, 2000)
    z = rng.uniform(min(z0_mm, z1_mm), max(z0_mm, z1_mm), 2000)
    b = np.stack([np.asarray(c, np.float64) for c in field_fn(x, y, z)])
    scale = max(float(np.abs(b).max()), 1e-300)
    mirrors = {"y": (field_fn(x, -y, z), (-1.0, 1.0, -1.0)), "x": (field_fn(-x, y, z), (-1.0, 1.0, 1.0))}
    out = []
    for name in PARITIES:
        mirrored, signs = mirrors[name]
        m = np.stack([np.asarray(c, np.float64) for c in mirrored]) * np.asarray(signs)[:, None]
        if np.abs(m - b).max() <= rel_tol * scale:
            out.append(name)
    return tuple(out)


def _check_choice(component: str, parities: Sequence[str]) -> None:
    if component not in ("x", "y"):
        msg = f"component must be 'x' or 'y', found {component!r}"
        raise ValueError(msg)
    unknown = set(parities) - set(PARITIES)
    if unknown:
        msg = f"unknown parities {sorted(unknown)}; choose among {list(PARITIES)}"
        raise ValueError(msg)


def _graded(factors: list[list[Any]], degree: int, weights: Sequence[int], parities: Sequence[str], combine: Any,
            concat: Any) -> dict[str, Any]:
    """The products of one factor per variable whose weighted degree is ≤ ``degree`` and whose parity under each
    symmetry of ``parities`` is even (component ``"x"``) or odd (``"y"``), grouped by weighted degree; both
    components come from one construction (they share every block but the last variable's).

    ``factors[k][e]`` is variable k's factor of degree e (``None`` for e = 0: the product is left as it is).
    Blocks are keyed by (weighted degree, parities) and grown one variable at a time with broadcast products and
    concatenations only (no gathers), which XLA fuses into a few loops; the exponents come from the same
    construction with sums in place of products, so both share one order.
    """
    wanted = {"x": (0,) * len(parities), "y": (1,) * len(parities)}
    odd = [tuple(int(k in _ODD[p]) for p in parities) for k in range(len(factors))]
    first, rest = _ORDER[0], _ORDER[1:]

    def parity(par: tuple[int, ...], k: int, e: int) -> tuple[int, ...]:
        return tuple((a + b * e) % 2 for a, b in zip(par, odd[k], strict=True))

    blocks: dict[tuple[int, tuple[int, ...]], list[Any]] = {}
    for e in range(degree // weights[first] + 1):
        blocks.setdefault((weights[first] * e, parity((0,) * len(parities), first, e)), []).append(factors[first][e])
    merged = {key: concat(parts) for key, parts in sorted(blocks.items())}
    for k in rest:
        last = k == rest[-1]
        grown: dict[tuple[int, tuple[int, ...]], list[Any]] = {}
        for (m, par), arr in merged.items():
            for e in range((degree - m) // weights[k] + 1):
                key = (m + weights[k] * e, parity(par, k, e))
                if last and key[1] not in wanted.values():
                    continue
                grown.setdefault(key, []).append(arr if e == 0 else combine(arr, factors[k][e]))
        merged = {key: concat(parts) for key, parts in sorted(grown.items())}
    return {comp: concat([arr for (_, par), arr in sorted(merged.items()) if par == want])
            for comp, want in wanted.items()}


def parity_exponents(degree: int, component: str, *, weights: Sequence[int] = DEGREE_WEIGHTS,
                     parities: Sequence[str] = PARITIES) -> np.ndarray:
    """The exponents (terms, 5) of P's monomials for one pair of outputs, in the order of the basis.

    Parameters
    ----------
    degree
        Largest weighted degree Σ wᵢ eᵢ.
    component
        ``"x"`` (x_end and tx_end: even under every symmetry) or ``"y"`` (y_end and ty_end: odd).
    weights
        The degree weights of the five variables.
    parities
        The symmetries imposed (a subset of :data:`PARITIES`; empty: every monomial).
    """
    _check_choice(component, parities)
    unit = np.eye(5, dtype=np.int32)
    factors = [[(e * unit[k])[None, :] for e in range(degree // w + 1)] for k, w in enumerate(weights)]
    factors[_ORDER[0]][0] = np.zeros((1, 5), np.int32)
    return _graded(factors, degree, weights, parities, lambda a, b: a + b,
                   lambda parts: np.concatenate(parts, axis=0))[component]


def _chebyshev(u: Array, degree: int, xp: Any) -> list[Array]:
    """T_0(u) … T_degree(u), each shaped (N, 1)."""
    out = [xp.ones_like(u), u]
    for _ in range(1, degree):
        out.append(2.0 * u * out[-1] - out[-2])
    return [o[:, None] for o in out[: degree + 1]]


def _basis(u: Array, degree: int, weights: Sequence[int], parities: Sequence[str], xp: Any) -> dict[str, Array]:
    """The basis matrices (N, terms) of the ``"x"`` and ``"y"`` components, in the order of
    :func:`parity_exponents`."""
    factors: list[list[Any]] = [_chebyshev(u[:, k], degree // w, xp) for k, w in enumerate(weights)]
    for k in _ORDER[1:]:
        factors[k][0] = None
    return _graded(factors, degree, weights, parities, lambda a, b: a * b,
                   lambda parts: parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=1))


@dataclass(frozen=True, eq=False)
class PhysicsPolynomial:
    """A fitted physics polynomial; call it on float32 start states (N, 5) to get end states (N, 5).

    Attributes
    ----------
    degree
        Largest weighted degree.
    z0_mm, dz_mm
        The leg's first plane and length.
    half_range
        max |vᵢ| of the training set (the physics variables map to [−1, 1]; symmetric, so parities hold).
    coef_x, coef_y
        Coefficients (terms, 2) of (x, tx) and of (y, ty), in the order of :func:`parity_exponents`.
    weights, parities
        The degree weights and the symmetries imposed (:func:`parity_exponents`).
    """

    degree: int
    z0_mm: float
    dz_mm: float
    half_range: np.ndarray
    coef_x: np.ndarray
    coef_y: np.ndarray
    weights: tuple[int, ...] = DEGREE_WEIGHTS
    parities: tuple[str, ...] = PARITIES

    def exponents(self, component: str) -> np.ndarray:
        """The exponents (terms, 5) of the ``"x"`` (x, tx) or ``"y"`` (y, ty) component."""
        return parity_exponents(self.degree, component, weights=self.weights, parities=self.parities)

    @property
    def n_params(self) -> int:
        """Number of fitted coefficients, all four outputs together."""
        return int(self.coef_x.size + self.coef_y.size)

    @property
    def n_terms(self) -> int:
        """Distinct monomials (the x/tx and the y/ty sets together)."""
        return int(len(self.coef_x) + len(self.coef_y))

    def normalise(self, start: Array, xp: Any = np) -> Array:
        """The basis inputs u = v / max|v| (N, 5) of start states, in the dtype of ``start``."""
        return physics_variables(start, self.z0_mm, xp) / xp.asarray(self.half_range, start.dtype)

    def basis(self, u: Array, component: str, xp: Any = np) -> Array:
        """The basis matrix (N, terms) of a component at normalised variables ``u`` (:meth:`normalise`)."""
        return _basis(u, self.degree, self.weights, self.parities, xp)[component]

    def polynomial(self, start: Array, xp: Any = np) -> Array:
        """P(v) (N, 4) in the order (x, y, tx, ty), in the dtype of ``start`` (the factor q/p not applied)."""
        u = self.normalise(start, xp)
        basis = _basis(u, self.degree, self.weights, self.parities, xp)
        n_x, n_y = self._n_low()
        columns = [basis["x"][:, :n_x], basis["y"][:, :n_y], basis["x"][:, n_x:], basis["y"][:, n_y:]]
        return split_sum(xp.concatenate(columns, axis=1), xp.asarray(self.coefficients(), start.dtype), [n_x + n_y])

    def _n_low(self) -> tuple[int, int]:
        """Terms of weighted degree ≤ LOW_DEGREE in each component (they come first: the basis is graded)."""
        w = np.asarray(self.weights)
        return tuple(int(np.sum(self.exponents(c) @ w <= LOW_DEGREE)) for c in ("x", "y"))  # type: ignore[return-value]

    def coefficients(self) -> np.ndarray:
        """The coefficients as one (terms_x + terms_y, 4) block matrix from the bases to (x, y, tx, ty), rows in
        the order of :meth:`polynomial`'s columns: the low-degree terms of x and y, then the others of x and y."""
        n_x, n_y = self._n_low()
        rows = [(self.coef_x[:n_x], [0, 2]), (self.coef_y[:n_y], [1, 3]), (self.coef_x[n_x:], [0, 2]),
                (self.coef_y[n_y:], [1, 3])]
        out = np.zeros((self.n_terms, 4))
        i = 0
        for block, cols in rows:
            out[i:i + len(block), cols] = block
            i += len(block)
        return out

    def correction(self, start: Array) -> Array:
        """(q/p) · P (N, 4) in float32, in chunks of :data:`hepnb.tracks.polynomial.EVAL_CHUNK` tracks."""
        s = start.astype(jnp.float32)

        def one(chunk: Array) -> Array:
            return chunk[:, 4:5] * self.polynomial(chunk, jnp)

        return map_in_chunks(one, s, EVAL_CHUNK, pad_value=1.0)

    def __call__(self, start: Array) -> Array:
        s = start.astype(jnp.float32)
        line = jnp.concatenate([s[:, :2] + s[:, 2:4] * jnp.float32(self.dz_mm), s[:, 2:4]], axis=1)
        return jnp.concatenate([line + self.correction(s), s[:, 4:5]], axis=1)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (:meth:`from_dict` reads it back)."""
        return {"kind": "physics_poly", "degree": self.degree, "z0_mm": self.z0_mm, "dz_mm": self.dz_mm,
                "half_range": self.half_range.tolist(), "coef_x": self.coef_x.tolist(), "coef_y": self.coef_y.tolist(),
                "weights": list(self.weights), "parities": list(self.parities)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhysicsPolynomial:
        """The polynomial of a :meth:`to_dict` description."""
        return cls(int(d["degree"]), float(d["z0_mm"]), float(d["dz_mm"]), np.asarray(d["half_range"], np.float64),
                   np.asarray(d["coef_x"], np.float64).reshape(-1, 2), np.asarray(d["coef_y"], np.float64).reshape(-1, 2),
                   tuple(int(w) for w in d["weights"]), tuple(str(p) for p in d["parities"]))


def fit_physics_polynomial(start: np.ndarray, end: np.ndarray, z0_mm: float, z1_mm: float, degree: int, *,
                           weights: Sequence[int] = DEGREE_WEIGHTS, parities: Sequence[str] = PARITIES,
                           weighting: str = "relative") -> PhysicsPolynomial:
    """Fit P by weighted least squares in float64 (:func:`hepnb.tracks.polynomial.solve_least_squares`).

    Parameters
    ----------
    start, end
        Training start states (N, 5) on ``z0_mm`` and reference end states (N, ≥ 4) on ``z1_mm``.
    z0_mm, z1_mm
        The leg's planes.
    degree
        Largest weighted degree (:func:`parity_exponents`; with both parities only even degrees add terms).
    weights, parities
        See :func:`parity_exponents`.
    weighting
        ``"relative"`` (every track's P residual weighted equally) or ``"absolute"`` (the end-state residual).

    Raises
    ------
    ValueError
        Degree < 1, an unknown weighting, a track with q/p = 0, or fewer tracks than twice the terms of a component.
    """
    if degree < 1:
        msg = f"degree must be >= 1, found {degree}"
        raise ValueError(msg)
    if weighting not in WEIGHTINGS:
        msg = f"unknown weighting {weighting!r}; choose one of {list(WEIGHTINGS)}"
        raise ValueError(msg)
    s, e = np.asarray(start, np.float64), np.asarray(end, np.float64)
    if np.any(s[:, 4] == 0):
        msg = "q/p must be non-zero in every training track (the correction is fitted per unit q/p)"
        raise ValueError(msg)
    exps = {c: parity_exponents(degree, c, weights=weights, parities=parities) for c in ("x", "y")}
    most = max(len(v) for v in exps.values())
    if len(s) < 2 * most:
        msg = f"a weighted-degree-{degree} physics polynomial has {most} terms per component: fit it on at least {2 * most} tracks, found {len(s)}"
        raise ValueError(msg)
    dz = z1_mm - z0_mm
    half = np.maximum(np.abs(physics_variables(s, z0_mm)).max(0), 1e-12)
    weights, parities = tuple(int(w) for w in weights), tuple(parities)
    shell = PhysicsPolynomial(degree, float(z0_mm), float(dz), half, np.zeros((0, 2)), np.zeros((0, 2)), weights,
                              parities)
    qop = s[:, 4:5]
    target = (e[:, :4] - np.concatenate([s[:, :2] + s[:, 2:4] * dz, s[:, 2:4]], axis=1)) / qop
    sqrt_w = np.ones_like(qop) if weighting == "relative" else np.abs(qop)
    coef = {}
    for comp, cols in (("x", [0, 2]), ("y", [1, 3])):
        def blocks(comp: str = comp, cols: list[int] = cols) -> Iterable[tuple[np.ndarray, np.ndarray]]:
            for i in range(0, len(s), _FIT_CHUNK):
                sl = slice(i, i + _FIT_CHUNK)
                a = shell.basis(shell.normalise(s[sl]), comp, np)
                yield a * sqrt_w[sl], target[sl][:, cols] * sqrt_w[sl]

        coef[comp] = solve_least_squares(blocks, len(exps[comp]), 2)
    return PhysicsPolynomial(degree, float(z0_mm), float(dz), half, coef["x"], coef["y"], weights, parities)
