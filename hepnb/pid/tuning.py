"""The tuning budget of the ``tuned`` protocol: the same number of settings for every model family, each family's
setting chosen on validation.

Every family (each network architecture, the random forest, XGBoost) has an ordered grid of settings whose first
entry is the original's; a budget of ``n`` settings tries the first ``n`` of each grid, so every family gets the
same number of trainings. A network's settings pair an input transform (:mod:`hepnb.pid.transforms`) with a
factor on its learning rate; the trees' pair their depth with the leaf size (random forest) or the learning rate
(XGBoost, which also stops on the validation log-loss under every setting). The setting kept is the one with
the highest validation accuracy (the first on a tie); the test set plays no part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid.transforms import IDENTITY, ColumnTransform, InputTransform

__all__ = ["MAX_SETTINGS", "Trial", "choose_trial", "trial", "trials"]


@dataclass(frozen=True)
class Trial:
    """One setting of one family.

    Attributes
    ----------
    transform
        The networks' input transform (trees: the identity; their splits do not need one).
    lr_factor
        A network's learning rate × this (on top of the profile's ``lr_scale``).
    tree_params
        Keyword settings of the tree model's constructor that replace the original's.
    """

    transform: InputTransform = IDENTITY
    lr_factor: float = 1.0
    tree_params: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def label(self) -> str:
        """The setting as the page's table writes it."""
        if self.tree_params:
            return ", ".join(f"{k} {v}" for k, v in self.tree_params)
        return f"inputs {self.transform.label}, lr × {self.lr_factor:g}"


_CLIP = InputTransform(nsigma=ColumnTransform("clip", 10.0))
_ASINH = InputTransform(nsigma=ColumnTransform("asinh", 3.0), dedx=ColumnTransform("asinh", 50.0))

#: Each family's ordered grid; the first entry is the original's setting.
_NETWORK_GRID = (Trial(IDENTITY, 1.0), Trial(_CLIP, 1.0), Trial(_ASINH, 1.0), Trial(_CLIP, 3.0),
                 Trial(_ASINH, 3.0), Trial(IDENTITY, 3.0))
_GRIDS: dict[str, tuple[Trial, ...]] = {
    "random_forest": tuple(Trial(tree_params=p) for p in (
        (("max_depth", 25), ("min_samples_leaf", 5)), (("max_depth", None), ("min_samples_leaf", 1)),
        (("max_depth", 15), ("min_samples_leaf", 10)), (("max_depth", 25), ("min_samples_leaf", 2)),
        (("max_depth", 40), ("min_samples_leaf", 5)), (("max_depth", 10), ("min_samples_leaf", 5)))),
    "xgboost": tuple(Trial(tree_params=p) for p in (
        (("max_depth", 7), ("learning_rate", 0.1)), (("max_depth", 5), ("learning_rate", 0.2)),
        (("max_depth", 9), ("learning_rate", 0.05)), (("max_depth", 4), ("learning_rate", 0.3)),
        (("max_depth", 6), ("learning_rate", 0.1)), (("max_depth", 8), ("learning_rate", 0.2)))),
}
#: The largest budget: the length of every family's grid.
MAX_SETTINGS = len(_NETWORK_GRID)


def trials(family: str, n_settings: int) -> tuple[Trial, ...]:
    """The first ``n_settings`` settings of a family's grid (a network's, ``random_forest`` or ``xgboost``).

    Raises
    ------
    ValueError
        A budget outside 1 … :data:`MAX_SETTINGS`.
    """
    if not 1 <= n_settings <= MAX_SETTINGS:
        msg = f"the tuning budget must be 1 to {MAX_SETTINGS} settings per family, found {n_settings}"
        raise ValueError(msg)
    return _GRIDS.get(family, _NETWORK_GRID)[:n_settings]


def trial(family: str, index: int) -> Trial:
    """Setting ``index`` of a family's grid (:func:`trials`)."""
    return trials(family, MAX_SETTINGS)[index]


def choose_trial(prob_val: Sequence[NDArray[np.float64]], y_val: NDArray[np.int64]) -> int:
    """The index of the setting with the highest validation accuracy (the first on a tie).

    Parameters
    ----------
    prob_val
        Each setting's class probabilities (N, 4) on the validation tracks.
    y_val
        Their labels.
    """
    if not prob_val:
        msg = "choosing a setting needs at least one trained setting, found none"
        raise ValueError(msg)
    accuracy = [float(np.mean(np.asarray(p).argmax(1) == y_val)) for p in prob_val]
    return int(np.argmax(accuracy))
