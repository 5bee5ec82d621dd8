"""The PID study's pipeline, what the notebook calls: the grid (momentum range × protocol × model), training,
evaluation, and the tables of the notebook.

:func:`run_grid` prepares every (range, protocol) cell here (:func:`hepnb.pid.protocols.prepare`), trains each
model of each cell in its own task (:func:`train_member`; the prepared cells scattered to the cluster once), and
then predicts, evaluates and times here, as a serial run does: the test probabilities, metrics and inference
times do not depend on where a model was trained, and the same seeds give the same numbers with or without a
cluster.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from numpy.typing import NDArray
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, roc_auc_score

from hepnb.metrics import bootstrap_ci, expected_calibration_error
from hepnb.pid.bayes import alice_bayes, seed_bayes_accuracy
from hepnb.pid.constants import SPECIES
from hepnb.pid.models import FSEAttention, build_network, focal_loss
from hepnb.pid.protocols import PROTOCOLS, Prepared, prepare, protocol_spec
from hepnb.pid.selection import FEATURES, features, labels, momentum_range
from hepnb.train import fit, predict

__all__ = [
    "SEED_REPORTED",
    "TREES",
    "cell_data",
    "confidence_bins",
    "data_like_summary",
    "efficiency_purity",
    "evaluate",
    "gap_by_fix",
    "gating_by_mode",
    "headline_rows",
    "network_loss",
    "permutation_importance",
    "predict_network",
    "run_grid",
    "train_member",
    "train_network",
    "train_tree",
    "tree_probabilities",
]

Cell = tuple[str, str]


# Training and evaluation


def _loss_factory(weights: NDArray[np.float32], alpha: float, gamma: float) -> Any:
    w = jnp.asarray(weights)

    def loss(model: Any, batch: Mapping[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        logits = model(batch["x"], batch["mask"], batch["mode"])
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        return focal_loss(logits, batch["y"], w, alpha, gamma), {"acc": acc, "err": 1.0 - acc}

    return loss


_LOSSES: dict[tuple[bytes, float, float], Any] = {}


def network_loss(weights: NDArray[np.float32], alpha: float, gamma: float) -> Any:
    """The focal loss of the networks (:func:`hepnb.pid.models.focal_loss`) as :func:`hepnb.train.fit` takes it,
    with accuracy and error rate as metrics; one function object per (weights, α, γ), so compiled epochs are reused."""
    key = (weights.tobytes(), alpha, gamma)
    if key not in _LOSSES:
        _LOSSES[key] = _loss_factory(weights, alpha, gamma)
    return _LOSSES[key]


def _apply(model: Any, batch: Mapping[str, jax.Array]) -> jax.Array:
    return jax.nn.softmax(model(batch["x"], batch["mask"], batch["mode"]))


def train_network(name: str, data: Prepared, *, epochs: int, patience: int, batch_size: int = 256,
                  seed: int = 0, checkpoint_dir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Train one network with the seed's optimiser settings (Adam 1e-4; DNN 5e-5; focal α 0.5, γ 2.5)."""
    model = build_network(name, seed=seed)
    lr = 5e-5 if name == "dnn" else 1e-4
    alpha = 0.4 if name == "fse_phase1" else 0.5
    cols = ("x", "mask", "mode", "y")
    result = fit(model, optax.adam(lr), network_loss(data.class_weights, alpha, 2.5), {k: data.train[k] for k in cols},
                 {k: data.val[k] for k in cols}, batch_size=batch_size, n_epochs=epochs, patience=patience,
                 seed=seed, monitor="val_err", checkpoint_dir=checkpoint_dir, progress=False)
    return model, {"train_time_s": result.train_time_s + result.compile_time_s, "best_epoch": result.best_epoch,
                   "epochs_run": result.n_epochs_run, "steps_per_s": result.steps_per_s}


def predict_network(model: Any, part: Mapping[str, NDArray]) -> NDArray[np.float64]:
    """Class probabilities (N, 4) of a network for inputs with ``x``, ``mask`` and ``mode``
    (:func:`hepnb.pid.protocols.scale_inputs`, or a part of :class:`hepnb.pid.protocols.Prepared`)."""
    return np.asarray(predict(model, {k: part[k] for k in ("x", "mask", "mode")}, _apply), dtype=np.float64)


TREES = ("random_forest", "xgboost")


def train_tree(name: str, data: Prepared, *, n_trees: int, seed: int = 0) -> tuple[Any, float]:
    """One tree model: ``random_forest`` (the seed's settings) or ``xgboost`` (hist; on the GPU when JAX sees one).

    Returns
    -------
    model, seconds
        The fitted classifier and its training time.
    """
    if name not in TREES:
        msg = f"unknown tree model {name!r}; choose one of {list(TREES)}"
        raise ValueError(msg)
    t0 = time.perf_counter()
    if name == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        model: Any = RandomForestClassifier(n_estimators=n_trees, max_depth=25, min_samples_split=10,
                                            min_samples_leaf=5, max_features="sqrt",
                                            class_weight="balanced" if protocol_spec(data.protocol).class_weights
                                            else None, n_jobs=-1, random_state=seed)
    else:
        import xgboost as xgb

        device = "cuda" if jax.default_backend() == "gpu" else "cpu"
        model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=7, learning_rate=0.1, subsample=0.8,
                                  colsample_bytree=0.8, tree_method="hist", device=device, objective="multi:softprob",
                                  num_class=4, random_state=seed, n_jobs=0)
    model.fit(data.train["x"], data.train["y"])
    return model, time.perf_counter() - t0


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


def evaluate(prob: NDArray[np.float64], y: NDArray[np.int64], *, n_boot: int = 100, seed: int = 0) -> dict[str, Any]:
    """Accuracy and macro AUC (with bootstrap uncertainties), per-class report, confusion matrix, ECE."""
    pred = prob.argmax(axis=1)
    present = np.unique(y)
    labels = [SPECIES[i] for i in range(4)]

    def macro_auc(p: NDArray, t: NDArray) -> float:
        cls = [c for c in range(4) if 0 < np.sum(t == c) < len(t)]
        return float(np.mean([roc_auc_score(t == c, p[:, c]) for c in cls])) if cls else float("nan")

    report = classification_report(y, pred, labels=list(range(4)), target_names=labels, output_dict=True,
                                   zero_division=0)
    return {
        "accuracy": bootstrap_ci(lambda t, p: accuracy_score(t, p.argmax(1)), y, prob, n_boot=n_boot, seed=seed),
        "macro_auc": bootstrap_ci(macro_auc, prob, y, n_boot=max(n_boot // 4, 10), seed=seed)
        if len(present) > 1 else {"value": float("nan")},
        "per_class": {k: report[k] for k in labels},
        "confusion": confusion_matrix(y, pred, labels=list(range(4))).tolist(),
        "ece": {s: expected_calibration_error(y == i, prob[:, i]) for i, s in enumerate(labels)},
    }


# The grid: one model per task


def cell_data(table: Mapping[str, NDArray], range_name: str, protocol: str) -> Prepared:
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
    return prepare(raw, y, protocol, seed=231)


def train_member(member: tuple[str, str, str], cells: Mapping[Cell, Prepared], *, epochs: int, patience: int,
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
    if name in TREES:
        n_trees = n_trees_rf if name == "random_forest" else n_trees_xgb
        model, train_s = train_tree(name, data, n_trees=n_trees, seed=seed)
        return {"model": model, "info": {"train_time_s": train_s}}
    model, info = train_network(name, data, epochs=epochs, patience=patience, batch_size=batch_size, seed=seed)
    return {"state": state_to_numpy(model), "info": info}


def _network(name: str, state: dict[str, Any], *, seed: int) -> Any:
    from hepnb.compute.sweep import load_state

    model = load_state(build_network(name, seed=seed), state)
    model.eval()
    return model


def _bayes_alice(data: Prepared) -> dict[str, float]:
    post = alice_bayes(data.test["raw"])
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
        Per ``(range, protocol)``: ``data`` (:class:`hepnb.pid.protocols.Prepared`), ``models``, ``prob`` (test
        probabilities), ``metrics``, ``timing`` (per model, networks first, then the trees),
        ``bayes_seed`` and ``bayes_alice``.
    """
    from hepnb.compute.sweep import map_tasks

    cells = {(r, p): cell_data(table, r, p) for r in ranges for p in protocols}
    members = [(*cell, name) for cell in cells for name in (*networks, *TREES)]
    trained = map_tasks(train_member, members, cells, client=client, desc="range x protocol x model",
                        epochs=epochs, patience=patience, batch_size=batch_size, n_trees_rf=n_trees_rf,
                        n_trees_xgb=n_trees_xgb, seed=seed)
    out: dict[Cell, dict[str, Any]] = {
        cell: {"data": data, "models": {}, "prob": {}, "metrics": {}, "timing": {}} for cell, data in cells.items()}
    for (range_name, protocol, name), result in zip(members, trained, strict=True):
        cell = out[(range_name, protocol)]
        data = cell["data"]
        model = result["model"] if name in TREES else _network(name, result["state"], seed=seed)
        t0 = time.perf_counter()
        cell["prob"][name] = tree_probabilities(model, data.test["x"]) if name in TREES else predict_network(
            model, data.test)
        cell["timing"][name] = {**result["info"], "inference_s": time.perf_counter() - t0}
        cell["models"][name] = model
    for cell in out.values():
        data = cell["data"]
        for name, prob in cell["prob"].items():
            cell["metrics"][name] = evaluate(prob, data.test["y"], n_boot=n_boot, seed=seed)
        cell["bayes_seed"] = seed_bayes_accuracy(data.test["raw"], data.test["y"])
        cell["bayes_alice"] = _bayes_alice(data)
    return out


# Tables of the notebook

#: The seed's README (January 2026): test accuracy (%) per range and model, for its own data.
SEED_REPORTED: dict[str, dict[str, float]] = {
    "full": {"simple_nn": 66.7, "dnn": 65.2, "fse_phase0": 67.9, "fse_phase1": 68.4, "random_forest": 77.5,
             "xgboost": 91.4},
    "0-1": {"simple_nn": 56.8, "dnn": 63.4, "fse_phase0": 60.5, "fse_phase1": 58.8, "random_forest": 71.3,
            "xgboost": 87.2},
    "1-3": {"simple_nn": 63.5, "dnn": 70.5, "fse_phase0": 51.5, "fse_phase1": 62.2, "random_forest": 75.9,
            "xgboost": 83.2},
}


def headline_rows(grid: Mapping[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (range, protocol, model): accuracy ± bootstrap std, macro AUC, the seed's number."""
    rows = []
    for (rng_name, protocol), cell in grid.items():
        for name, m in cell["metrics"].items():
            rows.append({"range": rng_name, "protocol": protocol, "model": name,
                         "accuracy_pct": 100 * m["accuracy"]["value"], "accuracy_std_pct": 100 * m["accuracy"]["std"],
                         "macro_auc": m["macro_auc"]["value"],
                         "seed_reported_accuracy_pct": SEED_REPORTED.get(rng_name, {}).get(name, float("nan")),
                         "train_time_s": cell["timing"][name]["train_time_s"]})
    return rows


def gap_by_fix(accuracy_pct: pd.DataFrame, networks: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The XGBoost − best-network accuracy gap per (range, protocol), and the points each fix closes.

    Parameters
    ----------
    accuracy_pct
        Test accuracy (%) indexed by (range, protocol), one column per model (``xgboost`` among them).
    networks
        The network columns to take the best of.

    Returns
    -------
    gap
        Per (range, protocol): the best network, its accuracy, XGBoost's, and the gap in points.
    closed
        Per range, one column per protocol after the first (in :data:`hepnb.pid.protocols.PROTOCOLS` order):
        the gap of the previous protocol minus this one's, i.e. the points closed by the fix it adds (by
        all the fixes between the two when intermediate protocols were not run).
    """
    nets = [n for n in networks if n in accuracy_pct.columns]
    best = accuracy_pct[nets].max(axis=1)
    gap = pd.DataFrame({"best network": accuracy_pct[nets].idxmax(axis=1), "best network acc": best,
                        "xgboost acc": accuracy_pct["xgboost"], "gap (points)": accuracy_pct["xgboost"] - best})
    points = gap["gap (points)"].unstack("protocol")
    order = [p for p in PROTOCOLS if p in points.columns]
    steps = -points[order].diff(axis=1).iloc[:, 1:]
    names = list(PROTOCOLS)
    steps.columns = [" + ".join(PROTOCOLS[q].fix for q in names[names.index(prev) + 1:names.index(cur) + 1])
                     + f" ({cur})" for prev, cur in itertools.pairwise(order)]
    return gap, steps


def efficiency_purity(prob: NDArray, y: NDArray, p_gev: NDArray, edges: Sequence[float]) -> dict[str, Any]:
    """Per species and momentum bin: efficiency (recall) and purity (precision) of argmax selection."""
    pred = prob.argmax(axis=1)
    out: dict[str, Any] = {"edges_gev": list(edges)}
    for i, s in enumerate(SPECIES):
        eff, pur = [], []
        for lo, hi in itertools.pairwise(edges):
            b = (p_gev >= lo) & (p_gev < hi)
            true_i, sel_i = b & (y == i), b & (pred == i)
            eff.append(float((pred[true_i] == i).mean()) if true_i.any() else float("nan"))
            pur.append(float((y[sel_i] == i).mean()) if sel_i.any() else float("nan"))
        out[s] = {"efficiency": eff, "purity": pur}
    return out


def gating_by_mode(model: FSEAttention, data: Mapping[str, NDArray]) -> dict[str, dict[str, float]]:
    """Mean FSE gate value of each detector group, per detector mode (1 = TPC only, 3 = TPC+TOF)."""
    import jax.numpy as jnp

    model.eval()
    _, gates = model.group_gates(jnp.asarray(data["x"]), jnp.asarray(data["mask"]))
    gates = np.asarray(gates)
    names = ("tpc", "tof", "bayes", "kinematics")
    return {f"mode_{m}": {g: float(gates[data["mode"] == m, j].mean()) for j, g in enumerate(names)}
            for m in np.unique(data["mode"])}


def confidence_bins(prob: NDArray) -> dict[str, float]:
    """Fractions of tracks by max probability: > 0.99, 0.95–0.99, 0.90–0.95, 0.80–0.90, < 0.80."""
    top = prob.max(axis=1)
    edges = [(0.99, 1.01), (0.95, 0.99), (0.90, 0.95), (0.80, 0.90), (0.0, 0.80)]
    names = [">0.99", "0.95-0.99", "0.90-0.95", "0.80-0.90", "<0.80"]
    return {n: float(np.mean((top > lo) & (top <= hi))) for n, (lo, hi) in zip(names, edges, strict=True)}


def data_like_summary(prob: NDArray, table: Mapping[str, NDArray], pt_edges: Sequence[float]) -> dict[str, Any]:
    """What the seed's real-data section shows, without labels: fractions, confidence, ordering checks,
    agreement with the extractor's Bayes probabilities, fractions per pT bin."""
    pred = prob.argmax(axis=1)
    beta, dedx, pt = (np.asarray(table[k]) for k in ("tof_beta", "tpc_signal", "pt"))
    bayes = np.stack([np.asarray(table[f"bayes_prob_{s}"]) for s in SPECIES], axis=1)
    real = bayes.sum(axis=1) > 0
    out: dict[str, Any] = {
        "fractions": {s: float(np.mean(pred == i)) for i, s in enumerate(SPECIES)},
        "confidence_bins": confidence_bins(prob),
        "median_tof_beta": {s: float(np.median(beta[(pred == i) & (beta > 0)])) if np.any((pred == i) & (beta > 0))
                            else float("nan") for i, s in enumerate(SPECIES)},
        "median_tpc_dedx": {s: float(np.median(dedx[pred == i])) if np.any(pred == i) else float("nan")
                            for i, s in enumerate(SPECIES)},
        "ml_bayes_agreement": {s: float(np.mean(bayes[real & (pred == i)].argmax(1) == i))
                               if np.any(real & (pred == i)) else float("nan") for i, s in enumerate(SPECIES)},
        "fractions_by_pt": {},
    }
    for lo, hi in itertools.pairwise(pt_edges):
        b = (pt >= lo) & (pt < hi)
        out["fractions_by_pt"][f"{lo}-{hi}"] = {s: float(np.mean(pred[b] == i)) if b.any() else float("nan")
                                                 for i, s in enumerate(SPECIES)}
    return out


def permutation_importance(model: Any, part: Mapping[str, NDArray], *, seed: int = 0) -> dict[str, float]:
    """Drop in test accuracy when one feature column is shuffled (the network's permutation importance)."""
    rng = np.random.default_rng(seed)
    base = float(np.mean(predict_network(model, part).argmax(1) == part["y"]))
    out = {}
    for j, name in enumerate(FEATURES):
        shuffled = dict(part)
        x = part["x"].copy()
        x[:, j] = rng.permutation(x[:, j])
        shuffled["x"] = x
        out[name] = base - float(np.mean(predict_network(model, shuffled).argmax(1) == part["y"]))
    return out
