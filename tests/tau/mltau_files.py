"""ML-Tau ntuples written for the tests with awkward alone, as HEP-KBFI's ntupelizer lays them out (one row per
jet, four-vector records, −1000 impact parameters for neutral candidates, −1/−999 truth for q/g jets), from
jets whose values the tests know."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

#: Field names of the two four-vector conventions: the ntupelizer's own, and vector's Momentum4D storage.
CONVENTIONS: dict[str, tuple[str, str, str, str]] = {"ptetaphie": ("pt", "eta", "phi", "energy"),
                                                     "vector": ("rho", "eta", "phi", "t")}
_NO_IP = -1000.0


def _record(values: Mapping[str, Any], convention: str) -> Any:
    """A four-vector record (pt, eta, phi, energy): plain fields, or built by ``vector.zip`` (which stores
    ``rho, phi, eta, t``)."""
    if convention == "vector":
        import vector

        return vector.zip({"pt": values["pt"], "eta": values["eta"], "phi": values["phi"], "energy": values["energy"]})
    return ak.zip({n: values[n] for n in CONVENTIONS[convention]})


def random_jets(n_jets: int, seed: int, *, tau_fraction: float = 0.5) -> dict[str, Any]:
    """Jets with known (pt, eta, phi, energy) of every candidate, the reco jet, the visible τ and the truth.

    τ jets have one to three charged candidates with displaced tracks and collimated photons; q/g jets more,
    wider and softer candidates with prompt tracks, so that a network can learn to tell them apart.
    """
    rng = np.random.default_rng(seed)
    is_tau = rng.random(n_jets) < tau_fraction
    jets: dict[str, list[Any]] = {k: [] for k in ("pt", "eta", "phi", "energy", "pdg", "charge", "dxy", "dz",
                                                  "dxy_err", "dz_err")}
    jet = {"pt": [], "eta": [], "phi": [], "energy": []}
    codes = np.where(is_tau, rng.choice([0, 1, 2, 10, 11, 15], n_jets, p=[0.2, 0.4, 0.15, 0.15, 0.08, 0.02]), -1)
    for i in range(n_jets):
        eta0, phi0 = rng.uniform(-1.5, 1.5), rng.uniform(-np.pi, np.pi)
        if is_tau[i]:
            n_ch = 3 if codes[i] >= 10 else 1
            n_ph = {0: 0, 1: 2, 2: 4, 10: 0, 11: 2, 15: 1}[int(codes[i])]
            spread, ip = 0.03, 0.05
        else:
            n_ch, n_ph, spread, ip = rng.integers(3, 9), rng.integers(2, 8), 0.2, 0.005
        n = n_ch + n_ph
        pt = rng.exponential(8.0 if is_tau[i] else 3.0, n) + 0.5
        eta = eta0 + rng.normal(0, spread, n)
        phi = np.angle(np.exp(1j * (phi0 + rng.normal(0, spread, n))))
        mass = np.where(np.arange(n) < n_ch, 0.13957, 0.0)
        energy = np.sqrt((pt * np.cosh(eta)) ** 2 + mass**2)
        charged = np.arange(n) < n_ch
        sign = rng.choice([-1, 1], n)
        jets["pt"].append(pt)
        jets["eta"].append(eta)
        jets["phi"].append(phi)
        jets["energy"].append(energy)
        jets["pdg"].append(np.where(charged, sign * 211, 22))
        jets["charge"].append(np.where(charged, sign, 0).astype(float))
        for name, err in (("dxy", 0.004), ("dz", 0.005)):
            jets[name].append(np.where(charged, rng.normal(0, ip, n), _NO_IP))
            jets[f"{name}_err"].append(np.where(charged, err, _NO_IP))
        px, py = np.sum(pt * np.cos(phi)), np.sum(pt * np.sin(phi))
        pz, e = np.sum(pt * np.sinh(eta)), np.sum(energy)
        jet_pt = np.hypot(px, py)
        jet["pt"].append(jet_pt)
        jet["eta"].append(np.arcsinh(pz / jet_pt))
        jet["phi"].append(np.arctan2(py, px))
        jet["energy"].append(e)
    jet_arr = {k: np.asarray(v) for k, v in jet.items()}
    scale = np.where(is_tau, rng.normal(0.97, 0.03, n_jets), 0.0)
    vis = {"pt": jet_arr["pt"] * scale, "eta": np.where(is_tau, jet_arr["eta"] + rng.normal(0, 0.005, n_jets), 0.0),
           "phi": np.where(is_tau, jet_arr["phi"], 0.0), "energy": jet_arr["energy"] * scale}
    charge = np.where(is_tau, rng.choice([-1.0, 1.0], n_jets), -999.0)
    return {"cands": jets, "jet": jet_arr, "vis": vis, "decaymode": codes.astype(float), "tau_charge": charge}


def write_mltau(path: Path, jets: Mapping[str, Any], convention: str = "ptetaphie", *,
                drop: tuple[str, ...] = (), replace: Mapping[str, Any] | None = None,
                weight: bool = False) -> Path:
    """Write ``jets`` (:func:`random_jets`) as an ML-Tau ntuple with ``ak.to_parquet``."""
    cands, n = jets["cands"], len(jets["decaymode"])
    columns = {
        "reco_jet_p4": _record(jets["jet"], convention),
        "gen_jet_p4": _record({k: v * 1.01 for k, v in jets["jet"].items()}, convention),
        "reco_cand_p4s": _record({k: ak.Array([list(x) for x in cands[k]]) for k in ("pt", "eta", "phi", "energy")},
                                 convention),
        "reco_cand_pdgs": ak.Array([list(x) for x in cands["pdg"]]),
        "reco_cand_charges": ak.Array([list(x) for x in cands["charge"]]),
        "reco_cand_dxy": ak.Array([list(x) for x in cands["dxy"]]),
        "reco_cand_dz": ak.Array([list(x) for x in cands["dz"]]),
        "reco_cand_dxy_error": ak.Array([list(x) for x in cands["dxy_err"]]),
        "reco_cand_dz_error": ak.Array([list(x) for x in cands["dz_err"]]),
        "gen_jet_tau_p4": _record(jets["vis"], convention),
        "gen_jet_tau_decaymode": jets["decaymode"],
        "gen_jet_tau_charge": jets["tau_charge"],
    }
    if weight:
        columns["cls_weight"] = np.linspace(0.5, 1.5, n)
    columns.update(replace or {})
    ak.to_parquet(ak.Array({k: v for k, v in columns.items() if k not in drop}), path)
    return path
