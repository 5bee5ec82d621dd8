"""Training of the tau study's networks and of its XGBoost tagger.

MultiParTau (plain weighted sum or PCGrad), SingleParTau per task, the tau-ID taggers (Deep Sets, a plain
Transformer, ParT), masked-particle pre-training, and XGBoost on jet features. Every network trains until its
validation loss has converged by the Book's rule (:func:`hepnb.convergence.relative_convergence`), at most a
number of epochs, with AdamW at a constant peak learning rate after a one-epoch warm-up that is halved whenever
the validation loss stops improving (:func:`network_plateau`); the weights at the stop are kept. Also the splits' network
inputs (:class:`TauData`, :func:`split_sample`) and the networks' outputs on a split.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import optax
from flax import nnx

from hepnb.compute.devices import xgboost_device
from hepnb.convergence import RELATIVE_TOLERANCE
from hepnb.plateau import Plateau
from hepnb.tau import baselines
from hepnb.tau.data import JetSample, TauData, p_theta_weights, split, to_tensors
from hepnb.tau.losses import TASK_WEIGHTS, MultiTaskLoss, SingleTaskLoss
from hepnb.tau.models import (
    LOSS_COVERAGE,
    OUTPUT_COVERAGE,
    TASKS,
    DeepSets,
    MultiParTau,
    ParTConfig,
    SingleParTau,
    count_params,
    kinematic_scale,
)
from hepnb.tau.pcgrad import PCGrad
from hepnb.tau.pretrain import MaskedParticleLoss, MaskedParticleModel, transfer_backbone
from hepnb.train import FitConfig, FitResult, fit, predict

__all__ = [
    "PART_SIZES",
    "SURGERIES",
    "TAGGERS",
    "Trained",
    "TrainingConfig",
    "learning_curves",
    "model_outputs",
    "network_plateau",
    "pretrain",
    "split_sample",
    "subsample",
    "test_outputs",
    "train_multi",
    "train_single",
    "train_tagger",
    "train_xgboost",
    "training_kin_scale",
    "with_test_subset",
    "xgboost_scores",
]


SURGERIES = ("none", "original", "tau")


TAGGERS = ("deepsets", "transformer", "part")


#: The talk's ParT sizes (seed 002) and the fcc-tau model card; 2 particle + 2 class blocks each, as the card.
#: ParT-mini is the page's default network (affordable on a laptop's CPU at the default profile).
PART_SIZES: dict[str, ParTConfig] = {
    "ParT-mini": ParTConfig(embed_dims=(32, 64, 32), pair_dims=(16, 16, 16), n_heads=4),
    "ParT-lite": ParTConfig(embed_dims=(64, 256, 64), pair_dims=(32, 32, 32), n_heads=8),
    "ParT-B": ParTConfig(embed_dims=(128, 512, 128), pair_dims=(64, 64, 64), n_heads=8),
    "model-card": ParTConfig(embed_dims=(256, 512, 256), pair_dims=(64, 64, 64), n_heads=8),
    "ParT-L": ParTConfig(embed_dims=(256, 1024, 256), pair_dims=(128, 128, 128), n_heads=16),
}


_INPUTS = ("features", "p4", "mask")


_TRAIN_KEYS = ("features", "p4", "mask", "is_tau", "charge", "decay_mode", "kin_targets", "weight")


def split_sample(sample: JetSample, *, seed: int, bkg_per_tau: float | None = None) -> TauData:
    """Tensors (sorted by pT and padded or truncated to 20 candidates; the number of truncated jets is in
    :func:`physics_checks`), the split (:func:`hepnb.tau.data.split`) and the (p, θ) weights, whose histograms
    come from the training split."""
    import awkward as ak

    jets = sample.jets
    tensors = to_tensors(jets, warn=False)
    tensors["gen_vis_p4"] = np.asarray(ak.to_numpy(jets.gen_vis_p4), np.float32)
    idx = split(tensors["is_tau"], seed, origin=tensors["origin"], bkg_per_tau=bkg_per_tau)
    parts = {name: {k: v[i] for k, v in tensors.items()} for name, i in idx.items()}
    for part in parts.values():
        part["weight"] = p_theta_weights(part, reference=parts["train"])
    gen = None
    if sample.taus is not None and len(sample.taus):
        gen = {"vis_p4": np.asarray(ak.to_numpy(sample.taus.vis_p4), np.float64),
               "reco": np.asarray(sample.taus.reco, np.int32),
               "decay_mode": np.asarray(sample.taus.decay_mode, np.int32)}
    return TauData(train=parts["train"], val=parts["val"], test=parts["test"], gen_taus=gen)


def subsample(data: Mapping[str, np.ndarray], fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A random ``fraction`` (at least one jet) of a split."""
    n = len(data["weight"])
    keep = np.sort(np.random.default_rng(seed).permutation(n)[: max(1, round(fraction * n))])
    return {k: v[keep] for k, v in data.items()}


def with_test_subset(data: TauData, n_bkg: int, seed: int) -> TauData:
    """``data`` with a test split that keeps every jet that is not q/g and a random ``n_bkg`` of its q/g jets (all
    when there are fewer): for the studies whose tables do not need the full background sample (model size,
    pre-training), since evaluating a network costs time in proportion to the test jets."""
    if n_bkg < 1:
        msg = f"n_bkg must be >= 1, found {n_bkg}"
        raise ValueError(msg)
    qg = np.flatnonzero(data.test["origin"] == 0)
    drop = np.random.default_rng(seed).permutation(qg)[n_bkg:]
    keep = np.setdiff1d(np.arange(len(data.test["origin"])), drop)
    test = {k: v[keep] for k, v in data.test.items()}
    return TauData(train=data.train, val=data.val, test=test, gen_taus=data.gen_taus)


def reference_jets(data: Mapping[str, np.ndarray], keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The jets networks train and validate on: q/g and hadronic τ (the other origins are test-only); only the
    arrays ``keys`` when given."""
    keep = np.isin(data["origin"], (0, 1))
    return {k: data[k][keep] for k in (data if keys is None else keys)}


def _train_arrays(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: data[k] for k in _TRAIN_KEYS}


#: Consecutive epoch ends at which the convergence rule must hold before a network stops (one could be a window
#: that happens to start at a high point of a noisy curve; the PID study stops on the same two).
CONVERGED_EPOCH_ENDS = 2
#: The smallest fraction of the peak learning rate the plateau halvings reach (four halvings).
MIN_LR_SCALE = 1 / 16


def _optimizer(lr: float, *, steps_per_epoch: int, weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """AdamW after gradient-norm clipping at 1, its learning rate rising linearly from a tenth of ``lr`` to ``lr``
    over the first epoch, then constant; :func:`network_plateau` cuts it on a plateau of the validation loss.

    A one-cycle schedule anneals the rate to zero at its last step, so its last fifth is flat whether or not the
    network has learnt what it can, and the convergence rule could not tell; at a constant rate the validation
    loss jitters, which the halvings calm once it stops improving.
    """
    warmup = optax.linear_schedule(lr / 10, lr, max(steps_per_epoch, 1))
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(warmup, weight_decay=weight_decay))


def network_plateau(evals_per_epoch: int) -> Plateau:
    """The networks' learning-rate plateau (:class:`hepnb.plateau.Plateau`, the PID study's rule): the rate halved
    after one epoch (``evals_per_epoch`` evaluations) in which the validation loss did not beat its best by 1 % (the
    Book's tolerance), down to :data:`MIN_LR_SCALE` of the peak. A cut read on the training loss, which falls on
    while the validation loss is flat, left the PID networks' validation curves still falling at their cap."""
    return Plateau(factor=0.5, patience=evals_per_epoch, threshold=RELATIVE_TOLERANCE, min_scale=MIN_LR_SCALE)


@dataclass(frozen=True)
class TrainingConfig:
    """How one network of the study is trained.

    Attributes
    ----------
    epochs
        The cap on epochs: a network stops earlier once its validation loss has converged
        (:data:`CONVERGED_EPOCH_ENDS` consecutive epoch ends), and keeps the weights at the stop.
    batch_size
        Jets per optimiser step (at most the training jets).
    lr
        Peak learning rate (after the warm-up, before any plateau halving; :func:`_optimizer`, :func:`network_plateau`).
    seed
        Seed of the initial weights, the dropout and the batches.
    kin_weight
        Task weight of the kinematics loss of MultiParTau (the tau code's 2; the page chooses it on the
        validation split, :func:`hepnb.tau.regression.choose_kin_weight`).
    eval_steps
        Optimiser steps between two validation evaluations (at least: an epoch is cut into
        ``max(1, steps per epoch // eval_steps)`` equal parts, each ending in an evaluation). The convergence
        rule needs :data:`hepnb.convergence.MIN_POINTS` evaluations, so a network takes at least that many
        times ``eval_steps`` steps (or that many epochs) before it can stop.
    """

    epochs: int
    batch_size: int
    lr: float = 1e-3
    seed: int = 0
    kin_weight: float = TASK_WEIGHTS["kinematics"]
    eval_steps: int = 20

    def __post_init__(self) -> None:
        if not self.kin_weight > 0:
            msg = f"kin_weight must be > 0, found {self.kin_weight}"
            raise ValueError(msg)
        if self.epochs < 1 or self.batch_size < 1 or self.eval_steps < 1:
            msg = (f"epochs, batch_size and eval_steps must be >= 1, found {self.epochs}, {self.batch_size} and "
                   f"{self.eval_steps}")
            raise ValueError(msg)

    def evals_per_epoch(self, steps_per_epoch: int) -> int:
        """Validation evaluations per epoch of ``steps_per_epoch`` optimiser steps: one per ``eval_steps`` steps,
        at least one."""
        return max(1, steps_per_epoch // self.eval_steps)

    def task_weights(self) -> tuple[float, ...]:
        """The task weights of MultiParTau in :data:`hepnb.tau.models.TASKS` order (the tau code's, with
        :attr:`kin_weight` for the kinematics)."""
        return tuple(self.kin_weight if t == "kinematics" else TASK_WEIGHTS[t] for t in TASKS)


@dataclass
class Trained:
    """A trained network with its fit record, parameter count and training throughput."""

    model: nnx.Module
    fit: FitResult
    n_params: int
    jets_per_s: float
    n_train: int


def _train(model: nnx.Module, loss_fn: Any, data: TauData, train_cfg: TrainingConfig, *, grad_fn: Any = None,
           train: Mapping[str, np.ndarray] | None = None, n_labelled: int | None = None) -> Trained:
    """Fit on the training split (or ``train``) until the validation loss converges (at most ``train_cfg.epochs``
    epochs, :func:`_optimizer`); the weights at the stop are kept.

    ``n_labelled`` is the number of distinct jets in ``train`` when it repeats a labelled fraction
    (:func:`_label_fraction`).
    """
    train_arrays = _train_arrays(reference_jets(train if train is not None else data.train))
    n_train = len(train_arrays["weight"])
    batch_size = max(1, min(train_cfg.batch_size, n_train))
    per_epoch = max(n_train // batch_size, 1)
    n_evals = train_cfg.evals_per_epoch(per_epoch)
    tx = _optimizer(train_cfg.lr, steps_per_epoch=per_epoch)
    config = FitConfig(batch_size=batch_size, n_epochs=train_cfg.epochs, seed=train_cfg.seed, progress=False,
                       restore_best=False, evals_per_epoch=n_evals, stop_when_converged=CONVERGED_EPOCH_ENDS,
                       convergence_metric="val_loss", plateau=network_plateau(n_evals))
    result = fit(model, tx, loss_fn, train_arrays, _train_arrays(reference_jets(data.val)), config=config,
                 grad_fn=grad_fn)
    jets_per_s = result.n_steps * batch_size / result.train_time_s if result.train_time_s > 0 else float("nan")
    return Trained(model=model, fit=result, n_params=count_params(model), jets_per_s=jets_per_s,
                   n_train=n_train if n_labelled is None else n_labelled)


def training_kin_scale(data: TauData, train: Mapping[str, np.ndarray] | None, *, scaled: bool = True,
                       coverage: float = OUTPUT_COVERAGE) -> tuple[float, ...] | None:
    """The kinematics scale (:func:`hepnb.tau.models.kinematic_scale`) from the τ jets a network is trained on
    (``train``, e.g. a labelled fraction, or the training split): with the default ``coverage`` the output scale
    (tails included), with :data:`hepnb.tau.models.LOSS_COVERAGE` the loss units (the core); ``None`` when
    ``scaled`` is false."""
    if not scaled:
        return None
    jets = reference_jets(train if train is not None else data.train, ("kin_targets", "is_tau"))
    return kinematic_scale(jets["kin_targets"], jets["is_tau"], coverage=coverage)


def _label_fraction(data: TauData, fraction: float, seed: int) -> tuple[dict[str, np.ndarray] | None, int | None]:
    """A random ``fraction`` of the training jets, repeated (in a random order) up to the size of the whole
    training split, and its number of distinct jets: a network trained on a fraction takes as many optimiser
    steps as on the whole split, with the same shapes (so the same compiled program)."""
    if fraction >= 1.0:
        return None, None
    full = reference_jets(data.train)
    part = subsample(full, fraction, seed)
    n_full, n_part = len(full["weight"]), len(part["weight"])
    idx = np.random.default_rng(seed + 1).permutation(np.resize(np.arange(n_part), n_full))
    return {k: v[idx] for k, v in part.items()}, n_part


def train_multi(data: TauData, cfg: ParTConfig, train_cfg: TrainingConfig, *, surgery: str = "original",
                fraction: float = 1.0, pretrained: MaskedParticleModel | None = None,
                scaled_kinematics: bool = True) -> Trained:
    """MultiParTau on the four tasks (task weights 1, 1, 1 and ``train_cfg.kin_weight``; per-jet weighting of
    the tau code).

    Parameters
    ----------
    train_cfg
        The cap on epochs, batch size, peak learning rate, seed and validation cadence (:class:`TrainingConfig`).
    surgery
        ``"none"`` (plain weighted sum), ``"original"`` (PCGrad as in the paper) or ``"tau"`` (the tau
        code's per-tensor, kinematics-protected variant, task order tag, DM, charge, kinematics).
    fraction
        Train on this random fraction of the training jets (the labelled fraction of a label-efficiency
        curve), repeated to the size of the training split (as many steps as the whole split); the validation
        split is kept.
    pretrained
        A masked-particle model whose backbone initialises the network (:mod:`hepnb.tau.pretrain`).
    scaled_kinematics
        Scale the kinematics outputs by the spread of each target on the training τ jets, tails included, and
        measure their loss's residuals in units of the core's spread (:func:`training_kin_scale`,
        :class:`~hepnb.tau.models.KinematicsOutput`, :func:`~hepnb.tau.losses.task_loss`); ``False``: the tau
        code's unscaled outputs and loss.
    """
    if surgery not in SURGERIES:
        msg = f"unknown surgery {surgery!r}; expected one of {list(SURGERIES)}"
        raise ValueError(msg)
    seed = train_cfg.seed
    train, n_labelled = _label_fraction(data, fraction, seed)
    out_scale = training_kin_scale(data, train, scaled=scaled_kinematics)
    loss_scale = training_kin_scale(data, train, scaled=scaled_kinematics, coverage=LOSS_COVERAGE)
    loss = MultiTaskLoss(TASKS, train_cfg.task_weights(), kin_scale=loss_scale)
    model = MultiParTau(cfg, kin_scale=out_scale, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    if pretrained is not None:
        transfer_backbone(pretrained, model)
    grad_fn = None if surgery == "none" else PCGrad(loss, surgery)
    return _train(model, loss, data, train_cfg, grad_fn=grad_fn, train=train, n_labelled=n_labelled)


def train_single(data: TauData, task: str, cfg: ParTConfig, train_cfg: TrainingConfig, *,
                 scaled_kinematics: bool = True) -> Trained:
    """SingleParTau for one task (the tau code's loss of that task, the same per-jet weighting), trained as
    ``train_cfg`` says (its ``kin_weight`` unused); the kinematics network's outputs scaled as
    :func:`train_multi`'s."""
    seed = train_cfg.seed
    kinematic = task == "kinematics" and scaled_kinematics
    out_scale = training_kin_scale(data, None) if kinematic else None
    loss_scale = training_kin_scale(data, None, coverage=LOSS_COVERAGE) if kinematic else None
    model = SingleParTau(task, cfg, kin_scale=out_scale, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    return _train(model, SingleTaskLoss(task, kin_scale=loss_scale), data, train_cfg)


def train_tagger(data: TauData, kind: str, cfg: ParTConfig, train_cfg: TrainingConfig, *,
                 fraction: float = 1.0) -> Trained:
    """A tau-ID network: ``"deepsets"``, ``"transformer"`` (ParT without pair bias) or ``"part"``, on a
    ``fraction`` of the training jets (repeated to the size of the split, as :func:`train_multi`), trained as
    ``train_cfg`` says."""
    seed = train_cfg.seed
    rngs = nnx.Rngs(params=seed, dropout=seed + 1)
    if kind == "deepsets":
        model: nnx.Module = DeepSets(2, rngs=rngs)
    elif kind in ("transformer", "part"):
        model = SingleParTau("tau_id", cfg if kind == "part" else cfg.with_(pair_dims=()), rngs=rngs)
    else:
        msg = f"unknown tagger {kind!r}; expected one of {list(TAGGERS)}"
        raise ValueError(msg)
    train, n_labelled = _label_fraction(data, fraction, seed)
    return _train(model, SingleTaskLoss("tau_id"), data, train_cfg, train=train, n_labelled=n_labelled)


def pretrain(data: TauData, cfg: ParTConfig, train_cfg: TrainingConfig) -> Trained:
    """Masked-particle pre-training on the training jets, labels unused (τ and q/g together), trained as
    ``train_cfg`` says (its ``kin_weight`` unused)."""
    seed = train_cfg.seed
    model = MaskedParticleModel(cfg, rngs=nnx.Rngs(params=seed + 100, dropout=seed + 101))
    return _train(model, MaskedParticleLoss(), data, train_cfg)


def train_xgboost(data: TauData, *, n_trees: int, seed: int = 0, fraction: float = 1.0) -> tuple[Any, float]:
    """XGBoost on :func:`hepnb.tau.baselines.jet_summary_features` for tau ID (the number of trees chosen by
    early stopping on the validation split); returns (model, train seconds)."""
    import xgboost as xgb

    train = reference_jets(data.train)
    train = subsample(train, fraction, seed) if fraction < 1.0 else train
    val = reference_jets(data.val)
    model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=6, learning_rate=0.1, subsample=0.8,
                              tree_method="hist", device=xgboost_device(),
                              random_state=seed, early_stopping_rounds=max(10, n_trees // 10), eval_metric="logloss")
    x_tr = baselines.jet_summary_features(train["features"], train["mask"], train["jet_p4"])
    x_va = baselines.jet_summary_features(val["features"], val["mask"], val["jet_p4"])
    t0 = time.perf_counter()
    model.fit(x_tr, train["is_tau"], sample_weight=train["weight"], eval_set=[(x_va, val["is_tau"])], verbose=False)
    return model, time.perf_counter() - t0


def xgboost_scores(model: Any, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """p(τ) of the XGBoost tagger."""
    return model.predict_proba(baselines.jet_summary_features(data["features"], data["mask"], data["jet_p4"]))[:, 1]


def _apply(model: nnx.Module, batch: dict[str, jax.Array]) -> Any:
    return model(batch["features"], batch["p4"], batch["mask"])  # type: ignore[operator]


_PREDICT_CHUNK = 1024


def model_outputs(model: nnx.Module, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The outputs of a network on a split: a dict by task (one entry, the model's task, for a single-task
    network; ``tau_id`` for a tagger). Inputs are padded to whole chunks of a fixed size (empty jets), so that
    every split of every size runs one compiled program per network."""
    n = len(data["mask"])
    pad = -n % _PREDICT_CHUNK
    inputs = {k: np.concatenate([data[k], np.zeros((pad, *data[k].shape[1:]), data[k].dtype)]) for k in _INPUTS}
    out = jax.tree.map(lambda a: np.asarray(a)[:n], predict(model, inputs, _apply, batch_size=_PREDICT_CHUNK))

    if isinstance(out, dict):
        return out
    return {getattr(model, "task", "tau_id"): out}


def test_outputs(model: nnx.Module, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """:func:`model_outputs` on a split, computed on its τ jets only for a single-task network whose task is
    measured on τ jets alone (decay mode, charge, kinematics); the other rows are zero and never read."""
    if getattr(model, "task", "tau_id") == "tau_id":
        return model_outputs(model, data)
    tau = np.asarray(data["is_tau"]) == 1
    out = {}
    for task, part in model_outputs(model, {k: data[k][tau] for k in _INPUTS}).items():
        out[task] = np.zeros((len(tau), *part.shape[1:]), part.dtype)
        out[task][tau] = part
    return out


def learning_curves(trained: Trained) -> dict[str, list[float]]:
    """Per-epoch training and validation losses (total and per task) of a fit."""
    return {k: list(v) for k, v in trained.fit.history.items()}
