"""The hadrons-plus-strips (HPS) decay-mode reconstruction, after CMS (JINST 7 (2012) P01001; JINST 13 (2018)
P10005, "Performance of reconstruction and identification of τ leptons decaying to hadrons and ντ in pp collisions
at √s = 13 TeV", section 3.1).

**Strips.** π⁰ candidates are built from the jet's photons and electrons (π⁰ photons that converted): the
highest-pT unclustered e/γ seeds a strip; every unclustered e/γ within |Δη| < f(pT^eγ) + f(pT^strip) and
|Δφ| < g(pT^eγ) + g(pT^strip) of the strip's pT-weighted position joins it, the position is recomputed and the
search repeated until nothing joins; then the next seed. f(pT) = 0.20 pT^−0.66 and g(pT) = 0.35 pT^−0.71 (pT in
GeV), the windows bounded to 0.05–0.15 in η and 0.05–0.30 in φ: strips grow at low pT, where the photons of a
π⁰ open up and bend apart. A strip takes the π⁰ mass (its momentum kept).

**Hypotheses.** From the leading charged hadrons and strips: h± (1 prong, 0 strips), h±π⁰ (1, 1), h±π⁰π⁰ (1, 2),
h±h∓ and h±h∓π⁰ (2 prongs, CMS's modes for a three-prong τ with a lost track), h±h∓h± (3, 0) and h±h∓h±π⁰ (3, 1).
Each must have charge ±1 (the two-prong modes excepted), all its constituents inside the signal cone
R_sig = 3.0/pT (GeV), bounded to 0.05–0.10, around its visible momentum, and a visible mass in its window
(:data:`MASS_WINDOWS_GEV`; the one- and two-strip windows' upper edges grow as √(pT/100 GeV)). Of the hypotheses
that pass, the one with the highest visible pT is the τ candidate; when none passes no decay mode is found
(class 5 here). **Isolation**: the scalar pT sum of the charged hadrons and photons of the jet that are not
constituents of the τ candidate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hepnb import kinematics
from hepnb.tau.jets import CAND_FEATURES

__all__ = ["HYPOTHESES", "MASS_WINDOWS_GEV", "PI0_MASS_GEV", "SIGNAL_CONE", "HpsResult", "build_strips", "hps_decay_mode",
           "hps_reconstruct", "mass_window_gev", "signal_cone", "strip_window", "tune_hps"]

_F = {name: i for i, name in enumerate(CAND_FEATURES)}

#: π⁰ mass (PDG), given to each strip.
PI0_MASS_GEV = 0.1349768

#: Strip windows (CMS 2018): Δη = f(pT^eγ) + f(pT^strip), f = a pT^b, bounded; Δφ likewise with g.
_ETA = (0.20, -0.66, 0.05, 0.15)
_PHI = (0.35, -0.71, 0.05, 0.30)

#: The hypotheses: (prongs, strips, class of this study's labels).
HYPOTHESES: tuple[tuple[int, int, int], ...] = ((1, 0, 0), (1, 1, 1), (1, 2, 2), (2, 0, 3), (2, 1, 4), (3, 0, 3),
                                                (3, 1, 4))

#: Visible-mass windows (GeV) per (prongs, strips): (low, high, whether the high edge scales as √(pT/100 GeV)
#: with that coefficient, its largest value). CMS 2018: h±π⁰ 0.3 < m < 1.3 √(pT/100) within [1.3, 4.2]; h±π⁰π⁰
#: 0.4 < m < 1.2 √(pT/100) within [1.2, 4.0]; h±h∓h± 0.8–1.5; h±h∓h±π⁰ 0.9–1.6; the two-prong modes take the
#: three-prong windows.
MASS_WINDOWS_GEV: dict[tuple[int, int], tuple[float, float, bool, float]] = {
    (1, 1): (0.3, 1.3, True, 4.2), (1, 2): (0.4, 1.2, True, 4.0), (2, 0): (0.8, 1.5, False, 1.5),
    (2, 1): (0.9, 1.6, False, 1.6), (3, 0): (0.8, 1.5, False, 1.5), (3, 1): (0.9, 1.6, False, 1.6)}

#: Signal cone: (k, lower, upper bound) of R_sig = k/pT (GeV), CMS's 3.0 within [0.05, 0.10].
SIGNAL_CONE = (3.0, 0.05, 0.10)


def strip_window(pt_candidate_gev: np.ndarray, pt_strip_gev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The |Δη| and |Δφ| within which an e/γ of pT ``pt_candidate_gev`` joins a strip of pT ``pt_strip_gev``."""
    def size(a: float, b: float, lo: float, hi: float) -> np.ndarray:
        term = a * np.maximum(pt_candidate_gev, 1e-3) ** b + a * np.maximum(pt_strip_gev, 1e-3) ** b
        return np.clip(term, lo, hi)

    return size(*_ETA), size(*_PHI)


def signal_cone(pt_gev: np.ndarray, cone_max: float = SIGNAL_CONE[2]) -> np.ndarray:
    """The signal-cone radius 3.0/pT, bounded to 0.05–``cone_max`` (HPS: 0.10)."""
    k, lo, _ = SIGNAL_CONE
    return np.clip(k / np.maximum(pt_gev, 1e-9), lo, cone_max)


def mass_window_gev(n_prongs: int, n_strips: int, pt_gev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper visible-mass edge of a hypothesis at visible pT ``pt_gev`` (no window: 0 and inf)."""
    pt = np.asarray(pt_gev, np.float64)
    if (n_prongs, n_strips) not in MASS_WINDOWS_GEV:
        return np.zeros_like(pt), np.full_like(pt, np.inf)
    lo, hi, scales, top = MASS_WINDOWS_GEV[(n_prongs, n_strips)]
    upper = np.clip(hi * np.sqrt(pt / 100.0), hi, top) if scales else np.full_like(pt, hi)
    return np.full_like(pt, lo), upper


def _eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    safe = np.where(np.hypot(p4[..., 0], p4[..., 1])[..., None] > 0, p4, [1.0, 0.0, 0.0, 1.0])
    return kinematics.eta(safe), kinematics.phi_rad(safe)


def build_strips(p4: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The strips of each jet from its e/γ candidates ``members`` ``[J, S]`` (four-vectors ``p4`` ``[J, S, 4]``).

    Returns
    -------
    strips, owner
        The strips' summed four-momenta ``[J, S, 4]`` in the order they were seeded (decreasing seed pT; empty
        rows are zero), and for each candidate the index of its strip (−1 when it is not an e/γ).
    """
    p4 = np.asarray(p4, np.float64)
    n_jets, n_slots = members.shape
    pt = np.where(members, np.hypot(p4[..., 0], p4[..., 1]), 0.0)
    eta, phi = _eta_phi(p4)
    free = members.astype(bool).copy()
    owner = np.full((n_jets, n_slots), -1)
    strips = np.zeros((n_jets, n_slots, 4))
    rows = np.arange(n_jets)
    for s in range(n_slots):
        if not free.any():
            break
        seed = np.argmax(np.where(free, pt, -1.0), axis=1)
        has = free[rows, seed]
        inside = np.zeros_like(free)
        inside[rows[has], seed[has]] = True
        free &= ~inside
        for _ in range(n_slots):
            w = np.where(inside, pt, 0.0)
            s_pt = w.sum(axis=1)
            s_eta = (w * eta).sum(axis=1) / np.maximum(s_pt, 1e-12)
            ref = phi[rows, seed][:, None]
            s_phi = ref[:, 0] + (w * kinematics.delta_phi_rad(phi, ref)).sum(axis=1) / np.maximum(s_pt, 1e-12)
            d_eta, d_phi = strip_window(pt, s_pt[:, None])
            join = (free & has[:, None] & (np.abs(eta - s_eta[:, None]) < d_eta)
                    & (np.abs(kinematics.delta_phi_rad(phi, s_phi[:, None])) < d_phi))
            if not join.any():
                break
            inside |= join
            free &= ~join
        owner[inside] = s
        strips[:, s] = np.einsum("js,jsc->jc", inside.astype(np.float64), p4)
    return strips, owner


def _with_pi0_mass(p4: np.ndarray) -> np.ndarray:
    p = p4[..., :3]
    e = np.sqrt(np.sum(p * p, axis=-1) + PI0_MASS_GEV**2)
    return np.where((np.abs(p4).sum(axis=-1) > 0)[..., None], np.concatenate([p, e[..., None]], axis=-1), 0.0)


def _leading(p4: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Indices of each jet's candidates sorted by decreasing pT, those not ``ok`` last."""
    pt = np.where(ok, np.hypot(p4[..., 0], p4[..., 1]), -1.0)
    return np.argsort(-pt, axis=1, kind="stable")


class HpsResult(dict):  # type: ignore[type-arg]
    """What :func:`hps_reconstruct` returns: ``decay_mode`` (class, 5 when none found), ``found``, ``p4`` (the τ
    candidate's visible four-momentum), ``iso_pt_gev`` and ``n_prongs``/``n_strips`` of the chosen hypothesis."""


def hps_reconstruct(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, *, track_pt_min: float = 0.5,
                    strip_pt_min: float = 2.5, cone_max: float = SIGNAL_CONE[2]) -> HpsResult:
    """The HPS τ candidate of each jet (see the module): charged hadrons with pT ≥ ``track_pt_min`` (GeV) as
    prongs, strips with pT ≥ ``strip_pt_min`` as π⁰; ``cone_max`` bounds the signal cone (HPS's 0.10; a larger
    value measures what the cone costs)."""
    p4 = np.asarray(p4, np.float64)
    m = np.asarray(mask, bool)
    n_jets = len(m)
    rows = np.arange(n_jets)
    pt_c = np.hypot(p4[..., 0], p4[..., 1])
    hadron = (features[..., _F["is_charged_hadron"]] > 0.5) & m & (pt_c >= track_pt_min)
    egamma = ((features[..., _F["is_photon"]] > 0.5) | (features[..., _F["is_electron"]] > 0.5)) & m
    strips, owner = build_strips(p4, egamma)
    strip_pt = np.hypot(strips[..., 0], strips[..., 1])
    strip_ok = strip_pt >= strip_pt_min
    strip_order = _leading(strips, strip_ok)
    strips_sorted = _with_pi0_mass(np.take_along_axis(strips, strip_order[..., None], axis=1))
    n_strips_ok = strip_ok.sum(axis=1)
    h_order = _leading(p4, hadron)
    h_p4 = np.take_along_axis(p4, h_order[..., None], axis=1)
    h_q = np.take_along_axis(features[..., _F["charge"]], h_order, axis=1)
    h_eta, h_phi = _eta_phi(h_p4)
    s_eta, s_phi = _eta_phi(strips_sorted)
    n_had = hadron.sum(axis=1)
    best_pt = np.full(n_jets, -1.0)
    out = HpsResult(decay_mode=np.full(n_jets, 5), found=np.zeros(n_jets, bool), p4=np.zeros((n_jets, 4)),
                    n_prongs=np.zeros(n_jets, int), n_strips=np.zeros(n_jets, int))
    for n_p, n_s, cls in HYPOTHESES:
        avail = (n_had >= n_p) & (n_strips_ok >= n_s)
        tau = h_p4[:, :n_p].sum(axis=1) + strips_sorted[:, :n_s].sum(axis=1)
        pt = np.hypot(tau[:, 0], tau[:, 1])
        charge_ok = np.abs(h_q[:, :n_p].sum(axis=1)) == 1 if n_p != 2 else np.ones(n_jets, bool)
        t_eta, t_phi = _eta_phi(tau)
        cone = signal_cone(pt, cone_max)
        dr_h = np.hypot(h_eta[:, :n_p] - t_eta[:, None], kinematics.delta_phi_rad(h_phi[:, :n_p], t_phi[:, None]))
        dr_s = np.hypot(s_eta[:, :n_s] - t_eta[:, None], kinematics.delta_phi_rad(s_phi[:, :n_s], t_phi[:, None]))
        in_cone = np.all(dr_h < cone[:, None], axis=1) & np.all(dr_s < cone[:, None], axis=1)
        lo, hi = mass_window_gev(n_p, n_s, pt)
        mass = kinematics.mass_gev(tau)
        passes = avail & charge_ok & in_cone & (mass >= lo) & (mass <= hi) & (pt > best_pt)
        best_pt = np.where(passes, pt, best_pt)
        out["decay_mode"] = np.where(passes, cls, out["decay_mode"])
        out["p4"] = np.where(passes[:, None], tau, out["p4"])
        out["n_prongs"] = np.where(passes, n_p, out["n_prongs"])
        out["n_strips"] = np.where(passes, n_s, out["n_strips"])
    out["found"] = best_pt >= 0
    # isolation: charged hadrons and photons of the jet that are not the chosen prongs or inside the chosen strips
    used = np.zeros_like(m)
    rank = np.argsort(h_order, axis=1)  # position of each candidate in the prong order
    used |= hadron & (rank < out["n_prongs"][:, None])
    strip_rank = np.argsort(strip_order, axis=1)  # position of each strip in the pT order
    cand_strip_rank = np.where(owner >= 0, strip_rank[rows[:, None], np.maximum(owner, 0)], n_jets + 99)
    used |= egamma & (cand_strip_rank < out["n_strips"][:, None])
    charged_or_photon = m & ((features[..., _F["charge"]] != 0) | (features[..., _F["is_photon"]] > 0.5))
    out["iso_pt_gev"] = np.where(charged_or_photon & ~used, pt_c, 0.0).sum(axis=1)
    return out


def hps_decay_mode(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, *, track_pt_min: float = 0.5,
                   strip_pt_min: float = 2.5) -> np.ndarray:
    """The HPS decay-mode class of each jet (:func:`hps_reconstruct`; 5 when no hypothesis passes)."""
    return hps_reconstruct(features, p4, mask, track_pt_min=track_pt_min, strip_pt_min=strip_pt_min)["decay_mode"]


def tune_hps(features: np.ndarray, p4: np.ndarray, mask: np.ndarray, true: np.ndarray,
             track_pt_min: Sequence[float] = (0.5, 1.0), strip_pt_min: Sequence[float] = (0.5, 1.0, 2.5)
             ) -> dict[str, float]:
    """The prong and strip pT thresholds (CMS: 0.5 and 2.5 GeV among them) with the highest decay-mode accuracy on
    a (validation) set of τ jets."""
    best = max(((t, s) for t in track_pt_min for s in strip_pt_min),
               key=lambda ts: np.mean(hps_decay_mode(features, p4, mask, track_pt_min=ts[0], strip_pt_min=ts[1])
                                      == true))
    return {"track_pt_min": float(best[0]), "strip_pt_min": float(best[1])}
