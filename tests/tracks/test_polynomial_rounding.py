"""The naive polynomial rounds alike in JAX (XLA) and in its ONNX export (onnxruntime).

A degree-9 polynomial of correlated inputs, fitted on an orthogonal basis, sums terms of up to ~10³ mm into a
metre-scale correction; evaluated by one float32 matmul, XLA's fused multiply–adds and the two runtimes'
summation orders put JAX and ONNX Runtime 1.2–1.3 µm apart on the UT → T leg. The evaluation in
:mod:`hepnb.tracks.polynomial` (products kept apart from sums, the input scale folded into the rotation, a
fixed pairwise sum) must give the same float32 numbers in both.
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hepnb.tracks.export import export_onnx, onnx_max_abs_diff
from hepnb.tracks.polynomial import design_matrix, fit_polynomial, pairwise_sum, unfused

DZ_MM = 5000.0


def _tracks(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Start states with x ≈ tx·2.5 m (correlated as on UT → T) and a metre-scale, nonlinear bend in q/p."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1500.0, 1500.0, n)
    y = rng.uniform(-1000.0, 1000.0, n)
    tx = x / 2500.0 + rng.normal(0.0, 0.02, n)
    ty = y / 2500.0 + rng.normal(0.0, 0.02, n)
    qop = rng.uniform(-1.0, 1.0, n) / 3000.0  # 1/MeV: |p| ≥ 3 GeV
    start = np.stack([x, y, tx, ty, qop], axis=1)
    kick = 1.2e3 * qop * np.sqrt(1.0 + tx**2 + ty**2) * (1.0 + 0.4 * tx**2 - 0.2 * ty**2)  # mm·GeV, a dipole-like bend
    end_tx = tx + kick / DZ_MM * 2.0 + 0.05 * qop * 1e3 * ty**2
    end = np.stack([x + tx * DZ_MM + kick * DZ_MM / 2.0 + 30.0 * np.sin(3e3 * qop) * tx,
                    y + ty * DZ_MM + 40.0 * (qop * 1e3) ** 2 * ty, end_tx, ty + 0.01 * (qop * 1e3) ** 2 * ty, qop],
                   axis=1)
    return start, end


def test_unfused_products_are_rounded_before_the_sum_and_keep_nan() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 20_000)).astype(np.float32)
    c = -(a.astype(np.float64) * b).astype(np.float32)  # a·b + c is the product's rounding error when fused
    two_roundings = (a * b) + c  # NumPy: the product rounded, then the sum
    got = np.asarray(jax.jit(lambda a, b, c: unfused(a * b) + c)(a, b, c))
    np.testing.assert_array_equal(got, two_roundings)
    assert np.count_nonzero(two_roundings) == 0  # ... which is zero here, where a fused one keeps the error
    out = np.asarray(jax.jit(unfused)(jnp.asarray([np.nan, np.inf, -2.0], jnp.float32)))
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == -2.0


def test_pairwise_sum_is_the_matrix_product() -> None:
    rng = np.random.default_rng(1)
    basis, coef = rng.normal(size=(64, 37)), rng.normal(size=(37, 4)) * 1e3
    got = np.asarray(pairwise_sum(jnp.asarray(basis, jnp.float32), jnp.asarray(coef, jnp.float32)))
    np.testing.assert_allclose(got, basis.astype(np.float32).astype(np.float64) @ coef.astype(np.float32),
                               rtol=0, atol=2e-3)  # 37 terms of ≤ 4·10³: float32 rounding, not a missing term


@pytest.mark.parametrize("basis", ["chebyshev", "legendre"])
def test_degree_nine_naive_polynomial_exports_to_the_same_float32_numbers(basis: str, tmp_path: Path) -> None:
    start, end = _tracks(6000, seed=2)
    poly = fit_polynomial(start, end, DZ_MM, 9, basis=basis)
    test_start, test_end = _tracks(4096, seed=3)
    test32 = test_start.astype(np.float32)
    got = np.asarray(jax.jit(poly)(jnp.asarray(test32)))
    # the fit is a real one (the bend is metres, the residual well under a millimetre) ...
    assert np.abs(end[:, 0] - start[:, 0] - start[:, 2] * DZ_MM).max() > 1e3
    assert np.median(np.abs(got[:, 0] - test_end[:, 0])) < 1.0
    # ... evaluated in float32 close to its float64 value ...
    s = test32.astype(np.float64)
    line = np.concatenate([s[:, :2] + s[:, 2:4] * DZ_MM, s[:, 2:4]], axis=1)
    f64 = line + design_matrix(poly.normalise(s), 9, basis, np) @ poly.coef
    assert 1e3 * np.abs(got[:, :2] - f64[:, :2]).max() < 2.0
    # ... and the ONNX graph rounds every step as JAX does: below one float32 step of a metre-scale position
    diff = onnx_max_abs_diff(poly, export_onnx(poly, tmp_path / "poly9.onnx"), test32)
    assert diff["max_pos_diff_um"] < 0.05, diff
    assert diff["max_slope_diff_mrad"] < 1e-6, diff
