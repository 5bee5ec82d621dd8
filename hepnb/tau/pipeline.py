"""Training and evaluation of the tau study: MultiParTau (plain sum or PCGrad), SingleParTau per task, and
the tau-ID comparison of XGBoost, Deep Sets, a plain Transformer and ParT (seed 002's evolution)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from hepnb import kinematics
from hepnb.tau import constants, evaluate
from hepnb.tau.data import p_theta_weights, split, to_tensors
from hepnb.tau.losses import TASK_WEIGHTS, MultiTaskLoss, SingleTaskLoss
from hepnb.tau.models import TASKS, DeepSets, MultiParTau, ParTConfig, SingleParTau, count_params
from hepnb.tau.pcgrad import PCGrad
from hepnb.train import FitResult, fit, predict

__all__ = ["SURGERIES", "TAGGERS", "TauData", "Trained", "baselines", "evaluate_multi", "evaluate_single",
           "physics_checks", "prepare", "subsample", "tagger_scores", "tau_id_window", "train_multi", "train_single",
           "train_tagger", "train_xgboost", "xgboost_scores"]

SURGERIES = ("none", "original", "tau")
TAGGERS = ("deepsets", "transformer", "part")
_INPUTS = ("features", "p4", "mask")


@dataclass
class TauData:
    """Network inputs and labels split 70/10/20; each split a dict of arrays (see :func:`prepare`)."""

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]


def prepare(jets: Any, *, seed: int) -> TauData:
    """Tensors (padded to 20 candidates), (p, θ) weights and the 70/10/20 split of a jet array."""
    import awkward as ak

    tensors = to_tensors(jets)
    tensors["weight"] = p_theta_weights(jets)
    tensors["gen_vis_p4"] = np.asarray(ak.to_numpy(jets.gen_vis_p4), np.float32)
    idx = split(len(tensors["weight"]), seed)
    parts = {name: {k: v[i] for k, v in tensors.items()} for name, i in idx.items()}
    return TauData(train=parts["train"], val=parts["val"], test=parts["test"])


def subsample(data: dict[str, np.ndarray], fraction: float, seed: int) -> dict[str, np.ndarray]:
    """A random ``fraction`` of a split (for the data-scaling table)."""
    n = len(data["weight"])
    keep = np.sort(np.random.default_rng(seed).permutation(n)[: max(1, round(fraction * n))])
    return {k: v[keep] for k, v in data.items()}


def _train_arrays(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    keys = ("features", "p4", "mask", "is_tau", "charge", "decay_mode", "kin_targets", "weight")
    return {k: data[k] for k in keys}


def _optimizer(lr: float, n_steps: int, weight_decay: float = 1e-2) -> optax.GradientTransformation:
    """AdamW with a one-cycle cosine schedule peaking at ``lr``, after gradient-norm clipping at 1."""
    schedule = optax.cosine_onecycle_schedule(max(n_steps, 1), lr)
    return optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=weight_decay))


@dataclass
class Trained:
    """A trained network with its fit record, parameter count and training throughput."""

    model: nnx.Module
    fit: FitResult
    n_params: int
    jets_per_s: float


def _train(model: nnx.Module, loss_fn: Any, data: TauData, *, epochs: int, batch_size: int, lr: float,
           seed: int, patience: int | None, grad_fn: Any = None, train: dict[str, np.ndarray] | None = None
           ) -> Trained:
    train = _train_arrays(train if train is not None else data.train)
    batch_size = min(batch_size, len(train["weight"]))
    n_steps = epochs * (len(train["weight"]) // batch_size)
    result = fit(model, _optimizer(lr, n_steps), loss_fn, train, _train_arrays(data.val), batch_size=batch_size,
                 n_epochs=epochs, patience=patience, seed=seed, grad_fn=grad_fn, progress=False)
    jets_per_s = result.n_steps * batch_size / result.train_time_s if result.train_time_s > 0 else float("nan")
    return Trained(model=model, fit=result, n_params=count_params(model), jets_per_s=jets_per_s)


def train_multi(data: TauData, cfg: ParTConfig, *, surgery: str = "original", epochs: int, batch_size: int,
                lr: float = 1e-3, seed: int = 0, patience: int | None = None) -> Trained:
    """MultiParTau on the four tasks with task weights 1, 1, 1, 2.

    Parameters
    ----------
    surgery
        ``"none"`` (plain weighted sum), ``"original"`` (PCGrad as in the paper) or ``"tau"`` (the tau
        code's per-tensor, kinematics-protected variant).
    """
    if surgery not in SURGERIES:
        msg = f"unknown surgery {surgery!r}; expected one of {list(SURGERIES)}"
        raise ValueError(msg)
    loss = MultiTaskLoss(TASKS, tuple(TASK_WEIGHTS[t] for t in TASKS))
    model = MultiParTau(cfg, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    grad_fn = None if surgery == "none" else PCGrad(loss, surgery)
    return _train(model, loss, data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, patience=patience,
                  grad_fn=grad_fn)


def train_single(data: TauData, task: str, cfg: ParTConfig, *, epochs: int, batch_size: int, lr: float = 1e-3,
                 seed: int = 0, patience: int | None = None) -> Trained:
    """SingleParTau for one task (signal-only tasks are trained on the τ jets' losses, as in the tau code)."""
    model = SingleParTau(task, cfg, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    return _train(model, SingleTaskLoss(task), data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  patience=patience)


def train_tagger(data: TauData, kind: str, cfg: ParTConfig, *, epochs: int, batch_size: int, lr: float = 1e-3,
                 seed: int = 0, patience: int | None = None, fraction: float = 1.0) -> Trained:
    """A tau-ID network: ``"deepsets"``, ``"transformer"`` (ParT without pair bias) or ``"part"``.

    ``fraction`` < 1 trains on that random fraction of the training split (the validation split is kept).
    """
    rngs = nnx.Rngs(params=seed, dropout=seed + 1)
    if kind == "deepsets":
        model: nnx.Module = DeepSets(2, rngs=rngs)
    elif kind in ("transformer", "part"):
        model = SingleParTau("tau_id", cfg if kind == "part" else cfg.with_(pair_dims=()), rngs=rngs)
    else:
        msg = f"unknown tagger {kind!r}; expected one of {list(TAGGERS)}"
        raise ValueError(msg)
    train = subsample(data.train, fraction, seed) if fraction < 1.0 else data.train
    return _train(model, SingleTaskLoss("tau_id"), data, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  patience=patience, train=train)


def _apply(model: nnx.Module, batch: dict[str, jax.Array]) -> Any:
    return model(batch["features"], batch["p4"], batch["mask"])  # type: ignore[operator]


def _outputs(model: nnx.Module, data: dict[str, np.ndarray]) -> Any:
    return jax.tree.map(np.asarray, predict(model, {k: data[k] for k in _INPUTS}, _apply))


def tagger_scores(model: nnx.Module, data: dict[str, np.ndarray]) -> np.ndarray:
    """p(τ) of a 2-logit tau-ID network."""
    out = _outputs(model, data)
    return np.asarray(jax.nn.softmax(jnp.asarray(out), axis=-1)[:, 1])


def train_xgboost(data: TauData, *, n_trees: int, seed: int = 0, fraction: float = 1.0) -> tuple[Any, float]:
    """XGBoost on :func:`hepnb.tau.evaluate.jet_summary_features` for tau ID; returns (model, train seconds)."""
    import xgboost as xgb

    train = subsample(data.train, fraction, seed) if fraction < 1.0 else data.train
    model = xgb.XGBClassifier(n_estimators=n_trees, max_depth=6, learning_rate=0.1, subsample=0.8,
                              tree_method="hist", device="cuda" if jax.default_backend() == "gpu" else "cpu", random_state=seed,
                              early_stopping_rounds=max(10, n_trees // 10), eval_metric="logloss")
    x_tr = evaluate.jet_summary_features(train["features"], train["mask"], train["jet_p4"])
    x_va = evaluate.jet_summary_features(data.val["features"], data.val["mask"], data.val["jet_p4"])
    t0 = time.perf_counter()
    model.fit(x_tr, train["is_tau"], sample_weight=train["weight"], eval_set=[(x_va, data.val["is_tau"])],
              verbose=False)
    return model, time.perf_counter() - t0


def xgboost_scores(model: Any, data: dict[str, np.ndarray]) -> np.ndarray:
    """p(τ) of the XGBoost tagger."""
    return model.predict_proba(evaluate.jet_summary_features(data["features"], data["mask"], data["jet_p4"]))[:, 1]


def tau_id_window(data: dict[str, np.ndarray]) -> np.ndarray:
    """The jets of a split that tau-ID metrics use: 10° < θ < 170°, as the tau code's evaluation."""
    theta = kinematics.theta_deg(data["jet_p4"])
    return (theta > 10.0) & (theta < 170.0)


def _task_metrics(task: str, out: np.ndarray, data: dict[str, np.ndarray]) -> dict[str, Any]:
    tau = data["is_tau"] == 1
    if task == "tau_id":
        score = np.asarray(jax.nn.softmax(jnp.asarray(out), axis=-1)[:, 1])
        win = tau_id_window(data)
        return evaluate.tau_id_metrics(score[win], data["is_tau"][win])
    if task == "charge":
        prob = 1 / (1 + np.exp(-out[:, 0])) if out.shape[-1] == 1 else np.asarray(
            jax.nn.softmax(jnp.asarray(out), axis=-1)[:, 1])
        jet_pt = kinematics.pt_gev(data["jet_p4"])
        q = evaluate.jet_charge(data["features"], data["mask"], jet_pt)
        return evaluate.charge_metrics(prob[tau], data["charge"][tau], q[tau])
    if task == "decay_mode":
        return evaluate.decay_mode_metrics(np.argmax(out[tau], axis=1), data["decay_mode"][tau])
    reco = evaluate.decode_kinematics(out[tau], data["jet_p4"][tau])
    return evaluate.kinematics_metrics(reco, data["gen_vis_p4"][tau])


def evaluate_multi(model: MultiParTau, data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Metrics of every task of a MultiParTau on one split."""
    out = _outputs(model, data)
    return {task: _task_metrics(task, np.asarray(out[task]), data) for task in model.tasks}


def evaluate_single(model: SingleParTau, data: dict[str, np.ndarray]) -> dict[str, Any]:
    """Metrics of a SingleParTau's task on one split."""
    return _task_metrics(model.task, np.asarray(_outputs(model, data)), data)


def baselines(data: dict[str, np.ndarray]) -> dict[str, Any]:
    """The conventional estimators on one split: counting decay mode, jet charge, reco-jet kinematics."""
    tau = data["is_tau"] == 1
    dm = evaluate.counting_decay_mode(data["features"][tau], data["mask"][tau])
    reco = evaluate.decode_kinematics(np.zeros((int(tau.sum()), 5)), data["jet_p4"][tau])
    return {"decay_mode": evaluate.decay_mode_metrics(dm, data["decay_mode"][tau]),
            "kinematics": evaluate.kinematics_metrics(reco, data["gen_vis_p4"][tau])}


def physics_checks(jets: Any) -> dict[str, Any]:
    """Decay-mode fractions vs PDG, visible-pT spectrum and candidate multiplicities of τ and q/g jets."""
    import awkward as ak

    tau = np.asarray(jets.is_tau) == 1
    dm = np.asarray(jets.decay_mode)[tau]
    names = constants.DM_NAMES
    frac = {names[i]: float(np.mean(dm == i)) for i in range(len(names))}
    pdg = {names[constants.DM_CLASSES.index(k)]: v for k, v in constants.PDG_HADRONIC_DM_FRACTIONS.items()}
    vis = np.asarray(jets.gen_vis_p4)[tau]
    n_cand = np.asarray(ak.num(jets.cand_features, axis=1))
    edges = np.arange(0.0, 52.5, 2.5)
    return {"dm_fractions": frac, "dm_fractions_pdg": pdg,
            "vis_pt_hist": {"edges": edges.tolist(),
                            "counts": np.histogram(kinematics.pt_gev(vis), edges)[0].tolist()},
            "n_candidates_mean": {"tau": float(n_cand[tau].mean()), "qg": float(n_cand[~tau].mean())},
            "n_candidates_hist": {"tau": np.bincount(n_cand[tau], minlength=31)[:31].tolist(),
                                  "qg": np.bincount(n_cand[~tau], minlength=31)[:31].tolist()},
            "n_jets": {"tau": int(tau.sum()), "qg": int((~tau).sum())}}
