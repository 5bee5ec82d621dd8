"""From jets (awkward) to padded network inputs: [N, 20, 17] features, [N, 20, 4] four-vectors, mask."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hepnb.tau import constants as C

__all__ = ["REQUIRED_FIELDS", "to_tensors"]

REQUIRED_FIELDS = ("cand_features", "cand_p4", "jet_p4", "is_tau", "charge", "decay_mode", "kin_targets")


_IP = (13, 14, 15, 16)  # dz, dz_err, dxy, dxy_err


def _prepare_impact_parameters(feats: np.ndarray) -> np.ndarray:
    out = feats.copy()
    missing = out[..., 13] <= C.IP_MISSING + 1.0
    for i in _IP:
        out[..., i] = np.where(missing, 0.0, out[..., i])
    out[..., 13] = np.tanh(out[..., 13])
    out[..., 15] = np.tanh(out[..., 15])
    return out


def to_tensors(jets: Any, max_candidates: int = C.MAX_CANDIDATES) -> dict[str, np.ndarray]:
    """Pad or truncate each jet's candidates (already sorted by decreasing pT) to ``max_candidates``.

    Jets with more candidates keep the ``max_candidates`` highest-pT ones; a warning says how many jets were
    truncated. Raises ``ValueError`` for missing fields, a feature count other than 17, or NaN/inf.

    The impact parameters are prepared as JetClass does: the −1000 of neutral candidates becomes 0 (for the
    values and their errors) and dz, dxy (mm) become tanh(dz), tanh(dxy), so that a few secondary vertices
    at centimetres do not dominate the input batch normalisation.
    """
    import awkward as ak

    fields = set(ak.fields(jets))
    missing = [f for f in REQUIRED_FIELDS if f not in fields]
    if missing:
        msg = f"jets lack the fields {missing}; expected {list(REQUIRED_FIELDS)}"
        raise ValueError(msg)
    n_feat = ak.flatten(ak.num(jets.cand_features, axis=2)) if len(jets) else np.array([C.N_FEATURES])
    if len(n_feat) and np.any(np.asarray(n_feat) != C.N_FEATURES):
        msg = f"each candidate needs {C.N_FEATURES} features, found {sorted(set(np.asarray(n_feat).tolist()))}"
        raise ValueError(msg)
    counts = np.asarray(ak.num(jets.cand_features, axis=1))
    n_long = int(np.sum(counts > max_candidates))
    if n_long:
        warnings.warn(f"{n_long} jets have more than {max_candidates} candidates; the highest-pT "
                      f"{max_candidates} are kept", stacklevel=2)
    feats = ak.to_numpy(ak.fill_none(ak.pad_none(jets.cand_features, max_candidates, axis=1, clip=True),
                                     [0.0] * C.N_FEATURES, axis=1))
    p4 = ak.to_numpy(ak.fill_none(ak.pad_none(jets.cand_p4, max_candidates, axis=1, clip=True), [0.0] * 4, axis=1))
    feats, p4 = np.asarray(feats, dtype=np.float32), np.asarray(p4, dtype=np.float32)
    bad = ~np.isfinite(feats)
    if bad.any():
        msg = f"{int(bad.any(axis=(1, 2)).sum())} jets have NaN/inf candidate features"
        raise ValueError(msg)
    feats = _prepare_impact_parameters(feats)
    mask = np.arange(max_candidates)[None, :] < np.minimum(counts, max_candidates)[:, None]
    return {"features": feats, "p4": p4, "mask": mask, "jet_p4": np.asarray(ak.to_numpy(jets.jet_p4), np.float32),
            "is_tau": np.asarray(jets.is_tau, np.int32), "charge": np.asarray(jets.charge, np.int32),
            "decay_mode": np.asarray(jets.decay_mode, np.int32),
            "kin_targets": np.asarray(ak.to_numpy(jets.kin_targets), np.float32)}
