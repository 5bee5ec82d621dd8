"""The tau study's comparisons: each trains several networks and returns what the page tabulates.

The PCGrad settings of MultiParTau (chosen on validation), SingleParTau per task, the paired differences on the
same test jets, the evolution of tau-ID architectures and their data scaling; and the per-model summary numbers
with their seed spread. Model size and label efficiency are in :mod:`hepnb.tau.side_studies`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from hepnb import kinematics, metrics
from hepnb.tau import evaluate
from hepnb.tau.data import TauData
from hepnb.tau.evaluate import evaluate_outputs, tau_id_evaluation, tau_id_window, tau_score
from hepnb.tau.models import ParTConfig
from hepnb.tau.training import (
    Trained,
    TrainingConfig,
    model_outputs,
    reference_jets,
    test_outputs,
    train_multi,
    train_single,
    train_tagger,
    train_xgboost,
    xgboost_scores,
)

__all__ = [
    "Run",
    "data_scaling_study",
    "evaluate_run",
    "evolution_study",
    "metrics_resolution",
    "paired_comparisons",
    "seed_summary",
    "select_surgery",
    "single_study",
    "summary_numbers",
    "surgery_study",
]


#: The summary numbers of a model: (task, path in its metrics, name, better direction).
_SUMMARY: tuple[tuple[str, tuple[str, ...], str, int], ...] = (
    ("tau_id", ("auc",), "tau ID AUC", 1),
    ("tau_id", ("working_points", "50", "fake_rate"), "fake rate @ 50 %", -1),
    ("tau_id", ("working_points", "70", "fake_rate"), "fake rate @ 70 %", -1),
    ("tau_id", ("working_points", "50", "rejection"), "rejection @ 0.5", 1),
    ("decay_mode", ("macro_f1",), "DM macro F1", 1),
    ("decay_mode", ("accuracy",), "DM accuracy", 1),
    ("charge", ("misid",), "charge mis-ID", -1),
    ("kinematics", ("pt_resolution",), "pT resolution", -1),
)


def summary_numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The summary numbers of one model's metrics (the tasks it has)."""
    out = {}
    for task, path, name, _ in _SUMMARY:
        value: Any = metrics.get(task)
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is not None:
            out[name] = float(value)
    return out


def seed_summary(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, Any]]:
    """Mean, standard deviation (over seeds; NaN for one) and the values of each summary number."""
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
    """The PCGrad setting with the best summed rank of the validation summary numbers (tau-ID AUC, DM macro
    F1, charge mis-ID, pT resolution; a setting without a number ranks last on it, a number no setting has is
    left out); ties go to the first in ``val_metrics``."""
    names = list(val_metrics)
    heads = {n: summary_numbers(val_metrics[n]) for n in names}
    ranks = dict.fromkeys(names, 0.0)
    for key, sign in (("tau ID AUC", 1), ("DM macro F1", 1), ("charge mis-ID", -1), ("pT resolution", -1)):
        values = np.asarray([sign * heads[n].get(key, float("nan")) for n in names], float)
        if not np.isfinite(values).any():
            continue  # a number none of the settings has does not rank them
        order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")
        for rank, i in enumerate(order):
            ranks[names[i]] += rank if np.isfinite(values[i]) else len(names) - 1
    return min(names, key=lambda n: (ranks[n], names.index(n)))


@dataclass
class Run:
    """The seeds of one model: the trained networks, their test outputs, the metrics of the first seed (with
    every detail) and the summary numbers of every seed with their mean and spread."""

    trained: list[Trained]
    outputs: dict[str, np.ndarray]
    metrics: dict[str, Any]
    seeds: dict[str, dict[str, Any]]

    @property
    def train_time_s(self) -> float:
        """Training time of all seeds."""
        return float(sum(t.fit.train_time_s for t in self.trained))

    @property
    def converged(self) -> bool:
        """Whether every seed's training converged (:attr:`hepnb.train.FitResult.converged`)."""
        return all(t.fit.converged for t in self.trained)


def evaluate_run(trained: Sequence[Trained], data: TauData, *, n_boot: int = 50) -> Run:
    """Test outputs and metrics of the seeds of one model (details and bootstrap for the first seed only)."""
    outputs = [test_outputs(t.model, data.test) for t in trained]
    first = evaluate_outputs(outputs[0], data.test, gen_taus=data.gen_taus, n_boot=n_boot)
    heads = [summary_numbers(first)] + [summary_numbers(evaluate_outputs(o, data.test, n_boot=0, detail=False))
                                 for o in outputs[1:]]
    return Run(trained=list(trained), outputs=outputs[0], metrics=first, seeds=seed_summary(heads))


def surgery_study(data: TauData, cfg: ParTConfig, surgeries: Sequence[str], train_cfg: TrainingConfig, *,
                  n_seeds: int, n_boot: int = 50, trained: Mapping[str, Trained] | None = None
                  ) -> tuple[dict[str, Run], str, dict[str, Any]]:
    """MultiParTau with each PCGrad setting (one seed each), the best setting chosen on the validation split
    (:func:`select_surgery`), then ``n_seeds`` seeds of the best one.

    ``trained`` holds first-seed trainings already made with ``train_cfg`` by setting (the kinematics-weight
    choice's training of the chosen weight, :func:`hepnb.tau.regression.choose_kin_weight`): they are used as
    they are instead of training the same network again.

    Returns
    -------
    runs, best, validation
        A :class:`Run` per setting, the chosen setting, and the validation summary numbers it was chosen on.
    """
    seed, given = train_cfg.seed, dict(trained or {})
    first = {s: given[s] if s in given else train_multi(data, cfg, train_cfg, surgery=s) for s in surgeries}
    val = {s: evaluate_outputs(model_outputs(t.model, data.val), data.val, n_boot=0, detail=False)
           for s, t in first.items()}
    best = select_surgery(val)
    runs = {}
    for s, t in first.items():
        extra = [train_multi(data, cfg, replace(train_cfg, seed=seed + k), surgery=s)
                 for k in range(1, n_seeds)] if s == best else []
        runs[s] = evaluate_run([t, *extra], data, n_boot=n_boot)
    return runs, best, {s: summary_numbers(v) for s, v in val.items()}


def single_study(data: TauData, cfg: ParTConfig, tasks: Sequence[str], train_cfg: TrainingConfig, *,
                 n_seeds: int, n_boot: int = 50) -> dict[str, Run]:
    """SingleParTau per task; ``n_seeds`` seeds for tau ID (the main single-task model), one for the others."""
    runs = {}
    for task in tasks:
        k = n_seeds if task == "tau_id" else 1
        trained = [train_single(data, task, cfg, replace(train_cfg, seed=train_cfg.seed + i)) for i in range(k)]
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
        y, s_multi = _tau_window_arrays(test, tau_score(np.asarray(multi.outputs["tau_id"], np.float64)))

        def auc(yy: np.ndarray, ss: np.ndarray) -> float:
            return shared.auc(yy, ss)

        if "tau_id" in single:
            _, s_single = _tau_window_arrays(test, tau_score(np.asarray(single["tau_id"].outputs["tau_id"],
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


_TAGGER_NAMES = {"deepsets": "Deep Sets", "transformer": "Transformer (no pair bias)", "part": "ParT",
                 "xgboost": "XGBoost (jet features)"}


def _tagger_score(trained: Trained, data: Mapping[str, np.ndarray]) -> np.ndarray:
    out = model_outputs(trained.model, data)["tau_id"]
    return out[:, 1] - out[:, 0]  # the log-odds: the same ordering as p(τ)


def evolution_study(data: TauData, cfg: ParTConfig, taggers: Sequence[str], train_cfg: TrainingConfig, *,
                    n_boot: int = 50) -> dict[str, dict[str, Any]]:
    """Tau-ID metrics (and parameters) of each tagger of ``taggers`` trained on the full training split."""
    out = {}
    for kind in taggers:
        t = train_tagger(data, kind, cfg, train_cfg)
        res = tau_id_evaluation(_tagger_score(t, data.test), data.test, None, n_boot=n_boot, detail=False)
        out[_TAGGER_NAMES[kind]] = {**res, "parameters": t.n_params, "train_time_s": t.fit.train_time_s}
    return out


def data_scaling_study(data: TauData, cfg: ParTConfig, models: Sequence[str], fractions: Sequence[float],
                       full: Mapping[str, Mapping[str, Any]], train_cfg: TrainingConfig, *, n_trees: int,
                       n_boot: int = 50) -> list[dict[str, Any]]:
    """Tau-ID AUC and fake rate of each model on fractions of the training jets; ``full`` holds the results on
    the whole training split by display name (:func:`evolution_study`), added as fraction 1."""
    seed = train_cfg.seed
    rows = []
    for kind in models:
        name = _TAGGER_NAMES[kind]
        for frac in fractions:
            if kind == "xgboost":
                model, _ = train_xgboost(data, n_trees=n_trees, seed=seed, fraction=frac)
                score = xgboost_scores(model, data.test)
                n_train = round(frac * len(reference_jets(data.train)["weight"]))
            else:
                t = train_tagger(data, kind, cfg, train_cfg, fraction=frac)
                score, n_train = _tagger_score(t, data.test), t.n_train
            res = tau_id_evaluation(score, data.test, None, n_boot=n_boot, detail=False)
            rows.append({"model": name, "fraction": float(frac), "n_train": n_train,
                         **{k: v for k, v in res.items() if k != "roc"}})
        if name in full:
            rows.append({"model": name, "fraction": 1.0, "n_train": len(reference_jets(data.train)["weight"]),
                         **{k: v for k, v in full[name].items() if k != "roc"}})
    return rows
