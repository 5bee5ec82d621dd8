"""What the tau notebook calls that is neither training nor a comparison: the sample's physics checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.tau import constants
from hepnb.tau.data import JetSample

__all__ = [
    "physics_checks",
]


def physics_checks(sample: JetSample) -> dict[str, Any]:
    """Decay-mode fractions vs PDG, visible-pT spectrum, candidate multiplicities (and how many jets have more
    than the networks' 20 candidates), jet origins and the reconstruction efficiency of the generated hadronic
    taus."""
    import awkward as ak

    jets = sample.jets
    tau = np.asarray(jets.is_tau) == 1
    origin = np.asarray(jets.origin) if "origin" in ak.fields(jets) else tau.astype(int)
    dm = np.asarray(jets.decay_mode)[tau]
    names = constants.DM_NAMES
    frac = {names[i]: float(np.mean(dm == i)) for i in range(len(names))}
    pdg = {names[constants.DM_CLASSES.index(k)]: v for k, v in constants.PDG_HADRONIC_DM_FRACTIONS.items()}
    vis = np.asarray(jets.gen_vis_p4)[tau]
    n_cand = np.asarray(ak.num(jets.cand_features, axis=1))
    edges = np.arange(0.0, 52.5, 2.5)
    vis_pt = kinematics.pt_gev(vis)
    out = {"dm_fractions": frac, "dm_fractions_pdg": pdg,
           "vis_pt_hist": {"edges": edges.tolist(), "counts": np.histogram(vis_pt, edges)[0].tolist()},
           "vis_pt_quantiles": dict(zip(("q10", "q50", "q90"),
                                        np.quantile(vis_pt, [0.1, 0.5, 0.9]).tolist() if len(vis_pt) else [np.nan] * 3,
                                        strict=True)),
           "vis_pt_mode": float(edges[np.argmax(np.histogram(vis_pt, edges)[0])] + 1.25) if len(vis_pt) else np.nan,
           "n_candidates_mean": {"tau": float(n_cand[tau].mean()) if tau.any() else np.nan,
                                 "qg": float(n_cand[origin == 0].mean()) if (origin == 0).any() else np.nan},
           "n_candidates_hist": {"tau": np.bincount(n_cand[tau], minlength=31)[:31].tolist(),
                                 "qg": np.bincount(n_cand[origin == 0], minlength=31)[:31].tolist()},
           "n_truncated": {"tau": int(np.sum(n_cand[tau] > constants.MAX_CANDIDATES)),
                           "all": int(np.sum(n_cand > constants.MAX_CANDIDATES))},
           "n_jets": {"tau": int(tau.sum()), "qg": int(np.sum(origin == 0)), "leptonic_tau": int(np.sum(origin == 2)),
                      "z_ll": int(np.sum(origin == 3))}}
    if sample.taus is not None and len(sample.taus):
        reco = np.asarray(sample.taus.reco)
        out["tau_reco_efficiency"] = {"value": float(reco.mean()), "n_gen": len(reco)}
    return out


# ---------------------------------------------------------------------------------------------- studies


