"""Tau-study data: chunked Pythia generation, jet files (Parquet or ROOT), network tensors, (p, θ) weights and
the 70/10/20 split.

On disk a jet is one entry with jagged candidate branches ``cand_<feature>`` (the 17 features, in the order of
:data:`hepnb.tau.jets.CAND_FEATURES`) and ``cand_px, cand_py, cand_pz, cand_e``; flat ``jet_px … jet_e``,
``gen_vis_px … gen_vis_e``, ``kin_<target>`` (:data:`hepnb.tau.jets.KIN_TARGETS`), ``is_tau``, ``charge`` (1
for τ⁺) and ``decay_mode`` (0–5, −1 for background). In memory it is the awkward record of
:func:`hepnb.tau.jets.generate_jets`; :func:`to_tensors` pads it to the networks' inputs, [N, 20, 17]
features, [N, 20, 4] four-vectors and a mask.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from hepnb import kinematics
from hepnb.compute.chunks import cache_folder, generate_chunks, missing_chunks
from hepnb.compute.client import available_cores, dask_client
from hepnb.io import check_output, file_format, file_mode
from hepnb.tau import constants
from hepnb.tau.events import MAX_PYTHIA_SEED, PROCESSES
from hepnb.tau.jets import CAND_FEATURES, KIN_TARGETS, generate_jets

if TYPE_CHECKING:
    from dask.distributed import Client

__all__ = ["FILE_FIELDS", "REQUIRED_FIELDS", "jet_chunk", "p_theta_weights", "read_jets", "simulate", "split",
           "to_tensors", "write_jets"]

_P4 = ("px", "py", "pz", "e")
_LABELS = ("is_tau", "charge", "decay_mode")
#: Every field a jet file must hold.
FILE_FIELDS: tuple[str, ...] = (*(f"cand_{f}" for f in CAND_FEATURES), *(f"cand_{c}" for c in _P4),
                                *(f"jet_{c}" for c in _P4), *(f"gen_vis_{c}" for c in _P4),
                                *(f"kin_{t}" for t in KIN_TARGETS), *_LABELS)
_TREE = "jets"
#: The fields :func:`to_tensors` needs (those of :func:`hepnb.tau.jets.generate_jets` but ``gen_vis_p4``).
REQUIRED_FIELDS = ("cand_features", "cand_p4", "jet_p4", "is_tau", "charge", "decay_mode", "kin_targets")
_IP = (13, 14, 15, 16)  # feature columns dz, dz_err, dxy, dxy_err


def _to_flat(jets: Any) -> dict[str, Any]:
    import awkward as ak

    out: dict[str, Any] = {}
    for i, name in enumerate(CAND_FEATURES):
        out[f"cand_{name}"] = ak.values_astype(jets.cand_features[:, :, i], np.float32)
    for i, c in enumerate(_P4):
        out[f"cand_{c}"] = ak.values_astype(jets.cand_p4[:, :, i], np.float32)
        out[f"jet_{c}"] = np.asarray(jets.jet_p4[:, i], np.float64)
        out[f"gen_vis_{c}"] = np.asarray(jets.gen_vis_p4[:, i], np.float64)
    for i, t in enumerate(KIN_TARGETS):
        out[f"kin_{t}"] = np.asarray(jets.kin_targets[:, i], np.float32)
    for name in _LABELS:
        out[name] = np.asarray(jets[name], np.int32)
    return out


def _from_flat(cols: dict[str, Any]) -> Any:
    import awkward as ak

    def stack(names: Sequence[str], jagged: bool) -> Any:
        if jagged:
            return ak.concatenate([ak.values_astype(cols[n], np.float32)[:, :, np.newaxis] for n in names], axis=2)
        return np.stack([np.asarray(cols[n], np.float64) for n in names], axis=1)

    return ak.zip({
        "cand_features": stack([f"cand_{f}" for f in CAND_FEATURES], True),
        "cand_p4": stack([f"cand_{c}" for c in _P4], True),
        "jet_p4": stack([f"jet_{c}" for c in _P4], False),
        "is_tau": np.asarray(cols["is_tau"], np.int32), "charge": np.asarray(cols["charge"], np.int32),
        "decay_mode": np.asarray(cols["decay_mode"], np.int32),
        "kin_targets": stack([f"kin_{t}" for t in KIN_TARGETS], False).astype(np.float32),
        "gen_vis_p4": stack([f"gen_vis_{c}" for c in _P4], False)}, depth_limit=1)


def write_jets(path: str | os.PathLike[str], jets: Any) -> Path:
    """Write jets to ``.parquet`` or ``.root`` (TTree ``jets``, jagged candidate branches), atomically."""
    import awkward as ak

    p = check_output(path)
    flat = _to_flat(jets)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.fchmod(fd, file_mode())  # the umask's permissions, not the temporary file's 0600
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if p.suffix.lower() == ".parquet":
            ak.to_parquet(ak.zip(flat, depth_limit=1), tmp)
        else:
            import uproot

            cand = ak.zip({k[5:]: v for k, v in flat.items() if k.startswith("cand_")})
            branches = {"cand": cand, **{k: v for k, v in flat.items() if not k.startswith("cand_")}}
            with uproot.recreate(tmp) as out:
                out.mktree(_TREE, {k: ak.type(v) if k == "cand" else v.dtype for k, v in branches.items()})
                out[_TREE].extend(branches)
        os.replace(tmp, p)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return p


def read_jets(path: str | os.PathLike[str]) -> Any:
    """Read jets written by :func:`write_jets` or a user's file with the same fields (see the module doc).

    Raises
    ------
    ValueError
        If the file is neither ROOT nor Parquet, lacks fields (all are named), or holds NaN/inf.
    """
    import awkward as ak

    kind = file_format(path)
    if kind == "parquet":
        arr = ak.from_parquet(path)
        cols = {f: arr[f] for f in ak.fields(arr)}
    else:
        import uproot

        with uproot.open(path) as handle:
            if _TREE not in [k.split(";")[0] for k in handle]:
                msg = f"{path} has no TTree named {_TREE!r}; it has {sorted(handle.keys())}"
                raise ValueError(msg)
            arr = handle[_TREE].arrays(library="ak")
        cols = {f: arr[f] for f in ak.fields(arr)}
    missing = [f for f in FILE_FIELDS if f not in cols]
    if missing:
        msg = f"{path} lacks {len(missing)} jet field(s): {missing}"
        raise ValueError(msg)
    bad = [f for f in FILE_FIELDS if not np.all(np.isfinite(np.asarray(ak.flatten(cols[f], axis=None), float)))]
    if bad:
        msg = f"{path} has NaN/inf values in {bad}"
        raise ValueError(msg)
    return _from_flat(cols)


def jet_chunk(seed: int, index: int, *, process: str, n_events: int) -> Any:
    """The jets of one chunk of ``n_events`` events (the ``make_chunk`` of
    :func:`hepnb.compute.chunks.generate_chunks`; ``seed`` is reduced to Pythia's range)."""
    del index
    return generate_jets(process, n_events, seed % MAX_PYTHIA_SEED)


def simulate(n_tau_events: int, n_qq_events: int, *, seed: int, cache_dir: str | os.PathLike[str],
             events_per_chunk: int = 2000, workers: int | None = None, client: Client | None = None,
             progress: bool = True) -> Any:
    """Z → ττ and Z → qq̄ jets, generated in cached chunks with their own seeds and concatenated.

    Each chunk is one task (Dask with a ``client`` or ``workers > 1``) and one file; the jets depend only on
    the event counts, ``seed`` and ``events_per_chunk``, not on the number of workers.

    Parameters
    ----------
    n_tau_events, n_qq_events
        Events of each process (rounded up to whole chunks).
    seed
        Base seed; chunk ``i`` of a process uses a seed derived from ``(seed, process, i)``.
    cache_dir
        Root of the chunk cache (a folder per process and parameter set); on a remote cluster, a folder the
        workers share.
    events_per_chunk
        Events per chunk.
    workers
        Without a client: worker processes of a temporary local cluster (default: all cores; ``1``: in this
        process).
    client
        A :class:`dask.distributed.Client` (:func:`hepnb.compute.client.dask_client`) to run the chunks on.
    """
    import awkward as ak

    if n_tau_events < 1 or n_qq_events < 1 or events_per_chunk < 1:
        msg = (f"event counts and events_per_chunk must be >= 1, found n_tau_events={n_tau_events}, "
               f"n_qq_events={n_qq_events}, events_per_chunk={events_per_chunk}")
        raise ValueError(msg)
    jobs = []
    for offset, (process, n_events) in enumerate((("ztautau", n_tau_events), ("zqq", n_qq_events))):
        params = {"process": process, "n_events": events_per_chunk}
        folder = cache_folder(cache_dir, f"tau-{process}", {**params, "seed": seed, "version": 1})
        jobs.append((seed * len(PROCESSES) + offset, params, folder, -(-n_events // events_per_chunk)))
    n_missing = sum(len(missing_chunks(folder, n)) for _, _, folder, n in jobs)
    parts = []
    n_workers = max(1, min(workers or available_cores(), n_missing))
    with dask_client(client, workers=n_workers, from_env=False) as active:  # one cluster for both
        for base_seed, params, folder, n_chunks in jobs:
            paths = generate_chunks(jet_chunk, n_chunks, base_seed=base_seed, folder=folder, params=params,
                                    client=active, progress=progress, write=write_jets, suffix=".parquet")
            parts.extend(read_jets(p) for p in paths)
    return ak.concatenate(parts)


def p_theta_weights(jets: Any, *, p_edges_gev: np.ndarray | None = None,
                    theta_edges_deg: np.ndarray | None = None) -> np.ndarray:
    """Per-jet weights that give signal and background the same (p, θ) distribution.

    In each (p, θ) bin (default p ∈ [2, 55] GeV in 53 bins, θ ∈ [10°, 170°] in 41 bins, as the tau data
    pipeline) both classes are weighted to the mean of their two counts; jets outside the range take the
    nearest bin. Weights are normalised to a mean of 1.
    """
    p_edges = np.linspace(2.0, 55.0, 54) if p_edges_gev is None else np.asarray(p_edges_gev)
    t_edges = np.linspace(10.0, 170.0, 42) if theta_edges_deg is None else np.asarray(theta_edges_deg)
    p4 = np.asarray(jets.jet_p4)
    p = kinematics.p_gev(p4)
    theta = kinematics.theta_deg(p4)
    ip = np.clip(np.digitize(p, p_edges) - 1, 0, len(p_edges) - 2)
    it = np.clip(np.digitize(theta, t_edges) - 1, 0, len(t_edges) - 2)
    sig = np.asarray(jets.is_tau) == 1
    shape = (len(p_edges) - 1, len(t_edges) - 1)
    h_sig = np.zeros(shape)
    h_bkg = np.zeros(shape)
    np.add.at(h_sig, (ip[sig], it[sig]), 1.0)
    np.add.at(h_bkg, (ip[~sig], it[~sig]), 1.0)
    target = 0.5 * (h_sig + h_bkg)
    own = np.where(sig, h_sig[ip, it], h_bkg[ip, it])
    w = target[ip, it] / np.maximum(own, 1.0)
    return (w / w.mean()).astype(np.float32)


def split(n: int, seed: int, fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> dict[str, np.ndarray]:
    """Shuffled train/validation/test index arrays in the given fractions (default 70/10/20)."""
    if n < 10 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        msg = f"need at least 10 jets and three positive fractions summing to 1, found n={n}, {fractions}"
        raise ValueError(msg)
    order = np.random.default_rng(seed).permutation(n)
    n_train, n_val = round(fractions[0] * n), round(fractions[1] * n)
    return {"train": order[:n_train], "val": order[n_train:n_train + n_val], "test": order[n_train + n_val:]}



def _prepare_impact_parameters(feats: np.ndarray) -> np.ndarray:
    out = feats.copy()
    missing = out[..., 13] <= constants.IP_MISSING + 1.0
    for i in _IP:
        out[..., i] = np.where(missing, 0.0, out[..., i])
    out[..., 13] = np.tanh(out[..., 13])
    out[..., 15] = np.tanh(out[..., 15])
    return out


def to_tensors(jets: Any, max_candidates: int = constants.MAX_CANDIDATES) -> dict[str, np.ndarray]:
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
    n_feat = ak.flatten(ak.num(jets.cand_features, axis=2)) if len(jets) else np.array([constants.N_FEATURES])
    if len(n_feat) and np.any(np.asarray(n_feat) != constants.N_FEATURES):
        msg = f"each candidate needs {constants.N_FEATURES} features, found {sorted(set(np.asarray(n_feat).tolist()))}"
        raise ValueError(msg)
    counts = np.asarray(ak.num(jets.cand_features, axis=1))
    n_long = int(np.sum(counts > max_candidates))
    if n_long:
        warnings.warn(f"{n_long} jets have more than {max_candidates} candidates; the highest-pT "
                      f"{max_candidates} are kept", stacklevel=2)
    feats = ak.to_numpy(ak.fill_none(ak.pad_none(jets.cand_features, max_candidates, axis=1, clip=True),
                                     [0.0] * constants.N_FEATURES, axis=1))
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
