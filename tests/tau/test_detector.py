"""The CLD-like detector: impact-parameter geometry against hand computations, and every stated value of
hepnb.tau.constants realised by the simulation (efficiencies, rates, resolutions, conversions, merging,
confusion), on particles made by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tau import constants
from hepnb.tau.detector import (
    C_GEV_PER_T_MM,
    d0_resolution_mm,
    ecal_sigma_gev,
    hcal_sigma_gev,
    helix_impact_parameters,
    pairs_within_events,
    reconstruct,
    track_energy_gev,
    tracking_efficiency,
)
from hepnb.tau.events import GenEvents
from hepnb.tau.jets import candidate_features

PION_MASS = 0.13957


def _gen(rows: list[tuple[float, ...]], n_events: int | None = None) -> GenEvents:
    """Particles (event, px, py, pz, pid, charge, x, y, z) with energies from their masses."""
    a = np.array(rows, dtype=np.float64).reshape(-1, 9)
    pid = a[:, 4].astype(np.int64)
    mass = np.select([np.abs(pid) == 211, np.abs(pid) == 11, np.abs(pid) == 13, pid == 130],
                     [PION_MASS, 0.000511, 0.10566, 0.49761], 0.0)
    e = np.sqrt(np.sum(a[:, 1:4] ** 2, axis=1) + mass**2)
    event = a[:, 0].astype(np.int64)
    parts = {"event": event, "px": a[:, 1], "py": a[:, 2], "pz": a[:, 3], "e": e, "pid": pid, "charge": a[:, 5],
             "x": a[:, 6], "y": a[:, 7], "z": a[:, 8]}
    n = int(event.max()) + 1 if n_events is None else n_events
    taus = {"event": np.zeros(0, np.int64), "charge": np.zeros(0, np.int32), "vis": np.zeros((0, 4)),
            "dm": np.zeros(0, np.int32)}
    return GenEvents(n_events=n, particles=parts, taus=taus, prompt_lepton=np.zeros(n, np.int32))


def _many(pid: int, charge: float, p3: tuple[float, float, float], n: int, vertex: tuple[float, float, float] = (0, 0, 0)
          ) -> GenEvents:
    return _gen([(i, *p3, pid, charge, *vertex) for i in range(n)])


def test_helix_impact_parameters_by_hand() -> None:
    # positive track at (1, 0) mm moving along +y with pT = 1 GeV: the circle's centre is (1 + R, 0) and the
    # track passes through its own production point at closest approach, d0 = +1 mm, z0 = z
    radius = 1.0 / (C_GEV_PER_T_MM * 2.0)
    d0, z0, x, y = helix_impact_parameters(np.array([1.0]), np.array([0.0]), np.array([5.0]), np.array([0.0]),
                                           np.array([1.0]), np.array([0.5]), np.array([1.0]), 2.0)
    assert d0[0] == pytest.approx(1.0, abs=1e-9) and z0[0] == pytest.approx(5.0, abs=1e-9)
    assert (x[0], y[0]) == pytest.approx((1.0, 0.0), abs=1e-9)
    # the same particle made at (0, −10) mm moving along +x turns clockwise towards −y: the closest approach to
    # the origin is at the start of its circle, found by hand from the geometry
    d0, z0, _, _ = helix_impact_parameters(np.array([0.0]), np.array([-10.0]), np.array([0.0]), np.array([1.0]),
                                           np.array([0.0]), np.array([1.0]), np.array([1.0]), 2.0)
    centre = np.array([0.0, -10.0 - radius])
    assert d0[0] == pytest.approx(np.linalg.norm(centre) - radius, rel=1e-9)  # = +10 mm
    assert z0[0] == pytest.approx(0.0, abs=1e-9)
    # a large radius gives the straight-line d0 = (x py − y px)/pT and z0 = z − (x px + y py) pz / pT²
    rng = np.random.default_rng(1)
    x0, y0, z = rng.normal(0, 2, (3, 50))
    px, py, pz = rng.normal(0, 5, (3, 50))
    d0, z0, _, _ = helix_impact_parameters(x0, y0, z, px, py, pz, np.ones(50), 1e-6)
    pt = np.hypot(px, py)
    np.testing.assert_allclose(d0, (x0 * py - y0 * px) / pt, atol=1e-6)
    np.testing.assert_allclose(z0, z - (x0 * px + y0 * py) * pz / pt**2, atol=1e-6)


def test_d0_resolution_stated_values() -> None:
    """σ(d0) = 5.9 µm ⊕ 10.4 µm·GeV/(p sin^{3/2}θ): ≈ 6 µm at 10 GeV and ≈ 12 µm at 1 GeV (reference §5)."""
    assert 1e3 * d0_resolution_mm(np.array([10.0]), np.array([1.0]))[0] == pytest.approx(6.0, abs=0.1)
    assert 1e3 * d0_resolution_mm(np.array([1.0]), np.array([1.0]))[0] == pytest.approx(12.0, abs=0.1)
    assert 1e3 * d0_resolution_mm(np.array([1.0]), np.array([0.5]))[0] == pytest.approx(
        np.hypot(5.9, 10.4 / 0.5**1.5), rel=1e-6)


def test_measured_d0_spread_and_beam_spot() -> None:
    """Prompt tracks of 10 GeV at θ = 90°: the reconstructed d0 spreads by σ(d0) ⊕ the transverse beam spot (the
    true vertex is spread, the reference is the beam-spot centre), and d0_err says so."""
    rng = np.random.default_rng(2)
    n = 4000
    phi = rng.uniform(0, 2 * np.pi, n)
    vx = rng.normal(0, constants.VERTEX_SIGMA_MM[0], n)
    rows = [(i, 10 * np.cos(f), 10 * np.sin(f), 0.0, 211, 1.0, x, 0.0, 0.0) for i, (f, x) in enumerate(zip(phi, vx, strict=True))]
    cands = reconstruct(_gen(rows), np.random.default_rng(3))
    track = cands["charge"] != 0
    expected = np.sqrt(d0_resolution_mm(np.array([10.0]), np.array([1.0]))[0] ** 2
                       + constants.VERTEX_SIGMA_MM[0] ** 2 * 0.5)
    q25, q75 = np.quantile(cands["d0"][track], [0.25, 0.75])
    assert (q75 - q25) / 1.349 == pytest.approx(expected, rel=0.06)  # robust: the few fake tracks are wide
    assert np.sqrt(np.median(cands["d0_err"][track] ** 2)) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("pt", [0.15, 0.4, 2.0])
def test_tracking_efficiency_is_realised(pt: float) -> None:
    """A track of transverse momentum pT is found with probability ε(pT) (stated: 90 % at 0.1 GeV rising to
    99.5 %); lost pions below the calorimeter's reach leave nothing."""
    assert tracking_efficiency(np.array([0.1]))[0] == pytest.approx(constants.TRACK_EFF_LOW)
    assert tracking_efficiency(np.array([50.0]))[0] == pytest.approx(constants.TRACK_EFF_PLATEAU, abs=1e-6)
    n = 6000
    cands = reconstruct(_many(211, 1.0, (pt, 0.0, 0.0), n), np.random.default_rng(4))
    n_tracks = np.sum(cands["charge"] != 0)
    expected = tracking_efficiency(np.array([pt]))[0] * (1 + constants.DUPLICATE_TRACK_RATE + constants.FAKE_TRACK_RATE)
    # tracks per particle: found (binomial) plus duplicates and fakes (Poisson-like), so the spread is ~√(expected/n)
    assert n_tracks / n == pytest.approx(expected, abs=4 * np.sqrt(expected / n) + 1e-3)


def test_fake_and_duplicate_track_rates() -> None:
    n = 40000
    cands = reconstruct(_many(211, 1.0, (20.0, 0.0, 0.0), n), np.random.default_rng(5))
    extra = np.sum(cands["charge"] != 0) - n * tracking_efficiency(np.array([20.0]))[0]
    expected = n * (constants.DUPLICATE_TRACK_RATE + constants.FAKE_TRACK_RATE)
    assert extra == pytest.approx(expected, abs=5 * np.sqrt(expected) + 4 * np.sqrt(n * 0.005))


def test_tracks_made_beyond_the_tracker_radius_become_clusters() -> None:
    """A 10 GeV pion made at r = 800 mm (K⁰_S daughter) has no track; it reaches the HCAL as a neutral hadron."""
    cands = reconstruct(_many(211, 1.0, (10.0, 0.0, 0.0), 500, vertex=(800.0, 0.0, 0.0)), np.random.default_rng(6))
    assert not np.any(cands["charge"] != 0)
    assert np.all(cands["category"] == constants.NEUTRAL_HADRON)
    assert len(cands["e"]) > 400


def test_conversion_rate() -> None:
    """Photons at θ = 90° convert with probability 1 − exp(−7/9 X/X0), uniformly in radius: the fraction inside
    the tracking radius becomes e⁺e⁻ pairs."""
    n = 20000
    cands = reconstruct(_many(22, 0.0, (0.0, 20.0, 0.0), n), np.random.default_rng(7))
    n_conv = np.sum(cands["category"] == constants.ELECTRON) / 2
    p = (1 - np.exp(-7 / 9 * constants.TRACKER_X0)) * constants.CONVERSION_R_MAX_MM / constants.CALO_ECAL_R_MM
    assert n_conv / n == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n))
    electrons = cands["category"] == constants.ELECTRON
    assert np.median(np.abs(cands["d0"][electrons])) > 0.5  # made far from the beam line, they curve away


def test_calorimeter_resolutions_and_thresholds() -> None:
    n = 20000
    photons = reconstruct(_many(22, 0.0, (4.0, 0.0, 3.0), n), np.random.default_rng(8))
    gamma = photons["category"] == constants.PHOTON
    assert np.std(photons["e"][gamma]) == pytest.approx(ecal_sigma_gev(np.array([5.0]))[0], rel=0.04)
    hadrons = reconstruct(_many(130, 0.0, (0.0, 20.0, 0.0), n), np.random.default_rng(9))
    e_true = np.hypot(20.0, 0.49761)
    assert np.std(hadrons["e"]) == pytest.approx(hcal_sigma_gev(np.array([e_true]))[0], rel=0.04)
    assert hcal_sigma_gev(np.array([4.0]))[0] == pytest.approx(np.sqrt(0.35**2 * 4 + 0.2**2 + 1.0), rel=1e-9)
    soft = reconstruct(_many(22, 0.0, (0.0, 0.2, 0.0), 2000), np.random.default_rng(10))
    soft_gamma = soft["category"] == constants.PHOTON  # (conversions of the soft photons leave e± tracks)
    assert np.all(soft["e"][soft_gamma] >= constants.PHOTON_E_MIN_GEV) and soft_gamma.sum() < 10


def test_photons_closer_than_the_merge_distance_merge() -> None:
    """Two 5 GeV photons 10 mm apart on the ECAL face (θ = 90°) make one cluster; 30 mm apart, two."""
    def pair(separation_mm: float) -> int:
        angle = separation_mm / constants.CALO_ECAL_R_MM
        rows = [(0, 5.0, 0.0, 0.0, 22, 0.0, 0, 0, 0), (0, 5.0 * np.cos(angle), 5.0 * np.sin(angle), 0.0, 22, 0.0, 0, 0, 0)]
        counts = []
        for k in range(20):
            cands = reconstruct(_gen(rows), np.random.default_rng(k))
            counts.append(np.sum(cands["category"] == constants.PHOTON))
        return int(np.median(counts))

    assert pair(0.7 * constants.MERGE_DISTANCE_MM) == 1
    assert pair(2.0 * constants.MERGE_DISTANCE_MM) == 2


def test_neutral_hadron_confusion_and_fragments() -> None:
    """A 2 GeV K⁰_L beside the HCAL impact of a 40 GeV pion is absorbed (below 1.5 σ of the pion's calorimeter
    energy); a 30 GeV one is kept; 40 GeV pions leave fake fragments at the stated rate."""
    bend = np.arcsin(constants.CALO_HCAL_R_MM * C_GEV_PER_T_MM * constants.B_FIELD_T / (2 * 40.0))
    phi = -bend  # the pion's HCAL impact (positive charge turns clockwise)

    def kept(e_neutral: float) -> float:
        rows = [(i, 40.0, 0.0, 0.0, 211, 1.0, 0, 0, 0) for i in range(300)]
        rows += [(i, e_neutral * np.cos(phi), e_neutral * np.sin(phi), 0.0, 130, 0.0, 0, 0, 0) for i in range(300)]
        rows.sort(key=lambda r: r[0])
        cands = reconstruct(_gen(rows), np.random.default_rng(11))
        neutral = cands["category"] == constants.NEUTRAL_HADRON
        big = cands["e"] > 0.5 * e_neutral if e_neutral > 10 else cands["e"] > 0
        return float(np.sum(neutral & big) / 300)

    assert kept(2.0) < 0.1 + constants.FRAGMENT_RATE
    assert kept(30.0) > 0.9
    n = 20000
    cands = reconstruct(_many(211, 1.0, (40.0, 0.0, 0.0), n), np.random.default_rng(12))
    frag = np.sum(cands["category"] == constants.NEUTRAL_HADRON)
    expected = n * constants.FRAGMENT_RATE * constants.TRACK_EFF_PLATEAU
    assert frag == pytest.approx(expected, abs=5 * np.sqrt(expected))
    frag_e = cands["e"][cands["category"] == constants.NEUTRAL_HADRON]
    assert np.median(frag_e) == pytest.approx(constants.FRAGMENT_FRACTION * 40.0, rel=0.15)


def test_primary_vertex_z_fit() -> None:
    """z0 is measured from a primary vertex fitted per event: tracks from a vertex at z = 0.8 mm get z0 ≈ 0."""
    rows = [(0, 5 * np.cos(f), 5 * np.sin(f), 1.0, 211, 1.0, 0.0, 0.0, 0.8) for f in np.linspace(0, 6, 12)]
    cands = reconstruct(_gen(rows), np.random.default_rng(13))
    track = cands["charge"] != 0
    assert np.abs(np.mean(cands["z0"][track])) < 0.01
    assert np.all(cands["z0_err"][track] > constants.DZ_OVER_D0 * d0_resolution_mm(np.array([5.1]), np.array([1.0]))[0])


def test_impact_parameter_sign_follows_the_jet_axis() -> None:
    """A track from a vertex 2 mm downstream along the jet axis, at an angle to it, has a positive signed d0; the
    same track from a vertex upstream has a negative one."""
    def signed(vertex_x: float) -> float:
        rows = [(0, 10.0, 0.5, 0.0, 211, 1.0, vertex_x, 0.0, 0.0)]
        cands = reconstruct(_gen(rows), np.random.default_rng(14))
        track = cands["charge"] != 0
        rows_c = {k: v[track] for k, v in cands.items()}
        feats = candidate_features(rows_c, np.array([[1.0, 0.0, 0.0, 1.0]]))
        return float(feats[0, 15])

    assert signed(2.0) > 0.05
    assert signed(-2.0) < -0.05


def test_pairs_within_events() -> None:
    i, j = pairs_within_events(np.array([0, 0, 2]), np.array([0, 1, 2, 2]))
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 0), (1, 0), (2, 2), (2, 3)]


def test_decays_in_flight_inside_the_tracker() -> None:
    """With limitCylinder, K⁰_S and Λ decay inside the tracker only: daughters made at r > 10 mm exist, and no
    final-state particle is made outside the cylinder."""
    from hepnb.tau.events import pythia_events

    gen = next(pythia_events("zqq", 300, seed=5))
    p = gen.particles
    r = np.hypot(p["x"], p["y"])
    assert np.sum(r > 10.0) > 20
    assert np.all((r < constants.LIMIT_CYLINDER_XY_MM + 1) & (np.abs(p["z"]) < constants.LIMIT_CYLINDER_Z_MM + 5))
    displaced = set(np.abs(p["pid"][r > 10.0]).tolist())
    assert {211, 2212} <= displaced  # among them the daughters of K⁰_S → π⁺π⁻ and Λ → pπ⁻


@pytest.mark.parametrize(("pid", "hypothesis_gev"), [(321, 0.13957039), (2212, 0.13957039), (211, 0.13957039),
                                                      (11, 0.00051099895), (13, 0.1056583755)])
def test_track_energy_from_momentum_and_species_hypothesis(pid: int, hypothesis_gev: float) -> None:
    """A kaon's or proton's track gets the pion mass (PDG 2024: m_π± = 139.57039 MeV), an identified electron or
    muon its own; the true mass (m_K = 493.677 MeV, m_p = 938.272 MeV) never enters the energy."""
    n = 200
    gen = _many(pid, 1.0, (1.2, 0.3, 0.4), n)
    gen.particles["e"] = np.full(n, np.sqrt(1.2**2 + 0.3**2 + 0.4**2 + {321: 0.493677, 2212: 0.93827209}.get(pid, 0.0) ** 2
                                         + {211: PION_MASS, 11: 0.000511, 13: 0.10566}.get(pid, 0.0) ** 2))
    cands = reconstruct(gen, np.random.default_rng(2))
    real = (cands["charge"] != 0) & (np.hypot(cands["px"], cands["py"]) > 0.8)  # not the soft fake tracks
    assert real.sum() > 0.9 * n
    p2 = cands["px"][real] ** 2 + cands["py"][real] ** 2 + cands["pz"][real] ** 2
    np.testing.assert_allclose(cands["e"][real], np.sqrt(p2 + hypothesis_gev**2), rtol=1e-12)
    expected_category = {11: 11, 13: 13}.get(pid, 211)
    np.testing.assert_array_equal(cands["category"][real], expected_category)


def test_track_energy_refuses_unknown_categories() -> None:
    np.testing.assert_allclose(track_energy_gev(np.array([[3.0, 0.0, 4.0]]), np.array([211])),
                               [np.sqrt(25.0 + 0.13957039**2)], rtol=1e-12)
    with pytest.raises(ValueError, match=r"track categories must be one of \[11, 13, 211\], found \[22\]"):
        track_energy_gev(np.zeros((1, 3)), np.array([22]))
