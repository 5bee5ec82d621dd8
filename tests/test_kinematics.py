"""hepnb.kinematics: pT, |p|, η, φ, θ, mass, Δφ and ΔR of (px, py, pz, E) arrays against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb import kinematics


def _p4(n: int = 50, seed: int = 0, mass: np.ndarray | None = None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p3 = rng.normal(scale=10.0, size=(n, 3))
    mass = rng.uniform(0.1, 2.0, n) if mass is None else mass
    return np.column_stack([p3, np.sqrt(np.sum(p3**2, axis=1) + mass**2)])


def test_against_closed_forms() -> None:
    mass = np.random.default_rng(1).uniform(0.1, 2.0, 50)
    p4 = _p4(mass=mass)
    px, py, pz, _ = p4.T
    pt = np.hypot(px, py)
    p = np.sqrt(pt**2 + pz**2)
    np.testing.assert_allclose(kinematics.pt_gev(p4), pt, rtol=1e-14)
    np.testing.assert_allclose(kinematics.p_gev(p4), p, rtol=1e-14)
    np.testing.assert_allclose(kinematics.eta(p4), 0.5 * np.log((p + pz) / (p - pz)), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(kinematics.phi_rad(p4), np.arctan2(py, px), rtol=1e-14)
    np.testing.assert_allclose(kinematics.theta_rad(p4), np.arctan2(pt, pz), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kinematics.theta_deg(p4), np.degrees(np.arctan2(pt, pz)), rtol=1e-12)
    np.testing.assert_allclose(kinematics.cos_theta(p4), pz / p, rtol=1e-14)
    np.testing.assert_allclose(kinematics.mass_gev(p4), mass, rtol=1e-6)


def test_shapes_dtypes_and_edge_cases() -> None:
    p4 = _p4(12).reshape(3, 4, 4).astype(np.float32)
    for f in (kinematics.pt_gev, kinematics.eta, kinematics.mass_gev, kinematics.theta_deg):
        out = f(p4)
        assert out.shape == (3, 4) and out.dtype == np.float32
    one = np.array([3.0, 4.0, 0.0, 5.0])  # massless, in the transverse plane
    assert kinematics.pt_gev(one).shape == ()
    assert float(kinematics.pt_gev(one)) == 5.0 and float(kinematics.eta(one)) == 0.0
    assert float(kinematics.theta_deg(one)) == pytest.approx(90.0)
    assert float(kinematics.mass_gev([1.0, 0.0, 0.0, 0.5])) == 0.0  # space-like: 0, not NaN
    assert float(kinematics.cos_theta([0.0, 0.0, 0.0, 0.0])) == 1.0
    with pytest.raises(ValueError, match="last axis of 4"):
        kinematics.pt_gev(np.zeros((5, 3)))


def test_delta_phi_wraps_and_delta_r() -> None:
    a = np.array([3.0, -3.0, 0.1, 3.5])
    b = np.array([-3.0, 3.0, 0.0, 0.0])
    np.testing.assert_allclose(kinematics.delta_phi_rad(a, b), [6 - 2 * np.pi, 2 * np.pi - 6, 0.1, 3.5 - 2 * np.pi])
    assert np.all(np.abs(kinematics.delta_phi_rad(a, b)) <= np.pi)
    p4 = _p4(6)
    jet = p4[0]
    deta = kinematics.eta(p4) - kinematics.eta(jet)
    dphi = kinematics.delta_phi_rad(kinematics.phi_rad(p4), kinematics.phi_rad(jet))
    np.testing.assert_allclose(kinematics.delta_r(p4, jet), np.hypot(deta, dphi), rtol=1e-12)
    assert kinematics.delta_r(p4[:, None, :], p4[None, :3, :]).shape == (6, 3)
    assert float(kinematics.delta_r(jet, jet)) == 0.0
