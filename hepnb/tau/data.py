"""Tau-study data: chunked Pythia generation, jet files (Parquet or ROOT) and HepMC3 event files, network
tensors, (p, θ) weights and the split.

On disk a jet is one entry with jagged candidate branches ``cand_<feature>`` (the 17 features, in the order of
:data:`hepnb.tau.jets.CAND_FEATURES`) and ``cand_px, cand_py, cand_pz, cand_e``; flat ``jet_px … jet_e``,
``gen_vis_px … gen_vis_e``, ``kin_<target>`` (:data:`hepnb.tau.jets.KIN_TARGETS`), ``is_tau``, ``charge`` (1
for τ⁺), ``decay_mode`` (0–5, −1 for background) and, optionally, ``origin`` (:data:`hepnb.tau.jets.ORIGINS`;
``is_tau`` when absent). In memory it is the awkward record of :func:`hepnb.tau.jets.make_jets`;
:func:`to_tensors` sorts each jet's candidates by pT and pads or truncates them to the networks' inputs,
[N, 20, 17] features, [N, 20, 4] four-vectors and a mask. HepMC3 files (``.hepmc``, ``.hepmc3``, optionally
compressed) are read as events and go through the study's detector and jet definition
(:func:`jets_from_hepmc`). ML-Tau ntuples (HEP-KBFI's Parquet format) are read by :mod:`hepnb.tau.mltau`.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.compute.chunks import ChunkRun, cache_folder, generate_chunks, missing_chunks
from hepnb.compute.client import available_cores, dask_client
from hepnb.io import file_format, naming_write_errors
from hepnb.paths import check_output, file_mode
from hepnb.tau import constants
from hepnb.tau.events import MAX_PYTHIA_SEED, PROCESSES
from hepnb.tau.jets import CAND_FEATURES, KIN_TARGETS, generate_jets, make_jets

__all__ = ["FEATURE_VERSION", "FILE_FIELDS", "NETWORK_FEATURES", "REQUIRED_FIELDS", "EventCounts", "JetSample",
           "TauData", "ip_significance", "is_hepmc", "jet_chunk", "jets_from_hepmc", "p_theta_weights", "read_chunk", "read_jets", "read_sample", "simulate", "split", "to_tensors",
           "write_chunk", "write_jets"]

_P4 = ("px", "py", "pz", "e")
_LABELS = ("is_tau", "charge", "decay_mode")
#: Every field a jet file must hold (``origin`` is optional).
FILE_FIELDS: tuple[str, ...] = (*(f"cand_{f}" for f in CAND_FEATURES), *(f"cand_{c}" for c in _P4),
                                *(f"jet_{c}" for c in _P4), *(f"gen_vis_{c}" for c in _P4),
                                *(f"kin_{t}" for t in KIN_TARGETS), *_LABELS)
_TREE = "jets"
#: The fields :func:`to_tensors` needs.
REQUIRED_FIELDS = ("cand_features", "cand_p4", "jet_p4", "is_tau", "charge", "decay_mode", "kin_targets")
_IP = (13, 14, 15, 16)  # feature columns dz, dz_err, dxy, dxy_err (on disk); see NETWORK_FEATURES
#: The 17 network inputs of :func:`to_tensors`, in order: :data:`hepnb.tau.jets.CAND_FEATURES` with the impact
#: parameters prepared (tanh of dz and dxy in mm, and their significances, :func:`ip_significance`).
NETWORK_FEATURES: tuple[str, ...] = (*CAND_FEATURES[:13], "tanh_dz", "dz_significance", "tanh_dxy",
                                     "dxy_significance")
#: Version of the network inputs :func:`to_tensors` builds; a saved model records it (``hepnb tau predict``
#: refuses a model trained on other inputs). 1: tanh(dz), σ_dz, tanh(dxy), σ_dxy and true-mass track
#: energies; 2: significances instead of the errors, pion-hypothesis track energies.
FEATURE_VERSION = 2
_HEPMC = (".hepmc", ".hepmc3")
_COMPRESSED = (".gz", ".bz2", ".xz", ".lzma")


@dataclass
class JetSample:
    """Labelled jets and the prompt hadronic taus of the same events (``taus`` is ``None`` for a jet file,
    which does not hold them): see :func:`hepnb.tau.jets.make_jets`."""

    jets: Any
    taus: Any | None = None


def is_hepmc(path: str | os.PathLike[str]) -> bool:
    """Whether a file name is a HepMC file's (``.hepmc``, ``.hepmc3``, optionally ``.gz``/``.bz2``/``.xz``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in _HEPMC


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
    out["origin"] = np.asarray(jets.origin if "origin" in ak.fields(jets) else jets.is_tau, np.int32)
    return out


def _from_flat(cols: dict[str, Any]) -> Any:
    import awkward as ak

    def stack(names: Sequence[str], jagged: bool) -> Any:
        if jagged:
            return ak.concatenate([ak.values_astype(cols[n], np.float32)[:, :, np.newaxis] for n in names], axis=2)
        return np.stack([np.asarray(cols[n], np.float64) for n in names], axis=1)

    is_tau = np.asarray(cols["is_tau"], np.int32)
    return ak.zip({
        "cand_features": stack([f"cand_{f}" for f in CAND_FEATURES], True),
        "cand_p4": stack([f"cand_{c}" for c in _P4], True),
        "jet_p4": stack([f"jet_{c}" for c in _P4], False),
        "is_tau": is_tau, "charge": np.asarray(cols["charge"], np.int32),
        "decay_mode": np.asarray(cols["decay_mode"], np.int32),
        "kin_targets": stack([f"kin_{t}" for t in KIN_TARGETS], False).astype(np.float32),
        "gen_vis_p4": stack([f"gen_vis_{c}" for c in _P4], False),
        "origin": np.asarray(cols["origin"], np.int32) if "origin" in cols else is_tau}, depth_limit=1)


def _atomic(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, file_mode())  # the umask's permissions, not the temporary file's 0600
    os.close(fd)
    return Path(tmp_name)


def write_jets(path: str | os.PathLike[str], jets: Any) -> Path:
    """Write jets to ``.parquet`` or ``.root`` (TTree ``jets``, jagged candidate branches), atomically."""
    import awkward as ak

    p = check_output(path)
    flat = _to_flat(jets)
    tmp = _atomic(p)
    try:
        with naming_write_errors(p):
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


def jets_from_hepmc(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, seed: int = 0,
                    min_jet_p_gev: float = 2.0) -> JetSample:
    """Jets and prompt hadronic taus of the events of HepMC3 files, through the study's detector (seeded)."""
    import awkward as ak

    from hepnb.tau.hepmc import iter_hepmc3

    rng = np.random.default_rng(seed)
    jets, taus = [], []
    for gen in iter_hepmc3(paths):
        j, t = make_jets(gen, rng, min_jet_p_gev=min_jet_p_gev)
        jets.append(j)
        taus.append(t)
    return JetSample(ak.concatenate(jets), ak.concatenate(taus))


def read_jets(path: str | os.PathLike[str]) -> Any:
    """Read jets written by :func:`write_jets` or a user's file with the same fields (see the module doc); a
    HepMC3 file is read through :func:`jets_from_hepmc` (seed 0).

    Raises
    ------
    ValueError
        If the file is neither ROOT, Parquet nor HepMC3, lacks fields (all are named), or holds NaN/inf.
    """
    return read_sample(path).jets


def read_sample(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *, seed: int = 0) -> JetSample:
    """A :class:`JetSample` from a jet file (no taus), from ML-Tau ntuples (:mod:`hepnb.tau.mltau`, no taus) or
    from HepMC3 event files (jets and taus)."""
    import awkward as ak

    from hepnb.tau.mltau import is_mltau, read_mltau

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if all(is_hepmc(p) for p in paths):
        return jets_from_hepmc(paths, seed=seed)
    if paths and all(is_mltau(p) for p in paths):
        return JetSample(read_mltau(paths))
    if len(paths) != 1:
        msg = (f"give one jet file (.parquet or .root), ML-Tau ntuples (.parquet) or HepMC3 files (.hepmc, .hepmc3), "
               f"found {paths}")
        raise ValueError(msg)
    path = paths[0]
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
    return JetSample(_from_flat(cols))


def write_chunk(path: Path, chunk: tuple[Any, Any]) -> Path:
    """One chunk of :func:`jet_chunk` (jets and taus) as a one-row Parquet file, atomically (the ``write`` of
    :func:`hepnb.compute.chunks.generate_chunks`; :func:`read_chunk` reads it back)."""
    import awkward as ak

    jets, taus = chunk
    tmp = _atomic(path)
    try:
        row = ak.zip({"jets": ak.unflatten(jets, [len(jets)]), "taus": ak.unflatten(taus, [len(taus)])},
                     depth_limit=1)
        with naming_write_errors(path):
            ak.to_parquet(row, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_chunk(path: Path) -> tuple[Any, Any]:
    """The jets and taus of a chunk file written by :func:`write_chunk`."""
    import awkward as ak

    arr = ak.from_parquet(path)
    return arr.jets[0], arr.taus[0]


def jet_chunk(seed: int, index: int, *, process: str, n_events: int, hepmc_dir: str | None = None
              ) -> tuple[Any, Any]:
    """The jets and taus of one chunk of ``n_events`` events (the ``make_chunk`` of
    :func:`hepnb.compute.chunks.generate_chunks`; ``seed`` is reduced to Pythia's range); with ``hepmc_dir``
    the events are also written to ``hepmc_dir/<process>-<index>.hepmc3``."""
    hepmc = None if hepmc_dir is None else str(Path(hepmc_dir) / f"{process}-{index:05d}.hepmc3")
    return generate_jets(process, n_events, seed % MAX_PYTHIA_SEED, hepmc_path=hepmc)


@dataclass(frozen=True)
class EventCounts:
    """How many events of each process :func:`simulate` generates, and in chunks of how many.

    Attributes
    ----------
    n_tau, n_qq
        Z → ττ and Z → qq̄ events (rounded up to whole chunks).
    n_ll
        Z → ee and Z → μμ events, each (0: none).
    per_chunk
        Events per chunk (one task and one cached file each).

    Raises
    ------
    ValueError
        A count below 1 (``n_ll`` below 0).
    """

    n_tau: int
    n_qq: int
    n_ll: int = 0
    per_chunk: int = 2000

    def __post_init__(self) -> None:
        if self.n_tau < 1 or self.n_qq < 1 or self.per_chunk < 1 or self.n_ll < 0:
            msg = (f"event counts and events per chunk must be >= 1 (Z -> ll events >= 0), found n_tau={self.n_tau}, "
                   f"n_qq={self.n_qq}, n_ll={self.n_ll}, per_chunk={self.per_chunk}")
            raise ValueError(msg)


def simulate(events: EventCounts, *, seed: int, cache_dir: str | os.PathLike[str], run: ChunkRun | None = None,
             hepmc_dir: str | os.PathLike[str] | None = None) -> JetSample:
    """Z → ττ, Z → qq̄ and (``events.n_ll`` each) Z → ee and Z → μμ jets, in cached chunks, concatenated.

    Each chunk is one task (Dask with ``run.client`` or ``run.workers > 1``) and one file; the jets depend only
    on the event counts, ``seed`` and ``events.per_chunk``, not on the number of workers.

    Parameters
    ----------
    events
        Events of each process and per chunk.
    seed
        Base seed; chunk ``i`` of a process uses a seed derived from ``(seed, process, i)``.
    cache_dir
        Root of the chunk cache (a folder per process and parameter set); on a remote cluster, a folder the
        workers share.
    run
        Where the chunks run (:class:`hepnb.compute.chunks.ChunkRun`; its ``retries`` are Dask's default here);
        default: a temporary local cluster of all cores, with progress bars.
    hepmc_dir
        If given, every chunk's events are also written there as HepMC3 files (one per chunk).
    """
    import awkward as ak

    run = ChunkRun(workers=available_cores()) if run is None else run
    jobs = []
    counts = {"ztautau": events.n_tau, "zqq": events.n_qq, "zee": events.n_ll, "zmumu": events.n_ll}
    for offset, process in enumerate(PROCESSES):
        n_events = counts[process]
        if n_events < 1:
            continue
        per_chunk = min(events.per_chunk, n_events)
        params: dict[str, Any] = {"process": process, "n_events": per_chunk}
        if hepmc_dir is not None:
            params["hepmc_dir"] = str(Path(hepmc_dir).resolve())
        folder = cache_folder(cache_dir, f"tau-{process}", {**params, "seed": seed, "version": 3})
        jobs.append((seed * len(PROCESSES) + offset, params, folder, -(-n_events // per_chunk)))
    n_missing = sum(len(missing_chunks(folder, n)) for _, _, folder, n in jobs)
    jets, taus = [], []
    n_workers = max(1, min(run.workers, n_missing))
    with dask_client(run.client, workers=n_workers, from_env=False) as active:  # one cluster for all processes
        for base_seed, params, folder, n_chunks in jobs:
            paths = generate_chunks(jet_chunk, n_chunks, base_seed=base_seed, folder=folder, params=params,
                                    run=ChunkRun(client=active, progress=run.progress), write=write_chunk,
                                    suffix=".parquet")
            for p in paths:
                j, t = read_chunk(p)
                jets.append(j)
                taus.append(t)
    return JetSample(ak.concatenate(jets), ak.concatenate(taus))


def p_theta_weights(jets: Any, *, reference: Any | None = None, p_edges_gev: np.ndarray | None = None,
                    theta_edges_deg: np.ndarray | None = None) -> np.ndarray:
    """Per-jet weights that give signal and background the same (p, θ) distribution.

    In each (p, θ) bin (default p ∈ [2, 55] GeV in 53 bins, θ ∈ [10°, 170°] in 41 bins, as the tau data
    pipeline) both classes are weighted to the mean of their two counts; jets outside the range take the
    nearest bin. The counts come from ``reference`` (e.g. the training jets; default ``jets`` itself); the
    weights of ``jets`` are normalised to a mean of 1.
    """
    p_edges = np.linspace(2.0, 55.0, 54) if p_edges_gev is None else np.asarray(p_edges_gev)
    t_edges = np.linspace(10.0, 170.0, 42) if theta_edges_deg is None else np.asarray(theta_edges_deg)

    def bins(sample: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        p4 = np.asarray(sample.jet_p4) if hasattr(sample, "jet_p4") else np.asarray(sample["jet_p4"])
        tau = np.asarray(sample.is_tau if hasattr(sample, "is_tau") else sample["is_tau"]) == 1
        ip = np.clip(np.digitize(kinematics.p_gev(p4), p_edges) - 1, 0, len(p_edges) - 2)
        it = np.clip(np.digitize(kinematics.theta_deg(p4), t_edges) - 1, 0, len(t_edges) - 2)
        return ip, it, tau

    ip, it, sig = bins(reference if reference is not None else jets)
    shape = (len(p_edges) - 1, len(t_edges) - 1)
    h_sig = np.zeros(shape)
    h_bkg = np.zeros(shape)
    np.add.at(h_sig, (ip[sig], it[sig]), 1.0)
    np.add.at(h_bkg, (ip[~sig], it[~sig]), 1.0)
    target = 0.5 * (h_sig + h_bkg)
    ip, it, sig = bins(jets)
    own = np.where(sig, h_sig[ip, it], h_bkg[ip, it])
    w = target[ip, it] / np.maximum(own, 1.0)
    return (w / max(w.mean(), 1e-12)).astype(np.float32)


def split(is_tau: np.ndarray, seed: int, *, origin: np.ndarray | None = None, bkg_per_tau: float | None = None,
          fractions: tuple[float, float, float] = (0.7, 0.1, 0.2)) -> dict[str, np.ndarray]:
    """Shuffled train/validation/test indices.

    τ and q/g jets are each split in ``fractions`` (default 70/10/20). With ``bkg_per_tau``, training and
    validation keep at most that many q/g jets per τ jet of their split, and the q/g jets they leave go to the
    test split, so that fake rates rest on as many background jets as were generated. Jets whose ``origin``
    is neither q/g (0) nor hadronic τ (1) — leptonic τ, Z → ℓℓ — are test-only (the extra background table).
    """
    is_tau = np.asarray(is_tau).astype(bool)
    n = len(is_tau)
    if n < 10 or abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        msg = f"need at least 10 jets and three positive fractions summing to 1, found n={n}, {fractions}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    origin = np.where(is_tau, 1, 0) if origin is None else np.asarray(origin)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    sizes = {}
    for cls in (1, 0):
        idx = rng.permutation(np.flatnonzero(origin == cls))
        n_train, n_val = round(fractions[0] * len(idx)), round(fractions[1] * len(idx))
        chunks = {"train": idx[:n_train], "val": idx[n_train:n_train + n_val], "test": idx[n_train + n_val:]}
        if cls == 0 and bkg_per_tau is not None:
            for name in ("train", "val"):
                cap = round(bkg_per_tau * sizes[name])
                chunks["test"] = np.concatenate([chunks["test"], chunks[name][cap:]])
                chunks[name] = chunks[name][:cap]
        for name, c in chunks.items():
            parts[name].append(c)
            sizes[name] = len(c)
    parts["test"].append(np.flatnonzero((origin != 0) & (origin != 1)))
    return {name: np.sort(np.concatenate(p)) for name, p in parts.items()}


def ip_significance(value_mm: np.ndarray, error_mm: np.ndarray) -> np.ndarray:
    """The network's impact-parameter significance input: ``sign(S)·ln(1 + |S|)`` of
    ``S = d / max(0.01·|d|, σ_d)`` (the significance of arXiv:2307.07747, whose floor on σ bounds |S| at 100, so
    the input stays within ±ln 101 ≈ ±4.6 while S of a few separates prompt tracks from τ-decay tracks).

    Parameters
    ----------
    value_mm, error_mm
        Signed impact parameter and its error (same units), e.g. dxy and σ_dxy.
    """
    value, error = np.asarray(value_mm, np.float64), np.asarray(error_mm, np.float64)
    significance = value / np.maximum(np.maximum(0.01 * np.abs(value), error), 1e-12)
    return np.sign(significance) * np.log1p(np.abs(significance))


def _prepare_impact_parameters(feats: np.ndarray) -> np.ndarray:
    out = feats.copy()
    missing = out[..., 13] <= constants.IP_MISSING + 1.0
    dz_sig = ip_significance(feats[..., 13], feats[..., 14])
    dxy_sig = ip_significance(feats[..., 15], feats[..., 16])
    out[..., 13] = np.tanh(feats[..., 13])
    out[..., 14] = dz_sig
    out[..., 15] = np.tanh(feats[..., 15])
    out[..., 16] = dxy_sig
    for i in _IP:
        out[..., i] = np.where(missing, 0.0, out[..., i])
    return out


def to_tensors(jets: Any, max_candidates: int = constants.MAX_CANDIDATES, *, warn: bool = True
               ) -> dict[str, np.ndarray]:
    """Sort each jet's candidates by decreasing pT and pad or truncate them to ``max_candidates``.

    Jets with more candidates keep the ``max_candidates`` highest-pT ones (whatever order a user's file stores
    them in); a warning says how many jets were truncated (``warn=False``: a caller that reports the count
    itself, as :func:`hepnb.tau.pipeline.physics_checks` does). Raises ``ValueError`` for missing fields, a feature
    count other than 17, or NaN/inf.

    The impact parameters are prepared as the ML-Tau ParT (arXiv:2307.07747) does, in the columns of
    :data:`NETWORK_FEATURES`: dz, dxy (mm) become tanh(dz), tanh(dxy) (so that a few secondary vertices at
    centimetres do not dominate the input batch normalisation) and their errors become the significances
    (:func:`ip_significance`); the −1000 of candidates without a track becomes 0 in all four.
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
    if n_long and warn:
        warnings.warn(f"{n_long} jets have more than {max_candidates} candidates; the highest-pT "
                      f"{max_candidates} are kept", stacklevel=2)
    pt = np.hypot(jets.cand_p4[:, :, 0], jets.cand_p4[:, :, 1])
    order = ak.argsort(pt, axis=1, ascending=False, stable=True)
    cand_features, cand_p4 = jets.cand_features[order], jets.cand_p4[order]
    feats = ak.to_numpy(ak.fill_none(ak.pad_none(cand_features, max_candidates, axis=1, clip=True),
                                     [0.0] * constants.N_FEATURES, axis=1))
    p4 = ak.to_numpy(ak.fill_none(ak.pad_none(cand_p4, max_candidates, axis=1, clip=True), [0.0] * 4, axis=1))
    feats, p4 = np.asarray(feats, dtype=np.float32), np.asarray(p4, dtype=np.float32)
    bad = ~np.isfinite(feats)
    if bad.any():
        msg = f"{int(bad.any(axis=(1, 2)).sum())} jets have NaN/inf candidate features"
        raise ValueError(msg)
    feats = _prepare_impact_parameters(feats)
    mask = np.arange(max_candidates)[None, :] < np.minimum(counts, max_candidates)[:, None]
    origin = np.asarray(jets.origin if "origin" in fields else jets.is_tau, np.int32)
    return {"features": feats, "p4": p4, "mask": mask, "jet_p4": np.asarray(ak.to_numpy(jets.jet_p4), np.float32),
            "is_tau": np.asarray(jets.is_tau, np.int32), "charge": np.asarray(jets.charge, np.int32),
            "decay_mode": np.asarray(jets.decay_mode, np.int32),
            "kin_targets": np.asarray(ak.to_numpy(jets.kin_targets), np.float32), "origin": origin}


@dataclass
class TauData:
    """Network inputs and labels of the train, validation and test splits (dicts of arrays, see
    :func:`split_sample`), and the generated hadronic taus (``vis_p4``, ``reco``) when the sample has them."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    gen_taus: dict[str, np.ndarray] | None = None
