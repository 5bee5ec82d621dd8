"""The tau page's side studies: model size and label efficiency (masked-particle pre-training), each row with
several seeds or labelled draws, its convergence record, and the paired comparisons the page's verdicts rest on.

Model size: MultiParTau (plain weighted sum) of each ParT size on the same training jets, ``n_seeds`` seeds
each. Label efficiency: for each labelled fraction below one, ``n_draws`` random draws of the labelled jets (draw
*k* also seeds the initial weights), each trained from scratch and fine-tuned from the pre-trained backbone.
The peak learning rate of each (fraction, start) is chosen from the same small grid on the *validation* loss of
the first draw (:func:`choose_learning_rate`), so fine-tuning and training from scratch get the same tuning
budget; the test jets are used only after the choice. Each comparison (smallest vs largest size; pre-trained vs
scratch per fraction) is recorded as a paired difference of the tau-ID AUC on the same test jets with its test
bootstrap spread and its seed (draw) spread, for :func:`hepnb.book.verdict.paired_verdict`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from hepnb import metrics
from hepnb.book.verdict import seed_spread_of_difference
from hepnb.tau.data import TauData
from hepnb.tau.evaluate import evaluate_outputs, tau_id_window, tau_score
from hepnb.tau.models import ParTConfig
from hepnb.tau.studies import seed_summary, summary_numbers
from hepnb.tau.training import (
    Trained,
    TrainingConfig,
    learning_curves,
    model_outputs,
    pretrain,
    reference_jets,
    subsample,
    train_multi,
)

__all__ = ["AUC_KEY", "SideStudy", "choose_learning_rate", "label_efficiency_study", "paired_auc", "size_study",
           "validation_loss"]

#: The summary number the side studies compare.
AUC_KEY = "tau ID AUC"


@dataclass
class SideStudy:
    """What a side study returns: one row per setting (JSON-ready) and its paired comparisons.

    Attributes
    ----------
    rows
        Per setting: ``summary`` (mean over seeds/draws of each summary number), ``seed_std`` (their standard
        deviation, NaN for one), ``values`` (each seed's), ``errors`` (test bootstrap spread of the first
        seed), ``converged`` (every seed), ``convergence`` (each seed's record), ``epochs_run`` (each seed's
        epochs: a training stops once converged), ``epochs`` and ``steps`` (the longest seed's) and what the
        setting is.
    comparisons
        Per comparison: ``a``, ``b`` (setting names), ``a_converged``, ``b_converged``, ``quantity``, ``value``
        (mean of a − mean of b), ``std`` (paired test bootstrap of the first seeds' difference), ``seed_std``
        (seed spread of the difference of the means) and ``n_seeds``.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)


def validation_loss(trained: Trained) -> float:
    """The final validation loss of a training (NaN when it has none)."""
    curve = trained.fit.history.get("val_loss", [])
    return float(curve[-1]) if len(curve) else float("nan")


def choose_learning_rate(val_losses: Mapping[float, float]) -> float:
    """The peak learning rate whose training ended with the lowest validation loss (ties: the first given).

    Raises
    ------
    ValueError
        No learning rate has a finite validation loss.
    """
    finite = {lr: v for lr, v in val_losses.items() if math.isfinite(v)}
    if not finite:
        msg = f"no learning rate has a finite validation loss, found {dict(val_losses)}"
        raise ValueError(msg)
    return min(finite, key=lambda lr: (finite[lr], list(val_losses).index(lr)))


def _window_scores(outputs: Mapping[str, np.ndarray], test: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    win = tau_id_window(test)
    return test["is_tau"][win].astype(int), tau_score(np.asarray(outputs["tau_id"], np.float64))[win]


def paired_auc(outputs_a: Mapping[str, np.ndarray], outputs_b: Mapping[str, np.ndarray],
               test: Mapping[str, np.ndarray], *, n_boot: int) -> dict[str, float]:
    """Tau-ID AUC of ``a`` − ``b`` on the same test jets (tau-ID window) with its paired bootstrap spread."""
    y, s_a = _window_scores(outputs_a, test)
    _, s_b = _window_scores(outputs_b, test)
    return metrics.paired_difference(metrics.auc, (y, s_a), (y, s_b), n_boot=max(n_boot, 2))


def _evaluate(trained: Sequence[Trained], test: Mapping[str, np.ndarray], *, n_boot: int
              ) -> tuple[dict[str, Any], list[dict[str, np.ndarray]]]:
    """The row numbers of the seeds of one setting, and the first seed's test outputs."""
    outputs = [model_outputs(t.model, test) for t in trained]
    first = evaluate_outputs(outputs[0], test, n_boot=n_boot, detail=False)
    heads = [summary_numbers(first)] + [summary_numbers(evaluate_outputs(o, test, n_boot=0, detail=False))
                                        for o in outputs[1:]]
    seeds = seed_summary(heads)
    row = {"summary": {k: v["mean"] for k, v in seeds.items()}, "seed_std": {k: v["std"] for k, v in seeds.items()},
           "values": {k: v["values"] for k, v in seeds.items()}, "n_seeds": len(trained), "errors": _errors(first),
           "converged": all(t.fit.converged for t in trained),
           "convergence": [t.fit.convergence[0].as_dict() for t in trained if t.fit.convergence],
           "steps": max(t.fit.n_steps for t in trained), "epochs": max(t.fit.n_epochs_run for t in trained),
           "epochs_run": [t.fit.n_epochs_run for t in trained]}
    return row, outputs


def _errors(ev: Mapping[str, Any]) -> dict[str, float]:
    """Test bootstrap spreads of the summary numbers that have one."""
    out = {}
    if "tau_id" in ev:
        out["tau ID AUC"] = ev["tau_id"].get("auc_std", float("nan"))
    if "decay_mode" in ev:
        out["DM macro F1"] = ev["decay_mode"].get("macro_f1_std", float("nan"))
        out["DM accuracy"] = ev["decay_mode"].get("accuracy_std", float("nan"))
    if "kinematics" in ev:
        out["pT resolution"] = ev["kinematics"].get("pt_resolution_std", float("nan"))
    return out


def _comparison(a: Mapping[str, Any], b: Mapping[str, Any], names: tuple[str, str], test_diff: Mapping[str, float],
                *, paired: bool) -> dict[str, Any]:
    """The record of one comparison of two rows on the tau-ID AUC (see :class:`SideStudy`)."""
    va, vb = a["values"].get(AUC_KEY, []), b["values"].get(AUC_KEY, [])
    seed_std = seed_spread_of_difference(va, vb, paired=paired) if va and vb else 0.0
    return {"a": names[0], "b": names[1], "a_converged": bool(a["converged"]), "b_converged": bool(b["converged"]),
            "quantity": "tau-ID AUC", "value": float(np.mean(va) - np.mean(vb)), "std": float(test_diff["std"]),
            "seed_std": float(seed_std), "n_seeds": min(len(va), len(vb))}


def size_study(data: TauData, sizes: Mapping[str, ParTConfig], train_cfg: TrainingConfig, *, n_train: int,
               n_seeds: int, dtype: str = "float32", n_boot: int = 50) -> SideStudy:
    """MultiParTau (plain weighted sum) of each size on the same ``n_train`` training jets, ``n_seeds`` seeds
    (initial weights, dropout and batch order) each; compared: the smallest size against the largest.

    Parameters
    ----------
    sizes
        ParT configurations by name, smallest first.
    train_cfg
        Epochs, batch size, peak learning rate and the first seed.
    """
    if n_seeds < 1:
        msg = f"n_seeds must be >= 1, found {n_seeds}"
        raise ValueError(msg)
    seed = train_cfg.seed
    fraction = min(1.0, n_train / max(len(reference_jets(data.train)["weight"]), 1))
    few = TauData(train=subsample(reference_jets(data.train), fraction, seed), val=data.val, test=data.test)
    out, first_outputs = SideStudy(), {}
    for name, size in sizes.items():
        trained = [train_multi(few, size.with_(dtype=dtype), replace(train_cfg, seed=seed + k),
                               surgery="none") for k in range(n_seeds)]
        row, outputs = _evaluate(trained, data.test, n_boot=n_boot)
        first_outputs[name] = outputs[0]
        t = trained[0]
        out.rows.append({"name": name, "parameters": t.n_params, "n_train": t.n_train, **row,
                         "train_time_s": sum(x.fit.train_time_s for x in trained), "jets_per_s": t.jets_per_s,
                         "history": learning_curves(t)})
    if len(out.rows) > 1:
        small, large = out.rows[0], out.rows[-1]
        diff = paired_auc(first_outputs[large["name"]], first_outputs[small["name"]], data.test, n_boot=n_boot)
        out.comparisons.append(_comparison(large, small, (large["name"], small["name"]), diff, paired=False))
    return out


def _tuned(data: TauData, cfg: ParTConfig, train_cfg: TrainingConfig, lrs: Sequence[float], *, fraction: float,
           source: Any) -> tuple[Trained, float, dict[float, float]]:
    """One training per learning rate of ``lrs`` on the first draw; the one with the lowest validation loss."""
    runs = {lr: train_multi(data, cfg, replace(train_cfg, lr=lr), surgery="none",
                            fraction=fraction, pretrained=source) for lr in lrs}
    losses = {lr: validation_loss(t) for lr, t in runs.items()}
    best = choose_learning_rate(losses)
    return runs[best], best, losses


def _pool(data: TauData, n_jets: int | None, seed: int) -> TauData:
    """``data`` with a training split of a random ``n_jets`` of its training jets (all when ``None`` or more)."""
    if n_jets is None:
        return data
    jets = reference_jets(data.train)
    if n_jets >= len(jets["weight"]):
        return data
    return TauData(train=subsample(jets, n_jets / len(jets["weight"]), seed), val=data.val, test=data.test)


def label_efficiency_study(data: TauData, cfg: ParTConfig, fractions: Sequence[float], train_cfg: TrainingConfig,
                           *, lrs: Sequence[float], n_draws: int, pretrain_epochs: int, n_pool: int | None = None,
                           n_boot: int = 50) -> tuple[Trained, SideStudy]:
    """Masked-particle pre-training on all training jets (labels unused), then MultiParTau (plain weighted sum) on
    each labelled fraction of a pool of ``n_pool`` training jets (all of them when ``None``), from scratch and
    fine-tuned from the pre-trained backbone, every run taking as many optimiser steps as the training on the
    whole pool.

    Parameters
    ----------
    fractions
        Labelled fractions of the pool (1 takes all of it, one draw).
    train_cfg
        Epochs, batch size and the first seed (its learning rate is that of the pre-training).
    lrs
        The peak learning rates tried for each (fraction, start) on the first draw; the one with the lowest
        validation loss trains the other draws.
    n_draws
        Draws of the labelled jets per fraction below one (draw *k* uses seed ``train_cfg.seed + k`` for the
        labelled jets and the initial weights; scratch and fine-tuned share each draw).

    Returns
    -------
    pretrained, study
        The pre-training, and per (fraction, start) a row with ``fraction``, ``init``, ``n_train`` (labelled
        jets of each draw), ``lr`` and ``val_loss_by_lr``; a comparison pre-trained − scratch per fraction.
    """
    if n_draws < 1 or not lrs:
        msg = f"need n_draws >= 1 and at least one learning rate, found {n_draws} and {list(lrs)}"
        raise ValueError(msg)
    seed = train_cfg.seed
    pre = pretrain(data, cfg, replace(train_cfg, epochs=pretrain_epochs))
    data = _pool(data, n_pool, seed)
    out = SideStudy()
    for fraction in fractions:
        draws = n_draws if fraction < 1.0 else 1
        pair: dict[str, tuple[dict[str, Any], dict[str, np.ndarray]]] = {}
        for init, source in (("scratch", None), ("pre-trained", pre.model)):
            first, lr, losses = _tuned(data, cfg, train_cfg, lrs, fraction=fraction, source=source)
            trained = [first] + [train_multi(data, cfg, replace(train_cfg, lr=lr, seed=seed + k),
                                             surgery="none", fraction=fraction, pretrained=source)
                                 for k in range(1, draws)]
            row, outputs = _evaluate(trained, data.test, n_boot=n_boot)
            row = {"fraction": float(fraction), "init": init, "n_train": [t.n_train for t in trained],
                   "lr": float(lr), "val_loss_by_lr": {f"{k:g}": v for k, v in losses.items()}, **row}
            out.rows.append(row)
            pair[init] = (row, outputs[0])
        (pre_row, pre_out), (scr_row, scr_out) = pair["pre-trained"], pair["scratch"]
        diff = paired_auc(pre_out, scr_out, data.test, n_boot=n_boot)
        out.comparisons.append({**_comparison(pre_row, scr_row, ("pre-trained", "scratch"), diff, paired=True),
                                "fraction": float(fraction)})
    return pre, out
