"""Systematic variations of the detector response, evaluated with the trained models (no retraining).

Each named variation (:data:`hepnb.pid.data.SYSTEMATICS`) re-simulates the sample with the same seed: the same
tracks (species, momenta, clusters, DCAs) with another true response, while the nσ expectations keep the nominal
O2 response — as when the real detector differs from its calibration. The models trained on the nominal sample
then see the varied test tracks; the shift of each accuracy and per-species efficiency is a paired difference on
the same tracks, with a bootstrap interval.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.metrics import mean_interval
from hepnb.pid.constants import SPECIES
from hepnb.pid.data import simulate_tracks, systematic_response
from hepnb.pid.evaluate import test_labels
from hepnb.pid.protocols import scale_like
from hepnb.pid.selection import selected
from hepnb.pid.training import Grid, RangeData, chosen_network, predict_model, range_data

__all__ = ["evaluate_variation", "varied_ranges"]


def varied_ranges(n_tracks: int, *, seed: int, selection: str, ranges: Sequence[str], variation: str,
                  reference: Mapping[str, RangeData] | None = None) -> dict[str, RangeData]:
    """The labelled tracks of each range re-simulated under ``variation`` with the same seed.

    Parameters
    ----------
    n_tracks, seed, selection
        As for the nominal sample (``simulate_tracks(n_tracks, seed=seed)`` then ``selected(…, selection)``).
    ranges
        Momentum ranges to build.
    variation
        A key of :data:`hepnb.pid.data.SYSTEMATICS` (or ``"nominal"``).
    reference
        The nominal ranges; if given, every range is checked to hold the same tracks in the same order.

    Raises
    ------
    AssertionError
        If a varied range does not hold the nominal tracks (the comparison would not be paired).
    """
    tracks = selected(simulate_tracks(n_tracks, seed=seed, response=systematic_response(variation)), selection)
    out = {r: range_data(tracks, r) for r in ranges}
    for r, data in out.items():
        if reference is not None and not np.array_equal(data.tracks["track_id"], reference[r].tracks["track_id"]):
            msg = f"variation {variation!r} changed the tracks of range {r!r}: the shifts would not be paired"
            raise AssertionError(msg)
    return out


def _efficiencies(pred: NDArray[np.int64], y: NDArray[np.int64]) -> dict[str, float]:
    return {s: float(np.mean(pred[y == i] == i)) if np.any(y == i) else float("nan") for i, s in enumerate(SPECIES)}


def evaluate_variation(grid: Grid, varied: Mapping[str, RangeData], variation: str, counts: Mapping[str, NDArray],
                       *, protocol: str = "corrected") -> list[dict[str, Any]]:
    """Rows per (range, model or baseline): nominal and varied test accuracy, the paired shift with its 68 %
    interval (points), and the per-species efficiencies (argmax) nominal and varied.

    The models are those of ``protocol`` (trained on the nominal sample); the baselines are recomputed on the
    varied tracks (the ALICE priors re-iterated there, as on data).
    """
    rows = []
    for r, data in varied.items():
        if (r, protocol) not in grid.cells:
            continue
        cell = grid.cells[(r, protocol)]
        index = cell["data"].test["index"]
        y = test_labels(grid, r)
        chosen = chosen_network(grid, (r, protocol))
        answers: dict[str, tuple[str, NDArray, NDArray]] = {}
        for name in grid.models:
            answers[name] = ("tree" if name not in grid.networks else "network",
                             cell["prob_test"][name].argmax(1),
                             predict_model(name, cell["models"][name],
                                           scale_like(cell["inputs"][name], data.raw[index])).argmax(1))
        for name, base in grid.ranges[r].baselines.items():
            answers[name] = ("baseline", base.pred[index], data.baselines[name].pred[index])
        for name, (kind, nominal, shifted) in answers.items():
            right_nom, right_var = (nominal == y).astype(float), (shifted == y).astype(float)
            rows.append({"range": r, "variation": variation, "model": name, "kind": kind, "chosen": name == chosen,
                         "nominal_pct": 100 * right_nom.mean(), "varied_pct": 100 * right_var.mean(),
                         **{f"shift_{k}": 100 * v for k, v in mean_interval(right_var - right_nom, counts[r]).items()},
                         **{f"eff_nominal_{s}": v for s, v in _efficiencies(nominal, y).items()},
                         **{f"eff_varied_{s}": v for s, v in _efficiencies(shifted, y).items()}})
    return rows
