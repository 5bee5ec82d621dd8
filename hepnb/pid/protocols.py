"""The original's training protocol and its fixes: how a (range, protocol) cell is split, scaled and tokenised.

Every protocol of a momentum range is tested on **one common test set**: a stratified 20 % of the range's
labelled tracks (seed 231), the same tracks for every protocol, so that differences between protocols are
paired. ``original`` keeps its flaw: it trains on the other 80 % and early-stops and chooses on the test set itself.
Every other protocol splits the 80 % into training (70 % of all) and validation (10 %) and makes every choice on
validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_class_weight

from hepnb.pid.selection import FEATURES, GROUPS
from hepnb.pid.transforms import IDENTITY, InputTransform

__all__ = [
    "PROTOCOLS",
    "TEST_FRACTION",
    "VALIDATION_FRACTION",
    "Prepared",
    "Protocol",
    "common_split",
    "prepare_cell",
    "protocol_spec",
    "scale_inputs",
    "scale_like",
]

#: Fraction of a range's tracks in the common test set, and in the validation split (of all tracks).
TEST_FRACTION = 0.2
VALIDATION_FRACTION = 0.1


@dataclass(frozen=True)
class Protocol:
    """How a (range, protocol) cell is split, tokenised and weighted; each flag is one of the original's fixes.

    Attributes
    ----------
    name
        Key of :data:`PROTOCOLS`.
    validation_split
        Early stopping and every choice on a validation split carved from the training tracks, instead of on the
        test set: fixes the original's flaw 4.
    tokenise_missing
        Missing TOF values and absent Bayes probabilities become NaN before the scaler is fitted (present
        values only), then 0 after scaling, with has_TOF and bayes_available as indicators; group masks
        from the indicators. Fixes flaws 1 and 5 (the no-op Bayes token, −999 scaled as a measurement).
    class_weights
        Balanced class weights in the focal loss and the Random Forest (``False``: deliberately dropped,
        since the headline figure is the accuracy on the natural species mix). Flaw 2 made the original's
        weights a no-op; the ``original`` protocol uses them as its README describes.
    tuned
        Every model family tries the same number of settings (for the networks: input transforms and learning
        rates), each chosen on validation (:mod:`hepnb.pid.tuning`); otherwise each runs the original's settings.
    fix
        What this protocol adds to the previous one in :data:`PROTOCOLS` ("" for ``original``).
    """

    name: str
    validation_split: bool
    tokenise_missing: bool
    class_weights: bool
    fix: str = ""
    tuned: bool = False


#: The original's set-up, then one fix at a time (cumulative): ``corrected`` fixes the original's flaws, ``tuned``
#: also gives every family the same tuning budget (the networks' input transforms among the settings).
PROTOCOLS: dict[str, Protocol] = {
    "original": Protocol("original", validation_split=False, tokenise_missing=False, class_weights=True),
    "original_val": Protocol("original_val", validation_split=True, tokenise_missing=False, class_weights=True,
                         fix="validation split"),
    "original_val_tokens": Protocol("original_val_tokens", validation_split=True, tokenise_missing=True, class_weights=True,
                                fix="missing values tokenised"),
    "corrected": Protocol("corrected", validation_split=True, tokenise_missing=True, class_weights=False,
                          fix="class weights dropped"),
    "tuned": Protocol("tuned", validation_split=True, tokenise_missing=True, class_weights=False,
                      fix="inputs transformed, every family tuned with the same budget", tuned=True),
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
    """Scaled inputs of one (range, protocol) with their splits; ``val`` is the test set under ``original``.

    Each part holds ``x``, ``mask``, ``mode``, ``raw`` (the 22 unscaled features), ``y``, ``w`` (the class
    weight of each track: 1 without class weights) and ``index`` (rows of the range's labelled tracks). ``mean`` and
    ``std`` standardise the features after ``transform`` (:class:`hepnb.pid.transforms.InputTransform`).
    """

    protocol: str
    train: dict[str, NDArray]
    val: dict[str, NDArray]
    test: dict[str, NDArray]
    class_weights: NDArray[np.float32]
    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    transform: InputTransform = IDENTITY


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


def scale_inputs(raw: NDArray[np.float32], protocol: str, mean: NDArray[np.float64], std: NDArray[np.float64],
                 transform: InputTransform = IDENTITY) -> dict[str, NDArray]:
    """Network inputs of a protocol for raw features with a fitted scaling: ``x``, ``mask``, ``mode``, ``raw``.

    The features are transformed (``transform``) before they are standardised with ``mean`` and ``std``. Under
    ``tokenise_missing`` NaN (absent) values become 0 after scaling; otherwise the original's −0.25 Bayes token is applied where a *scaled* Bayes probability is exactly 0 (a no-op in practice, flaw 1).
    """
    spec = protocol_spec(protocol)
    scaled = (transform.apply(_with_missing_as_nan(raw, spec)) - mean) / std
    if spec.tokenise_missing:
        scaled = np.nan_to_num(scaled, nan=0.0)
    else:
        bayes = scaled[:, _BAYES_COLS]
        bayes[bayes == 0] = -0.25
        scaled[:, _BAYES_COLS] = bayes
    mode = (raw[:, _HAS_TPC] > 0).astype(np.int32) + 2 * (raw[:, _HAS_TOF] > 0).astype(np.int32)
    return {"x": scaled.astype(np.float32), "mask": _masks(raw, protocol), "mode": mode, "raw": raw}


def _stratified(idx: NDArray[np.int64], y: NDArray[np.int64], test_size: float, seed: int
                ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """A stratified split of ``idx`` (plain random where a class has fewer than two tracks)."""
    counts = np.bincount(y[idx])
    stratify = y[idx] if counts[counts > 0].min() >= 2 else None
    a, b = train_test_split(idx, test_size=test_size, stratify=stratify, random_state=seed)
    return np.sort(a), np.sort(b)


def common_split(y: NDArray[np.int64], *, seed: int = 231) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """The range's development tracks (80 %) and its common test set (20 %), stratified, the same for every
    protocol."""
    return _stratified(np.arange(len(y)), y, TEST_FRACTION, seed)


def _split(y: NDArray[np.int64], spec: Protocol, seed: int) -> tuple[NDArray, NDArray, NDArray]:
    dev, test = common_split(y, seed=seed)
    if not spec.validation_split:  # the original: the test set doubles as validation (flaw 4)
        return dev, test, test
    train, val = _stratified(dev, y, VALIDATION_FRACTION / (1 - TEST_FRACTION), seed)
    return train, val, test


def prepare_cell(raw: NDArray[np.float32], y: NDArray[np.int64], protocol: str, *, seed: int = 231,
                 transform: InputTransform = IDENTITY) -> Prepared:
    """Split, scale and tokenise the 22 features the way a protocol (:data:`PROTOCOLS`) does.

    ``original``: trains on the 80 % beside the common test set, StandardScaler on the raw values (−999
    included), the −0.25 Bayes token where the *scaled* value is 0 (almost never: a no-op, as in the original),
    early stopping and choices on the test set, balanced class weights. ``corrected``: trains on 70 %,
    validation 10 %, missing TOF values and absent Bayes probabilities set to NaN before fitting the scaler on
    present values only, then 0 after scaling, with has_TOF and bayes_available as explicit indicators; every
    choice on validation; no class weights. ``original_val`` and ``original_val_tokens`` add the fixes one at a time.
    All are tested on the same tracks (:func:`common_split`). ``transform`` acts on the features before the
    scaler is fitted (on the training tracks) and applied (:func:`scale_inputs`).
    """
    spec = protocol_spec(protocol)
    train_idx, val_idx, test_idx = _split(y, spec, seed)
    x = transform.apply(_with_missing_as_nan(raw, spec))
    mean = np.nanmean(x[train_idx], axis=0)
    std = np.nanstd(x[train_idx], axis=0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    inputs = scale_inputs(raw, protocol, mean, std, transform)
    present = np.unique(y[train_idx])
    weights = np.ones(4)
    if spec.class_weights:
        weights[present] = compute_class_weight("balanced", classes=present, y=y[train_idx])

    def part(i: NDArray) -> dict[str, NDArray]:
        return {**{k: v[i] for k, v in inputs.items()}, "y": y[i].astype(np.int32),
                "w": weights[y[i]].astype(np.float32), "index": i}

    return Prepared(protocol, part(train_idx), part(val_idx), part(test_idx), weights.astype(np.float32), mean, std,
                    transform)


def scale_like(data: Prepared, raw: NDArray[np.float32]) -> dict[str, NDArray]:
    """Apply a prepared protocol's scaling and tokenisation to new tracks (e.g. the data-like sample).

    Parameters
    ----------
    data
        The prepared cell whose protocol, transform, ``mean`` and ``std`` are applied.
    raw
        The new tracks' 22 raw features (N, 22), as :func:`hepnb.pid.selection.features` gives.

    Returns
    -------
    dict
        As :func:`scale_inputs`: ``x``, ``mask``, ``mode``, ``raw``.
    """
    return scale_inputs(raw, data.protocol, data.mean, data.std, data.transform)
