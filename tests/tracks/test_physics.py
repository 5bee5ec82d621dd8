"""Physics validation of the dipole (analytic form and grid map) and of the Runge–Kutta reference against
independent references (finite differences, scipy's DOP853, the symmetries)."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from hepnb.tracks.constants import KAPPA_GEV_T_MM, LEGS_MM, MAGNET_SHIM_FACTORS, TX_MAX, TY_MAX, Z_T3_MM
from hepnb.tracks.data import generate_tracks
from hepnb.tracks.field import analytic_field, fit_pole_shim, line_integrals
from hepnb.tracks.fieldmap import default_field_map, field
from hepnb.tracks.propagate import flip_polarity, for_polarity, reference, rk4, single_kick

RNG = np.random.default_rng(11)


def _b64(fn, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    with jax.enable_x64(True):
        return np.stack([np.asarray(b, dtype=np.float64) for b in fn(x, y, z)])


def _acceptance_points(n: int) -> np.ndarray:
    """Points where tracks fly: inside ±300 × ±250 mrad from the origin, widened by the bend (|x| ≤ 0.42 z)."""
    z = RNG.uniform(300.0, Z_T3_MM, n)
    return np.stack([RNG.uniform(-1, 1, n) * (0.42 * z), RNG.uniform(-1, 1, n) * (TY_MAX * z), z])


def test_analytic_field_is_curl_and_divergence_free_over_the_acceptance() -> None:
    pts = _acceptance_points(400)
    h = 0.5
    grad = np.empty((3, 3, pts.shape[1]))
    for j in range(3):
        step = np.zeros((3, 1))
        step[j] = h
        grad[:, j] = (_b64(analytic_field, *(pts + step)) - _b64(analytic_field, *(pts - step))) / (2 * h)
    typical = np.median(np.abs(grad).max(axis=(0, 1)))  # a typical |∂B| (T/mm)
    curl = np.stack([grad[2, 1] - grad[1, 2], grad[0, 2] - grad[2, 0], grad[1, 0] - grad[0, 1]])
    div = grad[0, 0] + grad[1, 1] + grad[2, 2]
    assert typical > 1e-5  # a field that varies: the check is not 0 / 0
    assert np.abs(curl).max() / typical < 1e-3
    assert np.abs(div).max() / typical < 1e-3


def test_dipole_integral_peak_strength_and_uniformity() -> None:
    z = np.linspace(-500, 14000, 2901)
    by = _b64(analytic_field, 0 * z, 0 * z, z)[1]
    assert np.trapezoid(by, z) / 1e3 == pytest.approx(-4.0, rel=0.02)  # MagDown: ∫By dz = −4 T·m
    assert 4300 < z[np.argmin(by)] < 5100  # the peak between the poles
    assert abs(by[np.argmin(np.abs(z - 751.0))]) < 0.05  # weak at the end of the VELO
    pts = _acceptance_points(3000)
    assert np.linalg.norm(_b64(analytic_field, *pts), axis=0).max() <= 1.2
    # the whole rectangle ±300 × ±250 mrad: its corners (closest to the poles, longest paths), edge midpoints, inside
    slopes = np.array([(tx, ty) for tx in np.linspace(-TX_MAX, TX_MAX, 5) for ty in np.linspace(-TY_MAX, TY_MAX, 5)])
    with jax.enable_x64(True):
        axis = line_integrals(analytic_field, np.zeros((1, 2)), Z_T3_MM, 941)[0]
        rel = line_integrals(analytic_field, slopes, Z_T3_MM, 941) / axis - 1
    assert np.abs(rel).max() < 0.05  # LHCb: ∫B dl within ±5 % over the acceptance


def test_pole_shim_constants_are_the_fit_they_say_they_are() -> None:
    """``MAGNET_SHIM_FACTORS`` are what :func:`fit_pole_shim` gives (deterministic, ~13 s), and the fit meets its own
    targets: ∫By dz = −4 T·m on axis, the peak near 4.6 m, |B| ≤ 1.16 T in the acceptance, ∫|B × dl| within 5 %."""
    fit = fit_pole_shim()
    np.testing.assert_allclose(fit["factors"], MAGNET_SHIM_FACTORS, atol=1e-4)
    assert fit["integral_on_axis_t_m"] == pytest.approx(-4.0, rel=1e-3)
    assert abs(fit["z_peak_mm"] - 4600.0) <= 250.0
    assert fit["max_b_acceptance_t"] <= 1.16 + 1e-3
    assert max(np.abs(fit["line_integral_rel"])) < 0.05


def test_the_study_field_is_the_map_that_rk4_uses_by_default() -> None:
    fmap = default_field_map()
    assert fmap.shape == (81, 61, 146) and fmap.spacing_mm == (100.0, 100.0, 100.0)
    pts = _acceptance_points(2000)
    np.testing.assert_array_equal(_b64(field, *pts), _b64(fmap, *pts))
    # the map tabulates the analytic field: exact on a node, a few mT between nodes
    node = np.array([[300.0], [-200.0], [5100.0]])
    np.testing.assert_allclose(_b64(fmap, *node), _b64(analytic_field, *node), atol=1e-12)
    between = np.abs(_b64(fmap, *pts) - _b64(analytic_field, *pts)).max()
    assert 1e-5 < between < 5e-3
    # rk4's default field is that map (not the analytic form, which differs by µm at the end of the leg)
    z0, z1 = LEGS_MM["ut_t"]
    starts = np.array([[50.0, 30.0, 0.2, 0.1, 1 / 2.0], [-300.0, 100.0, -0.1, -0.05, -1 / 5.0]])
    np.testing.assert_array_equal(rk4(starts, z0, z1, 40), rk4(starts, z0, z1, 40, field=fmap))
    assert np.abs(rk4(starts, z0, z1, 40) - rk4(starts, z0, z1, 40, field=analytic_field))[:, 0].max() > 1e-4


def test_the_polarities_are_exact_negatives_and_a_flip_of_qop_serves_magup() -> None:
    down, up = default_field_map(-1), default_field_map(+1)
    np.testing.assert_array_equal(np.asarray(up.values_t), -np.asarray(down.values_t))
    z0, z1 = LEGS_MM["ut_t"]
    data = generate_tracks(64, seed=4)
    up_ref = reference(data["start"], z0, z1, field=up)
    via_flip = np.asarray(flip_polarity(reference(np.asarray(flip_polarity(data["start"])), z0, z1, field=down)))
    np.testing.assert_allclose(via_flip, up_ref, rtol=0, atol=1e-9)
    assert np.abs(up_ref[:, 2] - data["end"][:, 2]).min() > 1e-4  # MagUp really bends the other way

    def magdown(s):  # type: ignore[no-untyped-def]
        return reference(np.asarray(s), z0, z1, field=down)

    np.testing.assert_allclose(np.asarray(for_polarity(magdown, +1)(data["start"])), up_ref, rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="polarity must be -1"):
        for_polarity(magdown, 0)


def test_bend_of_a_10_gev_track() -> None:
    data = generate_tracks(300, seed=3, p_range_gev=(9.5, 10.5), displaced_fraction=0.0)
    bend = np.abs(data["end"][:, 2] - data["start"][:, 2])
    # κ ∫By dz / p = 0.12 rad over the whole magnet, less the part of the field before the UT plane
    assert 0.08 < np.median(bend) < 0.12
    full = rk4(np.array([[0.0, 0.0, 0.0, 0.0, 0.1]]), -400.0, 13900.0, 2860)
    assert abs(full[0, 2]) == pytest.approx(KAPPA_GEV_T_MM * 0.1 * 4000.0, rel=0.02)
    # the single kick of the whole field reproduces it (the same ∫By dz)
    z = np.linspace(-400, 13900, 2861)
    integral = float(np.trapezoid(_b64(field, 0 * z, 0 * z, z)[1], z))
    kick = np.asarray(single_kick(np.array([[0.0, 0.0, 0.0, 0.0, 0.1]]), -400.0, 13900.0, 5000.0, integral))
    assert kick[0, 2] == pytest.approx(full[0, 2], rel=0.01)  # the kick ignores the slope growing along the path


def _dop853(state: np.ndarray, z0: float, z1: float) -> np.ndarray:
    with jax.enable_x64(True):
        field64 = jax.jit(analytic_field)

        def rhs(z: float, s: np.ndarray) -> np.ndarray:
            x, y, tx, ty, qop = s
            bx, by, bz = (float(b) for b in field64(np.float64(x), np.float64(y), np.float64(z)))
            k = KAPPA_GEV_T_MM * qop * np.sqrt(1 + tx * tx + ty * ty)
            return np.array([tx, ty, k * (ty * (tx * bx + bz) - (1 + tx * tx) * by),
                             k * (-tx * (ty * by + bz) + (1 + ty * ty) * bx), 0.0])

        return solve_ivp(rhs, (z0, z1), state, method="DOP853", rtol=1e-11, atol=1e-11).y[:, -1]


def test_rk4_agrees_with_dop853_and_is_fourth_order_on_the_smooth_field() -> None:
    z0, z1 = LEGS_MM["ut_t"]
    p = np.exp(RNG.uniform(np.log(2.0), np.log(100.0), 6))
    starts = np.stack([RNG.uniform(-500, 500, 6), RNG.uniform(-400, 400, 6), RNG.uniform(-0.25, 0.25, 6),
                       RNG.uniform(-0.2, 0.2, 6), RNG.choice([-1.0, 1.0], 6) / p], axis=1)
    ours = rk4(starts, z0, z1, 1036, field=analytic_field)
    theirs = np.stack([_dop853(s, z0, z1) for s in starts])
    err_um = 1e3 * np.hypot(ours[:, 0] - theirs[:, 0], ours[:, 1] - theirs[:, 1])
    assert err_um.max() < 0.05
    # on the smooth analytic field the error falls 16× per halving of the step (on the C⁰ map it does not)
    err = [np.abs(rk4(starts[:2], z0, z1, n, field=analytic_field)[:, 0] - ours[:2, 0]).max() for n in (20, 40)]
    assert 10.0 < err[0] / err[1] < 24.0


def test_the_plane_aligned_reference_converges_on_the_map() -> None:
    z0, z1 = LEGS_MM["ut_t"]
    data = generate_tracks(200, seed=8, p_range_gev=(2.0, 20.0))
    fine = reference(data["start"], z0, z1, step_mm=2.5)
    err_um = 1e3 * np.hypot(*(data["end"][:, :2] - fine[:, :2]).T)
    assert np.median(err_um) < 0.01 and err_um.max() < 0.5  # the 10 mm reference is good to ≪ 1 µm
    # equal steps that straddle the map's planes are far worse at the same step
    equal = rk4(data["start"], z0, z1, int(np.ceil((z1 - z0) / 10.0)))
    assert np.median(1e3 * np.hypot(*(equal[:, :2] - fine[:, :2]).T)) > 5 * np.median(err_um)
