"""The PID page, section by section: each function returns what its section of ``notebooks/pid_ranges.ipynb``
shows (the tables and figures are built in :mod:`hepnb.pid.report` and :mod:`hepnb.pid.plots`).

The page's parameters reach the package as one :class:`Settings` (its ``parameters`` cell, as the runner set
it); the sections then follow the page: the sample (:func:`load_sample`), the detector check
(:func:`nsigma_cores`), the grid and its paired comparisons (:func:`compare`), the training curves
(:func:`training_figure`), per-class detail (:func:`detail`), working points (:func:`working_points`),
systematic variations (:func:`systematics`), the data-like sample (:func:`data_like`) and the deployment to
O2Physics (:func:`deploy`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from hepnb.book.notebook import PageSettings
from hepnb.pid.constants import O2_TOF_P_MIN_GEV, SPECIES
from hepnb.pid.training import TREES, Grid, TrainingConfig

__all__ = [
    "CONTAMINATION_P_EDGES_GEV",
    "DATA_LIKE_BAYES",
    "WORKING_POINT_MODELS",
    "Comparison",
    "DataLike",
    "Deployment",
    "Detail",
    "Sample",
    "Settings",
    "WorkingPoints",
    "cluster",
    "compare",
    "data_like",
    "deploy",
    "detail",
    "load_sample",
    "nsigma_cores",
    "systematics",
    "training_figure",
    "working_points",
]

#: The baselines with probabilities that the working points show beside the models.
WORKING_POINT_MODELS = ("alice_bayes", "alice_bayes_mismatch", "o2_bayes", "original_bayes")
#: The Bayesian PID the data-like section sets beside the models (the ALICE method, without and with its TOF
#: mismatch and tail terms).
DATA_LIKE_BAYES = ("alice_bayes", "alice_bayes_mismatch")
#: Momentum bins (GeV/c) of the kaon contamination at the working point.
CONTAMINATION_P_EDGES_GEV = (0.2, 0.4, 0.6, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0)


@dataclass(frozen=True)
class Settings(PageSettings):
    """The page's parameters, as its ``parameters`` cell declares them (see the notebook for each one's meaning).

    Build it with :meth:`from_parameters` from :meth:`hepnb.book.notebook.Page.parameters`.
    """

    input_file: str
    input_tree: str
    data_like_file: str
    scheduler: str
    n_tracks: int
    n_data_like: int
    selection: str
    ranges: tuple[str, ...]
    protocols: tuple[str, ...]
    networks: tuple[str, ...]
    variations: tuple[str, ...]
    epochs: int
    patience: int
    lr_scale: float
    batch_size: int
    n_trees_rf: int
    n_trees_xgb: int
    n_boot: int
    n_seeds: int
    n_settings: int
    evals_per_epoch: int
    min_steps: int
    n_core: int
    n_emulated: int
    seed: int

    @property
    def simulated(self) -> bool:
        """True when the tracks are simulated (no ``input_file``)."""
        return not self.input_file

    @property
    def focus(self) -> str:
        """The range of the detailed figures and of the deployed network: ``full`` if run, else the last range."""
        return "full" if "full" in self.ranges else self.ranges[-1]

    @property
    def main_protocol(self) -> str:
        """``tuned`` if run, else ``corrected`` if run, else the last protocol."""
        return next((p for p in ("tuned", "corrected") if p in self.protocols), self.protocols[-1])

    @property
    def shown_protocols(self) -> list[str]:
        """The protocols of the headline table: ``original`` (if run) and the main one (once if they are one)."""
        return [p for p in dict.fromkeys(("original", self.main_protocol)) if p in self.protocols]

    @property
    def training(self) -> TrainingConfig:
        """How every model trains (:class:`hepnb.pid.training.TrainingConfig`)."""
        return TrainingConfig(epochs=self.epochs, patience=self.patience, batch_size=self.batch_size,
                              n_trees_rf=self.n_trees_rf, n_trees_xgb=self.n_trees_xgb, seed=self.seed,
                              lr_scale=self.lr_scale, n_settings=self.n_settings,
                              evals_per_epoch=self.evals_per_epoch, min_steps=self.min_steps)


def cluster(settings: Settings, profile: str) -> AbstractContextManager[Any]:
    """The Dask client of the page (:func:`hepnb.compute.client.dask_client`): ``settings.scheduler`` if set; on a
    GPU one process (it trains on the GPU), on CPUs a local cluster of processes sized by ``profile``."""
    import jax

    from hepnb.compute.client import dask_client

    on_gpu = jax.default_backend() == "gpu"
    return dask_client(settings.scheduler or None, profile=profile, workers=1 if on_gpu else None)


# Data


@dataclass
class Sample:
    """The selected tracks, how many were read, their labels and each range's labelled tracks."""

    tracks: dict[str, NDArray]
    n_read: int
    labels: NDArray[np.int64]
    in_range: dict[str, NDArray[np.bool_]]


def load_sample(settings: Settings, client: Any = None) -> Sample:
    """Simulate the tracks (no ``input_file``) or read the user's, after ``settings.selection``.

    ROOT files are read with uproot.dask on ``client``: only the selected tracks come back.
    """
    from hepnb.pid import data, reader
    from hepnb.pid.selection import labels, momentum_range, selected

    if settings.simulated:
        table = data.simulate_tracks(settings.n_tracks, seed=settings.seed)
        tracks, n_read = selected(table, settings.selection), len(table["pt"])
    else:
        tracks, _, n_read = reader.read_selected(settings.input_file, selection=settings.selection, client=client,
                                                 tree=settings.input_tree or None)
    y = labels(tracks)
    return Sample(tracks, int(n_read), y, {r: momentum_range(tracks, r) & (y >= 0) for r in settings.ranges})


def nsigma_cores(settings: Settings) -> pd.DataFrame:
    """The true-hypothesis nσ cores on single-species samples (:func:`hepnb.pid.calibration.nsigma_cores`)."""
    from hepnb.pid import calibration

    return pd.DataFrame(calibration.nsigma_cores(settings.n_core, seed=settings.seed))


# The grid


@dataclass
class Comparison:
    """The grid and its paired comparisons on each range's common test set.

    Attributes
    ----------
    grid
        What :func:`hepnb.pid.training.run_grid` trained and predicted.
    counts
        Per range: the bootstrap counts of its common test set, shared by every model, baseline and protocol.
    accuracy, gaps, fixes
        :func:`hepnb.pid.evaluate.accuracy_rows`, ``gap_rows`` and ``fix_rows`` as tables.
    versus_baseline
        Per range: the main protocol's chosen network − the most accurate baseline, paired
        (:func:`hepnb.pid.evaluate.baseline_rows`).
    seeds
        Per range, per model of the main protocol (every network and both tree models, each with its chosen
        setting): its test numbers over ``n_seeds`` training seeds (:func:`hepnb.pid.training.seed_runs`).
    """

    grid: Grid
    counts: dict[str, NDArray[np.int64]]
    accuracy: pd.DataFrame
    gaps: pd.DataFrame
    fixes: pd.DataFrame
    versus_baseline: pd.DataFrame
    seeds: dict[str, dict[str, Any]]


def compare(settings: Settings, sample: Sample, client: Any = None) -> Comparison:
    """Train the grid (one Dask task per range, protocol and model), compare every model on the test sets, and
    retrain every model of the main protocol (its chosen setting) with ``n_seeds`` seeds for its training variance."""
    from hepnb import metrics
    from hepnb.pid import evaluate
    from hepnb.pid.training import default_compile_cache, run_grid, seed_runs

    grid = run_grid(sample.tracks, settings.training, ranges=settings.ranges, protocols=settings.protocols,
                    networks=settings.networks, client=client, compile_cache=default_compile_cache())
    counts = {r: metrics.bootstrap_counts(len(evaluate.test_labels(grid, r)), settings.n_boot, seed=settings.seed)
              for r in settings.ranges}
    seeds = seed_runs(grid, settings.main_protocol, settings.training, settings.n_seeds, client=client,
                      compile_cache=default_compile_cache())
    return Comparison(grid, counts, pd.DataFrame(evaluate.accuracy_rows(grid, counts)),
                      pd.DataFrame(evaluate.gap_rows(grid, counts)), pd.DataFrame(evaluate.fix_rows(grid, counts)),
                      pd.DataFrame(evaluate.baseline_rows(grid, counts, settings.main_protocol)), seeds)


def training_figure(settings: Settings, comparison: Comparison) -> Any:
    """Validation accuracy at every evaluation of every network (main protocol, focus range), against XGBoost and ALICE
    Bayes on the same validation tracks (:func:`hepnb.pid.plots.training_figure`)."""
    from hepnb.pid import plots

    grid, focus = comparison.grid, settings.focus
    cell = grid.cells[(focus, settings.main_protocol)]
    val_y = cell["data"].val["y"]
    histories = {n: cell["timing"][n]["val_err_history"] for n in settings.networks}
    alice = grid.ranges[focus].baselines["alice_bayes"].pred[cell["data"].val["index"]]
    references = {"XGBoost": float(np.mean(cell["prob_val"]["xgboost"].argmax(1) == val_y)),
                  "ALICE Bayes": float(np.mean(alice == val_y))}
    return plots.training_figure(histories, references,
                                 {n: cell["timing"][n]["convergence"] for n in settings.networks},
                                 evals_per_epoch=settings.evals_per_epoch)


@dataclass
class Detail:
    """Per-class metrics of every model of every cell (keys ``"range/protocol"``), and the focus range's chosen
    network and test labels."""

    best_network: str
    per_model: dict[str, dict[str, dict[str, Any]]]
    y_test: NDArray[np.int64]


def detail(settings: Settings, comparison: Comparison) -> Detail:
    """:func:`hepnb.pid.evaluate.model_metrics` of every model in every (range, protocol), with the network the
    main protocol chooses in the focus range."""
    from hepnb.pid import evaluate
    from hepnb.pid.training import chosen_network

    grid = comparison.grid
    best = chosen_network(grid, (settings.focus, settings.main_protocol))
    per_model = {f"{r}/{p}": {m: evaluate.model_metrics(c["prob_test"][m], evaluate.test_labels(grid, r),
                                                        comparison.counts[r]) for m in grid.models}
                 for (r, p), c in grid.cells.items()}
    return Detail(best, per_model, evaluate.test_labels(grid, settings.focus))


# Working points


@dataclass
class WorkingPoints:
    """Working points per range and model, and for the shown models of the focus range the kaon contamination
    against momentum, the kaon purity-efficiency curves and the threshold scans of every species."""

    points: dict[str, dict[str, Any]]
    contamination: dict[str, Any]
    curves: dict[str, Any]
    scans: dict[str, dict[str, Any]]


def _probabilities(grid: Grid, cell_key: tuple[str, str], name: str, part: str) -> NDArray[np.float64]:
    """A model's (or a baseline's) probabilities on the ``val`` or ``test`` tracks of a cell."""
    cell = grid.cells[cell_key]
    if name in cell["prob_test"]:
        return cell[f"prob_{part}"][name]
    return grid.ranges[cell_key[0]].baselines[name].prob[getattr(cell["data"], part)["index"]]


def working_points(settings: Settings, comparison: Comparison, shown: Sequence[str]) -> WorkingPoints:
    """Per species the selection ``P(species) ≥ t`` with ``t`` chosen on validation for a target purity, measured
    on the test set (main protocol; :data:`WORKING_POINT_MODELS` beside the models); for the ``shown`` models
    of the focus range, the kaon contamination, curves and the threshold scans."""
    from hepnb.pid import evaluate
    from hepnb.pid import working_points as wp

    grid, protocol, focus = comparison.grid, settings.main_protocol, settings.focus
    models = [*settings.networks, *TREES, *WORKING_POINT_MODELS]
    points = {r: {m: wp.working_points(_probabilities(grid, (r, protocol), m, "val"),
                                       grid.cells[(r, protocol)]["data"].val["y"],
                                       _probabilities(grid, (r, protocol), m, "test"), evaluate.test_labels(grid, r))
                  for m in models} for r in settings.ranges}
    y_test = evaluate.test_labels(grid, focus)
    p_test = grid.ranges[focus].tracks["p"][grid.cells[(focus, protocol)]["data"].test["index"]]
    kaon = SPECIES.index("ka")
    test = {m: _probabilities(grid, (focus, protocol), m, "test") for m in shown}
    contamination = {m: wp.contamination_vs_p(test[m], y_test, p_test, kaon,
                                              points[focus][m]["ka"]["purity_90"]["threshold"],
                                              list(CONTAMINATION_P_EDGES_GEV)) for m in shown}
    curves = {m: wp.roc_points(test[m], y_test, kaon) for m in shown}
    scans = {m: {s: wp.threshold_scan(test[m], y_test, i) for i, s in enumerate(SPECIES)} for m in shown}
    return WorkingPoints(points, contamination, curves, scans)


# Systematics and the data-like sample


def systematics(settings: Settings, comparison: Comparison) -> pd.DataFrame:
    """Each variation of the detector response evaluated with the main protocol's models, without retraining
    (:func:`hepnb.pid.systematics.evaluate_variation`); empty for a user's input (nothing to vary)."""
    from hepnb.pid import systematics as syst

    rows: list[dict[str, Any]] = []
    if settings.simulated:
        for variation in settings.variations:
            varied = syst.varied_ranges(settings.n_tracks, seed=settings.seed, selection=settings.selection,
                                        ranges=settings.ranges, variation=variation,
                                        reference=comparison.grid.ranges)
            rows += syst.evaluate_variation(comparison.grid, varied, variation, comparison.counts,
                                            protocol=settings.main_protocol)
    return pd.DataFrame(rows)


@dataclass
class DataLike:
    """The data-like sample as read or simulated (before the selection), the bias of the predicted species
    fractions per range, model and species (empty without labels), and per range the original's look at data
    (:func:`hepnb.pid.data_look.look_at_data`: the chosen network and XGBoost against both ALICE Bayes variants)."""

    table: dict[str, NDArray]
    bias: pd.DataFrame
    look: dict[str, dict[str, Any]]


def _data_like_range(tracks: Mapping[str, NDArray], range_name: str
                     ) -> tuple[dict[str, NDArray], NDArray[np.float32], dict[str, Any], NDArray[np.int64] | None]:
    """A range's data-like tracks, raw features, baselines and labels: the labelled π, K, p, e
    (:func:`hepnb.pid.training.range_data`), or every track of the range when the input has no labels (``None``)."""
    from hepnb.pid.baselines import baseline_predictions
    from hepnb.pid.selection import features, momentum_range
    from hepnb.pid.training import range_data

    if "mc_pdg" in tracks:
        part = range_data(tracks, range_name)
        return part.tracks, part.raw, part.baselines, part.y
    inside = momentum_range(tracks, range_name)
    chosen = {k: np.asarray(v)[inside] for k, v in tracks.items()}
    return chosen, features(chosen), baseline_predictions(chosen), None


def data_like(settings: Settings, comparison: Comparison) -> DataLike:
    """The predicted species fractions on the data-like sample against its hidden labels, for the main protocol's
    models and both ALICE Bayes variants (:func:`hepnb.pid.evaluate.fraction_bias`), and the original's look at
    data (:func:`hepnb.pid.data_look.look_at_data`) of the chosen network and XGBoost against the ALICE Bayes;
    without labels (a real-data ``data_like_file``), the look at data without what needs them."""
    from hepnb import metrics
    from hepnb.pid import data, data_look, evaluate, reader
    from hepnb.pid.protocols import scale_like
    from hepnb.pid.selection import selected
    from hepnb.pid.training import chosen_network, predict_model

    table = (reader.read_tracks(settings.data_like_file, require_labels=False, tree=settings.input_tree or None)
             if settings.data_like_file else data.simulate_tracks(settings.n_data_like, seed=settings.seed + 1,
                                                                  data_like=True))
    tracks = selected(table, settings.selection)
    rows, look, grid = [], {}, comparison.grid
    for r in settings.ranges:
        part, raw, baselines, y = _data_like_range(tracks, r)
        if not len(raw):
            continue
        cell = grid.cells[(r, settings.main_protocol)]
        probs = {m: predict_model(m, cell["models"][m], scale_like(cell["inputs"][m], raw)) for m in grid.models}
        probs |= {b: baselines[b].prob for b in DATA_LIKE_BAYES}
        counts = None if y is None else metrics.bootstrap_counts(len(y), settings.n_boot, seed=settings.seed)
        if y is not None:
            for m, prob in probs.items():
                for s, v in evaluate.fraction_bias(prob.argmax(1), y, counts).items():
                    rows.append({"range": r, "model": m, "species": s, **v})
        ml = [chosen_network(grid, (r, settings.main_protocol)), "xgboost"]
        look[r] = data_look.look_at_data({m: probs[m] for m in (*ml, *DATA_LIKE_BAYES)}, part["has_tof"], ml=ml,
                                         bayes=DATA_LIKE_BAYES, y=y, counts=counts)
    return DataLike(table, pd.DataFrame(rows), look)


# Deployment


@dataclass
class Deployment:
    """The deployed network and what was checked about it.

    Attributes
    ----------
    network, range_name
        The network chosen on validation and the range it is deployed for.
    blanking_cost
        Its paired test-accuracy change (fraction) from blanking TOF as O2's reader does.
    n_blanked_test
        Test tracks of the range with a TOF measurement below O2's TPC+TOF limit (the ones blanking changes).
    model_dirs
        The saved model folders (``network``, ``xgboost``).
    emulation
        Per O2 model file: the largest |O2 reader − in-memory| probability over the emulated tracks.
    n_emulated
        Tracks run through the emulated reader.
    out_of_domain_pct
        Data-like tracks (before the selection) flagged outside the training domain (%).
    blanking_seed_std
        The training spread of the blanking cost (fraction): the blanked and the unblanked network are two
        trainings, each taken to vary over seeds as the chosen network does (its ``n_seeds`` runs; 0 with one).
    """

    network: str
    range_name: str
    blanking_cost: dict[str, float]
    n_blanked_test: int
    model_dirs: dict[str, Path]
    emulation: dict[str, float]
    n_emulated: int
    out_of_domain_pct: float
    blanking_seed_std: float = 0.0


def deploy(settings: Settings, sample: Sample, comparison: Comparison, network: str,
           data_like_table: Mapping[str, NDArray], folder: Path) -> Deployment:
    """Retrain ``network`` (the main protocol's chosen setting: input transform and learning rate) with TOF blanked
    as O2's PIDML reader blanks it, save it and XGBoost under ``folder``
    (``models/``), write the O2Physics folder (``o2/``) and check it by emulating O2's reader on test tracks."""
    from hepnb import metrics
    from hepnb.pid import evaluate, export, o2export
    from hepnb.pid.training import chosen_trial, predict_network, train_deployable

    grid, focus = comparison.grid, settings.focus
    cell = grid.cells[(focus, settings.main_protocol)]
    y_test = evaluate.test_labels(grid, focus)
    deployed, deploy_data, _, _ = train_deployable(
        sample.tracks, network, settings.training, range_name=focus, protocol=settings.main_protocol,
        setting=chosen_trial(grid, (focus, settings.main_protocol), network))
    right_blank = (predict_network(deployed, deploy_data.test).argmax(1) == y_test).astype(float)
    right_full = (cell["prob_test"][network].argmax(1) == y_test).astype(float)
    blanking_cost = metrics.mean_interval(right_blank - right_full, comparison.counts[focus])
    model_dirs = {"network": export.save_deployable(folder / "models" / network, network, deployed, deploy_data,
                                                    range_name=focus, tof_p_min_gev=O2_TOF_P_MIN_GEV),
                  "xgboost": export.save_deployable(folder / "models" / "xgboost", "xgboost",
                                                    cell["models"]["xgboost"], cell["inputs"]["xgboost"],
                                                    range_name=focus)}
    meta, loaded = export.load_deployable(model_dirs["network"])
    o2_folder = o2export.export_o2(loaded, meta, folder / "o2")
    rows = deploy_data.test["index"][:settings.n_emulated]
    test_tracks = {k: v[rows] for k, v in grid.ranges[focus].tracks.items()}
    in_memory = export.predict_table(model_dirs["network"], test_tracks)
    ao2d = o2export.ao2d_table(test_tracks)
    emulation = {}
    for s in SPECIES:
        for pdg in o2export.signed_pdgs(s):
            certainty = o2export.o2_reader_certainty(o2_folder, pdg, ao2d)
            emulation[o2export.model_file_name(pdg)] = float(np.max(np.abs(certainty - in_memory[f"prob_{s}"])))
    flags = export.predict_table(model_dirs["network"], data_like_table)  # the data-like tracks before the selection
    focus_tracks = grid.ranges[focus].tracks
    test_index = cell["data"].test["index"]
    n_blanked = int(np.sum((focus_tracks["p"][test_index] < O2_TOF_P_MIN_GEV)
                           & (focus_tracks["has_tof"][test_index] > 0)))
    return Deployment(network, focus, blanking_cost, n_blanked, model_dirs, emulation, len(ao2d["fPt"]),
                      100 * float(np.mean(flags["in_domain"] == 0)), _blanking_seed_std(comparison, focus, network))


def _blanking_seed_std(comparison: Comparison, range_name: str, network: str) -> float:
    """The seed spread of the difference of two trainings of ``network`` (each varying as its seed runs do)."""
    from hepnb.book.verdict import seed_spread_of_difference

    accuracy = comparison.seeds.get(range_name, {}).get(network, {}).get("accuracy", [])
    return seed_spread_of_difference(accuracy, accuracy, of_mean=False) if len(accuracy) > 1 else 0.0
