"""The tree models of the PID study: the random forest and XGBoost, trained with the original's settings or a
tuning trial's (:mod:`hepnb.pid.tuning`), and their probabilities."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.compute.devices import xgboost_device
from hepnb.pid.protocols import Prepared, protocol_spec

__all__ = ["TREES", "train_tree", "tree_probabilities"]

TREES = ("random_forest", "xgboost")
_XGB_EARLY_STOPPING = 20


def train_tree(name: str, data: Prepared, *, n_trees: int, seed: int = 0,
               params: Mapping[str, Any] | None = None) -> tuple[Any, float]:
    """One tree model: ``random_forest`` or ``xgboost`` (hist; on the GPU when JAX sees one), with the original's
    settings where ``params`` (constructor keywords, :attr:`hepnb.pid.tuning.Trial.tree_params`) does not replace
    them.

    XGBoost is fitted unweighted, as the original did; under a protocol with a validation split it stops adding trees
    when the validation log-loss has not improved for 20 rounds (a choice on validation), under ``original`` it
    grows all ``n_trees``.

    Returns
    -------
    model, seconds
        The fitted classifier and its training time.
    """
    if name not in TREES:
        msg = f"unknown tree model {name!r}; choose one of {list(TREES)}"
        raise ValueError(msg)
    spec = protocol_spec(data.protocol)
    t0 = time.perf_counter()
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        rf = {"max_depth": 25, "min_samples_split": 10, "min_samples_leaf": 5, "max_features": "sqrt", **(params or {})}
        model: Any = RandomForestClassifier(n_estimators=n_trees, **rf,
                                            class_weight="balanced" if spec.class_weights else None, n_jobs=-1,
                                            random_state=seed)
        model.fit(data.train["x"], data.train["y"])
    else:
        import xgboost as xgb

        device = xgboost_device()
        stop = _XGB_EARLY_STOPPING if spec.validation_split else None
        boost = {"max_depth": 7, "learning_rate": 0.1, **(params or {})}
        model = xgb.XGBClassifier(n_estimators=n_trees, **boost, subsample=0.8,
                                  colsample_bytree=0.8, tree_method="hist", device=device, objective="multi:softprob",
                                  num_class=4, random_state=seed, n_jobs=0, early_stopping_rounds=stop)
        model.fit(data.train["x"], data.train["y"],
                  eval_set=[(data.val["x"], data.val["y"])] if stop else None, verbose=False)
    return model, time.perf_counter() - t0


def tree_probabilities(model: Any, x: NDArray) -> NDArray[np.float64]:
    """Class probabilities of a tree model, the same on every call.

    A random forest with ``n_jobs=-1`` adds its trees' probabilities from several threads in whatever
    order they finish, so its probabilities (and metrics binned on them, such as the ECE) change in the
    last bits from one call to the next; here its trees are added in order (``n_jobs=1``).
    """
    n_jobs = getattr(model, "n_jobs", None)
    if type(model).__name__ != "RandomForestClassifier" or n_jobs == 1:
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    model.set_params(n_jobs=1)
    try:
        return np.asarray(model.predict_proba(x), dtype=np.float64)
    finally:
        model.set_params(n_jobs=n_jobs)
