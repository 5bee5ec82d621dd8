"""The tau page, section by section: each function returns what its section of ``notebooks/tau_multitask.ipynb``
shows (the tables and sentences are built in :mod:`hepnb.tau.report`, the figures in :mod:`hepnb.tau.plots`).

The page's parameters reach the package as one :class:`Settings` (its ``parameters`` cell, as the runner set it);
the sections then follow the page: the jets (:func:`cluster`, :func:`load`) and their physics checks
(:func:`physics_checks`), the headline trainings and baselines (:func:`train_headline`), the models of each
task's table (:func:`task_models`), the multi- vs single-task comparison (:func:`compare`), the evolution of
jet networks and the data scaling (:func:`evolution`), the model sizes (:func:`model_sizes`) and the
pre-training (:func:`pretraining`).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from hepnb import kinematics
from hepnb.book.notebook import PageSettings
from hepnb.tau import baselines, constants, regression, side_studies, studies, training
from hepnb.tau.data import JetSample, TauData
from hepnb.tau.evaluate import tau_id_evaluation
from hepnb.tau.models import ParTConfig

__all__ = [
    "TASKS",
    "Evolution",
    "Headline",
    "Samples",
    "Settings",
    "Timer",
    "cluster",
    "compare",
    "evolution",
    "learning_curves",
    "load",
    "model_sizes",
    "physics_checks",
    "pretraining",
    "save_headline_model",
    "task_models",
    "train_headline",
]

#: The page's four tasks, in its order, as :mod:`hepnb.tau.evaluate` names their metrics.
TASKS = ("tau_id", "decay_mode", "charge", "kinematics")

#: A section timer: ``timer(name)`` is a context manager (:meth:`hepnb.book.notebook.Page.timer`).
Timer = Callable[[str], AbstractContextManager[Any]]


def _no_timer(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class Settings(PageSettings):
    """The page's parameters, as its ``parameters`` cell declares them (see the notebook for each one's meaning).

    Build it with :meth:`from_parameters` from :meth:`hepnb.book.notebook.Page.parameters`.
    """

    input_file: str
    n_tau_events: int
    n_qq_events: int
    n_ll_events: int
    events_per_chunk: int
    bkg_per_tau: float
    workers: int
    scheduler: str
    cache_dir: str
    embed_dims: tuple[int, ...]
    pair_dims: tuple[int, ...]
    n_heads: int
    n_layers: int
    n_cls_layers: int
    dtype: str
    epochs: int
    eval_steps: int
    batch_size: int
    learning_rate: float
    kin_weights: tuple[float, ...]
    surgeries: tuple[str, ...]
    single_tasks: tuple[str, ...]
    n_seeds: int
    taggers: tuple[str, ...]
    scaling_fractions: tuple[float, ...]
    scaling_models: tuple[str, ...]
    sizes: tuple[str, ...]
    size_epochs: int
    size_train_jets: int
    size_seeds: int
    label_fractions: tuple[float, ...]
    label_draws: int
    label_train_jets: int
    label_lrs: tuple[float, ...]
    pretrain_epochs: int
    label_epochs: int
    n_test_bkg_studies: int
    n_trees_xgb: int
    n_boot: int
    seed: int

    @property
    def compute_dtype(self) -> str:
        """The networks' computation dtype: ``dtype``, or for ``"auto"`` bfloat16 on a GPU and float32 otherwise."""
        if self.dtype != "auto":
            return self.dtype
        import jax

        return "bfloat16" if jax.default_backend() == "gpu" else "float32"

    @property
    def model(self) -> ParTConfig:
        """The ParT of the headline trainings."""
        return ParTConfig(embed_dims=self.embed_dims, pair_dims=self.pair_dims, n_heads=self.n_heads,
                          n_layers=self.n_layers, n_cls_layers=self.n_cls_layers, dtype=self.compute_dtype)

    def training(self, epochs: int | None = None) -> training.TrainingConfig:
        """The training settings (the cap ``epochs`` instead of the headline trainings' for the side studies)."""
        return training.TrainingConfig(self.epochs if epochs is None else epochs, self.batch_size,
                                       self.learning_rate, self.seed, eval_steps=self.eval_steps)


# Data


def cluster(settings: Settings, profile: str) -> AbstractContextManager[Any]:
    """The Dask client that generates the jets (:func:`hepnb.compute.client.dask_client`: ``settings.scheduler``,
    ``$HEPNB_SCHEDULER`` or a local cluster of ``settings.workers`` processes); none (``None``) when the jets
    come from ``settings.input_file``."""
    from hepnb.compute.client import dask_client

    if settings.input_file:
        return nullcontext(None)
    return dask_client(settings.scheduler or None, profile=profile, workers=settings.workers or None)


@dataclass
class Samples:
    """The jets of the page: all of them, their split, their physics checks and the sizes the page states."""

    sample: JetSample
    data: TauData
    checks: dict[str, Any]
    sizes: dict[str, int]


def load(settings: Settings, client: Any) -> Samples:
    """The jets of ``settings.input_file``, or generated with Pythia on ``client`` (:func:`cluster`), split into
    training, validation and test jets, with their :func:`physics_checks`."""
    from hepnb.compute.chunks import ChunkRun
    from hepnb.paths import resolve_inputs
    from hepnb.tau.data import EventCounts, read_sample, simulate

    if settings.input_file:  # a file, or a glob pattern (several ML-Tau ntuples or HepMC3 files)
        sample = read_sample(resolve_inputs(settings.input_file), seed=settings.seed)
    else:
        events = EventCounts(settings.n_tau_events, settings.n_qq_events, settings.n_ll_events,
                             settings.events_per_chunk)
        sample = simulate(events, seed=settings.seed, cache_dir=settings.cache_dir, run=ChunkRun(client=client))
    data = training.split_sample(sample, seed=settings.seed, bkg_per_tau=settings.bkg_per_tau)
    checks = physics_checks(sample)
    sizes = {"τ jets": checks["n_jets"]["tau"], "q/g jets": checks["n_jets"]["qg"],
             "training jets": len(data.train["weight"]), "test τ jets": int(np.sum(data.test["is_tau"] == 1)),
             "test q/g jets": int(np.sum(data.test["origin"] == 0))}
    return Samples(sample, data, checks, sizes)


def physics_checks(sample: JetSample) -> dict[str, Any]:
    """Decay-mode fractions vs PDG, visible-pT spectrum, candidate multiplicities (and how many jets have more
    than the networks' 20 candidates), jet origins and the reconstruction efficiency of the generated hadronic
    taus."""
    import awkward as ak

    jets = sample.jets
    tau = np.asarray(jets.is_tau) == 1
    origin = np.asarray(jets.origin) if "origin" in ak.fields(jets) else tau.astype(int)
    dm = np.asarray(jets.decay_mode)[tau]
    names = constants.DM_NAMES
    frac = {names[i]: float(np.mean(dm == i)) for i in range(len(names))}
    pdg = {names[constants.DM_CLASSES.index(k)]: v for k, v in constants.PDG_HADRONIC_DM_FRACTIONS.items()}
    vis = np.asarray(jets.gen_vis_p4)[tau]
    n_cand = np.asarray(ak.num(jets.cand_features, axis=1))
    edges = np.arange(0.0, 52.5, 2.5)
    vis_pt = kinematics.pt_gev(vis)
    out = {"dm_fractions": frac, "dm_fractions_pdg": pdg,
           "vis_pt_hist": {"edges": edges.tolist(), "counts": np.histogram(vis_pt, edges)[0].tolist()},
           "vis_pt_quantiles": dict(zip(("q10", "q50", "q90"),
                                        np.quantile(vis_pt, [0.1, 0.5, 0.9]).tolist() if len(vis_pt) else [np.nan] * 3,
                                        strict=True)),
           "vis_pt_mode": float(edges[np.argmax(np.histogram(vis_pt, edges)[0])] + 1.25) if len(vis_pt) else np.nan,
           "n_candidates_mean": {"tau": float(n_cand[tau].mean()) if tau.any() else np.nan,
                                 "qg": float(n_cand[origin == 0].mean()) if (origin == 0).any() else np.nan},
           "n_candidates_hist": {"tau": np.bincount(n_cand[tau], minlength=31)[:31].tolist(),
                                 "qg": np.bincount(n_cand[origin == 0], minlength=31)[:31].tolist()},
           "n_truncated": {"tau": int(np.sum(n_cand[tau] > constants.MAX_CANDIDATES)),
                           "all": int(np.sum(n_cand > constants.MAX_CANDIDATES))},
           "n_jets": {"tau": int(tau.sum()), "qg": int(np.sum(origin == 0)), "leptonic_tau": int(np.sum(origin == 2)),
                      "z_ll": int(np.sum(origin == 3))}}
    if sample.taus is not None and len(sample.taus):
        reco = np.asarray(sample.taus.reco)
        out["tau_reco_efficiency"] = {"value": float(reco.mean()), "n_gen": len(reco)}
    return out


# Method and results


@dataclass
class Headline:
    """The headline trainings and the baselines they are compared with.

    Attributes
    ----------
    multi, best, validation
        MultiParTau per PCGrad setting (:func:`hepnb.tau.studies.surgery_study`), the setting chosen on the
        validation split, and the validation numbers it was chosen on.
    single
        SingleParTau per task (:func:`hepnb.tau.studies.single_study`).
    xgb_score, xgb
        The XGBoost tagger's test scores and their tau-ID evaluation (first seed).
    xgb_seeds
        The tau-ID summary numbers of every XGBoost seed (:func:`hepnb.tau.studies.seed_summary`): its
        ``subsample`` draws rows at random, so the trees, like the networks, vary with the seed.
    base
        The conventional estimators (:func:`hepnb.tau.baselines.evaluate_baselines`).
    kin_weight
        The kinematics loss weight of every MultiParTau, chosen on validation
        (:func:`hepnb.tau.regression.choose_kin_weight`), with the grid it was chosen from.
    """

    multi: dict[str, studies.Run]
    best: str
    validation: dict[str, Any]
    single: dict[str, studies.Run]
    xgb_score: np.ndarray
    xgb: dict[str, Any]
    base: dict[str, Any]
    kin_weight: regression.KinWeightChoice
    xgb_seeds: dict[str, dict[str, Any]]

    @property
    def main(self) -> studies.Run:
        """The headline MultiParTau (the chosen PCGrad setting)."""
        return self.multi[self.best]

    @property
    def main_name(self) -> str:
        """The headline model's name on the page."""
        return f"MultiParTau ({self.best})"


def train_headline(settings: Settings, data: TauData, timer: Timer = _no_timer) -> Headline:
    """The kinematics loss weight chosen on validation among ``settings.kin_weights`` (one MultiParTau each, plain
    weighted sum), then MultiParTau with it and every PCGrad setting (the chosen one with ``n_seeds`` seeds),
    SingleParTau per task, XGBoost on jet features (``n_seeds`` seeds) and the conventional estimators; ``timer``
    times the four
    parts ("kinematics weight", "multi", "single", "baselines")."""
    cfg, train_cfg = settings.model, settings.training()
    with timer("kinematics weight"):
        kin_weight = regression.choose_kin_weight(data, cfg, train_cfg, settings.kin_weights)
    train_cfg = replace(train_cfg, kin_weight=kin_weight.weight)
    chosen = kin_weight.trained.get(kin_weight.weight)  # the plain weighted sum's first seed, already trained
    with timer("multi"):
        multi, best, validation = studies.surgery_study(data, cfg, settings.surgeries, train_cfg,
                                                        n_seeds=settings.n_seeds, n_boot=settings.n_boot,
                                                        trained={"none": chosen} if chosen is not None else None)
    with timer("single"):
        single = studies.single_study(data, cfg, settings.single_tasks, train_cfg, n_seeds=settings.n_seeds,
                                      n_boot=settings.n_boot)
    with timer("baselines"):
        xgb_scores = [training.xgboost_scores(training.train_xgboost(data, n_trees=settings.n_trees_xgb,
                                                                     seed=settings.seed + k)[0], data.test)
                      for k in range(settings.n_seeds)]
        xgb = tau_id_evaluation(xgb_scores[0], data.test, data.gen_taus, n_boot=settings.n_boot, detail=False)
        others = [tau_id_evaluation(s, data.test, None, n_boot=0, detail=False) for s in xgb_scores[1:]]
        xgb_seeds = studies.seed_summary([studies.summary_numbers({"tau_id": r}) for r in (xgb, *others)])
        base = baselines.evaluate_baselines(data, n_boot=settings.n_boot)
    return Headline(multi, best, validation, single, xgb_scores[0], xgb, base, kin_weight, xgb_seeds)


def save_headline_model(settings: Settings, headline: Headline, folder: Path) -> Path:
    """Save the headline MultiParTau (first seed) to ``folder`` for ``hepnb tau predict`` and ``hepnb tau export``
    (:func:`hepnb.tau.export.save_tau_model`), with the kinematics output scale it was built with."""
    from hepnb.tau.export import save_tau_model

    model = headline.main.trained[0].model
    scale = tuple(float(v) for v in np.asarray(model.heads["kinematics"].out.scale[...]))  # type: ignore[attr-defined]
    return save_tau_model(folder, model, settings.model, name=headline.main_name, kin_scale=scale)  # type: ignore[arg-type]


def learning_curves(headline: Headline) -> dict[str, dict[str, Any]]:
    """The learning curves of every first-seed training, by model name, each with its ``convergence`` record
    (:meth:`hepnb.convergence.Convergence.as_dict`) and its validation evaluations per epoch (``evals_per_epoch``)."""
    runs = {f"Multi ({s})": r for s, r in headline.multi.items()} | {f"Single ({k})": r for k, r in headline.single.items()}

    def curves(t: training.Trained) -> dict[str, Any]:
        per_epoch = len(t.fit.history.get("val_loss", [])) // max(t.fit.n_epochs_run, 1)
        return {**training.learning_curves(t), "convergence": t.fit.convergence[0].as_dict(),
                "evals_per_epoch": max(per_epoch, 1)}

    return {name: curves(r.trained[0]) for name, r in runs.items()}


def task_models(headline: Headline, task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The models of one task's table, in the page's order (MultiParTau, SingleParTau, then the baselines:
    XGBoost for tau ID, the conventional estimators for the others), and the seed summaries of those with
    several seeds.

    Raises
    ------
    ValueError
        ``task`` is not one of :data:`TASKS`.
    """
    if task not in TASKS:
        msg = f"task must be one of {', '.join(TASKS)}, found {task!r}"
        raise ValueError(msg)
    models = {headline.main_name: headline.main.metrics[task]}
    seeds = {headline.main_name: headline.main.seeds}
    if task in headline.single:
        models["SingleParTau"] = headline.single[task].metrics[task]
        if task == "tau_id":
            seeds["SingleParTau"] = headline.single[task].seeds
    if task == "tau_id":
        models["XGBoost (jet features)"] = headline.xgb
        seeds["XGBoost (jet features)"] = headline.xgb_seeds
    else:
        models |= headline.base[task]
    return models, seeds


def compare(settings: Settings, data: TauData, headline: Headline) -> tuple[dict[str, Any], dict[str, Any]]:
    """One line per training setup (each PCGrad setting, the single-task networks together) and the paired
    differences on the same test jets (:func:`hepnb.tau.studies.paired_comparisons`)."""
    runs = {f"MultiParTau ({s})": {"summary": r.seeds, "parameters": r.trained[0].n_params,
                                   "train_time_s": r.train_time_s} for s, r in headline.multi.items()}
    single = headline.single
    if single:
        merged = {k: v for r in single.values() for k, v in r.seeds.items()}
        runs["SingleParTau (one per task)"] = {"summary": merged,
                                               "parameters": sum(r.trained[0].n_params for r in single.values()),
                                               "train_time_s": sum(r.train_time_s for r in single.values())}
    base = headline.base
    dm_pred = baselines.dm_baseline_prediction(data.test, base["dm_baseline"], base["hps_params"])
    paired = studies.paired_comparisons(data, headline.main, single, headline.xgb_score, dm_pred,
                                        n_boot=max(settings.n_boot, 2))
    return runs, paired


@dataclass
class Evolution:
    """Tau ID by each generation of jet network (``models``) and by training fraction (``scaling`` rows)."""

    models: dict[str, dict[str, Any]]
    scaling: list[dict[str, Any]]


def evolution(settings: Settings, data: TauData, headline: Headline) -> Evolution:
    """XGBoost, the taggers of ``settings.taggers`` and the single-task ParT on tau ID, then the data scaling of
    ``settings.scaling_models``."""
    cfg, train_cfg = settings.model, settings.training()
    models: dict[str, dict[str, Any]] = {"XGBoost (jet features)": headline.xgb}
    models |= studies.evolution_study(data, cfg, settings.taggers, train_cfg, n_boot=settings.n_boot)
    if "tau_id" in headline.single:
        part = headline.single["tau_id"]
        models["ParT"] = {**part.metrics["tau_id"], "parameters": part.trained[0].n_params}
    scaling = studies.data_scaling_study(data, cfg, settings.scaling_models, settings.scaling_fractions, models,
                                         train_cfg, n_trees=settings.n_trees_xgb, n_boot=settings.n_boot)
    return Evolution(models, scaling)


def model_sizes(settings: Settings, data: TauData) -> tuple[TauData, side_studies.SideStudy]:
    """The test subset of the side studies (``n_test_bkg_studies`` q/g jets) and the model-size study over the ParT
    sizes of ``settings.sizes``, ``size_seeds`` seeds each (:func:`hepnb.tau.side_studies.size_study`)."""
    study_data = training.with_test_subset(data, settings.n_test_bkg_studies, settings.seed)
    study = side_studies.size_study(study_data, {name: training.PART_SIZES[name] for name in settings.sizes},
                                    settings.training(settings.size_epochs), n_train=settings.size_train_jets,
                                    n_seeds=settings.size_seeds, dtype=settings.compute_dtype, n_boot=settings.n_boot)
    return study_data, study


def pretraining(settings: Settings, study_data: TauData) -> side_studies.SideStudy:
    """The label-efficiency study, pre-trained and from scratch, ``label_draws`` draws of the labelled jets per
    fraction below one of a pool of ``label_train_jets`` labelled jets (pre-training uses every training jet) and
    the fine-tuning learning rate chosen on validation from ``label_lrs``
    (:func:`hepnb.tau.side_studies.label_efficiency_study`); empty without ``settings.label_fractions``."""
    if not settings.label_fractions:
        return side_studies.SideStudy()
    _, study = side_studies.label_efficiency_study(
        study_data, settings.model, settings.label_fractions, settings.training(settings.label_epochs),
        lrs=settings.label_lrs, n_draws=settings.label_draws, pretrain_epochs=settings.pretrain_epochs,
        n_pool=settings.label_train_jets, n_boot=settings.n_boot)
    return study
