"""Jets of the tau study: ee-genkt clustering of the reconstructed candidates (FastJet), matching to visible
taus, the tau labels and the 17 candidate features (reference/tau.md §1).

A jet from a Z → ττ event is a τ jet when a hadronically decaying visible τ lies within ΔR < 0.4 (the last
such τ when there are two); leptonic or unmatched jets of Z → ττ events are not used, and every Z → qq̄ jet
is background.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.tau import constants
from hepnb.tau.detector import reconstruct
from hepnb.tau.events import pythia_events

__all__ = ["CAND_FEATURES", "KIN_TARGETS", "candidate_features", "cluster", "generate_jets", "kinematic_targets"]

#: The 17 candidate features, in the network's input order (reference/tau.md §1).
CAND_FEATURES: tuple[str, ...] = ("abs_deta", "abs_dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "dr",
                                  "charge", "is_electron", "is_muon", "is_photon", "is_charged_hadron",
                                  "is_neutral_hadron", "dz", "dz_err", "dxy", "dxy_err")
#: The 5 kinematic targets: log(pT_gen/pT_reco), Δη, sin Δφ, cos Δφ, log(m_gen/m_reco).
KIN_TARGETS: tuple[str, ...] = ("log_pt_ratio", "deta", "sin_dphi", "cos_dphi", "log_m_ratio")


def cluster(cands: np.ndarray, *, min_jet_p_gev: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Inclusive ee-genkt jets (R = 0.4, p = −1) of one event's candidates with |p| ≥ ``min_jet_p_gev``.

    Returns
    -------
    jet_p4, members
        The jets' four-momenta ``[n_jets, 4]`` (px, py, pz, E) and, per jet, the row indices of its
        candidates in ``cands`` by decreasing pT.
    """
    import fastjet

    jetdef = fastjet.JetDefinition2Param(fastjet.ee_genkt_algorithm, constants.JET_R, constants.JET_P)
    pseudo = []
    for i, c in enumerate(cands):
        pj = fastjet.PseudoJet(float(c[0]), float(c[1]), float(c[2]), float(c[3]))
        pj.set_user_index(i)
        pseudo.append(pj)
    sequence = fastjet.ClusterSequence(pseudo, jetdef)  # the jets' constituents live as long as the sequence
    jets = sequence.inclusive_jets()
    jet_p4 = np.array([[jet.px(), jet.py(), jet.pz(), jet.E()] for jet in jets]).reshape(-1, 4)
    members = [np.array([c.user_index() for c in jet.constituents()]) for jet in jets]
    keep = kinematics.p_gev(jet_p4) >= min_jet_p_gev
    pt = kinematics.pt_gev(cands[:, :4])
    return jet_p4[keep], [idx[np.argsort(-pt[idx])] for idx, k in zip(members, keep, strict=True) if k]


def candidate_features(cands: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """The 17 candidate features (:data:`CAND_FEATURES`) of candidates relative to their jet.

    Parameters
    ----------
    cands
        Candidate rows of :func:`hepnb.tau.detector.reconstruct`, ``[n, 10]``.
    jet_p4
        The four-momentum of each candidate's jet, ``[n, 4]`` or one ``[4]`` for all.
    """
    p4 = cands[:, :4]
    jet_p4 = np.broadcast_to(jet_p4, p4.shape)
    cand, jet = kinematics.momenta(p4), kinematics.momenta(jet_p4)  # one vector array each, several quantities
    pt = np.maximum(cand.pt, 1e-6)
    e = np.maximum(cands[:, 3], 1e-6)
    pt_rel = pt / np.maximum(jet.pt, 1e-6)
    e_rel = e / np.maximum(jet_p4[:, 3], 1e-6)
    category = [cands[:, 4] == c for c in constants.CANDIDATE_CATEGORIES]
    return np.column_stack([np.abs(cand.deltaeta(jet)), np.abs(cand.deltaphi(jet)), np.log(pt), np.log(e),
                            np.log(pt_rel), np.log(e_rel), cand.deltaR(jet), cands[:, 5], *category,
                            cands[:, 7], cands[:, 9], cands[:, 6], cands[:, 8]]).astype(np.float32)


def kinematic_targets(vis_p4: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """The 5 regression targets (:data:`KIN_TARGETS`) of visible taus ``[n, 4]`` against their jets ``[n, 4]``.

    The pT and mass log-ratios are clipped to [−5, 5], masses floored at 1 MeV.
    """
    vis, jet = kinematics.momenta(vis_p4), kinematics.momenta(jet_p4)
    dphi = vis.deltaphi(jet)
    m_vis = np.maximum(kinematics.mass_gev(vis_p4), 1e-3)
    m_jet = np.maximum(kinematics.mass_gev(jet_p4), 1e-3)
    return np.column_stack([np.clip(np.log(vis.pt / jet.pt), -5, 5), vis.deltaeta(jet), np.sin(dphi), np.cos(dphi),
                            np.clip(np.log(m_vis / m_jet), -5, 5)])


def _matched_taus(jet_p4: np.ndarray, taus: list[dict[str, Any]]) -> np.ndarray:
    """Index into ``taus`` of the hadronic tau matched to each jet (the last within ΔR < 0.4), −1 for none."""
    hadronic = [i for i, tau in enumerate(taus) if tau["dm"] >= 0]
    out = np.full(len(jet_p4), -1)
    if not hadronic or not len(jet_p4):
        return out
    vis = np.array([taus[i]["vis_p4"] for i in hadronic])
    close = kinematics.delta_r(jet_p4[:, None, :], vis[None, :, :]) < constants.MATCH_DR
    for j, row in enumerate(close):
        if row.any():
            out[j] = hadronic[np.flatnonzero(row)[-1]]
    return out


def _event_jets(process: str, cands: np.ndarray, taus: list[dict[str, Any]], min_jet_p_gev: float
                ) -> list[dict[str, Any]]:
    """The labelled jets of one event (records of :func:`generate_jets`)."""
    jet_p4, members = cluster(cands, min_jet_p_gev=min_jet_p_gev)
    labels = [{"is_tau": 0, "charge": 0, "decay_mode": -1, "kin_targets": np.zeros(5), "gen_vis_p4": np.zeros(4)}
              for _ in members]
    if process == "ztautau":
        matched = _matched_taus(jet_p4, taus)
        keep = matched >= 0
        vis = np.array([taus[i]["vis_p4"] for i in matched[keep]]).reshape(-1, 4)
        targets = kinematic_targets(vis, jet_p4[keep])
        labels = [{"is_tau": 1, "charge": int(taus[i]["charge"] > 0),
                   "decay_mode": constants.DM_CLASSES.index(taus[i]["dm"]), "kin_targets": t,
                   "gen_vis_p4": taus[i]["vis_p4"]} for i, t in zip(matched[keep], targets, strict=True)]
        jet_p4, members = jet_p4[keep], [idx for idx, k in zip(members, keep, strict=True) if k]
    if not members:
        return []
    sizes = [len(idx) for idx in members]
    rows = cands[np.concatenate(members)]
    feats = np.split(candidate_features(rows, np.repeat(jet_p4, sizes, axis=0)), np.cumsum(sizes)[:-1])
    p4s = np.split(rows[:, :4], np.cumsum(sizes)[:-1])
    return [{"cand_features": f, "cand_p4": p, "jet_p4": j, **label}
            for f, p, j, label in zip(feats, p4s, jet_p4, labels, strict=True)]


def generate_jets(process: str, n_events: int, seed: int, *, min_jet_p_gev: float = 2.0) -> Any:
    """Reconstructed ee-genkt (R = 0.4, p = −1) jets with their candidates and labels, as an awkward array.

    Fields: ``cand_features`` (var × 17), ``cand_p4`` (var × 4: px, py, pz, E), ``jet_p4`` (4), ``is_tau``,
    ``charge`` (1 for τ⁺), ``decay_mode`` (0–5 index into 1p0π⁰, 1p1π⁰, 1p≥2π⁰, 3p0π⁰, 3p≥1π⁰, rare; −1 for
    background), ``kin_targets`` (5: log(pT_gen/pT_reco), Δη, sin Δφ, cos Δφ, log(m_gen/m_reco)),
    ``gen_vis_p4`` (4). Signal jets are those matched (ΔR < 0.4) to a hadronically decaying visible tau;
    from Z → qq̄ every jet is background.
    """
    import awkward as ak

    if n_events < 1:
        msg = f"n_events must be >= 1, found {n_events}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    records = []
    for ev in pythia_events(process, n_events, seed):
        cands = reconstruct(ev["particles"], rng)
        if len(cands):
            records.extend(_event_jets(process, cands, ev["taus"], min_jet_p_gev))
    return ak.Array(records)
