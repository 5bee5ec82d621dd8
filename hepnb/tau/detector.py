"""The CLD-like parametrised detector: from generated final-state particles to particle-flow candidates.

Vectorised over all particles of a batch of events (:class:`hepnb.tau.events.GenEvents`). In order:

1. **Acceptance** |cos θ| < 0.99.
2. **Photon conversions** in the tracker material (``TRACKER_X0`` at normal incidence, probability
   1 − exp(−7/9 · X/X0 / sin θ), radius uniform in the material); a conversion inside ``CONVERSION_R_MAX_MM``
   becomes an e⁺e⁻ pair (flat energy sharing) produced at the conversion point, a later one stays a photon.
3. **Tracks** for charged particles with pT ≥ 0.1 GeV made inside ``TRACK_R_MAX_MM``, kept with the efficiency
   ε(pT); σ(pT)/pT = √((4·10⁻⁵ pT)² + (2.5·10⁻³)²); energy √(p² + m²) with the pion mass, or the electron's
   or muon's for identified leptons (:func:`track_energy_gev`). Impact parameters of the *helix* in the 2 T field:
   d0 relative to the beam-spot centre (the transverse beam spot is the primary-vertex constraint: its size
   enters σ(d0)), z0 relative to a primary-vertex z fitted per event from the tracks (robust weighted mean,
   the beam-spot centre when there is no track); σ(d0) = a ⊕ b/(p sin^{3/2}θ), σ(z0) = 1.2 σ(d0). Duplicated
   and fake tracks at small rates. Lost charged hadrons and electrons that reach the calorimeters become
   neutral hadrons and photons (particle flow sees a cluster without a track); lost muons are lost.
4. **Photons**: 15 %/√E ⊕ 1 %, above 0.5 GeV; photons whose ECAL impacts lie within ``MERGE_DISTANCE_MM``
   merge into one (the more energetic one's candidate).
5. **Neutral hadrons** (K⁰_L, n, K⁰_S and Λ that leave the tracker, lost charged hadrons): 35 %/√E ⊕ 5 % ⊕
   1 GeV, above 1 GeV. **Confusion**: a neutral hadron whose HCAL impact lies within ``CONFUSION_DISTANCE_MM``
   of a charged hadron's and whose energy is below ``CONFUSION_SIGMAS`` σ_HCAL(p_track) is absorbed into the
   track's cluster (lost); a charged hadron above ``FRAGMENT_P_MIN_GEV`` leaves a fake neutral fragment
   with probability ``FRAGMENT_RATE``.

Every assumed value is in :mod:`hepnb.tau.constants` with its reason.
"""

from __future__ import annotations

import numpy as np

from hepnb import kinematics
from hepnb.tau import constants
from hepnb.tau.events import GenEvents

__all__ = [
    "CANDIDATE_FIELDS",
    "C_GEV_PER_T_MM",
    "calorimeter_position",
    "d0_resolution_mm",
    "ecal_sigma_gev",
    "hcal_sigma_gev",
    "helix_impact_parameters",
    "pairs_within_events",
    "reconstruct",
    "track_energy_gev",
    "tracking_efficiency",
]

#: pT [GeV] = C · B [T] · R [mm] for a unit charge.
C_GEV_PER_T_MM = 0.299792458e-3
_ELECTRON_MASS_GEV = 0.000511
#: Fields of the candidate arrays :func:`reconstruct` returns (flat, one entry per candidate).
CANDIDATE_FIELDS: tuple[str, ...] = ("event", "px", "py", "pz", "e", "category", "charge", "d0", "z0", "d0_err",
                                     "z0_err")


def tracking_efficiency(pt_gev: np.ndarray) -> np.ndarray:
    """ε(pT) = ε∞ − (ε∞ − ε_low)·exp(−(pT − 0.1 GeV)/s), 0 below the 0.1 GeV threshold."""
    pt = np.asarray(pt_gev, dtype=np.float64)
    hi, lo, s = constants.TRACK_EFF_PLATEAU, constants.TRACK_EFF_LOW, constants.TRACK_EFF_SCALE_GEV
    eff = hi - (hi - lo) * np.exp(-(pt - constants.TRACK_PT_MIN_GEV) / s)
    return np.where(pt >= constants.TRACK_PT_MIN_GEV, eff, 0.0)


def d0_resolution_mm(p_gev: np.ndarray, sin_theta: np.ndarray) -> np.ndarray:
    """σ(d0) = a ⊕ b/(p sin^{3/2}θ) in mm (a = 5.9 µm, b = 10.4 µm·GeV)."""
    p = np.maximum(np.asarray(p_gev, np.float64), 1e-3)
    s = np.maximum(np.asarray(sin_theta, np.float64), 1e-3)
    return np.hypot(constants.D0_CONST_MM, constants.D0_MS_MM_GEV / (p * s**1.5))


def ecal_sigma_gev(e_gev: np.ndarray) -> np.ndarray:
    """Photon energy resolution σE = E·(15 %/√E ⊕ 1 %)."""
    e = np.maximum(np.asarray(e_gev, np.float64), 1e-6)
    return np.hypot(constants.ECAL_STOCHASTIC * np.sqrt(e), constants.ECAL_CONST * e)


def hcal_sigma_gev(e_gev: np.ndarray) -> np.ndarray:
    """Neutral-hadron energy resolution σE = 35 %·√E ⊕ 5 %·E ⊕ 1 GeV."""
    e = np.maximum(np.asarray(e_gev, np.float64), 1e-6)
    return np.sqrt(constants.HCAL_STOCHASTIC**2 * e + (constants.HCAL_CONST * e) ** 2 + constants.HCAL_NOISE_GEV**2)


def helix_impact_parameters(x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray, px: np.ndarray, py: np.ndarray,
                            pz: np.ndarray, charge: np.ndarray, b_field_t: float = constants.B_FIELD_T
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Transverse impact parameter d0 and z at closest approach of a helix to the z axis.

    A particle of charge q made at (x, y, z) with momentum (px, py, pz) moves on a circle of radius
    R = pT/(C·B) about the centre c = (x, y) + sign(q)·R·(py, −px)/pT (a positive charge turns clockwise seen
    from +z in a field along +z). Then d0 = sign(q)·(|c| − R), which for a straight track is
    (x py − y px)/pT; the point of closest approach is c·(1 − R/|c|), reached after the signed path
    length L = −sign(q)·R·Δα (Δα the turning angle about c, negative path length = backwards), and
    z0 = z + L·pz/pT.

    Returns
    -------
    d0_mm, z0_mm, pca_x_mm, pca_y_mm
        The signed d0 (geometric sign as above), z at closest approach, and the transverse point of closest
        approach.
    """
    x, y, z = (np.asarray(a, np.float64) for a in (x_mm, y_mm, z_mm))
    px, py, pz = (np.asarray(a, np.float64) for a in (px, py, pz))
    s = np.sign(np.asarray(charge, np.float64))
    pt = np.maximum(np.hypot(px, py), 1e-12)
    radius = pt / (C_GEV_PER_T_MM * b_field_t)
    cx, cy = x + s * radius * py / pt, y - s * radius * px / pt
    dist = np.hypot(cx, cy)
    # |c| − R without the cancellation of two near-equal lengths at high pT: (|c|² − R²)/(|c| + R), where
    # |c|² − R² = |x|² + 2·sign(q)·R·(x py − y px)/pT
    excess = (x * x + y * y + 2.0 * s * radius * (x * py - y * px) / pt) / (dist + radius)
    d0 = s * excess
    scale = excess / np.maximum(dist, 1e-12)
    pca_x, pca_y = cx * scale, cy * scale
    # turning angle from the start to the closest approach, from the radius vectors −s·R·u and −R·c/|c| with
    # u = (py, −px)/pT: sin ∝ s·(u × x) and cos ∝ s·(u · x) + R (no difference of two near-equal angles)
    turn = np.arctan2(s * (x * px + y * py) / pt, s * (x * py - y * px) / pt + radius)
    path = -s * radius * turn
    z0 = z + path * pz / pt
    return d0, z0, pca_x, pca_y


def calorimeter_position(theta_rad: np.ndarray, phi_rad: np.ndarray, r_face_mm: float, z_face_mm: float
                         ) -> np.ndarray:
    """Point ``[n, 3]`` where a line from the origin at (θ, φ) meets a calorimeter's barrel or endcap face."""
    theta, phi = np.asarray(theta_rad, np.float64), np.asarray(phi_rad, np.float64)
    cos_t, sin_t = np.cos(theta), np.maximum(np.sin(theta), 1e-9)
    barrel = np.abs(cos_t) * r_face_mm <= z_face_mm * sin_t
    rho = np.where(barrel, r_face_mm, z_face_mm * sin_t / np.maximum(np.abs(cos_t), 1e-9))
    z = np.where(barrel, r_face_mm * cos_t / sin_t, np.sign(cos_t) * z_face_mm)
    return np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])


def _bent_phi(phi: np.ndarray, pt: np.ndarray, charge: np.ndarray, radius_mm: float) -> np.ndarray:
    """Azimuth of a track's position at ``radius_mm`` from the origin (clockwise for positive charges)."""
    bend = np.clip(radius_mm * C_GEV_PER_T_MM * constants.B_FIELD_T / (2 * np.maximum(pt, 1e-6)), 0.0, 1.0)
    return phi - np.sign(charge) * np.arcsin(bend)


def pairs_within_events(event_a: np.ndarray, event_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j) with ``event_a[i] == event_b[j]``; both arrays sorted by event."""
    event_a, event_b = np.asarray(event_a), np.asarray(event_b)
    if not len(event_a) or not len(event_b):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    start = np.searchsorted(event_b, event_a, side="left")
    stop = np.searchsorted(event_b, event_a, side="right")
    counts = stop - start
    i = np.repeat(np.arange(len(event_a)), counts)
    offsets = np.repeat(start - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    j = np.arange(int(counts.sum())) + offsets
    return i, j


def _smear_scale(rng: np.random.Generator, sigma_rel: np.ndarray) -> np.ndarray:
    return np.maximum(1.0 + sigma_rel * rng.normal(size=sigma_rel.shape), 0.0)


def _conversions(parts: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Replace the photons that convert early enough to be tracked by their e⁺e⁻ pairs."""
    photon = parts["pid"] == constants.PHOTON
    sin_t = np.sqrt(np.maximum(1 - kinematics.cos_theta(np.column_stack([parts[k] for k in ["px", "py", "pz", "e"]]))
                               ** 2, 1e-6))
    prob = 1.0 - np.exp(-7.0 / 9.0 * constants.TRACKER_X0 / sin_t)
    r_conv = rng.uniform(0.0, constants.CALO_ECAL_R_MM, size=len(photon))
    convert = photon & (rng.random(len(photon)) < prob) & (r_conv < constants.CONVERSION_R_MAX_MM) & (
        parts["e"] > 2 * _ELECTRON_MASS_GEV + 1e-3)
    if not convert.any():
        return parts
    idx = np.flatnonzero(convert)
    frac = rng.random(len(idx))
    pt = np.hypot(parts["px"][idx], parts["py"][idx])
    path = r_conv[idx] / np.maximum(pt / np.maximum(parts["e"][idx], 1e-9), 1e-3)  # along the flight direction
    unit = np.column_stack([parts[k][idx] for k in ("px", "py", "pz")]) / np.maximum(parts["e"][idx], 1e-9)[:, None]
    vertex = np.column_stack([parts[k][idx] for k in ("x", "y", "z")]) + path[:, None] * unit
    new: dict[str, list[np.ndarray]] = {k: [v[~convert]] for k, v in parts.items()}
    for share, q in ((frac, -1.0), (1.0 - frac, 1.0)):
        e = np.maximum(share * parts["e"][idx], _ELECTRON_MASS_GEV * 1.001)
        p_mag = np.sqrt(e**2 - _ELECTRON_MASS_GEV**2)
        for k, comp in zip(("px", "py", "pz"), unit.T, strict=True):
            new[k].append(p_mag * comp)
        new["e"].append(e)
        new["pid"].append(np.full(len(idx), int(-q) * constants.ELECTRON))  # e⁻ is +11
        new["charge"].append(np.full(len(idx), q))
        new["event"].append(parts["event"][idx])
        for k, comp in zip(("x", "y", "z"), vertex.T, strict=True):
            new[k].append(comp)
    out = {k: np.concatenate(v) for k, v in new.items()}
    order = np.argsort(out["event"], kind="stable")
    return {k: v[order] for k, v in out.items()}


def _primary_vertex_z(event: np.ndarray, z0: np.ndarray, sigma_z0: np.ndarray, pt: np.ndarray, n_events: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per event, the primary-vertex z and its error from the tracks' z0: the weighted mean of the tracks
    above ``PV_TRACK_PT_MIN_GEV`` within 1 mm of their median; the beam-spot centre (σ of the luminous
    region) for an event without such tracks."""
    use = pt > constants.PV_TRACK_PT_MIN_GEV
    ev, z, s = event[use], z0[use], sigma_z0[use]
    order = np.lexsort((z, ev))
    ev, z, s = ev[order], z[order], s[order]
    counts = np.bincount(ev, minlength=n_events)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    median = np.zeros(n_events)
    has = counts > 0
    mid = starts + (counts - 1) // 2
    mid2 = starts + counts // 2
    median[has] = 0.5 * (z[mid[has]] + z[mid2[has]])
    near = np.abs(z - median[ev]) < 1.0
    w = np.where(near, 1.0 / s**2, 0.0)
    sum_w = np.bincount(ev, weights=w, minlength=n_events)
    sum_wz = np.bincount(ev, weights=w * z, minlength=n_events)
    fitted = sum_w > 0
    z_pv = np.where(fitted, sum_wz / np.maximum(sum_w, 1e-30), 0.0)
    err = np.where(fitted, 1.0 / np.sqrt(np.maximum(sum_w, 1e-30)), constants.BEAM_SPOT_SIGMA_MM[2])
    return z_pv, err


def _tracks(parts: dict[str, np.ndarray], sel: np.ndarray, n_events: int, rng: np.random.Generator
            ) -> dict[str, np.ndarray]:
    """Smeared tracks of the selected charged particles, with duplicates and fakes, and their impact parameters."""
    idx = np.flatnonzero(sel)
    tr = {k: parts[k][idx] for k in ("event", "px", "py", "pz", "e", "pid", "charge", "x", "y", "z")}
    # duplicates: a second, independently measured track of the same particle
    dup = rng.random(len(idx)) < constants.DUPLICATE_TRACK_RATE
    tr = {k: np.concatenate([v, v[dup]]) for k, v in tr.items()}
    # fakes: near a real track of the same event (hit combinatorics in dense jets), soft, random charge
    n_fake = rng.poisson(constants.FAKE_TRACK_RATE * len(idx))
    if n_fake and len(idx):
        host = rng.integers(0, len(idx), n_fake)
        p4 = np.column_stack([parts[k][idx[host]] for k in ("px", "py", "pz", "e")])
        theta = np.clip(kinematics.theta_rad(p4) + rng.normal(0, 0.05, n_fake), 0.15, np.pi - 0.15)
        phi = kinematics.phi_rad(p4) + rng.normal(0, 0.05, n_fake)
        pt = constants.TRACK_PT_MIN_GEV + rng.exponential(0.5, n_fake)
        pz = pt / np.tan(theta)
        mass = constants.TRACK_MASS_HYPOTHESIS_GEV[constants.CHARGED_HADRON]
        fake = {"event": parts["event"][idx[host]], "px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pz,
                "e": np.sqrt(pt**2 + pz**2 + mass**2), "pid": np.full(n_fake, constants.CHARGED_HADRON),
                "charge": rng.choice([-1.0, 1.0], n_fake), "x": rng.normal(0, 0.3, n_fake),
                "y": rng.normal(0, 0.3, n_fake), "z": rng.normal(0, 1.0, n_fake)}
        tr = {k: np.concatenate([tr[k], fake[k]]) for k in tr}
    order = np.argsort(tr["event"], kind="stable")
    tr = {k: v[order] for k, v in tr.items()}
    p4 = np.column_stack([tr[k] for k in ("px", "py", "pz", "e")])
    mom = kinematics.momenta(p4)
    pt, p, cos_t = np.asarray(mom.pt), np.asarray(mom.p), np.asarray(mom.costheta)
    sin_t = np.sqrt(np.maximum(1 - cos_t**2, 1e-6))
    d0, z0, _, _ = helix_impact_parameters(tr["x"], tr["y"], tr["z"], tr["px"], tr["py"], tr["pz"], tr["charge"])
    sig_d0 = d0_resolution_mm(p, sin_t)
    sig_z0 = constants.DZ_OVER_D0 * sig_d0
    d0 = d0 + sig_d0 * rng.normal(size=len(d0))
    z0 = z0 + sig_z0 * rng.normal(size=len(z0))
    z_pv, z_pv_err = _primary_vertex_z(tr["event"], z0, sig_z0, pt, n_events)
    phi = np.asarray(mom.phi)
    beam = np.hypot(constants.BEAM_SPOT_SIGMA_MM[0] * np.sin(phi), constants.BEAM_SPOT_SIGMA_MM[1] * np.cos(phi))
    scale = _smear_scale(rng, np.hypot(constants.TRACK_SAGITTA_PER_GEV * pt, constants.TRACK_MS_TERM))
    mom3 = p4[:, :3] * scale[:, None]
    apid = np.abs(tr["pid"])
    category = np.select([apid == constants.ELECTRON, apid == constants.MUON], [constants.ELECTRON, constants.MUON],
                         constants.CHARGED_HADRON)
    return {"event": tr["event"], "px": mom3[:, 0], "py": mom3[:, 1], "pz": mom3[:, 2],
            "e": track_energy_gev(mom3, category), "category": category, "charge": np.sign(tr["charge"]),
            "d0": d0, "z0": z0 - z_pv[tr["event"]], "d0_err": np.hypot(sig_d0, beam),
            "z0_err": np.hypot(sig_z0, z_pv_err[tr["event"]])}


def track_energy_gev(p3_gev: np.ndarray, category: np.ndarray) -> np.ndarray:
    """A track's energy from its measured momentum ``[n, 3]`` and the mass hypothesis of its identified species
    (:data:`hepnb.tau.constants.TRACK_MASS_HYPOTHESIS_GEV`: e and μ as identified, the pion for every other
    track), never the particle's true mass."""
    masses = constants.TRACK_MASS_HYPOTHESIS_GEV
    cat = np.asarray(category)
    unknown = ~np.isin(cat, list(masses))
    if unknown.any():
        msg = f"track categories must be one of {sorted(masses)}, found {sorted(set(cat[unknown].tolist()))}"
        raise ValueError(msg)
    mass = np.select([cat == k for k in masses], list(masses.values()))
    return np.sqrt(np.sum(np.asarray(p3_gev, np.float64) ** 2, axis=1) + mass**2)


def _neutral(parts: dict[str, np.ndarray], sel: np.ndarray, category: int, rng: np.random.Generator
             ) -> dict[str, np.ndarray]:
    """Calorimeter candidates of the selected particles: energy smeared, direction kept, threshold applied."""
    idx = np.flatnonzero(sel)
    e = parts["e"][idx]
    if category == constants.PHOTON:
        sigma, threshold = ecal_sigma_gev(e), constants.PHOTON_E_MIN_GEV
    else:
        sigma, threshold = hcal_sigma_gev(e), constants.NEUTRAL_HADRON_E_MIN_GEV
    e_reco = np.maximum(e + sigma * rng.normal(size=len(e)), 0.0)
    p3 = np.column_stack([parts[k][idx] for k in ("px", "py", "pz")])
    p_mag = np.maximum(np.linalg.norm(p3, axis=1), 1e-12)
    p3 = p3 / p_mag[:, None] * e_reco[:, None]  # massless cluster along the particle's direction
    keep = e_reco >= threshold
    n = int(keep.sum())
    return {"event": parts["event"][idx][keep], "px": p3[keep, 0], "py": p3[keep, 1], "pz": p3[keep, 2],
            "e": e_reco[keep], "category": np.full(n, category), "charge": np.zeros(n),
            **{k: np.full(n, constants.IP_MISSING) for k in ("d0", "z0", "d0_err", "z0_err")}}


def _calo_points(cands: dict[str, np.ndarray], r_mm: float, z_mm: float) -> np.ndarray:
    p4 = np.column_stack([cands[k] for k in ("px", "py", "pz", "e")])
    mom = kinematics.momenta(p4)
    phi = np.asarray(mom.phi)
    charged = cands["charge"] != 0
    phi = np.where(charged, _bent_phi(phi, np.asarray(mom.pt), cands["charge"], r_mm), phi)
    return calorimeter_position(np.asarray(mom.theta), phi, r_mm, z_mm)


def _merge_photons(photons: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Merge each photon into its nearest more energetic photon within ``MERGE_DISTANCE_MM`` on the ECAL."""
    n = len(photons["e"])
    if n < 2:
        return photons
    pos = _calo_points(photons, constants.CALO_ECAL_R_MM, constants.CALO_ECAL_Z_MM)
    i, j = pairs_within_events(photons["event"], photons["event"])
    distance = np.linalg.norm(pos[i] - pos[j], axis=1)
    close = (distance < constants.MERGE_DISTANCE_MM) & (photons["e"][j] > photons["e"][i])
    target = np.arange(n)
    if close.any():
        i, j, distance = i[close], j[close], distance[close]
        order = np.lexsort((distance, i))
        first = np.unique(i[order], return_index=True)[1]
        target[i[order][first]] = j[order][first]
        for _ in range(8):  # follow chains to their end (each step moves to a more energetic photon)
            target = target[target]
    merged = {k: v.copy() for k, v in photons.items()}
    for k in ("px", "py", "pz", "e"):
        merged[k] = np.bincount(target, weights=photons[k], minlength=n)
    keep = target == np.arange(n)
    return {k: v[keep] for k, v in merged.items()}


def _confusion(neutrals: dict[str, np.ndarray], tracks: dict[str, np.ndarray]) -> np.ndarray:
    """Which neutral hadrons particle flow absorbs into a nearby charged hadron's cluster (E/p compatible)."""
    hadron = tracks["category"] == constants.CHARGED_HADRON
    if not len(neutrals["e"]) or not hadron.any():
        return np.zeros(len(neutrals["e"]), bool)
    ch = {k: v[hadron] for k, v in tracks.items()}
    pos_n = _calo_points(neutrals, constants.CALO_HCAL_R_MM, constants.CALO_HCAL_Z_MM)
    pos_c = _calo_points(ch, constants.CALO_HCAL_R_MM, constants.CALO_HCAL_Z_MM)
    i, j = pairs_within_events(neutrals["event"], ch["event"])
    near = np.linalg.norm(pos_n[i] - pos_c[j], axis=1) < constants.CONFUSION_DISTANCE_MM
    hidden = neutrals["e"][i] < constants.CONFUSION_SIGMAS * hcal_sigma_gev(ch["e"][j])
    absorbed = np.zeros(len(neutrals["e"]), bool)
    absorbed[i[near & hidden]] = True
    return absorbed


def _fragments(tracks: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fake neutral-hadron fragments split off charged-hadron showers (double-counted energy)."""
    p = np.sqrt(tracks["px"] ** 2 + tracks["py"] ** 2 + tracks["pz"] ** 2)
    make = ((tracks["category"] == constants.CHARGED_HADRON) & (p > constants.FRAGMENT_P_MIN_GEV)
            & (rng.random(len(p)) < constants.FRAGMENT_RATE))
    idx = np.flatnonzero(make)
    p4 = np.column_stack([tracks[k][idx] for k in ("px", "py", "pz", "e")])
    theta = np.clip(kinematics.theta_rad(p4) + rng.normal(0, 0.02, len(idx)), 1e-3, np.pi - 1e-3)
    phi = _bent_phi(kinematics.phi_rad(p4), kinematics.pt_gev(p4), tracks["charge"][idx], constants.CALO_HCAL_R_MM)
    phi = phi + rng.normal(0, 0.02, len(idx))
    e = constants.FRAGMENT_FRACTION * p[idx]
    return {"event": tracks["event"][idx], "px": e * np.sin(theta) * np.cos(phi), "py": e * np.sin(theta) * np.sin(phi),
            "pz": e * np.cos(theta), "e": e, "pid": np.full(len(idx), constants.NEUTRAL_HADRON),
            "charge": np.zeros(len(idx)), "x": np.zeros(len(idx)), "y": np.zeros(len(idx)), "z": np.zeros(len(idx))}


def reconstruct(gen: GenEvents, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Particle-flow candidates of a batch of generated events.

    Returns
    -------
    dict
        Flat arrays over all candidates, sorted by event (:data:`CANDIDATE_FIELDS`): ``event``,
        ``px, py, pz, e`` (GeV), ``category`` (a PDG id of :data:`hepnb.tau.constants.CANDIDATE_CATEGORIES`),
        ``charge``, ``d0`` (mm, helix d0 to the beam-spot centre, geometric sign), ``z0`` (mm, relative to the
        fitted primary vertex), ``d0_err``, ``z0_err``; neutral candidates have
        :data:`hepnb.tau.constants.IP_MISSING` impact parameters and errors.
    """
    parts = {k: np.asarray(v) for k, v in gen.particles.items()}
    p4 = np.column_stack([parts[k] for k in ("px", "py", "pz", "e")])
    accept = np.abs(kinematics.cos_theta(p4)) < constants.COS_THETA_MAX
    parts = {k: v[accept] for k, v in parts.items()}
    parts = _conversions(parts, rng)
    p4 = np.column_stack([parts[k] for k in ("px", "py", "pz", "e")])
    pt = kinematics.pt_gev(p4)
    charged = parts["charge"] != 0
    apid = np.abs(parts["pid"])
    r_prod = np.hypot(parts["x"], parts["y"])
    trackable = charged & (pt >= constants.TRACK_PT_MIN_GEV) & (r_prod < constants.TRACK_R_MAX_MM)
    tracked = trackable & (rng.random(len(pt)) < tracking_efficiency(pt))
    # a lost charged particle reaches the calorimeter only if its helix does (barrel: 2R > R_ECAL)
    sin_t = np.sqrt(np.maximum(1 - kinematics.cos_theta(p4) ** 2, 0.0))
    barrel = np.abs(p4[:, 2]) / np.maximum(np.linalg.norm(p4[:, :3], axis=1), 1e-12) * constants.CALO_ECAL_R_MM <= (
        constants.CALO_ECAL_Z_MM * sin_t)
    reaches = ~barrel | (pt > C_GEV_PER_T_MM * constants.B_FIELD_T * constants.CALO_ECAL_R_MM / 2)
    lost = charged & ~tracked & reaches & (apid != constants.MUON)
    tracks = _tracks(parts, tracked, gen.n_events, rng)
    photon_like = (apid == constants.PHOTON) | (lost & (apid == constants.ELECTRON))
    photons = _merge_photons(_neutral(parts, photon_like, constants.PHOTON, rng))
    hadron_like = (~charged & (apid != constants.PHOTON)) | (lost & (apid != constants.ELECTRON))
    frags = _fragments(tracks, rng)
    all_h = {k: np.concatenate([parts[k], frags[k]]) for k in parts}
    sel = np.concatenate([hadron_like, np.ones(len(frags["e"]), bool)])
    order = np.argsort(all_h["event"], kind="stable")
    neutrals = _neutral({k: v[order] for k, v in all_h.items()}, sel[order], constants.NEUTRAL_HADRON, rng)
    neutrals = {k: v[~_confusion(neutrals, tracks)] for k, v in neutrals.items()}
    out = {k: np.concatenate([tracks[k], photons[k], neutrals[k]]) for k in CANDIDATE_FIELDS}
    order = np.argsort(out["event"], kind="stable")
    return {k: v[order] for k, v in out.items()}
