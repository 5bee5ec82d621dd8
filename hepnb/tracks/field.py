"""The LHCb-like dipole: an analytic field and the grid map that the study integrates through.

**Which field is which.**

- :func:`analytic_field` is the magnet's exact field: sheets of magnetic charge on wedged pole faces that
  follow the acceptance, return sheets for the flux the yoke carries back, and a shield upstream (as LHCb's
  RICH1 shielding). Being a sum of Coulomb-like fields of charges outside the aperture, it is curl- and
  divergence-free to machine precision inside it. It is smooth, and slow (106 sheets).
- :class:`FieldMap` is a field on a regular grid, evaluated by trilinear interpolation, as LHCb's
  ``MagneticFieldGrid``. :func:`default_field_map` tabulates :func:`analytic_field` every 100 mm (as LHCb's
  v8r1 maps); users' maps load from LHCb's quadrant files (:meth:`FieldMap.load_cdf`) or an npz file.
- :func:`field` is **the study's field**: the default map evaluated at points. It is what
  :func:`hepnb.tracks.propagate.rk4` uses when no ``field=`` is given, what the references and the
  baselines integrate, and what the models learn. It differs from :func:`analytic_field` by the trilinear
  interpolation error (mT; :func:`dipole_checks` reports it).

MagDown (``polarity=-1``, By < 0 on axis) is the default; MagUp is its exact negative.

Properties (measured by :func:`dipole_checks`, asserted in tests/tracks/test_physics.py): ∫By dz = −4.0 T·m
on axis; ∫|B × dl| along straight lines from the origin to z = 9.4 m within +0.2 … +4.6 % of the on-axis line
over the whole acceptance, ±300 mrad × ±250 mrad, corners included (LHCb's goal: ±5 %); |B| ≤ 1.17 T in the
acceptance; the peak, 0.90 T, at z = 4.58 m. The pole faces are shimmed across x (:func:`pole_sheets`, strip
factors fitted by :func:`fit_pole_shim`): without the shim the rectangle's corners, closest to the poles and
the longest paths, reached +9.3 %. The largest deviation left, +4.6 %, is along the vertical edge (tx = 0,
ty = ±250 mrad): more of the on-axis integral lies beyond z = 9.4 m than near the poles, and a shim across x
does not move that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from hepnb.tracks.arrays import Array, FieldFn
from hepnb.tracks.constants import (
    B_INTEGRAL_T_MM,
    GRID_Z_MM,
    MAGNET_HALF_GAP_MM,
    MAGNET_HALF_WIDTH_MM,
    MAGNET_POLE_DENSITY_T,
    MAGNET_POLE_SEGMENTS,
    MAGNET_POLE_Z_MM,
    MAGNET_RETURN_OFFSET_MM,
    MAGNET_RETURN_RATIO,
    MAGNET_SHIELD_DENSITY_T,
    MAGNET_SHIELD_SEGMENTS,
    MAGNET_SHIELD_Z_MM,
    MAGNET_SHIM_EDGES,
    MAGNET_SHIM_FACTORS,
    ORIGINAL_B0_T,
    ORIGINAL_SIGMA_MM,
    ORIGINAL_ZC_MM,
    TX_MAX,
    TY_MAX,
    Z_T3_MM,
)

__all__ = [
    "analytic_field",
    "check_polarity",
    "dipole_checks",
    "fit_pole_shim",
    "line_integrals",
    "original_field",
    "pole_sheets",
]


def check_polarity(polarity: int) -> int:
    """``-1`` (MagDown) or ``+1`` (MagUp); anything else is refused."""
    if polarity not in (-1, 1):
        msg = f"polarity must be -1 (MagDown) or +1 (MagUp), found {polarity!r}"
        raise ValueError(msg)
    return int(polarity)


def pole_sheets(shim_edges: Sequence[float] = MAGNET_SHIM_EDGES,
                shim_factors: Sequence[float] = MAGNET_SHIM_FACTORS) -> np.ndarray:
    """The charged sheets of the MagDown dipole, one row each: (half-width, z₁, z₂, y, σ) in mm and tesla.

    Each sheet is the rectangle |x| ≤ half-width, z₁ ≤ z ≤ z₂ in the plane y, with uniform magnetic surface
    charge density σ (an infinite sheet would give a field of ±σ/2 on either side).

    The pole faces are shimmed across x: strip ``k`` (``|x|`` between ``shim_edges[k-1]·z`` and
    ``shim_edges[k]·z``, the last out to the half-width) carries ``shim_factors[k]`` times the slab's density.
    Strips are written as nested rectangles (the full face at the outer factor, then each edge inwards adding
    the difference), so every row keeps the closed form of a centred rectangle.
    """
    if len(shim_factors) != len(shim_edges) + 1:
        msg = f"{len(shim_edges)} shim edges need {len(shim_edges) + 1} factors, found {len(shim_factors)}"
        raise ValueError(msg)
    rows = []

    def slabs(z_range: tuple[float, float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        edges = np.linspace(*z_range, n + 1)
        mid = 0.5 * (edges[1:] + edges[:-1])
        return edges, mid, (mid - z_range[0]) / (z_range[1] - z_range[0])

    edges, mid, frac = slabs(MAGNET_POLE_Z_MM, MAGNET_POLE_SEGMENTS)
    gap = MAGNET_HALF_GAP_MM[0] + MAGNET_HALF_GAP_MM[1] * mid
    width = MAGNET_HALF_WIDTH_MM[0] + MAGNET_HALF_WIDTH_MM[1] * mid
    sigma = MAGNET_POLE_DENSITY_T[0] + (MAGNET_POLE_DENSITY_T[1] - MAGNET_POLE_DENSITY_T[0]) * frac
    factors = [float(f) for f in shim_factors]
    layers = [(width, factors[-1])] + [(float(c) * mid, factors[k] - factors[k + 1])
                                       for k, c in enumerate(shim_edges)]
    for half, factor in layers:
        if np.any(half > width):
            msg = f"a pole shim edge lies beyond the pole's half-width ({np.max(half - width):.0f} mm)"
            raise ValueError(msg)
        for y, s in ((gap, factor * sigma), (-gap, -factor * sigma)):
            rows.append(np.stack([half, edges[:-1], edges[1:], y, s], axis=1))
    for y, s in ((gap + MAGNET_RETURN_OFFSET_MM, -MAGNET_RETURN_RATIO * sigma),
                 (-gap - MAGNET_RETURN_OFFSET_MM, MAGNET_RETURN_RATIO * sigma)):
        rows.append(np.stack([width, edges[:-1], edges[1:], y, s], axis=1))
    edges, mid, _ = slabs(MAGNET_SHIELD_Z_MM, MAGNET_SHIELD_SEGMENTS)
    gap = MAGNET_HALF_GAP_MM[0] + MAGNET_HALF_GAP_MM[1] * mid
    width = MAGNET_HALF_WIDTH_MM[0] + MAGNET_HALF_WIDTH_MM[1] * mid
    shield = np.full_like(mid, -MAGNET_SHIELD_DENSITY_T)
    for y, s in ((gap, shield), (-gap, -shield)):
        rows.append(np.stack([width, edges[:-1], edges[1:], y, s], axis=1))
    return np.concatenate(rows)


def fit_pole_shim(shim_edges: Sequence[float] = MAGNET_SHIM_EDGES, *, b_max_t: float = 1.16,
                  n_lines: tuple[int, int] = (7, 6), n_volume: int = 4000, starts: int = 4,
                  seed: int = 0) -> dict[str, Any]:
    """Fit the pole shim's strip factors (how ``MAGNET_SHIM_FACTORS`` was obtained; about a minute on a CPU).

    The field is linear in the strips' densities, so the field of each strip along the lines, the axis and at
    random points of the acceptance is computed once; Nelder–Mead then minimises the largest |∫|B × dl| / on-axis
    − 1| over a grid of ``n_lines`` straight lines from the origin across the quadrant tx ∈ [0, 0.3],
    ty ∈ [0, 0.25] (corners and edges included; the dipole's symmetries give the other quadrants), with penalties
    that hold ∫By dz on axis at 4 T·m, |B| in the acceptance at ``b_max_t`` and the peak within 250 mm of
    4.6 m. Returns the factors and what they reach.
    """
    from scipy.optimize import minimize

    n_strips = len(shim_edges) + 1
    rest = pole_sheets(shim_edges, (0.0,) * n_strips)
    parts = []
    for k in range(n_strips):
        one = pole_sheets(shim_edges, tuple(float(i == k) for i in range(n_strips)))
        parts.append(one[one[:, 4] != rest[:, 4]])
    parts.append(rest[rest[:, 4] != 0.0])  # the return sheets and the shield, fixed
    lines = [(0.0, 0.0)] + [(tx, ty) for tx in np.linspace(0.0, TX_MAX, n_lines[0])
                            for ty in np.linspace(0.0, TY_MAX, n_lines[1])]
    z = np.linspace(0.0, Z_T3_MM, 941)
    z_axis = np.linspace(GRID_Z_MM[0], GRID_Z_MM[1], 2901)
    rng = np.random.default_rng(seed)
    zv = rng.uniform(0.0, Z_T3_MM, n_volume)
    volume = np.concatenate([np.stack([rng.uniform(0, 1, n_volume) * TX_MAX * zv,
                                       rng.uniform(0, 1, n_volume) * TY_MAX * zv, zv]),
                             np.stack([rng.uniform(0, 1, n_volume) * (0.42 * zv + 100.0),
                                       rng.uniform(0, 1, n_volume) * (TY_MAX * zv + 100.0), zv])], axis=1)
    points = np.concatenate([np.stack([tx * z, ty * z, z]) for tx, ty in lines] +
                            [np.stack([0 * z_axis, 0 * z_axis, z_axis]), volume], axis=1)
    with jax.enable_x64(True):
        basis = np.stack([np.stack([np.asarray(c) for c in _sheets_field(*map(jnp.asarray, points), jnp.asarray(p))])
                          for p in parts])  # (strip, component, point), MagDown
    n_line_pts = len(lines) * z.size

    def measure(factors: np.ndarray) -> tuple[np.ndarray, float, float, float]:
        b = np.tensordot(np.append(factors, 1.0), basis, axes=1)
        on_lines = b[:, :n_line_pts].reshape(3, len(lines), z.size).transpose(1, 2, 0)
        integrals = _perp_integrals(on_lines, lines, z)
        by_axis = b[1, n_line_pts:n_line_pts + z_axis.size]
        b_max = float(np.max(np.linalg.norm(b[:, n_line_pts + z_axis.size:], axis=0)))
        return (integrals[1:] / integrals[0] - 1.0, abs(float(np.trapezoid(by_axis, z_axis))),
                float(z_axis[np.argmax(np.abs(by_axis))]), b_max)

    def objective(factors: np.ndarray) -> float:
        rel, integral, z_peak, b_max = measure(factors)
        return (float(np.max(np.abs(rel))) + 5.0 * abs(integral - B_INTEGRAL_T_MM) / B_INTEGRAL_T_MM
                + 5.0 * max(0.0, b_max - b_max_t) + max(0.0, abs(z_peak - 4600.0) - 250.0) / 1000.0)

    best = None
    for start in range(starts):
        x0 = np.ones(n_strips) * (1.0 if start == 0 else np.random.default_rng(start).uniform(0.7, 1.3, n_strips))
        for _ in range(2):  # a restart of the simplex where the first one stalled
            x0 = minimize(objective, x0, method="Nelder-Mead",
                          options={"maxfev": 6000, "xatol": 1e-5, "fatol": 1e-7, "adaptive": True}).x
        if best is None or objective(x0) < objective(best):
            best = x0
    rel, integral, z_peak, b_max = measure(best)
    return {"factors": tuple(float(f) for f in best), "line_integral_rel": (float(rel.min()), float(rel.max())),
            "integral_on_axis_t_m": -integral / 1e3, "z_peak_mm": z_peak, "max_b_acceptance_t": b_max}


def _log_plus(a: Array, other2: Array, r: Array) -> Array:
    """ln(a + r) with r = √(a² + other2), without cancellation where a < 0."""
    safe = jnp.maximum(other2, 1e-300)
    return jnp.where(a >= 0, jnp.log(jnp.maximum(a + r, 1e-300)), jnp.log(safe) - jnp.log(jnp.maximum(r - a, 1e-300)))


def _sheets_field(x: Array, y: Array, z: Array, sheets: Array) -> tuple[Array, Array, Array]:
    """Closed-form field of uniformly charged rectangles (sum over the last axis of the broadcast)."""
    half, z1, z2, y0, sigma = (sheets[:, i] for i in range(5))
    x, y, z = x[..., None], y[..., None], z[..., None]
    dy = y - y0
    dy2 = dy * dy
    bx = by = bz = 0.0
    for u, v, sign in ((x + half, z - z1, 1.0), (x - half, z - z1, -1.0), (x + half, z - z2, -1.0),
                       (x - half, z - z2, 1.0)):
        r = jnp.sqrt(u * u + v * v + dy2)
        by = by + sign * jnp.arctan(u * v / (dy * r))
        bx = bx - sign * _log_plus(v, u * u + dy2, r)
        bz = bz - sign * _log_plus(u, v * v + dy2, r)
    k = sigma / (4.0 * np.pi)
    return jnp.sum(k * bx, -1), jnp.sum(k * by, -1), jnp.sum(k * bz, -1)


def analytic_field(x_mm: Array, y_mm: Array, z_mm: Array, *, polarity: int = -1) -> tuple[Array, Array, Array]:
    """The analytic dipole field in tesla at points in mm (arrays broadcast together).

    Parameters
    ----------
    x_mm, y_mm, z_mm
        Coordinates (LHCb frame: z along the beam, y vertical). Inside the aperture only: on and beyond the
        pole sheets the value is that of the sheets' field, which has no physical meaning there.
    polarity
        ``-1`` (MagDown, By < 0 on axis) or ``+1`` (MagUp); the two are exact negatives.

    Returns
    -------
    (Bx, By, Bz)
        Arrays in tesla (the dtype follows JAX's x64 setting).
    """
    sign = -float(check_polarity(polarity))
    x, y, z = jnp.broadcast_arrays(jnp.asarray(x_mm), jnp.asarray(y_mm), jnp.asarray(z_mm))
    sheets = jnp.asarray(pole_sheets(), dtype=x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else None)
    x, y, z = (c.astype(sheets.dtype) for c in (x, y, z))
    # evaluated at (|x|, |y|) and signed by the dipole's symmetries, so that they hold exactly (not to round-off):
    # By even in x and y, Bx odd in x and in y, Bz odd in y
    bx, by, bz = _sheets_field(jnp.abs(x), jnp.abs(y), z, sheets)
    sx, sy = jnp.sign(x), jnp.sign(y)
    return sign * sx * sy * bx, sign * by, sign * sy * bz


def original_field(x_mm: Array, y_mm: Array, z_mm: Array) -> tuple[Array, Array, Array]:
    """The original study's field, reproduced for ``physics=original``: a Gaussian By(z) with an ad-hoc "fringe"
    (By·[1 − 1e-4 (r⊥/1 m)²], Bx = −0.01·By·x/1 m, Bz = 0). It is not Maxwell-consistent."""
    x, y, z = jnp.asarray(x_mm), jnp.asarray(y_mm), jnp.asarray(z_mm)
    by0 = ORIGINAL_B0_T * jnp.exp(-0.5 * ((z - ORIGINAL_ZC_MM) / ORIGINAL_SIGMA_MM) ** 2)
    r2_m2 = (x * x + y * y) * 1e-6
    by = by0 * (1.0 - 1e-4 * r2_m2)
    return -0.01 * by * x * 1e-3, by, jnp.zeros_like(by)


def _jitted(fn: FieldFn) -> FieldFn:
    """``fn`` compiled once per input shape (a map passed as an argument, not embedded as a constant)."""
    if hasattr(fn, "on_device"):  # a grid map (hepnb.tracks.fieldmap.FieldMap): its arrays as an argument
        compiled = jax.jit(lambda m, x, y, z: jnp.stack(m(x, y, z)))
        on_device = fn.on_device()  # copied once, not at every call
        return lambda x, y, z: tuple(compiled(on_device, jnp.asarray(x), jnp.asarray(y), jnp.asarray(z)))
    compiled_fn = jax.jit(lambda x, y, z: jnp.stack(fn(x, y, z)))
    return lambda x, y, z: tuple(compiled_fn(jnp.asarray(x), jnp.asarray(y), jnp.asarray(z)))


def _perp_integrals(b_lines: np.ndarray, slopes: Sequence[tuple[float, float]], z: np.ndarray) -> np.ndarray:
    """∫|B × l̂| dl (T·mm) along straight lines from the origin with slopes (tx, ty), from the field
    ``b_lines[line, point, component]`` sampled at the lines' points of longitudinal position ``z``."""
    slopes = np.asarray(slopes, np.float64).reshape(-1, 2)
    norm = np.sqrt(1.0 + np.sum(slopes * slopes, axis=1))
    lhat = np.column_stack([slopes, np.ones(len(slopes))]) / norm[:, None]
    b_perp = np.linalg.norm(np.cross(b_lines, lhat[:, None, :]), axis=2)
    return np.trapezoid(b_perp, z, axis=1) * norm


def line_integrals(fn: FieldFn, slopes: np.ndarray, z_end_mm: float, n_points: int) -> np.ndarray:
    """∫|B × l̂| dl (T·mm) along straight lines from the origin with slopes (tx, ty), to z = ``z_end_mm``."""
    z = np.linspace(0.0, z_end_mm, n_points)
    b = np.stack([np.stack([np.asarray(c, np.float64) for c in fn(tx * z, ty * z, z)], axis=1)
                  for tx, ty in slopes])
    return _perp_integrals(b, slopes, z)


def dipole_checks(fn: FieldFn = analytic_field, *, n_lines: tuple[int, int] = (7, 6), n_volume: int = 20_000,
                  seed: int = 0) -> dict[str, Any]:
    """The properties that make a field LHCb-like, measured on ``fn`` (float64).

    Returns
    -------
    dict
        ``integral_on_axis_t_m`` (∫By dz on x = y = 0 over the map's z range), ``peak_t`` and ``z_peak_mm``
        (largest |By| on axis and where), ``line_integral_rel`` (min and max of ∫|B × l̂| dl along straight
        lines from the origin with |tx| ≤ 0.3, |ty| ≤ 0.25, up to z = 9403 mm, relative to the on-axis value
        − 1), ``max_b_acceptance_t`` (largest |B| at random points of the acceptance cone, z 0–9403 mm, and of
        the wider region where tracks bend, |x| ≤ 0.42 z), and ``by_on_axis_t`` at the detector planes.
    """
    with jax.enable_x64(True):
        fn = _jitted(fn)
        z = np.linspace(GRID_Z_MM[0], GRID_Z_MM[1], 2901)
        by = np.asarray(fn(np.zeros_like(z), np.zeros_like(z), z)[1], np.float64)
        on_axis = float(np.trapezoid(by, z))
        slopes = np.array([(tx, ty) for tx in np.linspace(-TX_MAX, TX_MAX, n_lines[0])
                           for ty in np.linspace(-TY_MAX, TY_MAX, n_lines[1])])
        lines = line_integrals(fn, slopes, Z_T3_MM, 941)
        axis_line = line_integrals(fn, np.zeros((1, 2)), Z_T3_MM, 941)[0]
        rng = np.random.default_rng(seed)
        zv = rng.uniform(0.0, Z_T3_MM, n_volume)
        cone = (rng.uniform(-TX_MAX, TX_MAX, n_volume) * zv, rng.uniform(-TY_MAX, TY_MAX, n_volume) * zv, zv)
        wide = (rng.uniform(-1, 1, n_volume) * (0.42 * zv + 100.0), rng.uniform(-1, 1, n_volume) * (TY_MAX * zv + 100.0),
                zv)
        b_max = max(float(np.max(np.linalg.norm(np.stack([np.asarray(c, np.float64) for c in fn(*pts)]), axis=0)))
                    for pts in (cone, wide))
    planes = {"velo_end": 751.0, "ut": 2648.2, "t1": 7826.0}
    return {"integral_on_axis_t_m": on_axis / 1e3, "peak_t": float(np.max(np.abs(by))),
            "z_peak_mm": float(z[np.argmax(np.abs(by))]),
            "line_integral_rel": (float(lines.min() / axis_line - 1.0), float(lines.max() / axis_line - 1.0)),
            "line_integral_on_axis_t_m": float(axis_line / 1e3), "max_b_acceptance_t": b_max,
            "by_on_axis_t": {k: float(np.interp(v, z, by)) for k, v in planes.items()},
            "expected_integral_t_m": B_INTEGRAL_T_MM / 1e3}
