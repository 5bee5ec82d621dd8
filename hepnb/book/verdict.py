"""The verdict gate: a sentence ranks two models only when the ranking is earned.

``DESIGN.md``: a sentence that ranks two models ("better", "worse", "beats", "below the curve") is written only
when both models converged and their paired difference exceeds its combined uncertainty — the bootstrap over
test events ⊕ the seed-to-seed spread of training. Otherwise the sentence says which model has not converged,
or that the two are consistent. Every study page writes its comparative sentences through :func:`verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from hepnb.book.numbers import format_with_uncertainty

__all__ = ["SIGNIFICANCE", "Contender", "Verdict", "combined_uncertainty", "mean_over_seeds", "paired_verdict",
           "rule_markdown", "seed_spread_of_difference", "verdict"]

#: A difference is called a difference from this many combined standard uncertainties on.
SIGNIFICANCE = 2.0


@dataclass(frozen=True)
class Contender:
    """One side of a comparison.

    Attributes
    ----------
    name
        As the page names it (``"XGBoost"``, ``"SingleParTau"``).
    converged
        The convergence record's answer for a trained network; ``None`` for a method that is not trained
        iteratively (a fit in closed form, a cut-based baseline, Runge–Kutta), which needs no such record.
    """

    name: str
    converged: bool | None = None

    @property
    def ready(self) -> bool:
        """Whether this side may be ranked: converged, or not an iteratively trained model."""
        return self.converged is not False


@dataclass(frozen=True)
class Verdict:
    """What :func:`verdict` decided, and its sentence.

    Attributes
    ----------
    kind
        ``"ranked"``, ``"consistent"`` or ``"not converged"``.
    better
        The better model's name when ``kind == "ranked"``, else ``None``.
    significance
        ``|difference| / uncertainty`` (inf for a zero uncertainty and a non-zero difference).
    sentence
        The sentence for the page (no trailing full stop).
    """

    kind: Literal["ranked", "consistent", "not converged"]
    better: str | None
    significance: float
    sentence: str

    @property
    def ranked(self) -> bool:
        """Whether the sentence ranks the two models."""
        return self.kind == "ranked"


def combined_uncertainty(test_std: float, seed_std: float = 0.0) -> float:
    """The uncertainty a comparison quotes: the test bootstrap's ⊕ the seed spread's (added in quadrature)."""
    for name, value in (("test_std", test_std), ("seed_std", seed_std)):
        if not (math.isfinite(value) and value >= 0):
            msg = f"{name} must be a finite number >= 0, found {value}"
            raise ValueError(msg)
    return math.hypot(test_std, seed_std)


def mean_over_seeds(values: Sequence[float], test_std: float) -> tuple[float, float]:
    """A metric's mean over its training seeds and the uncertainty of one trained model on it: the seed spread
    (standard deviation, ddof 1; 0 for one seed) ⊕ ``test_std``, the test uncertainty of one seed (a non-finite
    ``test_std``, where no test uncertainty was computed, adds nothing). Non-finite values are left out; with none
    left, both are NaN."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    seed_std = float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0
    return float(np.mean(finite)), math.hypot(seed_std, test_std if math.isfinite(test_std) else 0.0)


def seed_spread_of_difference(values_a: Sequence[float], values_b: Sequence[float], *,
                              paired: bool = False, of_mean: bool = True) -> float:
    """The seed-to-seed standard uncertainty of ``mean(a) − mean(b)`` (or, with ``of_mean=False``, of the
    difference of one trained model of each: what a comparison of the first seeds' models quotes), from each
    seed's metric.

    Parameters
    ----------
    values_a, values_b
        The metric of each training seed of the two models (a single value: no training variance known for
        that side, counted as 0; a closed-form baseline has one value).
    paired
        ``True`` when seed *i* of ``a`` and of ``b`` share their data split and initial draw, so that the
        per-seed differences are what varies.
    of_mean
        ``True``: the uncertainty of the difference of the seed means; ``False``: of one model of each side.

    Returns
    -------
    float
        ``std(a − b) / √k`` when paired, ``√(var(a)/k_a + var(b)/k_b)`` otherwise (ddof 1); without the
        ``√k`` and the ``k`` with ``of_mean=False``.
    """
    a, b = np.asarray(values_a, np.float64), np.asarray(values_b, np.float64)
    if a.size == 0 or b.size == 0 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        msg = f"each side needs at least one finite value per seed, found {a.tolist()} and {b.tolist()}"
        raise ValueError(msg)
    if paired:
        if a.size != b.size:
            msg = f"paired seeds need as many values on each side, found {a.size} and {b.size}"
            raise ValueError(msg)
        scale = math.sqrt(a.size) if of_mean else 1.0
        return float(np.std(a - b, ddof=1) / scale) if a.size > 1 else 0.0

    def var_of_mean(x: np.ndarray) -> float:
        return float(np.var(x, ddof=1) / (x.size if of_mean else 1)) if x.size > 1 else 0.0

    return math.sqrt(var_of_mean(a) + var_of_mean(b))


def _signed(value: float, uncertainty: float, unit: str) -> str:
    text = format_with_uncertainty(value, uncertainty, unit=unit)
    return text if text.startswith("−") else "+" + text


def verdict(quantity: str, a: Contender, b: Contender, difference: float, uncertainty: float, *,
            lower_is_better: bool, unit: str = "") -> Verdict:
    """Decide whether ``a`` and ``b`` may be ranked on ``quantity``, and say it in one sentence.

    Parameters
    ----------
    quantity
        What is compared (``"tau-ID AUC"``, ``"median position error"``).
    a, b
        The two models.
    difference
        ``a − b`` on the same test events (paired).
    uncertainty
        Its combined standard uncertainty (:func:`combined_uncertainty`: test bootstrap ⊕ seed spread).
    lower_is_better
        Whether a lower ``quantity`` is better.
    unit
        Written after the numbers.

    Returns
    -------
    Verdict
        ``"not converged"`` when either side is a network that has not converged (whatever the numbers),
        ``"consistent"`` when ``|difference| < 2 × uncertainty``, else ``"ranked"``.
    """
    if not (math.isfinite(difference) and math.isfinite(uncertainty) and uncertainty >= 0):
        msg = f"difference and uncertainty must be finite, uncertainty >= 0; found {difference}, {uncertainty}"
        raise ValueError(msg)
    z = abs(difference) / uncertainty if uncertainty > 0 else (math.inf if difference else 0.0)
    diff_text = _signed(difference, uncertainty, unit)
    waiting = [c.name for c in (a, b) if not c.ready]
    if waiting:
        if len(waiting) == 2:
            head = f"neither {a.name} nor {b.name} has converged, so the two are not ranked on {quantity}"
        else:
            other = b.name if waiting[0] == a.name else a.name
            head = f"{waiting[0]} has not converged, so it is not ranked against {other} on {quantity}"
        return Verdict("not converged", None, z, f"{head} (difference {a.name} − {b.name}: {diff_text})")
    if z < SIGNIFICANCE:
        return Verdict("consistent", None, z,
                       f"{a.name} and {b.name} are consistent on {quantity} (difference {diff_text}, {z:.1f}σ)")
    a_better = (difference < 0) == lower_is_better
    better, worse = (a, b) if a_better else (b, a)
    size = format_with_uncertainty(abs(difference), uncertainty, unit=unit)
    trained = [c.name for c in (a, b) if c.converged]
    note = "" if not trained else (", both converged" if len(trained) == 2 else f", {trained[0]} converged")
    return Verdict("ranked", better.name, z,
                   f"{better.name} is better than {worse.name} on {quantity}, by {size} ({z:.1f}σ{note})")


def paired_verdict(quantity: str, a: Contender, b: Contender, paired: Mapping[str, float], *, lower_is_better: bool,
                   seed_std: float = 0.0, unit: str = "") -> Verdict:
    """:func:`verdict` on a paired bootstrap difference ``{"value": a − b, "std": its test spread}``, with the
    seed spread of the difference (:func:`seed_spread_of_difference`) added in quadrature."""
    return verdict(quantity, a, b, paired["value"], combined_uncertainty(paired["std"], seed_std),
                   lower_is_better=lower_is_better, unit=unit)


def rule_markdown(metric: str) -> str:
    """The book's rule in words, from its constants, for a page to state under its learning curves: when a
    network counts as converged (:func:`hepnb.convergence.relative_convergence` of its validation ``metric``)
    and when a comparison may rank two models."""
    from hepnb.convergence import LAST_FRACTION, MIN_POINTS, RELATIVE_TOLERANCE

    return (f"**Convergence and verdicts.** A network counts as converged when its validation {metric} improved by "
            f"less than {100 * RELATIVE_TOLERANCE:g} % of its best value over the last {100 * LAST_FRACTION:g} % of its "
            f"evaluations (and it was evaluated at least {MIN_POINTS} times). A sentence of this page ranks two "
            f"models only when every network among them converged and their paired difference exceeds "
            f"{SIGNIFICANCE:g} times its uncertainty, the test bootstrap ⊕ the spread over training seeds; "
            "otherwise it says which did not converge, or that the two are consistent.")
