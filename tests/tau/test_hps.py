"""The HPS decay-mode reconstruction (hepnb.tau.hps) on hand-made jets: the strip windows and their bounds as CMS
states them (JINST 13 (2018) P10005: f = 0.20 pT^−0.66 in η within 0.05–0.15, g = 0.35 pT^−0.71 in φ within
0.05–0.30), photons merging or not, the mass windows and the signal cone 3/pT within 0.05–0.10 on constructed
four-vectors, and the isolation sum."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tau import baselines, hps

_CAT = {11: 8, 13: 9, 22: 10, 211: 11, 130: 12}
M_PI = 0.13957
M_PI0 = 0.1349768


def _jet(rows: list[tuple[float, float, float, float, int]], n_slots: int = 20) -> tuple[np.ndarray, ...]:
    """Features, four-vectors and mask of one jet from candidate rows (px, py, pz, charge, pdg)."""
    feats = np.zeros((1, n_slots, 17), np.float32)
    p4 = np.zeros((1, n_slots, 4), np.float64)
    for i, (px, py, pz, q, cat) in enumerate(rows):
        mass = M_PI if cat == 211 else 0.0
        p4[0, i] = (px, py, pz, np.sqrt(px**2 + py**2 + pz**2 + mass**2))
        feats[0, i, 2], feats[0, i, 7] = np.log(np.hypot(px, py)), q
        feats[0, i, _CAT[cat]] = 1
    return feats, p4, np.arange(n_slots)[None] < len(rows)


def _at(pt: float, phi: float, q: float, pdg: int) -> tuple[float, float, float, float, int]:
    """A candidate at η = 0 with transverse momentum ``pt`` and azimuth ``phi``."""
    return (pt * np.cos(phi), pt * np.sin(phi), 0.0, q, pdg)


def test_strip_window_is_cms_formula_and_bounds() -> None:
    d_eta, d_phi = hps.strip_window(np.array(5.0), np.array(10.0))
    assert d_eta == pytest.approx(0.20 * 5**-0.66 + 0.20 * 10**-0.66)  # 0.113
    assert d_phi == pytest.approx(0.35 * 5**-0.71 + 0.35 * 10**-0.71)  # 0.180
    assert hps.strip_window(np.array(0.5), np.array(0.5)) == pytest.approx((0.15, 0.30))  # soft: the upper bounds
    assert hps.strip_window(np.array(100.0), np.array(100.0)) == pytest.approx((0.05, 0.05))  # hard: the lower


def _strips(rows: list[tuple[float, ...]]) -> np.ndarray:
    feats, p4, mask = _jet(rows)
    _, owner = hps.build_strips(p4, mask & (feats[..., 10] > 0))
    return owner[0, : len(rows)]


def test_photons_merge_at_low_pt_and_not_at_high_pt() -> None:
    """Two photons 0.2 apart in φ: at 1 GeV each the φ window is 0.30 (bounded) and they form one strip; at 20 GeV
    each it is 2 × 0.35 × 20^−0.71 = 0.083 and they stay two."""
    assert list(_strips([_at(1.0, 0.0, 0, 22), _at(1.0, 0.2, 0, 22)])) == [0, 0]
    assert list(_strips([_at(20.0, 0.0, 0, 22), _at(20.0, 0.2, 0, 22)])) == [0, 1]
    # 0.2 apart in η is beyond the largest η window (0.15) at any pT
    soft = [(1.0, 0.0, 0.0, 0, 22), (1.0, 0.0, np.sinh(0.2), 0, 22)]
    assert list(_strips(soft)) == [0, 1]
    # the strip follows its pT-weighted centre: a third photon 0.33 from the seed but 0.23 from the centre of the
    # first two joins (the window of 1-GeV photons is 0.30 in φ)
    assert list(_strips([_at(1.0, 0.0, 0, 22), _at(1.0, 0.2, 0, 22), _at(1.0, 0.33, 0, 22)])) == [0, 0, 0]


def test_mass_windows() -> None:
    assert [float(v) for v in hps.mass_window_gev(1, 1, np.array(20.0))] == pytest.approx([0.3, 1.3])
    assert float(hps.mass_window_gev(1, 1, np.array(400.0))[1]) == pytest.approx(1.3 * 2.0)  # 1.3 √(pT/100)
    assert float(hps.mass_window_gev(1, 1, np.array(1e5))[1]) == pytest.approx(4.2)
    assert float(hps.mass_window_gev(1, 2, np.array(400.0))[1]) == pytest.approx(2.4)
    assert [float(v) for v in hps.mass_window_gev(3, 0, np.array(400.0))] == pytest.approx([0.8, 1.5])
    assert [float(v) for v in hps.mass_window_gev(3, 1, np.array(20.0))] == pytest.approx([0.9, 1.6])
    assert float(hps.mass_window_gev(1, 0, np.array(20.0))[1]) == np.inf


def _rho(pt: float, angle: float) -> tuple[list[tuple[float, ...]], float]:
    """A pion and a (merged) π⁰ photon of ``pt`` each, ``angle`` apart in φ, and the visible mass HPS computes (the
    strip given the π⁰ mass), by hand."""
    rows = [_at(pt, 0.0, -1.0, 211), _at(pt, angle, 0.0, 22)]
    e = np.sqrt(pt**2 + M_PI**2) + np.sqrt(pt**2 + M_PI0**2)
    p = pt * np.array([1 + np.cos(angle), np.sin(angle)])
    return rows, float(np.sqrt(e**2 - p @ p))


def test_hypotheses_mass_windows_and_signal_cone() -> None:
    rows, mass = _rho(20.0, 0.0385)
    assert 0.3 < mass < 1.3
    assert hps.hps_decay_mode(*_jet(rows), strip_pt_min=2.5)[0] == 1  # h±π⁰
    res = hps.hps_reconstruct(*_jet(rows), strip_pt_min=2.5)
    assert hps.kinematics.mass_gev(res["p4"][0]) == pytest.approx(mass, rel=1e-6)
    rows, mass = _rho(20.0, 0.09)
    assert mass > 1.3  # outside the h±π⁰ window: the pion alone is the τ candidate
    assert hps.hps_decay_mode(*_jet(rows), strip_pt_min=2.5)[0] == 0
    # a ρ of 6 GeV: the two are 0.13 from their axis, outside the signal cone min(3/6, 0.10) = 0.10
    rows, mass = _rho(3.0, 0.257)
    assert 0.3 < mass < 1.3
    assert hps.hps_decay_mode(*_jet(rows), strip_pt_min=0.5)[0] == 0
    assert hps.hps_reconstruct(*_jet(rows), strip_pt_min=0.5, cone_max=0.4)["decay_mode"][0] == 1
    assert baselines.hps_decay_mode is hps.hps_decay_mode


def test_three_prongs_need_charge_one_and_their_window() -> None:
    def prongs(angle: float, charges: tuple[float, float, float]) -> list[tuple[float, ...]]:
        return [_at(20.0, 0.0, charges[0], 211), _at(15.0, angle, charges[1], 211), _at(12.0, -angle, charges[2], 211)]

    def mass(rows: list[tuple[float, ...]]) -> float:
        return float(hps.kinematics.mass_gev(_jet(rows)[1][0, :3].sum(axis=0)))

    good = prongs(0.03, (-1.0, 1.0, -1.0))
    assert 0.8 < mass(good) < 1.5 and hps.hps_decay_mode(*_jet(good))[0] == 3
    # the same momenta with charges +1 +1 +1: no three-prong candidate; the two leading prongs (no charge
    # requirement) are below the 0.8 GeV window, so the leading pion alone is the τ candidate
    same = prongs(0.03, (1.0, 1.0, 1.0))
    assert mass(same[:2]) < 0.8 and hps.hps_decay_mode(*_jet(same))[0] == 0


def test_isolation_sums_what_the_candidate_does_not_use() -> None:
    rows, _ = _rho(20.0, 0.0385)
    extra = [_at(2.0, 0.3, 1.0, 211), _at(1.5, -0.3, 0.0, 22), _at(3.0, 0.25, 0.0, 130)]  # a neutral hadron: not summed
    res = hps.hps_reconstruct(*_jet(rows + extra), strip_pt_min=2.5)
    assert res["decay_mode"][0] == 1 and res["iso_pt_gev"][0] == pytest.approx(3.5)
