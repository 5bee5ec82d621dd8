"""The seed's training protocol and its fixes: how a (range, protocol) cell is split, scaled and tokenised."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from hepnb.pid.selection import FEATURES, GROUPS

__all__ = ["PROTOCOLS", "Prepared", "Protocol", "prepare", "protocol_spec", "scale_inputs", "scale_like"]


@dataclass(frozen=True)
class Protocol:
    """How a (range, protocol) cell is split, tokenised and weighted; each flag is one of the seed's fixes.

    Attributes
    ----------
    name
        Key of :data:`PROTOCOLS`.
    validation_split
        Early stopping and model choice on a separate validation split (70/10/20) instead of the test
        split (80/20): fixes the seed's flaw 4.
    tokenise_missing
        Missing TOF values and absent Bayes probabilities become NaN before the scaler is fitted (present
        values only), then 0 after scaling, with has_TOF and bayes_available as indicators; group masks
        from the indicators. Fixes flaws 1 and 5 (the no-op Bayes token, −999 scaled as a measurement).
    class_weights
        Balanced class weights in the focal loss and the Random Forest (``False``: deliberately dropped,
        since the headline figure is the accuracy on the natural species mix). Flaw 2 made the seed's
        weights a no-op; the issue's ``seed`` protocol uses them as its README describes.
    fix
        What this protocol adds to the previous one in :data:`PROTOCOLS` ("" for ``seed``).
    """

    name: str
    validation_split: bool
    tokenise_missing: bool
    class_weights: bool
    fix: str = ""


#: The seed's set-up, then one fix at a time (cumulative), ending with ``corrected``.
PROTOCOLS: dict[str, Protocol] = {
    "seed": Protocol("seed", validation_split=False, tokenise_missing=False, class_weights=True),
    "seed_val": Protocol("seed_val", validation_split=True, tokenise_missing=False, class_weights=True,
                         fix="validation split"),
    "seed_val_tokens": Protocol("seed_val_tokens", validation_split=True, tokenise_missing=True, class_weights=True,
                                fix="missing values tokenised"),
    "corrected": Protocol("corrected", validation_split=True, tokenise_missing=True, class_weights=False,
                          fix="class weights dropped"),
}


def protocol_spec(name: str) -> Protocol:
    """The :class:`Protocol` called ``name``; a clear error for an unknown one."""
    if name not in PROTOCOLS:
        msg = f"unknown protocol {name!r}; choose one of {list(PROTOCOLS)}"
        raise ValueError(msg)
    return PROTOCOLS[name]


_TOF_COLS = [FEATURES.index(k) for k in FEATURES if k.startswith("tof_")]
_BAYES_COLS = list(GROUPS["bayes"])
_HAS_TOF = FEATURES.index("has_tof")
_HAS_TPC = FEATURES.index("has_tpc")
_BAYES_AVAILABLE = FEATURES.index("bayes_available")


@dataclass
class Prepared:
    """Scaled inputs of one (range, protocol) with their splits; ``val`` is the test set under ``seed``."""

    protocol: str
    train: dict[str, NDArray]
    val: dict[str, NDArray]
    test: dict[str, NDArray]
    class_weights: NDArray[np.float32]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]


def _masks(raw: NDArray, protocol: str) -> NDArray[np.float32]:
    groups = [list(idx) for idx in GROUPS.values()]
    if not protocol_spec(protocol).tokenise_missing:  # "!= 0" on unscaled data: −999 counts as present (flaw 5)
        return np.stack([np.any(raw[:, g] != 0, axis=1) for g in groups], axis=1).astype(np.float32)
    return np.stack([raw[:, _HAS_TPC] > 0, raw[:, _HAS_TOF] > 0, raw[:, _BAYES_AVAILABLE] > 0,
                     np.ones(len(raw), bool)], axis=1).astype(np.float32)


def _with_missing_as_nan(raw: NDArray[np.float32], spec: Protocol) -> NDArray[np.float64]:
    """The features in float64; under ``tokenise_missing`` absent TOF values and Bayes probabilities are NaN."""
    x = raw.astype(np.float64).copy()
    if spec.tokenise_missing:
        x[np.ix_(raw[:, _HAS_TOF] == 0, _TOF_COLS)] = np.nan
        x[np.ix_(raw[:, _BAYES_AVAILABLE] == 0, _BAYES_COLS)] = np.nan
    return x


def scale_inputs(raw: NDArray[np.float32], protocol: str, mean: NDArray[np.float64], std: NDArray[np.float64]
                 ) -> dict[str, NDArray]:
    """Network inputs of a protocol for raw features with a fitted scaling: ``x``, ``mask``, ``mode``, ``raw``.

    Under ``tokenise_missing`` NaN (absent) values become 0 after scaling; otherwise the seed's −0.25
    Bayes token is applied where a *scaled* Bayes probability is exactly 0 (a no-op in practice, flaw 1).
    """
    spec = protocol_spec(protocol)
    scaled = (_with_missing_as_nan(raw, spec) - mean) / std
    if spec.tokenise_missing:
        scaled = np.nan_to_num(scaled, nan=0.0)
    else:
        bayes = scaled[:, _BAYES_COLS]
        bayes[bayes == 0] = -0.25
        scaled[:, _BAYES_COLS] = bayes
    mode = (raw[:, _HAS_TPC] > 0).astype(np.int32) + 2 * (raw[:, _HAS_TOF] > 0).astype(np.int32)
    return {"x": scaled.astype(np.float32), "mask": _masks(raw, protocol), "mode": mode, "raw": raw}


def _split(y: NDArray[np.int64], spec: Protocol, seed: int) -> tuple[NDArray, NDArray, NDArray]:
    idx = np.arange(len(y))
    if not spec.validation_split:  # the seed: 80/20, the test split doubles as validation (flaw 4)
        train_idx, test_idx = train_test_split(idx, test_size=0.2, stratify=y, random_state=seed)
        return train_idx, test_idx, test_idx
    train_idx, rest = train_test_split(idx, test_size=0.3, stratify=y, random_state=seed)
    val_idx, test_idx = train_test_split(rest, test_size=2 / 3, stratify=y[rest], random_state=seed)
    return train_idx, val_idx, test_idx


def prepare(raw: NDArray[np.float32], y: NDArray[np.int64], protocol: str, *, seed: int = 231) -> Prepared:
    """Split, scale and tokenise the 22 features the way a protocol (:data:`PROTOCOLS`) does.

    ``seed``: stratified 80/20 split (seed 231), StandardScaler on the raw values (−999 included), the
    −0.25 Bayes token where the *scaled* value is 0 (almost never: a no-op, as in the seed), early stopping
    on the test split, balanced class weights. ``corrected``: stratified 70/10/20 split, missing TOF values
    and absent Bayes probabilities set to NaN before fitting the scaler on present values only, then 0 after
    scaling, with has_TOF and bayes_available as explicit indicators; early stopping on the validation
    split; no class weights. ``seed_val`` and ``seed_val_tokens`` add the fixes one at a time.
    """
    spec = protocol_spec(protocol)
    train_idx, val_idx, test_idx = _split(y, spec, seed)
    x = _with_missing_as_nan(raw, spec)
    mean = np.nanmean(x[train_idx], axis=0)
    std = np.nanstd(x[train_idx], axis=0)
    std[std == 0] = 1.0
    inputs = scale_inputs(raw, protocol, mean, std)
    balanced = spec.class_weights and len(np.unique(y[train_idx])) == 4
    weights = compute_class_weight("balanced", classes=np.arange(4), y=y[train_idx]) if balanced else np.ones(4)

    def part(i: NDArray) -> dict[str, NDArray]:
        return {**{k: v[i] for k, v in inputs.items()}, "y": y[i].astype(np.int32)}

    return Prepared(protocol, part(train_idx), part(val_idx), part(test_idx), weights.astype(np.float32), mean, std)


def scale_like(data: Prepared, raw: NDArray[np.float32]) -> dict[str, NDArray]:
    """Apply a prepared protocol's scaling and tokenisation to new tracks (e.g. the data-like sample).

    Parameters
    ----------
    data
        The prepared cell whose protocol, ``mean`` and ``std`` are applied.
    raw
        The new tracks' 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.

    Returns
    -------
    dict
        As :func:`scale_inputs`: ``x``, ``mask``, ``mode``, ``raw``.
    """
    return scale_inputs(raw, data.protocol, data.mean, data.std)
