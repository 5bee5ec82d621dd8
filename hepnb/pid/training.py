"""Training the PID study's models: the grid (momentum range × protocol × model), each network and tree model,
their predictions on the validation and the common test set, and the network to deploy.

:func:`run_grid` splits each range's labelled tracks once (:func:`hepnb.pid.protocols.common_split`), prepares
every (range, protocol) cell here, trains each model of each cell in its own task (:func:`train_grid_member`; the
prepared cells scattered to the cluster once; a tree model whose inputs do not change between protocols is
trained once and shared), and then predicts and times here, as a serial run does: the probabilities do not
depend on where a model was trained, and the same seeds give the same numbers with or without a cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import NDArray

from hepnb.compute.devices import xgboost_device
from hepnb.pid.baselines import Baseline, baseline_predictions
from hepnb.pid.constants import O2_TOF_P_MIN_GEV
from hepnb.pid.models import NETWORKS, build_network, focal_loss, network_settings
from hepnb.pid.protocols import Prepared, prepare_cell, protocol_spec
from hepnb.pid.selection import blank_tof, features, labels, momentum_range
from hepnb.train import FitConfig, fit, predict

__all__ = [
    "TREES",
    "Grid",
    "RangeData",
    "TrainingConfig",
    "chosen_network",
    "default_compile_cache",
    "network_loss",
    "predict_model",
    "predict_network",
    "range_data",
    "run_grid",
    "seed_runs",
    "train_deployable",
    "train_grid_member",
    "train_network",
    "train_tree",
    "tree_probabilities",
    "use_compile_cache",
]

TREES = ("random_forest", "xgboost")
Cell = tuple[str, str]
_XGB_EARLY_STOPPING = 20


@dataclass(frozen=True)
class TrainingConfig:
    """How the models of the grid (and the deployed network) train: the same settings for every protocol.

    Attributes
    ----------
    epochs, patience
        The networks' epoch budget and early-stopping patience (on the validation error rate).
    batch_size
        Tracks per network training step.
    n_trees_rf, n_trees_xgb
        Trees of the random forest, and XGBoost's number of boosting rounds (at most, with early stopping).
    seed
        Random seed of the networks' weights and batches and of the tree models.
    lr_scale
        Multiplies the original's learning rate of every network (:func:`train_network`).
    """

    epochs: int
    patience: int
    batch_size: int = 256
    n_trees_rf: int = 100
    n_trees_xgb: int = 300
    seed: int = 0
    lr_scale: float = 1.0


# Training


def default_compile_cache() -> str:
    """Where compiled training epochs are kept between runs: ``$HEPNB_CACHE/jax`` (default ``~/.cache/hepnb/jax``)."""
    root = os.environ.get("HEPNB_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "hepnb")
    return os.path.join(root, "jax")


def use_compile_cache(folder: str | os.PathLike[str] | None) -> None:
    """Keep XLA compilations in ``folder`` (JAX's persistent compilation cache), every one however quick.

    The grid trains the same architecture on arrays of the same shapes many times (the protocols with a
    validation split share their splits; several worker processes train in parallel): each compiles once.
    ``None`` leaves JAX's configuration as it is.
    """
    if folder is None:
        return
    jax.config.update("jax_compilation_cache_dir", os.fspath(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


def _loss_factory(alpha: float, gamma: float) -> Any:
    def loss(model: Any, batch: Mapping[str, jax.Array]) -> tuple[jax.Array, dict[str, jax.Array]]:
        logits = model(batch["x"], batch["mask"], batch["mode"])
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["y"])
        weights = batch["w"] if "w" in batch else jnp.ones(batch["y"].shape, logits.dtype)
        return focal_loss(logits, batch["y"], weights, alpha, gamma), {"acc": acc, "err": 1.0 - acc}

    return loss


_LOSSES: dict[tuple[float, float], Any] = {}


def network_loss(alpha: float = 0.5, gamma: float = 2.5) -> Any:
    """The focal loss of the networks (:func:`hepnb.pid.models.focal_loss`) as :func:`hepnb.train.fit` takes it,
    weighted per track by the batch's ``w`` (1 when absent), with accuracy and error rate as metrics; one
    function object per (α, γ), so compiled epochs are shared by every protocol and range of equal shapes."""
    key = (alpha, gamma)
    if key not in _LOSSES:
        _LOSSES[key] = _loss_factory(alpha, gamma)
    return _LOSSES[key]


def _apply(model: Any, batch: Mapping[str, jax.Array]) -> jax.Array:
    return jax.nn.softmax(model(batch["x"], batch["mask"], batch["mode"]))


_FIT_COLUMNS = ("x", "mask", "mode", "y", "w")


def train_network(name: str, data: Prepared, config: TrainingConfig, *, range_name: str | None = None,
                  checkpoint_dir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Train one network with the original's settings for its range (:func:`hepnb.pid.models.network_settings`).

    Early stopping and the kept epoch follow the error rate on ``data.val``: the validation split, or the test
    set under the ``original`` protocol (its flaw). ``config.lr_scale`` multiplies the original's learning rate (a
    profile that trains far fewer steps than the original's hundred epochs raises it, the same for every protocol).

    Returns
    -------
    model, info
        The trained network and its training record (times, best epoch, validation error per epoch, the
        convergence record of that curve and its answer, ``converged``).
    """
    settings = network_settings(name, range_name)
    model = build_network(name, seed=config.seed, range_name=range_name)
    result = fit(model, optax.adam(settings.learning_rate * config.lr_scale), network_loss(settings.focal_alpha, 2.5),
                 {k: data.train[k] for k in _FIT_COLUMNS}, {k: data.val[k] for k in _FIT_COLUMNS},
                 config=FitConfig(batch_size=config.batch_size, n_epochs=config.epochs, patience=config.patience,
                                  seed=config.seed, monitor="val_err", checkpoint_dir=checkpoint_dir, progress=False))
    return model, {"train_time_s": result.train_time_s + result.compile_time_s, "compile_time_s": result.compile_time_s,
                   "best_epoch": result.best_epoch, "epochs_run": result.n_epochs_run,
                   "steps_per_s": result.steps_per_s, "val_err_history": result.history.get("val_err", []),
                   "converged": result.converged, "convergence": result.convergence[0].as_dict()}


def predict_network(model: Any, part: Mapping[str, NDArray]) -> NDArray[np.float64]:
    """Class probabilities (N, 4) of a network for inputs with ``x``, ``mask`` and ``mode``
    (:func:`hepnb.pid.protocols.scale_inputs`, or a part of :class:`hepnb.pid.protocols.Prepared`)."""
    return np.asarray(predict(model, {k: part[k] for k in ("x", "mask", "mode")}, _apply), dtype=np.float64)


def train_tree(name: str, data: Prepared, *, n_trees: int, seed: int = 0) -> tuple[Any, float]:
    """One tree model: ``random_forest`` (the original's settings) or ``xgboost`` (hist; on the GPU when JAX sees one).

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

        model: Any = RandomForestClassifier(n_estimators=n_trees, max_depth=25, min_samples_split=10,
                                            min_samples_leaf=5, max_features="sqrt",
                                            class_weight="balanced" if spec.class_weights else None, n_jobs=-1,
                                            random_state=seed)
        model.fit(data.train["x"], data.train["y"])
    else:
        import xgboost as xgb

        device = xgboost_device()
        stop = _XGB_EARLY_STOPPING if spec.validation_split else None
        model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=7, learning_rate=0.1, subsample=0.8,
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


def predict_model(name: str, model: Any, part: Mapping[str, NDArray]) -> NDArray[np.float64]:
    """Probabilities (N, 4) of any model of the grid (network or tree) on scaled inputs."""
    return tree_probabilities(model, part["x"]) if name in TREES else predict_network(model, part)


# The data of a range


@dataclass
class RangeData:
    """The labelled tracks of one momentum range, their labels and raw features, and the baselines on them."""

    name: str
    tracks: dict[str, NDArray]
    y: NDArray[np.int64]
    raw: NDArray[np.float32]
    baselines: dict[str, Baseline] = field(default_factory=dict)


def range_data(tracks: Mapping[str, NDArray], range_name: str, *, tof_p_min_gev: float = 0.0) -> RangeData:
    """The labelled tracks of ``range_name`` (species other than π, K, p, e dropped), with the baselines.

    ``tof_p_min_gev`` blanks TOF below that momentum as O2's PIDML reader does (:func:`hepnb.pid.selection.blank_tof`).

    Raises
    ------
    ValueError
        If the range holds fewer than 100 labelled tracks or a single species.
    """
    sel = momentum_range(tracks, range_name)
    part = {k: np.asarray(v)[sel] for k, v in tracks.items()}
    y = labels(part)
    keep = y >= 0
    part = blank_tof({k: v[keep] for k, v in part.items()}, tof_p_min_gev)
    y = y[keep]
    if len(np.unique(y)) < 2 or len(y) < 100:
        msg = f"momentum range {range_name!r} has {len(y)} labelled tracks after selections: too few to train on"
        raise ValueError(msg)
    return RangeData(range_name, part, y, features(part), baseline_predictions(part))


# The grid


@dataclass
class Grid:
    """Everything :func:`run_grid` trained and predicted.

    Attributes
    ----------
    ranges
        :class:`RangeData` per range name.
    cells
        Per ``(range, protocol)``: ``data`` (:class:`~hepnb.pid.protocols.Prepared`), ``models``, ``prob_val`` and
        ``prob_test`` (per model), ``timing`` (per model).
    networks
        The network names of the grid.
    """

    ranges: dict[str, RangeData]
    cells: dict[Cell, dict[str, Any]]
    networks: tuple[str, ...]

    @property
    def models(self) -> tuple[str, ...]:
        """Networks, then trees."""
        return (*self.networks, *TREES)


def _tree_key(cell: Cell, name: str) -> tuple[Any, ...]:
    """Protocols whose inputs a tree model cannot tell apart share one fit (XGBoost ignores class weights)."""
    spec = protocol_spec(cell[1])
    weights = spec.class_weights if name == "random_forest" else False
    return (cell[0], name, spec.validation_split, spec.tokenise_missing, weights)


def train_grid_member(member: tuple[str, str, str], cells: Mapping[Cell, Prepared], config: TrainingConfig, *,
                      compile_cache: str | None = None) -> dict[str, Any]:
    """One grid member as a Dask task: train model ``name`` of cell ``(range, protocol)``
    (compilations kept in ``compile_cache``, :func:`use_compile_cache`).

    Returns
    -------
    dict
        Networks: ``state`` (weights as numpy, :func:`hepnb.compute.sweep.state_to_numpy`) and ``info`` (training
        time, best epoch, ...). Trees: ``model`` (the fitted classifier) and ``info`` (training time).
    """
    from hepnb.compute.sweep import state_to_numpy

    range_name, protocol, name = member
    data = cells[(range_name, protocol)]
    use_compile_cache(compile_cache)
    cpu0 = time.process_time()
    if name in TREES:
        n_trees = config.n_trees_rf if name == "random_forest" else config.n_trees_xgb
        model, train_s = train_tree(name, data, n_trees=n_trees, seed=config.seed)
        return {"model": model, "info": {"train_time_s": train_s, "cpu_s": time.process_time() - cpu0}}
    model, info = train_network(name, data, config, range_name=range_name)
    return {"state": state_to_numpy(model), "info": {**info, "cpu_s": time.process_time() - cpu0}}


def _network(name: str, state: dict[str, Any], *, seed: int, range_name: str | None) -> Any:
    from hepnb.compute.sweep import load_state

    model = load_state(build_network(name, seed=seed, range_name=range_name), state)
    model.eval()
    return model


def run_grid(tracks: Mapping[str, NDArray], config: TrainingConfig, *, ranges: Sequence[str],
             protocols: Sequence[str], networks: Sequence[str], client: Any = None,
             compile_cache: str | None = None) -> Grid:
    """Train every model in every (range, protocol) and predict the validation split and the common test set.

    Parameters
    ----------
    tracks
        The selected tracks (with ``mc_pdg``).
    ranges, protocols, networks
        Keys of :data:`hepnb.pid.selection.RANGES`, :data:`hepnb.pid.protocols.PROTOCOLS` and
        :data:`hepnb.pid.models.NETWORKS`; the two tree models are always trained.
    config
        How every model trains (:class:`TrainingConfig`).
    client
        A :class:`dask.distributed.Client`: one task per (range, protocol, model). ``None`` trains one
        after the other in this process. Same seeds, same numbers either way.
    compile_cache
        A folder for JAX's persistent compilation cache (:func:`use_compile_cache`), here and on the workers.
    """
    from hepnb.compute.sweep import map_tasks

    use_compile_cache(compile_cache)
    unknown = [n for n in networks if n not in NETWORKS]
    if unknown:
        msg = f"unknown network(s) {unknown}; choose from {list(NETWORKS)}"
        raise ValueError(msg)
    for p in protocols:
        protocol_spec(p)
    per_range = {r: range_data(tracks, r) for r in ranges}
    cells = {(r, p): prepare_cell(per_range[r].raw, per_range[r].y, p, seed=231) for r in ranges for p in protocols}
    members = [(*cell, name) for cell in cells for name in (*networks, *TREES)]
    first: dict[tuple[Any, ...], tuple[str, str, str]] = {}
    for m in members:
        if m[2] in TREES:
            first.setdefault(_tree_key(m[:2], m[2]), m)
    to_train = [m for m in members if m[2] not in TREES or first[_tree_key(m[:2], m[2])] == m]
    trained = dict(zip(to_train, map_tasks(train_grid_member, to_train, cells, client=client,
                                           desc="range x protocol x model", config=config,
                                           compile_cache=compile_cache), strict=True))
    out: dict[Cell, dict[str, Any]] = {
        cell: {"data": data, "models": {}, "prob_val": {}, "prob_test": {}, "timing": {}}
        for cell, data in cells.items()}
    for member in members:
        range_name, protocol, name = member
        source = first[_tree_key(member[:2], name)] if name in TREES else member
        result = trained[source]
        cell = out[(range_name, protocol)]
        data = cell["data"]
        model = result["model"] if name in TREES else _network(name, result["state"], seed=config.seed,
                                                                range_name=range_name)
        t0 = time.perf_counter()
        cell["prob_test"][name] = predict_model(name, model, data.test)
        inference_s = time.perf_counter() - t0
        cell["prob_val"][name] = predict_model(name, model, data.val)
        cell["timing"][name] = {**result["info"], "inference_s": inference_s, "shared_with": "/".join(source[:2])
                                if source != member else ""}
        cell["models"][name] = model
    return Grid(per_range, out, tuple(networks))


def chosen_network(grid: Grid, cell: Cell) -> str:
    """The network a protocol chooses: the best validation accuracy, or under ``original`` the best test accuracy
    (its flaw: there the validation predictions are the test set's)."""
    data = grid.cells[cell]["data"]
    probs = grid.cells[cell]["prob_val"]
    return max(grid.networks, key=lambda n: float(np.mean(probs[n].argmax(1) == data.val["y"])))



def seed_runs(grid: Grid, cell: Cell, name: str, config: TrainingConfig, n_seeds: int) -> dict[str, Any]:
    """Training variance of network ``name`` in ``cell``: the network retrained on the same prepared tracks with
    seeds ``config.seed + 1`` … ``config.seed + n_seeds − 1`` (seed ``config.seed`` is the grid's own).

    Returns
    -------
    dict
        ``network``, ``seeds``, per seed its test ``accuracy`` and ``converged`` (:attr:`hepnb.train.FitResult`),
        ``std`` (ddof 1 over seeds; 0 for one seed) of the test accuracy and ``all_converged``.
    """
    from dataclasses import replace

    if n_seeds < 1:
        msg = f"n_seeds must be >= 1, found {n_seeds}"
        raise ValueError(msg)
    data, timing = grid.cells[cell]["data"], grid.cells[cell]["timing"][name]
    y = data.test["y"]
    accuracy = [float(np.mean(grid.cells[cell]["prob_test"][name].argmax(1) == y))]
    converged = [bool(timing.get("converged"))]
    for k in range(1, n_seeds):
        model, info = train_network(name, data, replace(config, seed=config.seed + k), range_name=cell[0])
        accuracy.append(float(np.mean(predict_network(model, data.test).argmax(1) == y)))
        converged.append(bool(info["converged"]))
    return {"network": name, "seeds": [config.seed + k for k in range(n_seeds)], "accuracy": accuracy,
            "converged": converged, "std": float(np.std(accuracy, ddof=1)) if n_seeds > 1 else 0.0,
            "all_converged": all(converged)}


def train_deployable(tracks: Mapping[str, NDArray], name: str, config: TrainingConfig, *, range_name: str = "full"
                     ) -> tuple[Any, Prepared, RangeData, dict[str, Any]]:
    """The network to deploy in O2Physics: ``name`` trained under ``corrected`` with TOF blanked below 0.5 GeV/c,
    as O2's PIDML reader presents tracks (:func:`hepnb.pid.selection.blank_tof`).

    The range's tracks, their splits and the common test set are those of the grid (blanking changes inputs, not
    rows), so its test accuracy compares paired with the grid's network of the same family.

    Returns
    -------
    model, data, range, info
        The trained network, its prepared cell, the blanked range, and the training record.
    """
    blanked = range_data(tracks, range_name, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    data = prepare_cell(blanked.raw, blanked.y, "corrected", seed=231)
    model, info = train_network(name, data, config, range_name=range_name)
    return model, data, blanked, info
