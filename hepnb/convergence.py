"""Whether a trained network has converged, read from its validation curve.

A verdict that ranks two models needs both to have finished learning (``DESIGN.md``: "a verdict is earned").
:func:`convergence` reads the validation metric recorded during training and asks how much it still improved
over the last fifth of training: if by less than a tolerance the study states (in the metric's own units, or
the seed-to-seed spread of the final metric, whichever is larger), the network counts as converged. The record
keeps the numbers behind the answer, for ``results.json`` and the learning-curve figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["LAST_FRACTION", "MIN_POINTS", "RELATIVE_TOLERANCE", "Convergence", "convergence", "relative_convergence"]

#: The part of training whose improvement decides: the last fifth of the validation points.
LAST_FRACTION = 0.2
#: Fewer validation points than this cannot show a plateau: such a curve is never called converged. Ten, not five:
#: with five epochs of a one-cycle schedule the last fifth is one step of a learning rate already annealed to
#: almost zero, flat whether or not the network has learnt what it can (the tau study's SingleParTau passed at
#: five epochs while 25 epochs still raised its tau-ID AUC from 0.9914 to 0.9957).
MIN_POINTS = 10
#: The default tolerance of :func:`relative_convergence`: an improvement over the last fifth of training below one
#: per cent of the metric's best value counts as a plateau.
RELATIVE_TOLERANCE = 0.01


@dataclass(frozen=True)
class Convergence:
    """The convergence record of one training run.

    Attributes
    ----------
    converged
        Whether the improvement over the last fifth is below ``tolerance``.
    metric
        The validation metric read (e.g. ``"val_loss"``).
    improvement
        How much the metric improved from the start of the last fifth to its best value inside it (≥ 0, in the
        metric's units; NaN when it cannot be computed).
    tolerance
        The threshold it was compared with: the study's tolerance, or the seed spread where that is larger.
    window
        First and last (0-based) validation point of the last fifth.
    n_points
        Validation points in the curve.
    reason
        One sentence saying why, for the page.
    """

    converged: bool
    metric: str
    improvement: float
    tolerance: float
    window: tuple[int, int]
    n_points: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The record as plain values, for ``results.json`` (an improvement that cannot be computed is ``None``)."""
        out = asdict(self)
        out["window"] = list(self.window)
        if not math.isfinite(self.improvement):
            out["improvement"] = None
        return out


def convergence(curve: Sequence[float] | np.ndarray, *, tolerance: float, metric: str = "val_loss",
                lower_is_better: bool = True, seed_spread: float = 0.0) -> Convergence:
    """Read a validation curve and decide whether training converged.

    Parameters
    ----------
    curve
        The validation metric at each evaluation point, in training order.
    tolerance
        The largest improvement over the last fifth that still counts as converged, in the metric's units
        (stated by the study with its profile).
    metric
        The metric's name, kept in the record.
    lower_is_better
        ``True`` for a loss or an error, ``False`` for an accuracy or an AUC.
    seed_spread
        The seed-to-seed standard deviation of the final metric, where several seeds were trained: an
        improvement smaller than that spread is not resolved either, so the threshold is the larger of the two.

    Returns
    -------
    Convergence
        The decision and the numbers behind it.

    Examples
    --------
    >>> convergence([1.0, 0.5, 0.3, 0.29, 0.289, 0.2889, 0.2888, 0.2888, 0.2888, 0.2888], tolerance=1e-3).converged
    True
    >>> convergence([1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15, 0.1], tolerance=1e-3).converged
    False
    """
    if not (math.isfinite(tolerance) and tolerance > 0):
        msg = f"the tolerance must be a positive number, found {tolerance}"
        raise ValueError(msg)
    if not (math.isfinite(seed_spread) and seed_spread >= 0):
        msg = f"the seed spread must be a number >= 0, found {seed_spread}"
        raise ValueError(msg)
    values = np.asarray(curve, dtype=np.float64).ravel()
    n = values.size
    threshold = max(tolerance, seed_spread)
    start = min(math.floor((1.0 - LAST_FRACTION) * n), max(n - 2, 0))
    window = (start, max(n - 1, 0))
    if n < MIN_POINTS:
        return Convergence(False, metric, float("nan"), threshold, window, n,
                           f"only {n} validation points: too few to show a plateau (at least {MIN_POINTS} needed)")
    tail = values[start:]
    if not np.all(np.isfinite(tail)):
        return Convergence(False, metric, float("nan"), threshold, window, n,
                           f"the {metric} is not finite over the last fifth of training")
    signed = tail if lower_is_better else -tail
    improvement = float(max(signed[0] - signed.min(), 0.0))
    ok = improvement < threshold
    verb = "improved by" if improvement > 0 else "did not improve"
    amount = f" {improvement:.3g}" if improvement > 0 else ""
    relation = "below" if ok else "not below"
    reason = (f"the {metric} {verb}{amount} over the last fifth of training (points {window[0]}–{window[1]}), "
              f"{relation} the tolerance {threshold:.3g}")
    return Convergence(ok, metric, improvement, threshold, window, n, reason)


def relative_convergence(curve: Sequence[float] | np.ndarray, *, rel_tolerance: float = RELATIVE_TOLERANCE,
                         metric: str = "val_loss", lower_is_better: bool = True,
                         seed_spread: float = 0.0) -> Convergence:
    """:func:`convergence` with the tolerance stated relative to the metric's best value on the curve.

    The tolerance is ``rel_tolerance × |best|`` (``rel_tolerance`` itself when the best value is 0 or the curve
    holds no finite value): a loss of 0.30 with ``rel_tolerance=0.01`` must improve by less than 0.003 over the
    last fifth of training. Used by the shared training loop (:func:`hepnb.train.fit`) and the vmapped stacks
    of the leaderboard, whose metrics have different units.

    Examples
    --------
    >>> relative_convergence([1.0, 0.5, 0.31, 0.301, 0.3005, 0.3003]).tolerance
    0.003003
    """
    if not (math.isfinite(rel_tolerance) and rel_tolerance > 0):
        msg = f"the relative tolerance must be a positive number, found {rel_tolerance}"
        raise ValueError(msg)
    values = np.asarray(curve, dtype=np.float64).ravel()
    finite = values[np.isfinite(values)]
    best = (finite.min() if lower_is_better else finite.max()) if finite.size else 0.0
    scale = abs(float(best)) if best != 0 else 1.0
    return convergence(values, tolerance=rel_tolerance * scale, metric=metric, lower_is_better=lower_is_better,
                       seed_spread=seed_spread)
