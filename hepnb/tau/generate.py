"""e⁺e⁻ → Z → ττ / qq̄ with Pythia 8, a CLD-like parametrised detector, ee-genkt jets and tau labels.

Generation follows the FCC-ee cards (reference/tau.md §1): √s = 91.188 GeV, γ*/Z, ISR and FSR on,
FCC-ee vertex spread, Pythia's default tau decays (with polarisation). The detector (§5) keeps particles
with |cos θ| < 0.99; tracks (e, μ, charged hadrons) need pT ≥ 0.1 GeV and get σpT/pT = √((4e-5 pT)² +
(2.5e-3)²); photons 15 %/√E ⊕ 1 % above 0.5 GeV; neutral hadrons 35 %/√E ⊕ 5 % above 1 GeV. Impact
parameters come from each track's true production vertex (a tau flies about 2 mm) relative to the
event's primary vertex, smeared with σ(d0) = 2 µm ⊕ 12 µm·GeV/(p sin^{3/2}θ), σ(dz) = 1.2 σ(d0).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from hepnb.tau import constants as C

__all__ = ["PROCESSES", "decay_mode_class", "generate_jets", "pythia_events", "tau_decay_modes"]

PROCESSES: dict[str, str] = {"ztautau": "23:onIfAny = 15", "zqq": "23:onIfAny = 1 2 3 4 5"}


def _pythia(process: str, seed: int) -> Any:
    import pythia8mc

    if process not in PROCESSES:
        msg = f"unknown process {process!r}; choose one of {sorted(PROCESSES)}"
        raise ValueError(msg)
    if not 0 <= seed <= 900_000_000:
        msg = f"Pythia seeds must lie in [0, 900000000], found {seed}"
        raise ValueError(msg)
    py = pythia8mc.Pythia("", False)
    for line in ("Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {C.SQRT_S_GEV}", "WeakSingleBoson:ffbar2gmZ = on",
                 "23:onMode = off", PROCESSES[process], "PartonLevel:ISR = on", "PartonLevel:FSR = on",
                 "Beams:allowVertexSpread = on", f"Beams:sigmaVertexX = {C.VERTEX_SIGMA_MM[0]}",
                 f"Beams:sigmaVertexY = {C.VERTEX_SIGMA_MM[1]}", f"Beams:sigmaVertexZ = {C.VERTEX_SIGMA_MM[2]}",
                 "Random:setSeed = on", f"Random:seed = {seed + 1}", "Next:numberCount = 0", "Print:quiet = on"):
        py.readString(line)
    if not py.init():
        msg = "Pythia failed to initialise"
        raise RuntimeError(msg)
    return py


def decay_mode_class(daughter_ids: list[int], daughter_charges: list[float]) -> int:
    """The 6-class decay mode of a tau from its direct daughters (ml-tau-data convention).

    Neutrinos are ignored; charged hadrons are prongs; neutral hadrons (π⁰, K⁰, η, ω …) count as neutrals;
    any other species (e.g. a photon) makes the decay "rare"; an electron or muon makes it leptonic (−1).
    HPS-like mode 5·(prongs − 1) + min(neutrals, 4) is then reduced to classes 0, 1, 2, 10, 11, 15.
    """
    prongs = neutrals = 0
    rare = False
    for pid, q in zip(daughter_ids, daughter_charges, strict=True):
        a = abs(pid)
        if a in (12, 14, 16):
            continue
        if a in (11, 13):
            return -1
        if a > 100 and q != 0:
            prongs += 1
        elif a > 100:
            neutrals += 1
        else:
            rare = True
    if rare or prongs == 0:
        return 15
    hps = 5 * (prongs - 1) + min(neutrals, 4)
    return C.DM_REDUCTION.get(hps, 15)


def pythia_events(process: str, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
    """Final-state particles and hadronic-tau truth of each event (the particle loop in Python)."""
    py = _pythia(process, seed)
    made = 0
    while made < n_events:
        if not py.next():
            continue
        made += 1
        ev = py.event
        pv = (ev[0].xProd(), ev[0].yProd(), ev[0].zProd())
        parts, taus = [], []
        for i in range(ev.size()):
            prt = ev[i]
            if prt.isFinal() and prt.idAbs() not in (12, 14, 16):
                parts.append((prt.px(), prt.py(), prt.pz(), prt.e(), prt.id(), prt.charge(),
                              prt.xProd() - pv[0], prt.yProd() - pv[1], prt.zProd() - pv[2]))
            if prt.idAbs() == 15 and prt.iBotCopyId() == i:
                dl = list(prt.daughterList())
                vis = np.zeros(4)
                for d in dl:
                    if ev[d].idAbs() not in (12, 14, 16):
                        vis += (ev[d].px(), ev[d].py(), ev[d].pz(), ev[d].e())
                taus.append({"charge": int(np.sign(prt.charge())), "vis_p4": vis,
                             "dm": decay_mode_class([ev[d].id() for d in dl], [ev[d].charge() for d in dl])})
        yield {"particles": np.array(parts, dtype=np.float64).reshape(-1, 9), "taus": taus}


def tau_decay_modes(n_events: int, seed: int) -> np.ndarray:
    """Decay-mode classes of all taus in ``n_events`` Z → ττ events (−1 for leptonic decays)."""
    return np.array([t["dm"] for ev in pythia_events("ztautau", n_events, seed) for t in ev["taus"]])


def _smear(rng: np.random.Generator, parts: np.ndarray) -> np.ndarray:
    """CLD-like response; returns rows (px, py, pz, E, pdg_category, charge, d0, dz, d0_err, dz_err)."""
    px, py_, pz, e, pid, q = (parts[:, i] for i in range(6))
    p = np.sqrt(px**2 + py_**2 + pz**2)
    pt = np.hypot(px, py_)
    cos_t = np.where(p > 0, pz / np.maximum(p, 1e-12), 1.0)
    apid = np.abs(pid)
    charged = q != 0
    photon = apid == 22
    neutral_h = ~charged & ~photon
    keep = (np.abs(cos_t) < C.COS_THETA_MAX) & np.where(charged, pt >= C.TRACK_PT_MIN_GEV, True)
    scale = np.ones_like(p)
    sig_pt = np.sqrt((C.TRACK_SAGITTA_PER_GEV * pt) ** 2 + C.TRACK_MS_TERM**2)
    scale[charged] = 1.0 + sig_pt[charged] * rng.normal(size=int(charged.sum()))
    sig_g = np.sqrt((0.15 / np.sqrt(np.maximum(e, 1e-3))) ** 2 + 0.01**2)
    sig_h = np.sqrt((0.35 / np.sqrt(np.maximum(e, 1e-3))) ** 2 + 0.05**2)
    scale[photon] = np.maximum(1.0 + sig_g[photon] * rng.normal(size=int(photon.sum())), 0.0)
    scale[neutral_h] = np.maximum(1.0 + sig_h[neutral_h] * rng.normal(size=int(neutral_h.sum())), 0.0)
    keep &= np.where(photon, e * scale >= C.PHOTON_E_MIN_GEV, True)
    keep &= np.where(neutral_h, e * scale >= C.NEUTRAL_HADRON_E_MIN_GEV, True)
    mom = np.stack([px, py_, pz], axis=1) * scale[:, None]
    mass = np.sqrt(np.maximum(e**2 - p**2, 0.0))
    energy = np.where(charged, np.sqrt((p * scale) ** 2 + mass**2), e * scale)
    category = np.select([apid == 11, apid == 13, photon, charged], [11, 13, 22, 211], 130)
    # impact parameters of straight tracks from the true production vertex
    vx, vy, vz = parts[:, 6], parts[:, 7], parts[:, 8]
    d0_true = (vx * py_ - vy * px) / np.maximum(pt, 1e-9)
    dz_true = vz - (vx * px + vy * py_) / np.maximum(pt, 1e-9) * pz / np.maximum(pt, 1e-9)
    sin_t = np.sqrt(np.maximum(1 - cos_t**2, 1e-6))
    sig_d0 = np.sqrt(C.D0_CONST_MM**2 + (C.D0_MS_MM_GEV / (np.maximum(p, 1e-3) * sin_t**1.5)) ** 2)
    d0 = np.where(charged, d0_true + sig_d0 * rng.normal(size=p.size), C.IP_MISSING)
    dz = np.where(charged, dz_true + 1.2 * sig_d0 * rng.normal(size=p.size), C.IP_MISSING)
    rows = np.column_stack([mom, energy, category, q, d0, dz, np.where(charged, sig_d0, C.IP_MISSING),
                            np.where(charged, 1.2 * sig_d0, C.IP_MISSING)])
    return rows[keep]


def _eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pt = np.hypot(p4[..., 0], p4[..., 1])
    return np.arcsinh(p4[..., 2] / np.maximum(pt, 1e-12)), np.arctan2(p4[..., 1], p4[..., 0])


def _delta_phi(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def _candidate_features(cands: np.ndarray, jet: np.ndarray) -> np.ndarray:
    """The 17 candidate features in the reference order (reference/tau.md §1)."""
    eta_c, phi_c = _eta_phi(cands[:, :4])
    eta_j, phi_j = _eta_phi(jet)
    pt_c, pt_j = np.hypot(cands[:, 0], cands[:, 1]), math.hypot(jet[0], jet[1])
    deta, dphi = np.abs(eta_c - eta_j), np.abs(_delta_phi(phi_c, phi_j))
    cat = cands[:, 4]
    return np.column_stack([
        deta, dphi, np.log(np.maximum(pt_c, 1e-6)), np.log(np.maximum(cands[:, 3], 1e-6)),
        np.log(np.maximum(pt_c, 1e-6) / max(pt_j, 1e-6)), np.log(np.maximum(cands[:, 3], 1e-6) / max(jet[3], 1e-6)),
        np.hypot(deta, dphi), cands[:, 5], cat == 11, cat == 13, cat == 22, cat == 211, cat == 130,
        cands[:, 7], cands[:, 9], cands[:, 6], cands[:, 8]]).astype(np.float32)


def _mass(p4: np.ndarray) -> float:
    return float(np.sqrt(max(p4[3] ** 2 - p4[0] ** 2 - p4[1] ** 2 - p4[2] ** 2, 0.0)))


def generate_jets(process: str, n_events: int, seed: int, *, min_jet_p_gev: float = 2.0) -> Any:
    """Reconstructed ee-genkt (R = 0.4, p = −1) jets with their candidates and labels, as an awkward array.

    Fields: ``cand_features`` (var × 17), ``cand_p4`` (var × 4: px, py, pz, E), ``jet_p4`` (4), ``is_tau``,
    ``charge`` (1 for τ⁺), ``decay_mode`` (0–5 index into 1p0π⁰, 1p1π⁰, 1p≥2π⁰, 3p0π⁰, 3p≥1π⁰, rare; −1 for
    background), ``kin_targets`` (5: log(pT_gen/pT_reco), Δη, sin Δφ, cos Δφ, log(m_gen/m_reco)),
    ``gen_vis_p4`` (4). Signal jets are those matched (ΔR < 0.4) to a hadronically decaying visible tau;
    from Z → qq̄ every jet is background.
    """
    import awkward as ak
    import fastjet

    if n_events < 1:
        msg = f"n_events must be >= 1, found {n_events}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    jetdef = fastjet.JetDefinition2Param(fastjet.ee_genkt_algorithm, C.JET_R, C.JET_P)
    records = []
    for ev in pythia_events(process, n_events, seed):
        cands = _smear(rng, ev["particles"])
        if len(cands) == 0:
            continue
        pseudo = []
        for i, c in enumerate(cands):
            pj = fastjet.PseudoJet(float(c[0]), float(c[1]), float(c[2]), float(c[3]))
            pj.set_user_index(i)
            pseudo.append(pj)
        seq = fastjet.ClusterSequence(pseudo, jetdef)
        for jet in seq.inclusive_jets():
            jp4 = np.array([jet.px(), jet.py(), jet.pz(), jet.E()])
            if np.linalg.norm(jp4[:3]) < min_jet_p_gev:
                continue
            idx = np.array([c.user_index() for c in jet.constituents()])
            members = cands[idx]
            order = np.argsort(-np.hypot(members[:, 0], members[:, 1]))
            members = members[order]
            label = {"is_tau": 0, "charge": 0, "decay_mode": -1, "kin_targets": np.zeros(5), "gen_vis_p4": np.zeros(4)}
            if process == "ztautau":
                eta_j, phi_j = _eta_phi(jp4)
                matched = None
                for tau in ev["taus"]:
                    if tau["dm"] < 0:
                        continue
                    eta_t, phi_t = _eta_phi(tau["vis_p4"])
                    if math.hypot(eta_t - eta_j, _delta_phi(phi_t, phi_j)) < C.MATCH_DR:
                        matched = tau
                if matched is None:
                    continue  # leptonic or unmatched taus are not used
                vis = matched["vis_p4"]
                eta_t, phi_t = _eta_phi(vis)
                dphi = _delta_phi(phi_t, phi_j)
                label = {"is_tau": 1, "charge": int(matched["charge"] > 0),
                         "decay_mode": C.DM_CLASSES.index(matched["dm"]),
                         "kin_targets": np.array([
                             np.clip(np.log(math.hypot(vis[0], vis[1]) / math.hypot(jp4[0], jp4[1])), -5, 5),
                             eta_t - eta_j, math.sin(dphi), math.cos(dphi),
                             np.clip(np.log(max(_mass(vis), 1e-3) / max(_mass(jp4), 1e-3)), -5, 5)]),
                         "gen_vis_p4": vis}
            records.append({"cand_features": _candidate_features(members, jp4), "cand_p4": members[:, :4],
                            "jet_p4": jp4, **label})
    return ak.Array(records)
