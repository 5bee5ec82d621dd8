"""Training and evaluation of the tau study: what the notebook calls.

MultiParTau (plain weighted sum or PCGrad), SingleParTau per task, the tau-ID comparison of XGBoost, Deep
Sets, a plain Transformer and ParT (seed 002's evolution), model-size scaling, and masked-particle
pre-training with fine-tuning on a fraction of the labels. Every network runs its one-cycle schedule to the
end and keeps its last epoch (no early stopping on the noisy weighted validation loss); every choice
(the PCGrad variant, the HPS-like thresholds, XGBoost's number of trees) is made on the validation split;
all models are compared on one test split.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hepnb import kinematics, metrics
from hepnb.compute.devices import xgboost_device
from hepnb.tau import constants, evaluate
from hepnb.tau.data import JetSample, p_theta_weights, split, to_tensors
from hepnb.tau.losses import TASK_WEIGHTS, MultiTaskLoss, SingleTaskLoss
from hepnb.tau.models import (
    RECO_JET_TARGETS,
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
from hepnb.train import FitResult, fit, predict

__all__ = [
    "SIZES",
    "SURGERIES",
    "TAGGERS",
    "Run",
    "TauData",
    "Trained",
    "baselines",
    "data_scaling_study",
    "dm_baseline_prediction",
    "evaluate_outputs",
    "evaluate_run",
    "evolution_study",
    "headline",
    "hps_prediction",
    "label_efficiency_study",
    "learning_curves",
    "metrics_resolution",
    "model_outputs",
    "paired_comparisons",
    "physics_checks",
    "prepare",
    "pretrain",
    "seed_summary",
    "select_surgery",
    "single_study",
    "size_study",
    "subsample",
    "surgery_study",
    "tau_id_evaluation",
    "tau_id_window",
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
SIZES: dict[str, ParTConfig] = {
    "ParT-lite": ParTConfig(embed_dims=(64, 256, 64), pair_dims=(32, 32, 32), n_heads=8),
    "ParT-B": ParTConfig(embed_dims=(128, 512, 128), pair_dims=(64, 64, 64), n_heads=8),
    "model-card": ParTConfig(embed_dims=(256, 512, 256), pair_dims=(64, 64, 64), n_heads=8),
    "ParT-L": ParTConfig(embed_dims=(256, 1024, 256), pair_dims=(128, 128, 128), n_heads=16),
}
_INPUTS = ("features", "p4", "mask")
_TRAIN_KEYS = ("features", "p4", "mask", "is_tau", "charge", "decay_mode", "kin_targets", "weight")


@dataclass
class TauData:
    """Network inputs and labels of the train, validation and test splits (dicts of arrays, see
    :func:`prepare`), and the generated hadronic taus (``vis_p4``, ``reco``) when the sample has them."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    gen_taus: dict[str, np.ndarray] | None = None


def prepare(sample: JetSample, *, seed: int, bkg_per_tau: float | None = None) -> TauData:
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


def _reference(data: Mapping[str, np.ndarray], keys: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The jets networks train and validate on: q/g and hadronic τ (the other origins are test-only); only the
    arrays ``keys`` when given."""
    keep = np.isin(data["origin"], (0, 1))
    return {k: data[k][keep] for k in (data if keys is None else keys)}


def _train_arrays(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: data[k] for k in _TRAIN_KEYS}


def _optimizer(lr: float, n_steps: int, weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """AdamW with a one-cycle cosine schedule peaking at ``lr`` over ``n_steps``, after gradient-norm clipping
    at 1 (the tau code's optimiser)."""
    schedule = optax.cosine_onecycle_schedule(max(n_steps, 1), lr)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=weight_decay))


@dataclass
class Trained:
    """A trained network with its fit record, parameter count and training throughput."""

    model: nnx.Module
    fit: FitResult
    n_params: int
    jets_per_s: float
    n_train: int


def _train(model: nnx.Module, loss_fn: Any, data: TauData, *, epochs: int, batch_size: int, lr: float,
           seed: int, grad_fn: Any = None, train: Mapping[str, np.ndarray] | None = None,
           n_labelled: int | None = None) -> Trained:
    """Fit on the training split (or ``train``) with the schedule run to its end; the last epoch is kept.

    ``n_labelled`` is the number of distinct jets in ``train`` when it repeats a labelled fraction
    (:func:`_label_fraction`).
    """
    train_arrays = _train_arrays(_reference(train if train is not None else data.train))
    n_train = len(train_arrays["weight"])
    batch_size = max(1, min(batch_size, n_train))
    per_epoch = max(n_train // batch_size, 1)
    n_steps = epochs * per_epoch
    result = fit(model, _optimizer(lr, n_steps), loss_fn, train_arrays, _train_arrays(_reference(data.val)),
                 batch_size=batch_size,
                 n_epochs=epochs, seed=seed, grad_fn=grad_fn, progress=False, restore_best=False)
    jets_per_s = result.n_steps * batch_size / result.train_time_s if result.train_time_s > 0 else float("nan")
    return Trained(model=model, fit=result, n_params=count_params(model), jets_per_s=jets_per_s,
                   n_train=n_train if n_labelled is None else n_labelled)


def training_kin_scale(data: TauData, train: Mapping[str, np.ndarray] | None, *, scaled: bool = True
                       ) -> tuple[float, ...] | None:
    """The kinematics output scale (:func:`hepnb.tau.models.kinematic_scale`) from the τ jets a network is trained
    on (``train``, e.g. a labelled fraction, or the training split); ``None`` when ``scaled`` is false."""
    if not scaled:
        return None
    jets = _reference(train if train is not None else data.train, ("kin_targets", "is_tau"))
    return kinematic_scale(jets["kin_targets"], jets["is_tau"])


def _label_fraction(data: TauData, fraction: float, seed: int) -> tuple[dict[str, np.ndarray] | None, int | None]:
    """A random ``fraction`` of the training jets, repeated (in a random order) up to the size of the whole
    training split, and its number of distinct jets: a network trained on a fraction takes as many optimiser
    steps as on the whole split, with the same shapes (so the same compiled program)."""
    if fraction >= 1.0:
        return None, None
    full = _reference(data.train)
    part = subsample(full, fraction, seed)
    n_full, n_part = len(full["weight"]), len(part["weight"])
    idx = np.random.default_rng(seed + 1).permutation(np.resize(np.arange(n_part), n_full))
    return {k: v[idx] for k, v in part.items()}, n_part


def train_multi(data: TauData, cfg: ParTConfig, *, surgery: str = "original", epochs: int, batch_size: int,
                lr: float = 1e-3, seed: int = 0, fraction: float = 1.0, pretrained: MaskedParticleModel | None = None,
                scaled_kinematics: bool = True) -> Trained:
    """MultiParTau on the four tasks (task weights 1, 1, 1, 2; per-jet weighting of the tau code).

    Parameters
    ----------
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
        Measure the kinematics outputs and their loss's residuals in units of the spread of each target on the
        training τ jets (:func:`training_kin_scale`, :class:`~hepnb.tau.models.KinematicsOutput`,
        :func:`~hepnb.tau.losses.task_loss`); ``False``: the tau code's unscaled outputs and loss.
    """
    if surgery not in SURGERIES:
        msg = f"unknown surgery {surgery!r}; expected one of {list(SURGERIES)}"
        raise ValueError(msg)
    train, n_labelled = _label_fraction(data, fraction, seed)
    kin_scale = training_kin_scale(data, train, scaled=scaled_kinematics)
    loss = MultiTaskLoss(TASKS, tuple(TASK_WEIGHTS[t] for t in TASKS), kin_scale=kin_scale)
    model = MultiParTau(cfg, kin_scale=kin_scale, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    if pretrained is not None:
        transfer_backbone(pretrained, model)
    grad_fn = None if surgery == "none" else PCGrad(loss, surgery)
    return _train(model, loss, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, grad_fn=grad_fn,
                  train=train, n_labelled=n_labelled)


def train_single(data: TauData, task: str, cfg: ParTConfig, *, epochs: int, batch_size: int, lr: float = 1e-3,
                 seed: int = 0, scaled_kinematics: bool = True) -> Trained:
    """SingleParTau for one task (the tau code's loss of that task, the same per-jet weighting); the kinematics
    network's outputs scaled as :func:`train_multi`'s."""
    kin_scale = training_kin_scale(data, None, scaled=scaled_kinematics) if task == "kinematics" else None
    model = SingleParTau(task, cfg, kin_scale=kin_scale, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    return _train(model, SingleTaskLoss(task, kin_scale=kin_scale), data, epochs=epochs, batch_size=batch_size,
                  lr=lr, seed=seed)


def train_tagger(data: TauData, kind: str, cfg: ParTConfig, *, epochs: int, batch_size: int, lr: float = 1e-3,
                 seed: int = 0, fraction: float = 1.0) -> Trained:
    """A tau-ID network: ``"deepsets"``, ``"transformer"`` (ParT without pair bias) or ``"part"``, on a
    ``fraction`` of the training jets (repeated to the size of the split, as :func:`train_multi`)."""
    rngs = nnx.Rngs(params=seed, dropout=seed + 1)
    if kind == "deepsets":
        model: nnx.Module = DeepSets(2, rngs=rngs)
    elif kind in ("transformer", "part"):
        model = SingleParTau("tau_id", cfg if kind == "part" else cfg.with_(pair_dims=()), rngs=rngs)
    else:
        msg = f"unknown tagger {kind!r}; expected one of {list(TAGGERS)}"
        raise ValueError(msg)
    train, n_labelled = _label_fraction(data, fraction, seed)
    return _train(model, SingleTaskLoss("tau_id"), data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  train=train, n_labelled=n_labelled)


def pretrain(data: TauData, cfg: ParTConfig, *, epochs: int, batch_size: int, lr: float = 1e-3, seed: int = 0
             ) -> Trained:
    """Masked-particle pre-training on the training jets, labels unused (τ and q/g together)."""
    model = MaskedParticleModel(cfg, rngs=nnx.Rngs(params=seed + 100, dropout=seed + 101))
    return _train(model, MaskedParticleLoss(), data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)


def train_xgboost(data: TauData, *, n_trees: int, seed: int = 0, fraction: float = 1.0) -> tuple[Any, float]:
    """XGBoost on :func:`hepnb.tau.evaluate.jet_summary_features` for tau ID (the number of trees chosen by
    early stopping on the validation split); returns (model, train seconds)."""
    import xgboost as xgb

    train = _reference(data.train)
    train = subsample(train, fraction, seed) if fraction < 1.0 else train
    val = _reference(data.val)
    model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=6, learning_rate=0.1, subsample=0.8,
                              tree_method="hist", device=xgboost_device(),
                              random_state=seed, early_stopping_rounds=max(10, n_trees // 10), eval_metric="logloss")
    x_tr = evaluate.jet_summary_features(train["features"], train["mask"], train["jet_p4"])
    x_va = evaluate.jet_summary_features(val["features"], val["mask"], val["jet_p4"])
    t0 = time.perf_counter()
    model.fit(x_tr, train["is_tau"], sample_weight=train["weight"], eval_set=[(x_va, val["is_tau"])], verbose=False)
    return model, time.perf_counter() - t0


def xgboost_scores(model: Any, data: Mapping[str, np.ndarray]) -> np.ndarray:
    """p(τ) of the XGBoost tagger."""
    return model.predict_proba(evaluate.jet_summary_features(data["features"], data["mask"], data["jet_p4"]))[:, 1]


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


def _test_outputs(model: nnx.Module, data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
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


def tau_id_window(data: Mapping[str, np.ndarray]) -> np.ndarray:
    """The jets tau-ID metrics use: 10° < θ < 170° (the tau code's evaluation), q/g or hadronic τ."""
    theta = kinematics.theta_deg(data["jet_p4"])
    return (theta > 10.0) & (theta < 170.0) & np.isin(data["origin"], (0, 1))


def _softmax(x: np.ndarray) -> np.ndarray:
    return np.asarray(jax.nn.softmax(jnp.asarray(x), axis=-1))


def _tau_score(out: np.ndarray) -> np.ndarray:
    return _softmax(out)[:, 1] if out.ndim == 2 and out.shape[-1] == 2 else np.asarray(out).reshape(-1)


def tau_id_evaluation(score: np.ndarray, data: Mapping[str, np.ndarray], gen_taus: Mapping[str, np.ndarray] | None,
                      *, n_boot: int = 50, detail: bool = True) -> dict[str, Any]:
    """Tau-ID metrics of a score on a split (:func:`hepnb.tau.evaluate.tau_id_metrics` in the θ window), and,
    with ``detail``, the binned working points, the extra backgrounds and the efficiency against generated
    taus."""
    win = tau_id_window(data)
    res = evaluate.tau_id_metrics(score[win], data["is_tau"][win], n_boot=n_boot)
    if detail:
        thresholds = {wp: v["threshold"] for wp, v in res["working_points"].items()}
        res["binned"] = evaluate.binned_working_points(score[win], data["is_tau"][win], data["jet_p4"][win],
                                                       thresholds)
        theta = kinematics.theta_deg(data["jet_p4"])
        in_theta = (theta > 10.0) & (theta < 170.0)
        res["extra_backgrounds"] = evaluate.extra_background_rates(score[in_theta], data["origin"][in_theta],
                                                                   thresholds)
        if gen_taus is not None:
            tau = (data["is_tau"] == 1) & in_theta
            res["vs_generated"] = evaluate.efficiency_vs_generated(score[tau], data["gen_vis_p4"][tau],
                                                                   gen_taus["vis_p4"], gen_taus["reco"], thresholds)
    return res


def evaluate_outputs(outputs: Mapping[str, np.ndarray], data: Mapping[str, np.ndarray], *,
                     gen_taus: Mapping[str, np.ndarray] | None = None, n_boot: int = 50, detail: bool = True
                     ) -> dict[str, Any]:
    """Metrics of every task in ``outputs`` (see :func:`model_outputs`) on one split."""
    tau = data["is_tau"] == 1
    res: dict[str, Any] = {}
    for task, out in outputs.items():
        out = np.asarray(out, np.float64)
        if task == "tau_id":
            res[task] = tau_id_evaluation(_tau_score(out), data, gen_taus, n_boot=n_boot, detail=detail)
        elif task == "decay_mode":
            logits = out[tau]
            res[task] = evaluate.decay_mode_metrics(np.argmax(logits, axis=1), data["decay_mode"][tau],
                                                    pred_without_rare=np.argmax(logits[:, :-1], axis=1),
                                                    n_boot=n_boot)
        elif task == "charge":
            prob = 1 / (1 + np.exp(-out[:, 0])) if out.shape[-1] == 1 else _softmax(out)[:, 1]
            res[task] = evaluate.charge_metrics(prob[tau] > 0.5, data["charge"][tau])
        elif task == "kinematics":
            reco = evaluate.decode_kinematics(out[tau], data["jet_p4"][tau].astype(np.float64))
            res[task] = evaluate.kinematics_metrics(reco, data["gen_vis_p4"][tau].astype(np.float64), n_boot=n_boot)
    return res


def baselines(data: TauData, *, n_boot: int = 50) -> dict[str, Any]:
    """The conventional estimators on the test split: the decay mode by plain count and HPS-like (thresholds
    chosen on the validation τ jets), the charge by summed candidate charge and by Q_κ (κ = 0.5), the reco
    jet's kinematics. ``dm_baseline`` names the decay-mode estimator with the higher validation accuracy (the one
    the networks are compared with, :func:`dm_baseline_prediction`) and ``dm_validation_accuracy`` gives both."""
    test, val = data.test, data.val
    tau, vtau = test["is_tau"] == 1, val["is_tau"] == 1
    hps_params = evaluate.tune_hps(val["features"][vtau], val["p4"][vtau], val["mask"][vtau],
                                   val["decay_mode"][vtau])
    val_acc = {name: float(np.mean(dm_baseline_prediction(val, name, hps_params) == val["decay_mode"][vtau]))
               for name in _DM_BASELINES}
    f, m = test["features"][tau], test["mask"][tau]
    true = test["decay_mode"][tau]
    jet_pt = kinematics.pt_gev(test["jet_p4"][tau])
    reco = evaluate.decode_kinematics(np.tile(np.asarray(RECO_JET_TARGETS), (int(tau.sum()), 1)),
                                      test["jet_p4"][tau].astype(np.float64))
    return {"decay_mode": {name: evaluate.decay_mode_metrics(dm_baseline_prediction(test, name, hps_params), true,
                                                             n_boot=n_boot) for name in _DM_BASELINES},
            "hps_params": hps_params, "dm_validation_accuracy": val_acc,
            "dm_baseline": max(val_acc, key=val_acc.__getitem__),
            "charge": {"summed charge": evaluate.charge_metrics(evaluate.summed_charge(f, m), test["charge"][tau]),
                       "jet charge": evaluate.charge_metrics(evaluate.jet_charge(f, m, jet_pt) > 0,
                                                             test["charge"][tau])},
            "zero_charge_sum": float(np.mean(np.sum(f[..., 7] * m, axis=1) == 0)),
            "kinematics": {"reco jet": evaluate.kinematics_metrics(reco, test["gen_vis_p4"][tau].astype(np.float64),
                                                                   n_boot=n_boot)}}


#: The headline numbers of a model: (task, path in its metrics, name, better direction).
_HEADLINE: tuple[tuple[str, tuple[str, ...], str, int], ...] = (
    ("tau_id", ("auc",), "tau ID AUC", 1),
    ("tau_id", ("working_points", "50", "fake_rate"), "fake rate @ 50 %", -1),
    ("tau_id", ("working_points", "70", "fake_rate"), "fake rate @ 70 %", -1),
    ("tau_id", ("working_points", "50", "rejection"), "rejection @ 0.5", 1),
    ("decay_mode", ("macro_f1",), "DM macro F1", 1),
    ("decay_mode", ("accuracy",), "DM accuracy", 1),
    ("charge", ("misid",), "charge mis-ID", -1),
    ("kinematics", ("pt_resolution",), "pT resolution", -1),
)


def headline(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The headline numbers of one model's metrics (the tasks it has)."""
    out = {}
    for task, path, name, _ in _HEADLINE:
        value: Any = metrics.get(task)
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is not None:
            out[name] = float(value)
    return out


def seed_summary(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean, standard deviation (over seeds; NaN for one) and the values of each headline number."""
    names = list(dict.fromkeys(k for r in runs for k in r))
    out = {}
    for name in names:
        values = np.asarray([r[name] for r in runs if name in r], np.float64)
        finite = values[np.isfinite(values)]
        out[name] = {"mean": float(np.mean(finite)) if len(finite) else float("nan"),
                     "std": float(np.std(finite, ddof=1)) if len(finite) > 1 else float("nan"),
                     "values": values.tolist(), "n_seeds": len(values)}
    return out


def select_surgery(val_metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """The PCGrad setting with the best summed rank of the validation headline numbers (tau-ID AUC, DM macro
    F1, charge mis-ID, pT resolution; a setting without a number ranks last on it, a number no setting has is
    left out); ties go to the first in ``val_metrics``."""
    names = list(val_metrics)
    heads = {n: headline(val_metrics[n]) for n in names}
    ranks = dict.fromkeys(names, 0.0)
    for key, sign in (("tau ID AUC", 1), ("DM macro F1", 1), ("charge mis-ID", -1), ("pT resolution", -1)):
        values = np.asarray([sign * heads[n].get(key, float("nan")) for n in names], float)
        if not np.isfinite(values).any():
            continue  # a number none of the settings has does not rank them
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
        for rank, i in enumerate(order):
            ranks[names[i]] += rank if np.isfinite(values[i]) else len(names) - 1
    return min(names, key=lambda n: (ranks[n], names.index(n)))


def learning_curves(trained: Trained) -> dict[str, list[float]]:
    """Per-epoch training and validation losses (total and per task) of a fit."""
    return {k: list(v) for k, v in trained.fit.history.items()}


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


# ---------------------------------------------------------------------------------------------- studies


@dataclass
class Run:
    """The seeds of one model: the trained networks, their test outputs, the metrics of the first seed (with
    every detail) and the headline numbers of every seed with their mean and spread."""

    trained: list[Trained]
    outputs: dict[str, np.ndarray]
    metrics: dict[str, Any]
    seeds: dict[str, dict[str, Any]]

    @property
    def train_time_s(self) -> float:
        """Training time of all seeds."""
        return float(sum(t.fit.train_time_s for t in self.trained))


def evaluate_run(trained: Sequence[Trained], data: TauData, *, n_boot: int = 50) -> Run:
    """Test outputs and metrics of the seeds of one model (details and bootstrap for the first seed only)."""
    outputs = [_test_outputs(t.model, data.test) for t in trained]
    first = evaluate_outputs(outputs[0], data.test, gen_taus=data.gen_taus, n_boot=n_boot)
    heads = [headline(first)] + [headline(evaluate_outputs(o, data.test, n_boot=0, detail=False))
                                 for o in outputs[1:]]
    return Run(trained=list(trained), outputs=outputs[0], metrics=first, seeds=seed_summary(heads))


def surgery_study(data: TauData, cfg: ParTConfig, surgeries: Sequence[str], *, n_seeds: int, epochs: int,
                  batch_size: int, lr: float, seed: int = 0, n_boot: int = 50) -> tuple[dict[str, Run], str,
                                                                                         dict[str, Any]]:
    """MultiParTau with each PCGrad setting (one seed each), the best setting chosen on the validation split
    (:func:`select_surgery`), then ``n_seeds`` seeds of the best one.

    Returns
    -------
    runs, best, validation
        A :class:`Run` per setting, the chosen setting, and the validation headline numbers it was chosen on.
    """
    first = {s: train_multi(data, cfg, surgery=s, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
             for s in surgeries}
    val = {s: evaluate_outputs(model_outputs(t.model, data.val), data.val, n_boot=0, detail=False)
           for s, t in first.items()}
    best = select_surgery(val)
    runs = {}
    for s, t in first.items():
        extra = [train_multi(data, cfg, surgery=s, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed + k)
                 for k in range(1, n_seeds)] if s == best else []
        runs[s] = evaluate_run([t, *extra], data, n_boot=n_boot)
    return runs, best, {s: headline(v) for s, v in val.items()}


def single_study(data: TauData, cfg: ParTConfig, tasks: Sequence[str], *, n_seeds: int, epochs: int,
                 batch_size: int, lr: float, seed: int = 0, n_boot: int = 50) -> dict[str, Run]:
    """SingleParTau per task; ``n_seeds`` seeds for tau ID (the headline single-task model), one for the others."""
    runs = {}
    for task in tasks:
        k = n_seeds if task == "tau_id" else 1
        trained = [train_single(data, task, cfg, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed + i)
                   for i in range(k)]
        runs[task] = evaluate_run(trained, data, n_boot=n_boot)
    return runs


def _tau_window_arrays(data: Mapping[str, np.ndarray], score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    win = tau_id_window(data)
    return data["is_tau"][win].astype(int), score[win]


def paired_comparisons(data: TauData, multi: Run, single: Mapping[str, Run], xgb_score: np.ndarray | None,
                       dm_pred: np.ndarray | None, *, n_boot: int = 50) -> dict[str, dict[str, float]]:
    """Paired bootstrap differences on the same test jets: tau-ID AUC Multi − Single and Multi − XGBoost,
    decay-mode accuracy Multi − the conventional estimator ``dm_pred`` (on the test τ jets; the notebook passes
    the one chosen on validation, :func:`baselines`), visible-pT resolution Multi − reco jet."""
    from hepnb import metrics as shared

    test = data.test
    tau = test["is_tau"] == 1
    out: dict[str, dict[str, float]] = {}
    if "tau_id" in multi.outputs:
        y, s_multi = _tau_window_arrays(test, _tau_score(np.asarray(multi.outputs["tau_id"], np.float64)))

        def auc(yy: np.ndarray, ss: np.ndarray) -> float:
            return shared.auc(yy, ss)

        if "tau_id" in single:
            _, s_single = _tau_window_arrays(test, _tau_score(np.asarray(single["tau_id"].outputs["tau_id"],
                                                                         np.float64)))
            out["tau_auc_multi_minus_single"] = metrics.paired_difference(auc, (y, s_multi), (y, s_single),
                                                                           n_boot=n_boot)
        if xgb_score is not None:
            _, s_xgb = _tau_window_arrays(test, xgb_score)
            out["tau_auc_multi_minus_xgb"] = metrics.paired_difference(auc, (y, s_multi), (y, s_xgb), n_boot=n_boot)
    if "decay_mode" in multi.outputs and dm_pred is not None:
        true = test["decay_mode"][tau]
        pred = np.argmax(multi.outputs["decay_mode"][tau], axis=1)

        def acc(t: np.ndarray, p: np.ndarray) -> float:
            return float(np.mean(t == p))

        out["dm_acc_multi_minus_baseline"] = metrics.paired_difference(acc, (true, pred), (true, dm_pred),
                                                                        n_boot=n_boot)
    if "kinematics" in multi.outputs:
        gen_pt = kinematics.pt_gev(test["gen_vis_p4"][tau].astype(np.float64))
        reco = evaluate.decode_kinematics(np.asarray(multi.outputs["kinematics"], np.float64)[tau],
                                          test["jet_p4"][tau].astype(np.float64))
        jet_pt = kinematics.pt_gev(test["jet_p4"][tau].astype(np.float64))

        def res(ratio: np.ndarray) -> float:
            return metrics_resolution(ratio)

        out["pt_res_multi_minus_reco"] = metrics.paired_difference(res, (reco["pt"] / gen_pt,), (jet_pt / gen_pt,),
                                                                    n_boot=n_boot)
    return out


def metrics_resolution(ratio: np.ndarray) -> float:
    """(q75 − q25)/median of a ratio."""
    q25, q50, q75 = np.quantile(ratio, [0.25, 0.5, 0.75])
    return float((q75 - q25) / q50)


def size_study(data: TauData, sizes: Mapping[str, ParTConfig], *, epochs: int, batch_size: int, lr: float,
               n_train: int, seed: int = 0, dtype: str = "float32", n_boot: int = 50) -> list[dict[str, Any]]:
    """MultiParTau (plain weighted sum) of each size on the same ``n_train`` training jets: parameters and the
    test headline numbers (with their bootstrap spreads)."""
    fraction = min(1.0, n_train / max(len(_reference(data.train)["weight"]), 1))
    few = TauData(train=subsample(_reference(data.train), fraction, seed), val=data.val, test=data.test)
    rows = []
    for name, size in sizes.items():
        t = train_multi(few, size.with_(dtype=dtype), surgery="none", epochs=epochs, batch_size=batch_size, lr=lr,
                        seed=seed)

        ev = evaluate_outputs(model_outputs(t.model, data.test), data.test, n_boot=n_boot, detail=False)
        rows.append({"name": name, "parameters": t.n_params, "n_train": t.n_train, "epochs": t.fit.n_epochs_run,
                     "train_time_s": t.fit.train_time_s, "jets_per_s": t.jets_per_s, "headline": headline(ev),
                     "errors": _errors(ev), "history": learning_curves(t)})
    return rows


def _errors(ev: Mapping[str, Any]) -> dict[str, float]:
    """Bootstrap spreads of the headline numbers that have one."""
    out = {}
    if "tau_id" in ev:
        out["tau ID AUC"] = ev["tau_id"].get("auc_std", float("nan"))
    if "decay_mode" in ev:
        out["DM macro F1"] = ev["decay_mode"].get("macro_f1_std", float("nan"))
        out["DM accuracy"] = ev["decay_mode"].get("accuracy_std", float("nan"))
    if "kinematics" in ev:
        out["pT resolution"] = ev["kinematics"].get("pt_resolution_std", float("nan"))
    return out


def label_efficiency_study(data: TauData, cfg: ParTConfig, fractions: Sequence[float], *, pretrain_epochs: int,
                           epochs: int, batch_size: int, lr: float, seed: int = 0, n_boot: int = 50
                           ) -> tuple[Trained, list[dict[str, Any]]]:
    """Masked-particle pre-training on all training jets (labels unused), then MultiParTau (plain weighted sum)
    on each fraction of the labels, fine-tuned from the pre-trained backbone and from scratch, each run for at
    least as many optimiser steps as the full-label training.

    Returns
    -------
    pretrained, rows
        The pre-training, and per (fraction, start) the labelled jets and the test headline numbers.
    """
    pre = pretrain(data, cfg, epochs=pretrain_epochs, batch_size=batch_size, lr=lr, seed=seed)
    rows = []
    for fraction in fractions:
        for init, source in (("scratch", None), ("pre-trained", pre.model)):
            t = train_multi(data, cfg, surgery="none", epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                            fraction=fraction, pretrained=source)
            ev = evaluate_outputs(model_outputs(t.model, data.test), data.test, n_boot=n_boot, detail=False)
            rows.append({"fraction": float(fraction), "init": init, "n_train": t.n_train,
                         "steps": t.fit.n_steps, "headline": headline(ev), "errors": _errors(ev)})
    return pre, rows


_TAGGER_NAMES = {"deepsets": "Deep Sets", "transformer": "Transformer (no pair bias)", "part": "ParT",
                 "xgboost": "XGBoost (jet features)"}


def _tagger_score(trained: Trained, data: Mapping[str, np.ndarray]) -> np.ndarray:
    out = model_outputs(trained.model, data)["tau_id"]
    return out[:, 1] - out[:, 0]  # the log-odds: the same ordering as p(τ)


def evolution_study(data: TauData, cfg: ParTConfig, taggers: Sequence[str], *, epochs: int, batch_size: int,
                    lr: float, seed: int = 0, n_boot: int = 50) -> dict[str, dict[str, Any]]:
    """Tau-ID metrics (and parameters) of each tagger of ``taggers`` trained on the full training split."""
    out = {}
    for kind in taggers:
        t = train_tagger(data, kind, cfg, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
        res = tau_id_evaluation(_tagger_score(t, data.test), data.test, None, n_boot=n_boot, detail=False)
        out[_TAGGER_NAMES[kind]] = {**res, "parameters": t.n_params, "train_time_s": t.fit.train_time_s}
    return out


def data_scaling_study(data: TauData, cfg: ParTConfig, models: Sequence[str], fractions: Sequence[float],
                       full: Mapping[str, Mapping[str, Any]], *, epochs: int, batch_size: int, lr: float,
                       n_trees: int, seed: int = 0, n_boot: int = 50) -> list[dict[str, Any]]:
    """Tau-ID AUC and fake rate of each model on fractions of the training jets; ``full`` holds the results on
    the whole training split by display name (:func:`evolution_study`), added as fraction 1."""
    rows = []
    for kind in models:
        name = _TAGGER_NAMES[kind]
        for frac in fractions:
            if kind == "xgboost":
                model, _ = train_xgboost(data, n_trees=n_trees, seed=seed, fraction=frac)
                score = xgboost_scores(model, data.test)
                n_train = round(frac * len(_reference(data.train)["weight"]))
            else:
                t = train_tagger(data, kind, cfg, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                                 fraction=frac)
                score, n_train = _tagger_score(t, data.test), t.n_train
            res = tau_id_evaluation(score, data.test, None, n_boot=n_boot, detail=False)
            rows.append({"model": name, "fraction": float(frac), "n_train": n_train,
                         **{k: v for k, v in res.items() if k != "roc"}})
        if name in full:
            rows.append({"model": name, "fraction": 1.0, "n_train": len(_reference(data.train)["weight"]),
                         **{k: v for k, v in full[name].items() if k != "roc"}})
    return rows


def hps_prediction(data: Mapping[str, np.ndarray], params: Mapping[str, float]) -> np.ndarray:
    """The HPS-like decay mode of the τ jets of a split (:func:`hepnb.tau.evaluate.hps_decay_mode`)."""
    tau = data["is_tau"] == 1
    return evaluate.hps_decay_mode(data["features"][tau], data["p4"][tau], data["mask"][tau], **params)


_DM_BASELINES = ("HPS-like", "plain count")


def dm_baseline_prediction(data: Mapping[str, np.ndarray], name: str, hps_params: Mapping[str, float]
                           ) -> np.ndarray:
    """The decay mode of the τ jets of a split by one conventional estimator: ``"HPS-like"``
    (:func:`hps_prediction` with ``hps_params``) or ``"plain count"``
    (:func:`hepnb.tau.evaluate.counting_decay_mode`)."""
    if name not in _DM_BASELINES:
        msg = f"decay-mode baseline must be one of {_DM_BASELINES}, found {name!r}"
        raise ValueError(msg)
    if name == "HPS-like":
        return hps_prediction(data, hps_params)
    tau = data["is_tau"] == 1
    return evaluate.counting_decay_mode(data["features"][tau], data["mask"][tau])
