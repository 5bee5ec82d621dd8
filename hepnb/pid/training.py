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
from dataclasses import dataclass, field, replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpy.typing import NDArray

from hepnb.convergence import RELATIVE_TOLERANCE
from hepnb.pid.baselines import Baseline, baseline_predictions
from hepnb.pid.constants import O2_TOF_P_MIN_GEV, SPECIES
from hepnb.pid.models import NETWORKS, build_network, focal_loss, network_settings
from hepnb.pid.protocols import Prepared, prepare_cell, protocol_spec
from hepnb.pid.selection import blank_tof, features, labels, momentum_range
from hepnb.pid.transforms import InputTransform
from hepnb.pid.trees import TREES, train_tree, tree_probabilities
from hepnb.pid.tuning import Trial, choose_trial, trial, trials
from hepnb.train import FitConfig, Plateau, fit, predict

__all__ = [
    "TREES",
    "Grid",
    "RangeData",
    "TrainingConfig",
    "chosen_network",
    "chosen_trial",
    "default_compile_cache",
    "epoch_cap",
    "network_loss",
    "network_plateau",
    "predict_model",
    "predict_network",
    "range_data",
    "run_grid",
    "seed_runs",
    "seed_summary",
    "train_deployable",
    "train_grid_member",
    "train_network",
    "train_seed_member",
    "train_tree",
    "tree_probabilities",
    "use_compile_cache",
]

Cell = tuple[str, str]
Member = tuple[str, str, str, int]  # range, protocol, model, index of its setting (hepnb.pid.tuning)


@dataclass(frozen=True)
class TrainingConfig:
    """How the models of the grid (and the deployed network) train: the same settings for every protocol.

    Attributes
    ----------
    epochs, patience
        The networks' cap on epochs and early-stopping patience in epochs (without a better validation error rate,
        counted once the learning rate is at its floor); a network stops earlier once converged
        (:func:`train_network`).
    batch_size
        Tracks per network training step.
    n_trees_rf, n_trees_xgb
        Trees of the random forest, and XGBoost's number of boosting rounds (at most, with early stopping).
    seed
        Random seed of the networks' weights and batches and of the tree models.
    lr_scale
        Multiplies the original's learning rate of every network (:func:`train_network`).
    n_settings
        The tuning budget of the ``tuned`` protocol: settings tried per family (:mod:`hepnb.pid.tuning`); the
        other protocols run each family's first (the original's) setting.
    evals_per_epoch
        Validation evaluations per epoch of a network (:class:`hepnb.train.FitConfig`): the convergence rule
        needs :data:`hepnb.convergence.MIN_POINTS` of them.
    min_steps
        Where an epoch is short, the cap is raised to at least this many optimiser steps (:func:`epoch_cap`): the
        1-3 GeV/c range has ~20 steps per epoch at default, so 24 epochs are 480 steps, while the networks of the
        other ranges need 1 200-3 000 steps to converge.
    """

    epochs: int
    patience: int
    batch_size: int = 256
    n_trees_rf: int = 100
    n_trees_xgb: int = 300
    seed: int = 0
    lr_scale: float = 1.0
    n_settings: int = 1
    evals_per_epoch: int = 1
    min_steps: int = 0


def epoch_cap(config: TrainingConfig, n_train: int) -> int:
    """The cap on a network's epochs: ``config.epochs``, or more where ``config.min_steps`` needs them.

    An epoch is ``evals_per_epoch × ⌊⌊n_train / batch_size⌋ / evals_per_epoch⌋`` steps (:func:`hepnb.train.fit`).

    Examples
    --------
    >>> epoch_cap(TrainingConfig(epochs=24, patience=8, batch_size=256, evals_per_epoch=4, min_steps=2000), 5200)
    100
    >>> epoch_cap(TrainingConfig(epochs=24, patience=8, batch_size=256, evals_per_epoch=4, min_steps=2000), 30000)
    24
    """
    per = config.evals_per_epoch
    steps_per_epoch = per * ((n_train // config.batch_size) // per)
    if steps_per_epoch < 1:
        msg = (f"{n_train} training tracks make no step of {config.batch_size} tracks with {per} evaluations per "
               f"epoch: need at least {config.batch_size * per} tracks")
        raise ValueError(msg)
    return max(config.epochs, -(-config.min_steps // steps_per_epoch))


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


def network_plateau(evals_per_epoch: int) -> Plateau:
    """The networks' learning-rate plateau (:class:`hepnb.plateau.Plateau`): Adam's rate halved after one epoch
    (``evals_per_epoch`` evaluations) in which the validation loss did not beat its best by 1 % (the Book's
    tolerance), down to 1/64 of the starting rate."""
    return Plateau(factor=0.5, patience=evals_per_epoch, threshold=RELATIVE_TOLERANCE,
                   min_scale=1.0 / 64)


def _apply(model: Any, batch: Mapping[str, jax.Array]) -> jax.Array:
    return jax.nn.softmax(model(batch["x"], batch["mask"], batch["mode"]))


_FIT_COLUMNS = ("x", "mask", "mode", "y", "w")


def train_network(name: str, data: Prepared, config: TrainingConfig, *, range_name: str | None = None,
                  checkpoint_dir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Train one network with the original's settings for its range (:func:`hepnb.pid.models.network_settings`)
    until it converges, at most ``config.epochs`` epochs (or ``config.min_steps`` steps, :func:`epoch_cap`).

    The validation split (the test set under the ``original`` protocol: its flaw) is evaluated
    ``config.evals_per_epoch`` times per epoch. Adam's rate is halved whenever the validation loss has not beaten
    its best by 1 % for one epoch, down to 1/64 of the starting rate (:func:`network_plateau`): at a constant rate
    the validation loss of these networks jitters by ~5 % between evaluations, so a 1 % plateau rule would hold
    only where a window happens to start high, and a rate cut on the training loss (which falls on) left the
    validation curve still falling at the cap. Training stops at the end of the second consecutive epoch at which
    the validation loss has converged by the Book's rule (:func:`hepnb.convergence.relative_convergence`: over the
    last fifth of the evaluations it improved by less than 1 % of its best value, with at least ten evaluations)
    once the rate has been cut at least once, or after ``config.patience`` epochs without a better validation
    error rate once the rate is at its floor, or at the cap. The weights kept are those of the lowest validation
    error rate. The rule reads the loss, not the error rate, which moves in steps of one validation track.
    ``config.lr_scale`` multiplies the original's learning rate (the same for every protocol).

    Returns
    -------
    model, info
        The trained network and its training record (times, steps, the best evaluation, the validation error at
        each evaluation, the rate factor of the last evaluation, the convergence record of the validation loss and
        its answer, ``converged``).
    """
    settings = network_settings(name, range_name)
    model = build_network(name, seed=config.seed, range_name=range_name)
    per_epoch = config.evals_per_epoch
    result = fit(model, optax.adam(settings.learning_rate * config.lr_scale), network_loss(settings.focal_alpha, 2.5),
                 {k: data.train[k] for k in _FIT_COLUMNS}, {k: data.val[k] for k in _FIT_COLUMNS},
                 config=FitConfig(batch_size=config.batch_size, n_epochs=epoch_cap(config, len(data.train["y"])),
                                  patience=config.patience * per_epoch, seed=config.seed, monitor="val_err",
                                  checkpoint_dir=checkpoint_dir, progress=False, evals_per_epoch=per_epoch,
                                  stop_when_converged=2, convergence_metric="val_loss",
                                  plateau=network_plateau(per_epoch)))
    return model, {"train_time_s": result.train_time_s + result.compile_time_s, "compile_time_s": result.compile_time_s,
                   "best_epoch": result.best_epoch, "epochs_run": result.n_epochs_run, "steps": result.n_steps,
                   "epoch_cap": epoch_cap(config, len(data.train["y"])),
                   "evals_per_epoch": per_epoch, "best_evaluation": result.best_eval,
                   "steps_per_s": result.steps_per_s, "val_err_history": result.history.get("val_err", []),
                   "final_lr_factor": result.history["lr_factor"][-1],
                   "converged": result.converged, "convergence": result.convergence[0].as_dict()}


def predict_network(model: Any, part: Mapping[str, NDArray]) -> NDArray[np.float64]:
    """Class probabilities (N, 4) of a network for inputs with ``x``, ``mask`` and ``mode``
    (:func:`hepnb.pid.protocols.scale_inputs`, or a part of :class:`hepnb.pid.protocols.Prepared`)."""
    return np.asarray(predict(model, {k: part[k] for k in ("x", "mask", "mode")}, _apply), dtype=np.float64)


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
        Per ``(range, protocol)``: ``data`` (:class:`~hepnb.pid.protocols.Prepared`, untransformed: the splits and
        labels), and per model its chosen setting's ``models``, ``inputs`` (the Prepared it was trained on, with its
        input transform), ``prob_val`` and ``prob_test``, ``timing``, and ``tuning`` (each setting tried, its
        validation accuracy, and ``chosen``, the index of the one kept).
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


def _share_key(member: Member) -> tuple[Any, ...]:
    """Members whose fits cannot differ share one: the same range, model and setting under protocols that give the
    same training inputs and loss (XGBoost ignores class weights)."""
    range_name, protocol, name, k = member
    spec = protocol_spec(protocol)
    weights = spec.class_weights if name != "xgboost" else False
    return (range_name, name, spec.validation_split, spec.tokenise_missing, weights, k)


def _budget(protocol: str, config: TrainingConfig) -> int:
    """Settings tried per family: ``config.n_settings`` under a tuned protocol, else the original's one."""
    return config.n_settings if protocol_spec(protocol).tuned else 1


def train_grid_member(member: Member, cells: Mapping[tuple[str, str, InputTransform], Prepared],
                      config: TrainingConfig, *, compile_cache: str | None = None) -> dict[str, Any]:
    """One grid member as a Dask task: train model ``name`` of cell ``(range, protocol)`` with its setting ``k``
    (:func:`hepnb.pid.tuning.trial`; compilations kept in ``compile_cache``, :func:`use_compile_cache`).

    Parameters
    ----------
    member
        ``(range, protocol, name, k)``.
    cells
        The prepared inputs per ``(range, protocol, input transform)``.

    Returns
    -------
    dict
        Networks: ``state`` (weights as numpy, :func:`hepnb.compute.sweep.state_to_numpy`) and ``info`` (training
        time, best epoch, ...). Trees: ``model`` (the fitted classifier) and ``info`` (training time).
    """
    from hepnb.compute.sweep import state_to_numpy

    range_name, protocol, name, k = member
    setting = trial(name, k)
    data = cells[(range_name, protocol, setting.transform)]
    use_compile_cache(compile_cache)
    cpu0 = time.process_time()
    if name in TREES:
        n_trees = config.n_trees_rf if name == "random_forest" else config.n_trees_xgb
        model, train_s = train_tree(name, data, n_trees=n_trees, seed=config.seed, params=dict(setting.tree_params))
        return {"model": model, "info": {"train_time_s": train_s, "cpu_s": time.process_time() - cpu0}}
    model, info = train_network(name, data, replace(config, lr_scale=config.lr_scale * setting.lr_factor),
                                range_name=range_name)
    return {"state": state_to_numpy(model), "info": {**info, "cpu_s": time.process_time() - cpu0}}


def _network(name: str, state: dict[str, Any], *, seed: int, range_name: str | None) -> Any:
    from hepnb.compute.sweep import load_state

    model = load_state(build_network(name, seed=seed, range_name=range_name), state)
    model.eval()
    return model


def _fits(member: Member, data: Prepared, result: dict[str, Any], source: Member, seed: int) -> dict[str, Any]:
    """One trained member's model and its predictions on the validation and the test tracks, with its timing."""
    range_name, _, name, _ = member
    model = result["model"] if name in TREES else _network(name, result["state"], seed=seed, range_name=range_name)
    t0 = time.perf_counter()
    prob_test = predict_model(name, model, data.test)
    inference_s = time.perf_counter() - t0
    return {"model": model, "data": data, "prob_test": prob_test, "prob_val": predict_model(name, model, data.val),
            "timing": {**result["info"], "inference_s": inference_s,
                       "shared_with": "/".join(source[:2]) if source != member else ""}}


def run_grid(tracks: Mapping[str, NDArray], config: TrainingConfig, *, ranges: Sequence[str],
             protocols: Sequence[str], networks: Sequence[str], client: Any = None,
             compile_cache: str | None = None) -> Grid:
    """Train every model in every (range, protocol) and predict the validation split and the common test set.

    Under a tuned protocol every family tries ``config.n_settings`` settings and keeps the one with the best
    validation accuracy (:mod:`hepnb.pid.tuning`); the others run the original's one.

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
        A :class:`dask.distributed.Client`: one task per (range, protocol, model, setting). ``None`` trains one
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
    budget = {p: _budget(p, config) for p in protocols}
    for p in protocols:
        trials("xgboost", budget[p])  # a clear error for a budget beyond the grids, before any training
    per_range = {r: range_data(tracks, r) for r in ranges}
    members = [(r, p, name, k) for r in ranges for p in protocols for name in (*networks, *TREES)
               for k in range(budget[p])]
    keys = dict.fromkeys((r, p, trial(name, k).transform) for r, p, name, k in members)
    cells = {key: prepare_cell(per_range[key[0]].raw, per_range[key[0]].y, key[1], seed=231, transform=key[2])
             for key in keys}
    first: dict[tuple[Any, ...], Member] = {}
    for m in members:
        first.setdefault(_share_key(m), m)
    to_train = [m for m in members if first[_share_key(m)] == m]
    trained = dict(zip(to_train, map_tasks(train_grid_member, to_train, cells, client=client,
                                           desc="range x protocol x model x setting", config=config,
                                           compile_cache=compile_cache), strict=True))
    out: dict[Cell, dict[str, Any]] = {}
    for r in ranges:
        for p in protocols:
            cell = out[(r, p)] = {"data": cells[(r, p, trial("xgboost", 0).transform)], "models": {}, "inputs": {},
                                  "prob_val": {}, "prob_test": {}, "timing": {}, "tuning": {}}
            for name in (*networks, *TREES):
                fits = [_fits(m, cells[(r, p, trial(name, m[3]).transform)], trained[first[_share_key(m)]],
                              first[_share_key(m)], config.seed) for m in members if m[:3] == (r, p, name)]
                best = choose_trial([f["prob_val"] for f in fits], cell["data"].val["y"])
                for part, key in (("models", "model"), ("inputs", "data"), ("prob_val", "prob_val"),
                                  ("prob_test", "prob_test")):
                    cell[part][name] = fits[best][key]
                cell["timing"][name] = {**fits[best]["timing"], "settings_tried": len(fits),
                                        "tuning_train_s": sum(f["timing"]["train_time_s"] for f in fits)}
                cell["tuning"][name] = {"settings": [trial(name, k).label for k in range(len(fits))],
                                        "val_accuracy": [float(np.mean(f["prob_val"].argmax(1) == cell["data"].val["y"]))
                                                         for f in fits], "chosen": best}
    return Grid(per_range, out, tuple(networks))


def chosen_network(grid: Grid, cell: Cell) -> str:
    """The network a protocol chooses: the best validation accuracy, or under ``original`` the best test accuracy
    (its flaw: there the validation predictions are the test set's)."""
    data = grid.cells[cell]["data"]
    probs = grid.cells[cell]["prob_val"]
    return max(grid.networks, key=lambda n: float(np.mean(probs[n].argmax(1) == data.val["y"])))


def chosen_trial(grid: Grid, cell: Cell, name: str) -> Trial:
    """The setting model ``name`` of ``cell`` kept on validation (:mod:`hepnb.pid.tuning`)."""
    return trial(name, int(grid.cells[cell]["tuning"][name]["chosen"]))



def train_seed_member(item: tuple[str, str, int, int], inputs: Mapping[tuple[str, str], Prepared],
                      config: TrainingConfig, *, compile_cache: str | None = None) -> dict[str, Any]:
    """One seed run as a Dask task: model ``name`` of range ``range_name`` retrained with its chosen setting ``k``
    (:func:`hepnb.pid.tuning.trial`) and training seed ``seed`` on the grid's prepared tracks ``inputs[(range,
    name)]``.

    Returns
    -------
    dict
        ``pred``: the predicted class of every test track; ``converged``: the network's answer to the Book's rule
        (a tree model, fitted in closed form or stopped on validation, counts as converged).
    """
    range_name, name, k, seed = item
    data, setting = inputs[(range_name, name)], trial(name, k)
    use_compile_cache(compile_cache)
    if name in TREES:
        n_trees = config.n_trees_rf if name == "random_forest" else config.n_trees_xgb
        model, _ = train_tree(name, data, n_trees=n_trees, seed=seed, params=dict(setting.tree_params))
        return {"pred": tree_probabilities(model, data.test["x"]).argmax(1), "converged": True}
    model, info = train_network(name, data, replace(config, seed=seed, lr_scale=config.lr_scale * setting.lr_factor),
                                range_name=range_name)
    return {"pred": predict_network(model, data.test).argmax(1), "converged": bool(info["converged"])}


def seed_summary(name: str, preds: Sequence[NDArray[np.int64]], y: NDArray[np.int64], converged: Sequence[bool],
                 seeds: Sequence[int]) -> dict[str, Any]:
    """The test numbers of every training seed of one model.

    Returns
    -------
    dict
        ``model``, ``seeds``, per seed its test ``accuracy``, ``balanced`` accuracy, ``efficiency`` per species
        (the fraction of each true species identified as itself) and ``converged``; ``std`` and ``balanced_std``
        (ddof 1 over seeds; 0 for one seed) and ``all_converged``.
    """
    from sklearn.metrics import balanced_accuracy_score

    accuracy = [float(np.mean(p == y)) for p in preds]
    balanced = [float(balanced_accuracy_score(y, p)) for p in preds]
    efficiency = {s: [float(np.mean(p[y == i] == i)) if np.any(y == i) else float("nan") for p in preds]
                  for i, s in enumerate(SPECIES)}
    n = len(preds)
    return {"model": name, "seeds": list(seeds), "accuracy": accuracy, "balanced": balanced, "efficiency": efficiency,
            "converged": list(converged), "std": float(np.std(accuracy, ddof=1)) if n > 1 else 0.0,
            "balanced_std": float(np.std(balanced, ddof=1)) if n > 1 else 0.0, "all_converged": all(converged)}


def seed_runs(grid: Grid, protocol: str, config: TrainingConfig, n_seeds: int, *, client: Any = None,
              compile_cache: str | None = None) -> dict[str, dict[str, dict[str, Any]]]:
    """Training variance of every family: each model of ``protocol`` (networks and trees) retrained with its chosen
    setting on the same prepared tracks with seeds ``config.seed + 1`` … ``config.seed + n_seeds − 1`` (seed
    ``config.seed`` is the grid's own), one Dask task per range, model and seed (``client``; ``None`` runs them
    here, the same numbers either way).

    Returns
    -------
    dict
        Per range, per model: :func:`seed_summary`.
    """
    from hepnb.compute.sweep import map_tasks

    if n_seeds < 1:
        msg = f"n_seeds must be >= 1, found {n_seeds}"
        raise ValueError(msg)
    ranges = [r for r in grid.ranges if (r, protocol) in grid.cells]
    chosen = {(r, name): int(grid.cells[(r, protocol)]["tuning"][name]["chosen"]) for r in ranges for name in grid.models}
    inputs = {(r, name): grid.cells[(r, protocol)]["inputs"][name] for r in ranges for name in grid.models}
    items = [(r, name, chosen[(r, name)], config.seed + k) for r in ranges for name in grid.models
             for k in range(1, n_seeds)]
    runs = dict(zip(items, map_tasks(train_seed_member, items, inputs, client=client, desc="range x model x seed",
                                     config=config, compile_cache=compile_cache), strict=True))
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for r in ranges:
        cell = grid.cells[(r, protocol)]
        out[r] = {}
        for name in grid.models:
            extra = [runs[(r, name, chosen[(r, name)], config.seed + k)] for k in range(1, n_seeds)]
            first_converged = True if name in TREES else bool(cell["timing"][name].get("converged"))
            out[r][name] = seed_summary(name, [cell["prob_test"][name].argmax(1), *(e["pred"] for e in extra)],
                                        cell["data"].test["y"], [first_converged, *(e["converged"] for e in extra)],
                                        [config.seed + k for k in range(n_seeds)])
    return out


def train_deployable(tracks: Mapping[str, NDArray], name: str, config: TrainingConfig, *, range_name: str = "full",
                     protocol: str = "corrected", setting: Trial | None = None
                     ) -> tuple[Any, Prepared, RangeData, dict[str, Any]]:
    """The network to deploy in O2Physics: ``name`` trained under ``protocol`` with its ``setting`` (input transform
    and learning-rate factor; default the original's) and TOF blanked below 0.5 GeV/c, as O2's PIDML reader
    presents tracks (:func:`hepnb.pid.selection.blank_tof`).

    The range's tracks, their splits and the common test set are those of the grid (blanking changes inputs, not
    rows), so its test accuracy compares paired with the grid's network of the same family.

    Returns
    -------
    model, data, range, info
        The trained network, its prepared cell, the blanked range, and the training record.
    """
    blanked = range_data(tracks, range_name, tof_p_min_gev=O2_TOF_P_MIN_GEV)
    setting = setting or Trial()
    data = prepare_cell(blanked.raw, blanked.y, protocol, seed=231, transform=setting.transform)
    model, info = train_network(name, data, replace(config, lr_scale=config.lr_scale * setting.lr_factor),
                                range_name=range_name)
    return model, data, blanked, info
