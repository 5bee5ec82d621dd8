"""The ML-Tau ntuples (the Parquet files of HEP-KBFI's ``ml-tau-data`` ntupelizer, also the Fuτure dataset's
format) read as the study's jets.

One row is one reconstructed jet (reference/tau.md §1):

* ``reco_jet_p4``, ``gen_jet_p4``, ``gen_jet_tau_p4`` (visible τ; zeros for q/g jets): four-vector records,
  either ``{pt, eta, phi, energy}`` (the ntupelizer's own) or vector's ``Momentum4D`` storage
  ``{rho, phi, eta, t}``;
* ``reco_cand_p4s`` (a list of such records per jet), ``reco_cand_pdgs`` (11, 13, 22, 211, 130, signed or not),
  ``reco_cand_charges``, ``reco_cand_dxy``, ``reco_cand_dz`` (lifetime-signed, mm) and ``reco_cand_dxy_error``,
  ``reco_cand_dz_error`` (``_err`` also accepted), all −1000 for neutral candidates;
* ``gen_jet_tau_decaymode``: the HPS code 5·(prongs − 1) + π⁰s (0–14), 15 rare, 16 leptonic, −1 for q/g jets;
  ``gen_jet_tau_charge``: ±1, −999 for q/g jets; optionally ``cls_weight``.

:func:`read_mltau` turns them into the record of :func:`hepnb.tau.jets.make_jets`: candidate four-vectors
(px, py, pz, E), the 17 candidate features (:func:`hepnb.tau.jets.candidate_features` for the kinematic and
particle-type ones; the ntuple's own signed impact parameters, and −1000 for all four of a candidate without a
track), the decay mode reduced to the model card's six classes (2-prong modes join the 3-prong classes, 15 is
rare), ``origin`` 1 for hadronic τ, 2 for leptonic τ (code 16), 0 for q/g, and the kinematic targets of the
visible τ against the reco jet. Every column is checked before any is converted: a missing column, one of the
wrong type or shape, a non-finite value or an unknown decay code is refused in one line naming the file and
the column. The study computes its own (p, θ) training weights (the weighting ``cls_weight`` also holds); a
``cls_weight`` column is checked and kept as the field ``cls_weight``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from hepnb.tau import constants
from hepnb.tau.jets import candidate_features, kinematic_targets

__all__ = ["CANDIDATE_COLUMNS", "LABEL_COLUMNS", "P4_CONVENTIONS", "has_labels", "is_mltau", "read_mltau", "reduce_decay_modes"]

#: The two four-vector record layouts the ntuples are written in, each as (pt, eta, phi, energy) field names.
P4_CONVENTIONS: dict[str, tuple[str, str, str, str]] = {"pt-eta-phi-energy": ("pt", "eta", "phi", "energy"),
                                                        "vector Momentum4D": ("rho", "eta", "phi", "t")}
#: Per-candidate number columns (``reco_cand_p4s`` is the record list); ``_error`` columns may end in ``_err``.
CANDIDATE_COLUMNS: tuple[str, ...] = ("reco_cand_pdgs", "reco_cand_charges", "reco_cand_dxy", "reco_cand_dz",
                                      "reco_cand_dxy_error", "reco_cand_dz_error")
#: The truth columns a training needs (prediction needs only the reco ones).
LABEL_COLUMNS: tuple[str, ...] = ("gen_jet_tau_p4", "gen_jet_tau_decaymode", "gen_jet_tau_charge")
_MARKER = "reco_cand_p4s"
_ALIASES = {"reco_cand_dxy_error": "reco_cand_dxy_err", "reco_cand_dz_error": "reco_cand_dz_err"}
_USED = frozenset({_MARKER, "reco_jet_p4", "gen_jet_p4", "cls_weight", *CANDIDATE_COLUMNS, *LABEL_COLUMNS,
                   *_ALIASES.values()})
_LEPTONIC = 16
_RARE = 15
_NO_TAU = -1
_SENTINEL_BELOW = constants.IP_MISSING + 1.0  # −1000 marks a candidate without a track


def is_mltau(path: str | os.PathLike[str]) -> bool:
    """Whether a Parquet file is an ML-Tau ntuple (it has a ``reco_cand_p4s`` column); reads only its schema."""
    import pyarrow.parquet as pq

    try:
        return _MARKER in pq.read_schema(path).names
    except (OSError, ValueError):  # not Parquet (pyarrow raises ArrowInvalid, a ValueError)
        return False


def has_labels(path: str | os.PathLike[str]) -> bool:
    """Whether an ML-Tau ntuple has every truth column of :data:`LABEL_COLUMNS` (reads only its schema)."""
    import pyarrow.parquet as pq

    names = set(pq.read_schema(path).names)
    return all(c in names for c in LABEL_COLUMNS)


def reduce_decay_modes(codes: np.ndarray) -> np.ndarray:
    """The model card's six classes (index into :data:`hepnb.tau.constants.DM_CLASSES`) of HPS codes 0–15.

    0 → 1p0π⁰, 1 → 1p1π⁰, 2–4 → 1p≥2π⁰, 5 and 10 → 3p0π⁰, 6–9 and 11–14 → 3p≥1π⁰, 15 → rare.
    """
    reduced = {**constants.DM_REDUCTION, _RARE: _RARE}
    table = np.array([constants.DM_CLASSES.index(reduced[c]) for c in range(_RARE + 1)], np.int32)
    return table[np.asarray(codes, np.int64)]


class _Columns:
    """One file's columns, checked one by one with errors that name the file and the column."""

    def __init__(self, path: Path, array: Any, names: Sequence[str]) -> None:
        self.path, self.array, self.fields = path, array, set(names)

    def reject(self, column: str, problem: str) -> NoReturn:
        """Refuse the file in one line naming it and the column."""
        msg = f"ML-Tau ntuple {self.path}: column {column!r} {problem}"
        raise ValueError(msg)

    def name(self, column: str, *, required: bool = True) -> str | None:
        for name in (column, _ALIASES.get(column, column)):
            if name in self.fields:
                return name
        if required:
            self.reject(column, f"is missing; the file has {sorted(self.fields)}")
        return None

    def numbers(self, column: str, *, jagged: bool) -> Any:
        """A column of one number per jet (``jagged=False``) or one per candidate, as float64."""
        name = self.name(column)
        return self.checked(self.array[name], name or column, jagged=jagged)

    def checked(self, arr: Any, name: str, *, jagged: bool) -> Any:
        """``arr`` (the column or four-vector component ``name``) as float64, once its type and values pass."""
        import awkward as ak

        expected = "a list of numbers per jet (one per candidate)" if jagged else "one number per jet"
        kind = str(ak.type(arr).content)
        numeric = kind.removeprefix("var * ") if jagged else kind
        if (jagged and not kind.startswith("var * ")) or not _is_number(numeric) or ak.fields(arr):
            self.reject(name, f"must hold {expected}, found type {kind!r}")
        values = ak.values_astype(arr, np.float64)
        flat = np.asarray(ak.flatten(values, axis=None)) if jagged else np.asarray(values)
        if not np.all(np.isfinite(flat)):
            self.reject(name, f"has {int(np.sum(~np.isfinite(flat)))} NaN/inf values")
        return values

    def p4(self, column: str, *, jagged: bool) -> tuple[Any, ...]:
        """(pt, eta, phi, energy) of a four-vector column in either convention (:data:`P4_CONVENTIONS`)."""
        import awkward as ak

        name = self.name(column)
        arr = self.array[name]
        kind = str(ak.type(arr).content)
        if jagged and not kind.startswith("var * "):
            self.reject(name, f"must hold a list of four-vector records per jet, found type {kind!r}")
        fields = set(ak.fields(arr))
        for names in P4_CONVENTIONS.values():
            if set(names) <= fields:
                break
        else:
            layouts = " or ".join("{" + ", ".join(n) + "}" for n in P4_CONVENTIONS.values())
            self.reject(name, f"must hold four-vector records {layouts}, found fields {sorted(fields) or kind!r}")
        return tuple(self.checked(arr[field], f"{name}.{field}", jagged=jagged) for field in names)


def _is_number(kind: str) -> bool:
    return kind.startswith(("int", "uint", "float")) and "string" not in kind


def _cartesian(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """(px, py, pz, E) from (pT, η, φ, E)."""
    return np.column_stack([pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), energy]).reshape(-1, 4)


def _flat(arr: Any) -> np.ndarray:
    import awkward as ak

    return np.asarray(ak.flatten(arr, axis=None), np.float64)


def _candidates(cols: _Columns) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per-candidate (px, py, pz, E), the candidates per jet, and the other candidate columns, flat."""
    import awkward as ak

    pt, eta, phi, energy = cols.p4(_MARKER, jagged=True)
    counts = np.asarray(ak.num(pt, axis=1))
    flat = {}
    for column in CANDIDATE_COLUMNS:
        values = cols.numbers(column, jagged=True)
        n = np.asarray(ak.num(values, axis=1))
        if not np.array_equal(n, counts):
            first = int(np.flatnonzero(n != counts)[0])
            cols.reject(cols.name(column) or column, f"has {n[first]} entries in jet {first}, but "
                            f"{_MARKER!r} has {counts[first]} candidates there")
        flat[column] = _flat(values)
    return _cartesian(_flat(pt), _flat(eta), _flat(phi), _flat(energy)), counts, flat


def _features(p4: np.ndarray, flat: Mapping[str, np.ndarray], jet_p4: np.ndarray) -> np.ndarray:
    """The 17 features: kinematics and particle type as the study's own jets, the ntuple's impact parameters."""
    ip = np.column_stack([flat["reco_cand_dz"], flat["reco_cand_dz_error"], flat["reco_cand_dxy"],
                          flat["reco_cand_dxy_error"]])
    charge = flat["reco_cand_charges"]
    no_track = (charge == 0) | np.any(ip <= _SENTINEL_BELOW, axis=1)
    cands = {"px": p4[:, 0], "py": p4[:, 1], "pz": p4[:, 2], "e": p4[:, 3],
             "category": np.abs(flat["reco_cand_pdgs"]).astype(np.int64), "charge": charge,
             "d0": np.zeros(len(p4)), "z0": np.zeros(len(p4)), "d0_err": np.zeros(len(p4)),
             "z0_err": np.zeros(len(p4))}
    feats = candidate_features(cands, jet_p4)
    feats[:, 13:17] = np.where(no_track[:, None], constants.IP_MISSING, ip)
    return feats


def _labels(cols: _Columns, jet_p4: np.ndarray) -> dict[str, np.ndarray]:
    """``is_tau``, ``charge``, ``decay_mode``, ``origin``, ``gen_vis_p4`` and ``kin_targets`` from the truth."""
    code = np.asarray(cols.numbers("gen_jet_tau_decaymode", jagged=False))
    known = np.isin(code, np.arange(_NO_TAU, _LEPTONIC + 1))
    if not known.all():
        cols.reject("gen_jet_tau_decaymode", f"must hold HPS codes 0-16 or -1 (q/g), found "
                        f"{sorted(set(code[~known].tolist()))[:5]}")
    code = code.astype(np.int64)
    origin = np.where(code == _NO_TAU, 0, np.where(code == _LEPTONIC, 2, 1)).astype(np.int32)
    hadronic = origin == 1
    tau_charge = np.asarray(cols.numbers("gen_jet_tau_charge", jagged=False))
    bad = (code != _NO_TAU) & ~np.isin(tau_charge, (-1.0, 1.0))
    if bad.any():
        cols.reject("gen_jet_tau_charge", f"must be +1 or -1 for τ jets, found {sorted(set(tau_charge[bad].tolist()))[:5]}")
    vis = _cartesian(*(np.asarray(v) for v in cols.p4("gen_jet_tau_p4", jagged=False)))
    vis[~hadronic] = 0.0
    empty = hadronic & ~(np.hypot(vis[:, 0], vis[:, 1]) > 0)
    if empty.any():
        cols.reject("gen_jet_tau_p4", f"has visible pT <= 0 for {int(empty.sum())} hadronic τ jets "
                        f"(first: jet {int(np.flatnonzero(empty)[0])})")
    decay_mode = np.full(len(code), -1, np.int32)
    decay_mode[hadronic] = reduce_decay_modes(code[hadronic])
    targets = np.zeros((len(code), 5))
    targets[hadronic] = kinematic_targets(vis[hadronic], jet_p4[hadronic])
    return {"is_tau": hadronic.astype(np.int32), "charge": (hadronic & (tau_charge == 1)).astype(np.int32),
            "decay_mode": decay_mode, "kin_targets": targets.astype(np.float32), "gen_vis_p4": vis, "origin": origin}


def _unlabelled(n: int) -> dict[str, np.ndarray]:
    return {"is_tau": np.zeros(n, np.int32), "charge": np.zeros(n, np.int32), "decay_mode": np.full(n, -1, np.int32),
            "kin_targets": np.zeros((n, 5), np.float32), "gen_vis_p4": np.zeros((n, 4)), "origin": np.zeros(n, np.int32)}


def _read_one(path: Path, *, labels: bool) -> Any:
    import awkward as ak

    from hepnb.io import file_format

    if file_format(path) != "parquet":
        msg = f"ML-Tau ntuple {path} is not a Parquet file"
        raise ValueError(msg)
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    used = [n for n in names if n in _USED]  # real ntuples also hold large event-level lists, not read
    cols = _Columns(path, ak.from_parquet(path, columns=used), names)
    jet_p4 = _cartesian(*(np.asarray(v) for v in cols.p4("reco_jet_p4", jagged=False)))
    p4, counts, flat = _candidates(cols)
    jet_of_cand = np.repeat(np.arange(len(counts)), counts)
    feats = _features(p4, flat, jet_p4[jet_of_cand])
    truth = _labels(cols, jet_p4) if labels else _unlabelled(len(jet_p4))
    fields = {"cand_features": ak.unflatten(feats, counts), "cand_p4": ak.unflatten(p4.astype(np.float32), counts),
              "jet_p4": jet_p4, **truth}
    if cols.name("gen_jet_p4", required=False):
        fields["gen_jet_p4"] = _cartesian(*(np.asarray(v) for v in cols.p4("gen_jet_p4", jagged=False)))
    if cols.name("cls_weight", required=False):
        weight = np.asarray(cols.numbers("cls_weight", jagged=False))
        if np.any(weight < 0):
            cols.reject("cls_weight", f"must be >= 0, found {int(np.sum(weight < 0))} negative values")
        fields["cls_weight"] = weight.astype(np.float32)
    return ak.zip(fields, depth_limit=1)


def read_mltau(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, labels: bool = True) -> Any:
    """The jets of ML-Tau ntuples (several files are concatenated, e.g. the Z → ττ and Z → qq̄ files).

    Parameters
    ----------
    paths
        One or more ML-Tau Parquet files.
    labels
        Read and check the truth columns (:data:`LABEL_COLUMNS`), as training and evaluation need; ``False``
        (prediction): only the reco columns, with empty labels (``is_tau`` 0, ``decay_mode`` −1).

    Returns
    -------
    awkward.Array
        The jets as :func:`hepnb.tau.jets.make_jets` makes them (and ``gen_jet_p4``, ``cls_weight`` when the
        files have them).

    Raises
    ------
    ValueError
        A file that is not Parquet, or a column missing, of the wrong type or shape, non-finite or out of range
        (one line naming the file and the column).
    """
    import awkward as ak

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        msg = "read_mltau needs at least one ML-Tau ntuple, found none"
        raise ValueError(msg)
    parts = [_read_one(Path(p), labels=labels) for p in items]
    shared = set.intersection(*(set(ak.fields(p)) for p in parts))
    return ak.concatenate([p[[f for f in ak.fields(parts[0]) if f in shared]] for p in parts])
