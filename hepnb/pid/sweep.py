"""The PID study grid (momentum range × protocol × model), one model per Dask task.

:func:`run_grid` prepares every (range, protocol) cell here, trains each model of each cell in its own
task (:func:`train_member`; the prepared cells scattered to the cluster once), and then predicts,
evaluates and times here, as a serial run does: the test probabilities, metrics and inference times do
not depend on where a model was trained, and the same seeds give the same numbers with or without a
cluster.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hepnb.pid import study as P
from hepnb.pid.selection import FEATURES, features, labels, momentum_range

__all__ = ["cell_data", "run_grid", "train_member", "tree_probabilities"]

Cell = tuple[str, str]


def cell_data(table: Mapping[str, NDArray], range_name: str, protocol: str) -> P.Prepared:
    """The labelled tracks of one momentum range, split and scaled the way ``protocol`` does.

    Raises
    ------
    ValueError
        If the range holds fewer than 100 labelled tracks or a single species.
    """
    sel = momentum_range(table, range_name)
    part = {k: np.asarray(v)[sel] for k, v in table.items()}
    y = labels(part)
    keep = y >= 0
    raw, y = features(part)[keep], y[keep]
    if len(np.unique(y)) < 2 or len(y) < 100:
        msg = f"momentum range {range_name!r} has {len(y)} labelled tracks after selections: too few to train on"
        raise ValueError(msg)
    return P.prepare(raw, y, protocol, seed=231)


def train_member(member: tuple[str, str, str], cells: Mapping[Cell, P.Prepared], *, epochs: int, patience: int,
                 batch_size: int, n_trees_rf: int, n_trees_xgb: int, seed: int) -> dict[str, Any]:
    """One grid member as a Dask task: train model ``name`` of cell ``(range, protocol)``.

    Returns
    -------
    dict
        Networks: ``state`` (weights as numpy, :func:`hepnb.compute.sweep.state_to_numpy`) and ``info`` (training
        time, best epoch, ...). Trees: ``model`` (the fitted classifier) and ``info`` (training time).
    """
    from hepnb.compute.sweep import state_to_numpy

    range_name, protocol, name = member
    data = cells[(range_name, protocol)]
    if name in P.TREES:
        n_trees = n_trees_rf if name == "random_forest" else n_trees_xgb
        model, train_s = P.train_tree(name, data, n_trees=n_trees, seed=seed)
        return {"model": model, "info": {"train_time_s": train_s}}
    model, info = P.train_network(name, data, epochs=epochs, patience=patience, batch_size=batch_size, seed=seed)
    return {"state": state_to_numpy(model), "info": info}


def _network(name: str, state: dict[str, Any], *, seed: int) -> Any:
    from hepnb.pid.models import build_network
    from hepnb.compute.sweep import load_state

    model = load_state(build_network(name, seed=seed), state)
    model.eval()
    return model


def tree_probabilities(model: Any, x: NDArray) -> NDArray[np.float64]:
    """Class probabilities of a tree model, the same on every call.

    A random forest with ``n_jobs=-1`` adds its trees' probabilities from several threads in whatever
    order they finish, so its probabilities (and metrics binned on them, such as the ECE) change in the
    last bits from one call to the next; here its trees are added in order (``n_jobs=1``).
    """
    n_jobs = getattr(model, "n_jobs", None)
    if type(model).__name__ != "RandomForestClassifier" or n_jobs == 1:
        return np.asarray(model.predict_proba(x))
    model.set_params(n_jobs=1)
    try:
        return np.asarray(model.predict_proba(x))
    finally:
        model.set_params(n_jobs=n_jobs)


def _bayes_alice(data: P.Prepared) -> dict[str, float]:
    post = P.alice_bayes(data.test["raw"])
    right = post.argmax(1) == data.test["y"]
    return {"all_tracks": float(np.mean(right)),
            "tpc_tof_subset": float(np.mean(right[data.test["raw"][:, FEATURES.index("has_tof")] > 0]))}


def run_grid(table: Mapping[str, NDArray], *, ranges: Sequence[str], protocols: Sequence[str],
             networks: Sequence[str], epochs: int, patience: int, batch_size: int, n_trees_rf: int,
             n_trees_xgb: int, n_boot: int, seed: int, client: Any = None) -> dict[Cell, dict[str, Any]]:
    """Train and evaluate every model in every (range, protocol); keep models, test probabilities, metrics.

    Parameters
    ----------
    table
        The selected tracks (with ``mc_pdg``).
    client
        A :class:`dask.distributed.Client`: one task per (range, protocol, model). ``None`` trains one
        after the other in this process. Same seeds, same numbers either way.

    Returns
    -------
    dict
        Per ``(range, protocol)``: ``data`` (:class:`hepnb.pid.study.Prepared`), ``models``, ``prob`` (test
        probabilities), ``metrics``, ``timing`` (per model, networks first, then the trees),
        ``bayes_seed`` and ``bayes_alice``.
    """
    from hepnb.compute.sweep import map_tasks

    cells = {(r, p): cell_data(table, r, p) for r in ranges for p in protocols}
    members = [(*cell, name) for cell in cells for name in (*networks, *P.TREES)]
    trained = map_tasks(train_member, members, cells, client=client, desc="range x protocol x model",
                        epochs=epochs, patience=patience, batch_size=batch_size, n_trees_rf=n_trees_rf,
                        n_trees_xgb=n_trees_xgb, seed=seed)
    out: dict[Cell, dict[str, Any]] = {
        cell: {"data": data, "models": {}, "prob": {}, "metrics": {}, "timing": {}} for cell, data in cells.items()}
    for (range_name, protocol, name), result in zip(members, trained, strict=True):
        cell = out[(range_name, protocol)]
        data = cell["data"]
        model = result["model"] if name in P.TREES else _network(name, result["state"], seed=seed)
        t0 = time.perf_counter()
        cell["prob"][name] = tree_probabilities(model, data.test["x"]) if name in P.TREES else P.predict_network(
            model, data.test)
        cell["timing"][name] = {**result["info"], "inference_s": time.perf_counter() - t0}
        cell["models"][name] = model
    for cell in out.values():
        data = cell["data"]
        for name, prob in cell["prob"].items():
            cell["metrics"][name] = P.evaluate(prob, data.test["y"], n_boot=n_boot, seed=seed)
        cell["bayes_seed"] = P.seed_bayes_accuracy(data.test["raw"], data.test["y"])
        cell["bayes_alice"] = _bayes_alice(data)
    return out
