"""Jets of the tau study: ee-genkt clustering of the reconstructed candidates (FastJet, all events of a batch in
one call), one-to-one matching to the prompt visible taus, the labels and the 17 candidate features
(reference/tau.md §1).

Every jet gets an ``origin``: 1 for a hadronic τ (the nearest jet within ΔR < 0.4 of a prompt hadronically
decaying visible τ; each τ matches at most one jet and each jet at most one τ), 2 for a leptonic τ, 3 for a jet
of a Z → ee/μμ event, 0 for a quark or gluon jet. Jets of events with prompt taus that match none are not
used. ``is_tau`` is ``origin == 1`` (the reference's definition; leptonic taus and Z → ℓℓ are an extra
background table). Beside the jets, every prompt hadronic τ is kept with whether a jet matched it, the
denominator of the efficiency against generated taus (reconstruction × identification).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.tau import constants
from hepnb.tau.detector import pairs_within_events, reconstruct
from hepnb.tau.events import GenEvents

__all__ = ["CAND_FEATURES", "KIN_TARGETS", "ORIGINS", "candidate_features", "cluster", "generate_jets",
           "kinematic_targets", "make_jets", "match_taus"]

#: The 17 candidate features, in the network's input order (reference/tau.md §1). ``dz`` and ``dxy`` are
#: lifetime-signed: positive when the track's point of closest approach lies downstream along the jet axis.
CAND_FEATURES: tuple[str, ...] = ("abs_deta", "abs_dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "dr",
                                  "charge", "is_electron", "is_muon", "is_photon", "is_charged_hadron",
                                  "is_neutral_hadron", "dz", "dz_err", "dxy", "dxy_err")
#: The 5 kinematic targets: log(pT_gen/pT_reco), Δη, sin Δφ, cos Δφ, log(m_gen/m_reco).
KIN_TARGETS: tuple[str, ...] = ("log_pt_ratio", "deta", "sin_dphi", "cos_dphi", "log_m_ratio")
#: Jet origins.
ORIGINS: dict[int, str] = {0: "q/g", 1: "hadronic tau", 2: "leptonic tau", 3: "Z → ee/μμ"}
_P4 = ("px", "py", "pz", "e")


def cluster(cands: dict[str, np.ndarray], n_events: int, *, min_jet_p_gev: float
            ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Inclusive ee-genkt jets (R = 0.4, p = −1) of each event's candidates with |p| ≥ ``min_jet_p_gev``.

    Parameters
    ----------
    cands
        Flat candidates sorted by event (:func:`hepnb.tau.detector.reconstruct`).
    n_events
        Number of events (events without candidates have no jets).

    Returns
    -------
    jets, members, sizes
        ``jets``: flat ``event, px, py, pz, e`` per jet (by event); ``members``: candidate indices (into
        ``cands``) of all jets, concatenated, each jet's by decreasing pT; ``sizes``: candidates per jet.
    """
    import awkward as ak
    import fastjet
    import vector

    vector.register_awkward()
    counts = np.bincount(cands["event"], minlength=n_events)
    flat = ak.zip({"px": cands["px"], "py": cands["py"], "pz": cands["pz"], "E": cands["e"]}, with_name="Momentum4D")
    events = ak.unflatten(flat, counts)
    jetdef = fastjet.JetDefinition2Param(fastjet.ee_genkt_algorithm, constants.JET_R, constants.JET_P)
    sequence = fastjet.ClusterSequence(events, jetdef)
    jets = sequence.inclusive_jets()
    index = sequence.constituent_index()
    n_jets = np.asarray(ak.num(jets, axis=1))
    flat_jets = ak.flatten(jets, axis=1)
    jet_event = np.repeat(np.arange(n_events), n_jets)
    p4 = np.column_stack([np.asarray(flat_jets[c], np.float64) for c in ("px", "py", "pz", "E")]).reshape(-1, 4)
    sizes = np.asarray(ak.num(ak.flatten(index, axis=1), axis=1)) if len(p4) else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    members = np.asarray(ak.flatten(index, axis=None), np.int64) + np.repeat(offsets[jet_event], sizes)
    keep = kinematics.p_gev(p4) >= min_jet_p_gev if len(p4) else np.zeros(0, bool)
    jet_of_member = np.repeat(np.arange(len(p4)), sizes)
    kept_member = keep[jet_of_member]
    members, jet_of_member = members[kept_member], jet_of_member[kept_member]
    # by jet, then by decreasing candidate pT
    pt = np.hypot(cands["px"], cands["py"])
    order = np.lexsort((-pt[members], jet_of_member))
    members = members[order]
    jets_out = {"event": jet_event[keep], **{c: p4[keep, i] for i, c in enumerate(_P4)}}
    return jets_out, members, sizes[keep]


def candidate_features(cands: dict[str, np.ndarray], jet_p4: np.ndarray) -> np.ndarray:
    """The 17 candidate features (:data:`CAND_FEATURES`) of candidates relative to their jets.

    Parameters
    ----------
    cands
        Flat candidate arrays (:data:`hepnb.tau.detector.CANDIDATE_FIELDS`), one entry per candidate.
    jet_p4
        The four-momentum of each candidate's jet, ``[n, 4]``.

    Notes
    -----
    The impact parameters are signed by the jet axis (lifetime sign): d0's sign is that of the transverse
    point of closest approach projected on the jet direction (for a track it is d0·(py jx − px jy)/pT), z0's
    that of z0·jz; neutral candidates keep :data:`hepnb.tau.constants.IP_MISSING`.
    """
    p4 = np.column_stack([cands[c] for c in _P4])
    jet_p4 = np.broadcast_to(jet_p4, p4.shape)
    cand, jet = kinematics.momenta(p4), kinematics.momenta(jet_p4)
    pt = np.maximum(np.asarray(cand.pt), 1e-6)
    e = np.maximum(p4[:, 3], 1e-6)
    pt_rel = pt / np.maximum(np.asarray(jet.pt), 1e-6)
    e_rel = e / np.maximum(jet_p4[:, 3], 1e-6)
    category = [cands["category"] == c for c in constants.CANDIDATE_CATEGORIES]
    track = cands["charge"] != 0
    sign_xy = np.where(cands["d0"] * (p4[:, 1] * jet_p4[:, 0] - p4[:, 0] * jet_p4[:, 1]) >= 0, 1.0, -1.0)
    sign_z = np.where(cands["z0"] * jet_p4[:, 2] >= 0, 1.0, -1.0)
    dxy = np.where(track, sign_xy * np.abs(cands["d0"]), constants.IP_MISSING)
    dz = np.where(track, sign_z * np.abs(cands["z0"]), constants.IP_MISSING)
    return np.column_stack([np.abs(cand.deltaeta(jet)), np.abs(cand.deltaphi(jet)), np.log(pt), np.log(e),
                            np.log(pt_rel), np.log(e_rel), cand.deltaR(jet), cands["charge"], *category,
                            dz, np.where(track, cands["z0_err"], constants.IP_MISSING), dxy,
                            np.where(track, cands["d0_err"], constants.IP_MISSING)]).astype(np.float32)


def kinematic_targets(vis_p4: np.ndarray, jet_p4: np.ndarray) -> np.ndarray:
    """The 5 regression targets (:data:`KIN_TARGETS`) of visible taus ``[n, 4]`` against their jets ``[n, 4]``.

    The pT and mass log-ratios are clipped to [−5, 5], masses floored at 1 MeV.
    """
    vis, jet = kinematics.momenta(vis_p4), kinematics.momenta(jet_p4)
    dphi = np.asarray(vis.deltaphi(jet))
    m_vis = np.maximum(kinematics.mass_gev(vis_p4), 1e-3)
    m_jet = np.maximum(kinematics.mass_gev(jet_p4), 1e-3)
    return np.column_stack([np.clip(np.log(np.asarray(vis.pt) / np.asarray(jet.pt)), -5, 5), vis.deltaeta(jet),
                            np.sin(dphi), np.cos(dphi), np.clip(np.log(m_vis / m_jet), -5, 5)]).reshape(-1, 5)


def match_taus(tau_event: np.ndarray, tau_p4: np.ndarray, jet_event: np.ndarray, jet_p4: np.ndarray
               ) -> np.ndarray:
    """For each tau, the index of its jet (−1 for none): the nearest jet within ΔR < 0.4 of the same event,
    one to one (a jet nearest to two taus goes to the closer one). Both inputs sorted by event."""
    out = np.full(len(tau_event), -1)
    i, j = pairs_within_events(tau_event, jet_event)
    if not len(i):
        return out
    dr = kinematics.delta_r(tau_p4[i], jet_p4[j])
    near = dr < constants.MATCH_DR
    i, j, dr = i[near], j[near], dr[near]
    order = np.argsort(dr, kind="stable")
    i, j = i[order], j[order]
    first_tau = np.unique(i, return_index=True)[1]
    i, j = i[np.sort(first_tau)], j[np.sort(first_tau)]  # each tau's nearest jet, still by ΔR
    first_jet = np.unique(j, return_index=True)[1]
    out[i[first_jet]] = j[first_jet]
    return out


def make_jets(gen: GenEvents, rng: np.random.Generator, *, min_jet_p_gev: float = 2.0) -> tuple[Any, Any]:
    """Reconstructed, labelled jets and the prompt hadronic taus of a batch of generated events.

    Returns
    -------
    jets, taus
        ``jets`` (awkward): ``cand_features`` (var × 17), ``cand_p4`` (var × 4), ``jet_p4`` (4), ``is_tau``,
        ``charge`` (1 for τ⁺), ``decay_mode`` (0–5 index into 1p0π⁰ … rare, −1 for other jets),
        ``kin_targets`` (5), ``gen_vis_p4`` (4, zeros for other jets), ``origin`` (:data:`ORIGINS`).
        ``taus`` (awkward): every prompt hadronic τ: ``vis_p4`` (4), ``decay_mode``, ``charge``, ``reco``
        (1 when a jet matched it).
    """
    import awkward as ak

    cands = reconstruct(gen, rng)
    jets, members, sizes = cluster(cands, gen.n_events, min_jet_p_gev=min_jet_p_gev)
    jet_p4 = np.column_stack([jets[c] for c in _P4]).reshape(-1, 4)
    taus = gen.taus
    order = np.argsort(taus["event"], kind="stable")
    taus = {k: v[order] for k, v in taus.items()}
    jet_of_tau = match_taus(taus["event"], taus["vis"], jets["event"], jet_p4)
    n_jets = len(jet_p4)
    origin = np.zeros(n_jets, np.int32)
    origin[gen.prompt_lepton[jets["event"]] > 0] = 3
    has_tau = np.zeros(gen.n_events, bool)
    has_tau[taus["event"]] = True
    keep = ~has_tau[jets["event"]]
    matched = jet_of_tau >= 0
    hadronic = taus["dm"] >= 0
    origin[jet_of_tau[matched]] = np.where(hadronic[matched], 1, 2)
    keep[jet_of_tau[matched]] = True
    tau_of_jet = np.full(n_jets, -1)
    tau_of_jet[jet_of_tau[matched]] = np.flatnonzero(matched)
    is_tau = origin == 1
    vis = np.zeros((n_jets, 4))
    vis[is_tau] = taus["vis"][tau_of_jet[is_tau]]
    targets = np.zeros((n_jets, 5))
    targets[is_tau] = kinematic_targets(vis[is_tau], jet_p4[is_tau])
    charge = np.zeros(n_jets, np.int32)
    charge[is_tau] = (taus["charge"][tau_of_jet[is_tau]] > 0).astype(np.int32)
    dm = np.full(n_jets, -1, np.int32)
    dm[is_tau] = [constants.DM_CLASSES.index(int(d)) for d in taus["dm"][tau_of_jet[is_tau]]]
    member_jet = np.repeat(np.arange(n_jets), sizes)
    rows = {k: v[members] for k, v in cands.items()}
    feats = candidate_features(rows, jet_p4[member_jet])
    cand_p4 = np.column_stack([rows[c] for c in _P4]).astype(np.float32).reshape(-1, 4)
    kept_members = keep[member_jet]
    sizes_kept = sizes[keep]
    out = ak.zip({
        "cand_features": ak.unflatten(feats[kept_members], sizes_kept),
        "cand_p4": ak.unflatten(cand_p4[kept_members], sizes_kept),
        "jet_p4": jet_p4[keep], "is_tau": is_tau[keep].astype(np.int32), "charge": charge[keep],
        "decay_mode": dm[keep], "kin_targets": targets[keep].astype(np.float32), "gen_vis_p4": vis[keep],
        "origin": origin[keep]}, depth_limit=1)
    had = np.flatnonzero(hadronic)
    tau_table = ak.zip({"vis_p4": taus["vis"][had].reshape(-1, 4),
                        "decay_mode": np.array([constants.DM_CLASSES.index(int(d)) for d in taus["dm"][had]],
                                               np.int32).reshape(-1),
                        "charge": (taus["charge"][had] > 0).astype(np.int32),
                        "reco": matched[had].astype(np.int32)}, depth_limit=1)
    return out, tau_table


def generate_jets(process: str, n_events: int, seed: int, *, min_jet_p_gev: float = 2.0,
                  hepmc_path: str | None = None) -> tuple[Any, Any]:
    """Jets and prompt hadronic taus (:func:`make_jets`) of ``n_events`` Pythia events of ``process``.

    ``hepmc_path``, if given, receives the generated events as a HepMC3 ASCII file (:mod:`hepnb.tau.hepmc`).
    """
    import awkward as ak

    from hepnb.tau.events import gen_events, pythia_records

    rng = np.random.default_rng(seed)
    jets, taus = [], []
    writer = None
    if hepmc_path is not None:
        from hepnb.tau.hepmc import HepMC3Writer

        writer = HepMC3Writer(hepmc_path)
    try:
        for record in pythia_records(process, n_events, seed):
            if writer is not None:
                writer.write(record)
            j, t = make_jets(gen_events(record), rng, min_jet_p_gev=min_jet_p_gev)
            jets.append(j)
            taus.append(t)
        if writer is not None:
            writer.close()
            writer = None
    finally:
        if writer is not None:
            writer.abort()
    return ak.concatenate(jets), ak.concatenate(taus)
