"""The leaderboard page, section by section: each function returns what its section of
``notebooks/rkpinn_leaderboard.ipynb`` shows (the tables and sentences are built in :mod:`hepnb.tracks.report`,
the figures in :mod:`hepnb.tracks.plots`).

The page's parameters reach the package as one :class:`Settings` (its ``parameters`` cell, as the runner set it);
the sections then follow the page: the field (:func:`field_checks`), the tracks (:func:`simulate`), the baselines
(:func:`fit_baselines`) and the model zoo (:func:`train_zoo`), the leaderboards (:func:`leaderboards`) and their
judgement (:func:`judge`), the ablations (:func:`ablations`), the momentum bands (:func:`momentum_bands`), the
reduced precision and ONNX export (:func:`deploy`), the Jacobian and polarity checks (:func:`transport_checks`)
and the original study's setting (:func:`original_setting`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.book.notebook import PageSettings
from hepnb.tracks import baselines, evaluate, export, report, training
from hepnb.tracks.constants import LEGS_MM
from hepnb.tracks.data import TrackSample, generate_tracks, make_dataset
from hepnb.tracks.fieldmap import FieldMap
from hepnb.tracks.propagate import reference

__all__ = [
    "COST",
    "Baselines",
    "Deployment",
    "Leaderboards",
    "Samples",
    "Settings",
    "Zoo",
    "ablations",
    "cluster",
    "deploy",
    "field_checks",
    "fit_baselines",
    "judge",
    "leaderboards",
    "momentum_bands",
    "original_setting",
    "save_models",
    "seed_spread",
    "simulate",
    "train_zoo",
    "transport_checks",
]

#: The cost on which models are judged: CPU time per track at ``timing_batch``.
COST = "cpu_ns_per_track_large"


@dataclass(frozen=True)
class Settings(PageSettings):
    """The page's parameters, as its ``parameters`` cell declares them (see the notebook for each one's meaning).

    Build it with :meth:`from_parameters` from :meth:`hepnb.book.notebook.Page.parameters`.
    """

    scheduler: str
    legs: tuple[str, ...]
    field_map: str
    n_train: int
    n_val: int
    n_test: int
    p_min_gev: float
    p_max_gev: float
    displaced_fraction: float
    poly_degrees: tuple[int, ...]
    lhcb_poly_degrees: tuple[int, ...]
    poly_fit_tracks: int
    rk4_steps: tuple[int, ...]
    aligned_steps_mm: tuple[float, ...]
    adaptive_tolerances_mm: tuple[float, ...]
    mlp_sizes: tuple[str, ...]
    mlp_bases: tuple[str, ...]
    rkpinn_sizes: tuple[str, ...]
    n_coarse: int
    pde_weight: float
    n_colloc: int
    steps: int
    rkpinn_steps: int
    batch_size: int
    learning_rate: float
    eval_every: int
    timing_batch: int
    timing_s: float
    n_seeds: int
    seed: int

    @property
    def edges_gev(self) -> list[float]:
        """The edges of the momentum bands (nine, log-spaced over the momentum range), GeV."""
        return list(np.geomspace(self.p_min_gev, self.p_max_gev, 9))

    def sample(self, leg: str, fmap: FieldMap) -> TrackSample:
        """The simulated sample of ``leg`` through ``fmap`` (:class:`hepnb.tracks.data.TrackSample`)."""
        return TrackSample(leg=leg, p_range_gev=(self.p_min_gev, self.p_max_gev),
                           displaced_fraction=self.displaced_fraction, field_map=fmap)

    @property
    def first_leg(self) -> str:
        """The leg of the one-leg sections (precision, ONNX, Jacobian, polarity, the original's setting)."""
        return self.legs[0]

    def zoo(self, steps: int) -> training.ZooConfig:
        """How the learned models train for ``steps`` optimiser steps (:class:`hepnb.tracks.training.ZooConfig`)."""
        return training.ZooConfig(steps=steps, batch_size=self.batch_size, lr=self.learning_rate, seed=self.seed,
                                  n_coarse=self.n_coarse, pde_weight=self.pde_weight, bases=self.mlp_bases,
                                  n_colloc=self.n_colloc, eval_every=self.eval_every)


def cluster(settings: Settings, profile: str) -> AbstractContextManager[Any]:
    """The Dask client that trains the zoo (:func:`hepnb.compute.client.dask_client`) when ``settings.scheduler``
    names one; otherwise no client (``None``: the zoo trains in this process)."""
    from contextlib import nullcontext

    from hepnb.compute.client import dask_client

    return dask_client(settings.scheduler, profile=profile) if settings.scheduler else nullcontext(None)


# Data


def field_checks(fmap: FieldMap) -> dict[str, Any]:
    """The dipole checks of the page's map (:func:`hepnb.tracks.field.dipole_checks`)."""
    from hepnb.tracks.field import dipole_checks

    return dipole_checks(fmap)


@dataclass
class Samples:
    """The simulated tracks of every leg and the RK4 convergence on the first."""

    #: Leg → :func:`hepnb.tracks.data.make_dataset`.
    datasets: dict[str, dict[str, Any]]
    #: :func:`hepnb.tracks.evaluate.rk4_convergence` on the first leg.
    convergence: list[dict[str, Any]]


def simulate(settings: Settings, fmap: FieldMap) -> Samples:
    """The tracks of every leg (seed ``seed`` + the leg's index) and the RK4 convergence on the first leg."""
    datasets = {}
    for leg in settings.legs:
        datasets[leg] = make_dataset(settings.n_train, settings.n_val, settings.n_test, sample=settings.sample(leg, fmap),
                                     seed=settings.seed + list(LEGS_MM).index(leg))
    convergence = evaluate.rk4_convergence(datasets[settings.first_leg],
                                           steps=sorted({*settings.rk4_steps, 160, 320}),
                                           n_tracks=min(2000, settings.n_test))
    return Samples(datasets, convergence)


# Method


@dataclass
class Baselines:
    """The classical predictors of every leg (straight line, kick, the three Runge–Kutta curves, physics and naive
    polynomials) and their info rows."""

    predictors: dict[str, dict[str, Any]]
    info: dict[str, dict[str, dict[str, Any]]]


def fit_baselines(settings: Settings, samples: Samples) -> Baselines:
    """The baselines of every leg (:func:`hepnb.tracks.baselines.baseline_predictors` and the plane-aligned and
    adaptive Runge–Kutta curves, :func:`hepnb.tracks.baselines.rk_curve_predictors`); the naive degree-five
    polynomial becomes the residual base ``poly5`` of the leg's dataset (the same fit as the baseline)."""
    predictors, info = {}, {}
    for leg in settings.legs:
        predictors[leg], info[leg] = baselines.baseline_predictors(
            samples.datasets[leg], rk4_steps=settings.rk4_steps, degrees=settings.poly_degrees,
            phys_degrees=settings.lhcb_poly_degrees, n_fit_max=settings.poly_fit_tracks)
        more, more_info = baselines.rk_curve_predictors(samples.datasets[leg], aligned_steps_mm=settings.aligned_steps_mm,
                                                        tolerances_mm=settings.adaptive_tolerances_mm)
        predictors[leg].update(more)
        info[leg].update(more_info)
        if "poly_5" in predictors[leg]:
            samples.datasets[leg]["poly5"] = predictors[leg]["poly_5"]
    return Baselines(predictors, info)


@dataclass
class Zoo:
    """The learned models of every leg by name, and their training records."""

    models: dict[str, dict[str, Any]]
    records: dict[str, dict[str, dict[str, Any]]]


def train_zoo(settings: Settings, samples: Samples, client: Any = None) -> Zoo:
    """Every MLP size (``steps`` steps) and RK-PINN size (``rkpinn_steps``) on every leg
    (:func:`hepnb.tracks.training.run_zoo`), on ``client`` when given."""
    models, records = {}, {}
    for leg in settings.legs:
        data = samples.datasets[leg]
        m_mlp, r_mlp = training.run_zoo(data, [("mlp", s) for s in settings.mlp_sizes], settings.zoo(settings.steps),
                                        client=client)
        m_pinn, r_pinn = training.run_zoo(data, [("rkpinn", s) for s in settings.rkpinn_sizes],
                                          settings.zoo(settings.rkpinn_steps), client=client)
        models[leg], records[leg] = {**m_mlp, **m_pinn}, {**r_mlp, **r_pinn}
    return Zoo(models, records)


# Results


@dataclass
class Leaderboards:
    """The evaluated rows of every leg, their per-track test errors, and the ranked tables."""

    rows: dict[str, list[dict[str, Any]]]
    errors: dict[str, dict[str, np.ndarray]]
    #: Leg → :func:`hepnb.tracks.report.leaderboard` (``all`` and ``shown``).
    boards: dict[str, dict[str, Any]]


def leaderboards(settings: Settings, samples: Samples, classical: Baselines, zoo: Zoo) -> Leaderboards:
    """Every baseline and learned model of every leg evaluated on the test split
    (:func:`hepnb.tracks.evaluate.evaluate_rows`) and ranked (:func:`hepnb.tracks.report.leaderboard`)."""
    rows, errors = {}, {}
    for leg in settings.legs:
        info = {**classical.info[leg], **{k: {"family": v["family"], "params": v["params"]}
                                          for k, v in zoo.records[leg].items()}}
        rows[leg], errors[leg] = evaluate.evaluate_rows(
            {**classical.predictors[leg], **zoo.models[leg]}, info, samples.datasets[leg],
            timing_batch=settings.timing_batch, edges_gev=settings.edges_gev, timing_s=settings.timing_s)
    return Leaderboards(rows, errors, {leg: report.leaderboard(rows[leg]) for leg in settings.legs})


def seed_spread(settings: Settings, samples: Samples, boards: Leaderboards, zoo: Zoo, client: Any = None
                ) -> dict[str, dict[str, dict[str, Any]]]:
    """Per leg and learned model, the training variance: every stack of the zoo (each MLP size with all its bases,
    each RK-PINN size with its residual weights) retrained with seeds ``seed + 1`` … ``seed + n_seeds − 1`` on the
    same tracks, each stack to the convergence of all its heads (or its step cap), all stacks of a leg at once on
    ``client`` (:func:`hepnb.tracks.training.run_zoo_tasks`).

    Returns
    -------
    dict
        Per leg, per learned model: ``median_um`` (the test median of each seed, the zoo's first), ``std_um`` (ddof
        1; 0 for one seed), ``converged`` (each seed's record) and ``all_converged``.
    """
    from dataclasses import replace

    out: dict[str, dict[str, dict[str, Any]]] = {}
    for leg in settings.legs:
        data = samples.datasets[leg]
        first = {r["model"]: float(r["pos_median_um"]) for r in boards.rows[leg] if r["family"] in report.LEARNED}
        medians = {name: [value] for name, value in first.items()}
        converged = {name: [bool(zoo.records[leg][name].get("converged"))] for name in first}
        tasks = [((family, size), replace(settings.zoo(steps), seed=settings.seed + k))
                 for k in range(1, settings.n_seeds)
                 for family, sizes, steps in (("mlp", settings.mlp_sizes, settings.steps),
                                              ("rkpinn", settings.rkpinn_sizes, settings.rkpinn_steps))
                 for size in sizes]
        for models, records in training.run_zoo_tasks(data, tasks, client=client, desc=f"seeds, {leg}"):
            for name, model in models.items():
                if name not in medians:
                    continue
                pred = evaluate.predict_batched(model, data["test"]["start"])
                medians[name].append(float(np.median(evaluate.position_error_um(pred, data["test"]["end"]))))
                converged[name].append(bool(records[name]["converged"]))
        out[leg] = {name: {"median_um": medians[name], "converged": converged[name],
                           "all_converged": all(converged[name]),
                           "std_um": float(np.std(medians[name], ddof=1)) if len(medians[name]) > 1 else 0.0}
                    for name in first}
    return out


def judge(settings: Settings, boards: Leaderboards, zoo: Zoo, seeds: dict[str, dict[str, Any]] | None = None
          ) -> dict[str, dict[str, Any]]:
    """The study's rule on every leg (:func:`hepnb.tracks.report.judge` at the cost :data:`COST`), with each
    learned model's convergence record from the zoo and its training variance (:func:`seed_spread`)."""
    return {leg: report.judge(boards.rows[leg], cost_key=COST, errors=boards.errors[leg],
                              converged={name: bool(r.get("converged")) for name, r in zoo.records[leg].items()},
                              seeds=(seeds or {}).get(leg))
            for leg in settings.legs}


def ablations(settings: Settings, boards: Leaderboards, zoo: Zoo) -> dict[str, dict[str, Any]]:
    """The ablation table of every leg (:func:`hepnb.tracks.report.ablation_table`)."""
    return {leg: report.ablation_table(boards.rows[leg], zoo.records[leg], boards.errors[leg])
            for leg in settings.legs}


def momentum_bands(settings: Settings, boards: Leaderboards) -> dict[str, dict[str, dict[str, Any]]]:
    """Per leg, for the representatives (:func:`hepnb.tracks.report.representatives`): ``by_momentum`` (the
    median per momentum band) and ``displaced_vs_prompt``."""
    out: dict[str, dict[str, dict[str, Any]]] = {"by_momentum": {}, "displaced_vs_prompt": {}}
    for leg in settings.legs:
        picks = report.representatives(boards.rows[leg], cost_key=COST)
        rows = {name: next(r for r in boards.rows[leg] if r["model"] == name) for name in picks}
        out["by_momentum"][leg] = {name: row["by_momentum"] for name, row in rows.items()}
        out["displaced_vs_prompt"][leg] = {name: row["displaced_vs_prompt"] for name, row in rows.items()}
    return out


@dataclass
class Deployment:
    """The best learned model of the first leg in reduced precision, and every family through ONNX."""

    #: :func:`hepnb.tracks.evaluate.precision_study` of the best learned model.
    precision: dict[str, Any]
    #: :func:`hepnb.tracks.export.round_trip` rows.
    onnx: list[dict[str, Any]]


def deploy(settings: Settings, samples: Samples, classical: Baselines, zoo: Zoo, boards: Leaderboards,
           judged: Mapping[str, Mapping[str, Any]], folder: str | Path) -> Deployment:
    """The precision study of the first leg's best learned model, the ONNX round trip of each family (files in
    ``folder/onnx``), and every learned model of that leg saved under ``folder/checkpoints/<leg>`` (what
    ``benchmarks/tracks_infer.py`` times)."""
    leg = settings.first_leg
    best = judged[leg]["best_learned"]
    precision = evaluate.precision_study(zoo.models[leg][best], samples.datasets[leg], batch=settings.timing_batch)
    onnx_rows = export.round_trip({**classical.predictors[leg], **zoo.models[leg]}, boards.rows[leg],
                                  samples.datasets[leg], Path(folder) / "onnx")
    for name, model in zoo.models[leg].items():
        export.save_extrapolator(model, Path(folder) / "checkpoints" / leg / name)
    return Deployment(precision, onnx_rows)


def save_models(settings: Settings, samples: Samples, classical: Baselines, zoo: Zoo, boards: Leaderboards,
                folder: str | Path) -> dict[str, dict[str, Path]]:
    """Per leg, the best learned extrapolator and the best physics polynomial (each chosen on the validation
    split) saved as model folders ``folder/models/<leg>/<name>`` (:func:`hepnb.tracks.saved.save_model_folder`),
    what ``hepnb tracks propagate --model`` and ``hepnb tracks export`` read.

    Returns
    -------
    dict
        Leg → ``learned`` and ``polynomial`` → the folder (a kind without a row on the leg is left out).
    """
    from hepnb.tracks.saved import save_model_folder

    out: dict[str, dict[str, Path]] = {}
    for leg in settings.legs:
        rows = boards.rows[leg]
        choices = {"learned": ([r for r in rows if r["family"] in report.LEARNED], zoo.models[leg]),
                   "polynomial": ([r for r in rows if r["model"].startswith("lhcb_poly_")], classical.predictors[leg])}
        out[leg] = {}
        for kind, (candidates, models) in choices.items():
            if candidates:
                name = min(candidates, key=lambda r: r["val_median_um"])["model"]
                out[leg][kind] = save_model_folder(Path(folder) / "models" / leg / name, models[name],
                                                   samples.datasets[leg], name=name, field_spec=settings.field_map)
    return out


def transport_checks(settings: Settings, samples: Samples, classical: Baselines, zoo: Zoo,
                     judged: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """On the first leg: the transport Jacobian of the best learned model and of the RK4-N with the most steps
    against finite differences of the float64 reference, for a track near the median momentum
    (:func:`hepnb.tracks.evaluate.jacobian_comparison`), and the polarity check of the best learned model and of
    the best polynomial on tracks simulated in MagUp (:func:`hepnb.tracks.evaluate.polarity_check`).

    Returns
    -------
    dict
        ``jacobian`` (model → comparison) and ``polarity``.
    """
    leg = settings.first_leg
    data = samples.datasets[leg]
    st = data["setting"]
    test = data["test"]
    track = test["start64"][np.argmin(np.abs(test["p_gev"] - np.median(test["p_gev"])))].copy()

    def reference_fn(states: np.ndarray) -> np.ndarray:
        return reference(states, st.z0_mm, st.z1_mm, field=st.field)

    best = judged[leg]["best_learned"]
    rk4_name = f"rk4_{max(settings.rk4_steps)}"
    jacobian = {best: evaluate.jacobian_comparison(zoo.models[leg][best], reference_fn, track),
                rk4_name: evaluate.jacobian_comparison(classical.predictors[leg][rk4_name], reference_fn, track)}
    checked = {best: zoo.models[leg][best]}
    if judged[leg]["best_poly"]:
        checked[judged[leg]["best_poly"]] = classical.predictors[leg][judged[leg]["best_poly"]]
    polarity = evaluate.polarity_check(checked, data, settings.sample(leg, st.field), n_tracks=min(2000, settings.n_test),
                                       seed=settings.seed + 1_000_003)
    return {"jacobian": jacobian, "polarity": polarity}


def original_setting(settings: Settings, boards: Leaderboards) -> dict[str, float]:
    """The straight line's median miss (µm) in the original study's setting (its generator, field, ranges and
    units bug) and in the correct physics of the first leg.

    Returns
    -------
    dict
        ``original_line_um`` (median over ``min(2000, n_test)`` tracks of the original's sample) and
        ``correct_line_um`` (the straight line's row of the first leg's leaderboard).
    """
    import jax.numpy as jnp

    from hepnb.tracks.bases import LineBase

    sample = generate_tracks(min(2000, settings.n_test), physics="original", seed=settings.seed)
    line = LineBase(sample["setting"].dz_mm)(jnp.asarray(sample["start"]))
    original_um = evaluate.position_error_um(np.asarray(line), sample["end"])
    correct_um = next(r for r in boards.rows[settings.first_leg] if r["model"] == "straight_line")["pos_median_um"]
    return {"original_line_um": float(np.median(original_um)), "correct_line_um": float(correct_um)}
