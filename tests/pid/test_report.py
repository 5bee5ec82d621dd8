"""The PID page's tables and generated sentences (hepnb.pid.report) and its settings (hepnb.pid.pipeline.Settings),
on small hand-made results."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hepnb.pid import pipeline, report
from hepnb.pid.constants import ORIGINAL_MC_FRACTIONS_AFTER_CUTS
from hepnb.pid.training import Grid

PARAMETERS = {
    "input_file": "", "input_tree": "", "data_like_file": "", "scheduler": "", "n_tracks": 6000, "n_data_like": 3000,
    "selection": "o2", "ranges": ["full"], "protocols": ["original", "corrected"], "networks": ["dnn"],
    "variations": ["tof_mismatch_x2"], "epochs": 2, "patience": 2, "lr_scale": 10.0, "batch_size": 256,
    "n_trees_rf": 20, "n_trees_xgb": 30, "n_boot": 20, "n_seeds": 3, "n_settings": 2, "n_core": 1000, "n_emulated": 20, "seed": 0,
    "evals_per_epoch": 4, "min_steps": 0,
}


@pytest.fixture
def settings() -> pipeline.Settings:
    return pipeline.Settings.from_parameters({**PARAMETERS, "profile": "ci"})


def test_settings_come_from_the_page_parameters(settings: pipeline.Settings) -> None:
    assert settings.ranges == ("full",) and settings.simulated
    assert settings.focus == "full" and settings.main_protocol == "corrected"
    assert settings.shown_protocols == ["original", "corrected"]
    config = settings.training
    assert (config.epochs, config.patience, config.n_trees_xgb, config.lr_scale, config.seed) == (2, 2, 30, 10.0, 0)
    with pytest.raises(KeyError):
        pipeline.Settings.from_parameters({k: v for k, v in PARAMETERS.items() if k != "n_boot"})
    other = pipeline.Settings.from_parameters({**PARAMETERS, "ranges": ["0-1", "1-3"], "protocols": ["original"]})
    assert other.focus == "1-3" and other.main_protocol == "original" and other.shown_protocols == ["original"]


def _gaps() -> pd.DataFrame:
    return pd.DataFrame([
        {"range": "full", "protocol": p, "best_network": "dnn", "network_value": net, "network_std": 0.4,
         "xgboost_value": net + gap, "xgboost_std": 0.3, "gap_value": gap, "gap_std": 0.2,
         "balanced_gap_value": 4 * gap, "balanced_gap_std": 1.5}
        for p, net, gap in (("original", 60.0, 12.0), ("corrected", 80.0, 3.0))])


def _rates(balanced: float) -> dict[str, float]:
    out = {"balanced_value": balanced, "balanced_std": 0.02}
    for i, s in enumerate(("pi", "ka", "pr", "el")):
        out |= {f"efficiency_{s}_value": 0.9 - 0.1 * i, f"efficiency_{s}_std": 0.01,
                f"purity_{s}_value": 0.95 - 0.1 * i, f"purity_{s}_std": 0.03}
    return out


def _accuracy() -> pd.DataFrame:
    rows = [{"range": "full", "protocol": p, "model": m, "kind": k, "chosen": m == "dnn", "value": v, "std": 0.004,
             "unidentified": 0.0, **_rates(v - 0.2)}
            for p in ("original", "corrected") for m, k, v in (("dnn", "network", 0.8), ("xgboost", "tree", 0.83))]
    rows.append({"range": "full", "protocol": "", "model": "alice_bayes", "kind": "baseline", "chosen": False,
                 "value": 0.75, "std": 0.004, "unidentified": 0.0, **_rates(0.7)})
    return pd.DataFrame(rows)


def _comparison() -> pipeline.Comparison:
    cells = {("full", "corrected"): {"timing": {"dnn": {"val_err_history": [0.5, 0.4, 0.3, 0.2]}}}}
    fixes = pd.DataFrame([{"range": "full", "fix": "validation", "from": "original", "to": "corrected",
                           "closed_value": 9.0, "closed_std": 1.0, "network_change_value": 20.0,
                           "network_change_std": 1.0, "xgboost_change_value": 11.0, "xgboost_change_std": 1.0}])
    versus = pd.DataFrame([{"range": "full", "protocol": "corrected", "network": "dnn", "baseline": "alice_bayes",
                            "diff_value": 5.0, "diff_std": 0.3}])
    seeds = {"full": {"dnn": {"model": "dnn", "accuracy": [0.80, 0.81, 0.79], "balanced": [0.60, 0.60, 0.60],
                              "std": 0.01, "converged": [True] * 3, "all_converged": True},
                      "xgboost": {"model": "xgboost", "accuracy": [0.825, 0.83, 0.835], "balanced": [0.72, 0.72, 0.72],
                                  "efficiency": {"el": [0.50, 0.52, 0.54], "ka": [0.80, 0.80, 0.80]},
                                  "std": 0.005, "converged": [True] * 3, "all_converged": True}}}
    seeds["full"]["dnn"]["efficiency"] = {"el": [0.40, 0.40, 0.40], "ka": [0.70, 0.71, 0.72]}
    return pipeline.Comparison(Grid({}, cells, ("dnn",)), {}, _accuracy(), _gaps(), fixes, versus, seeds)


def _deployment(n_blanked: int) -> pipeline.Deployment:
    return pipeline.Deployment("dnn", "full", {"value": -0.01, "std": 0.004}, n_blanked,
                               {"network": Path("models/dnn")}, {"a.onnx": 1e-7, "b.onnx": 3e-7}, 20, 2.5)


def test_tables_write_each_value_with_its_uncertainty(settings: pipeline.Settings) -> None:
    gaps = report.gap_table(_gaps())
    assert gaps.loc[("full", "corrected"), "gap (points)"] == "3.00 ± 0.20"
    assert gaps.loc[("full", "original"), "network (%)"] == "60.0 ± 0.4"
    fixes = report.fix_table(_comparison().fixes)
    assert fixes.loc[("full", "validation"), "gap closed (points)"] == "9.0 ± 1.0"
    assert report.fix_table(pd.DataFrame()).empty
    table = report.headline_table(settings, _accuracy())
    assert table.loc["dnn", ("full", "corrected")] == "80.0 ± 0.4 ✓"
    assert table.loc["xgboost", ("full", "original")] == "83.0 ± 0.4"
    # the baselines need no training: the same under every protocol shown
    assert table.loc["alice_bayes", ("full", "original")] == table.loc["alice_bayes", ("full", "corrected")]
    assert gaps.loc[("full", "corrected"), "balanced-accuracy gap (points)"] == "12.0 ± 1.5"
    rates = report.rates_table(settings, _accuracy())  # the main protocol (corrected here) and the baselines
    assert rates.loc["dnn ✓", ("full", "balanced accuracy")] == "60.0 ± 2.0"
    assert rates.loc["alice_bayes", ("full", "eff. e")] == "60.0 ± 1.0" and rates.loc["xgboost", ("full", "pur. K")] == "85.0 ± 3.0"
    assert rates.loc["xgboost", ("full", "accuracy")] == "83.0 ± 0.4"


def test_species_mix_and_core_numbers(settings: pipeline.Settings) -> None:
    labels = np.array([0, 0, 1, 2, 3, -1])
    sample = pipeline.Sample({"pt": np.ones(6), "has_tof": np.array([1, 0, 0, 0, 1, 1])}, 10, labels,
                             {"full": labels >= 0})
    mix = report.species_mix(settings, sample)
    assert mix[("full", "here")]["pi"] == pytest.approx(40.0)
    assert mix[("full", "original MC")]["ka"] == pytest.approx(100 * ORIGINAL_MC_FRACTIONS_AFTER_CUTS["full"]["ka"])
    assert mix[("full", "here")]["with TOF"] == pytest.approx(40.0)
    assert np.isnan(mix[("full", "original MC")]["with TOF"])
    cores = pd.DataFrame({"median": [0.01, -0.03], "width": [1.02, 0.99]})
    numbers = report.core_numbers(cores, 1000)
    assert numbers["core_worst_median"] == pytest.approx(0.03) and numbers["core_worst_width"] == pytest.approx(0.02)
    sentence = report.original_reported_sentence(["full", "nowhere"])
    assert "xgboost 91.4 %" in sentence and sentence.startswith("The original study reported")


def test_worst_variation_is_the_largest_shift() -> None:
    syst = pd.DataFrame([{"range": "full", "model": "dnn", "variation": v, "shift_value": s, "shift_std": 0.1}
                         for v, s in (("a", 0.5), ("b", -2.0), ("c", 1.0))])
    assert report.worst_variation(syst, "dnn", "full")["variation"] == "b"
    assert report.worst_variation(pd.DataFrame(), "dnn", "full") is None


def test_conclusions_follow_the_numbers(settings: pipeline.Settings) -> None:
    comparison = _comparison()
    confusion = {"xgboost": [[50, 0, 0, 0], [0, 30, 0, 0], [0, 0, 15, 0], [0, 0, 0, 5]],
                 "dnn": [[50, 0, 0, 0], [3, 27, 0, 0], [0, 0, 15, 0], [0, 0, 0, 5]]}
    detail = pipeline.Detail("dnn", {"full/corrected": {m: {"confusion": c} for m, c in confusion.items()}},
                             np.zeros(3, dtype=np.int64))
    worst = pd.Series({"variation": "tof_mismatch_x2", "shift_value": -1.23, "shift_std": 0.2})
    text = report.conclusions(settings, "ci", comparison, detail, worst, _deployment(5))
    assert "not within the half-point aim" in text  # a 3-point gap
    # the gate, with both sides' seed spreads (dnn 1 point, XGBoost 0.5) added to the test bootstrap (0.2 points):
    # √(1 + 0.25 + 0.04) = 1.14, 3.0/1.14 = 2.6σ
    assert "XGBoost is better than the chosen network (dnn) on test accuracy, by 3.0 ± 1.1 points (2.6σ" in text
    # against a closed-form baseline only the network's spread: √(1 + 0.09) = 1.04
    assert "dnn is better than the most accurate baseline (alice_bayes) on test accuracy, by 5.0 ± 1.0 points" in text
    assert "the spread over 3 training seeds of dnn (1.00 points) and of XGBoost (0.50 points)" in text
    comparison.seeds["full"]["dnn"]["all_converged"] = False
    unconverged = report.conclusions(settings, "ci", comparison, detail, worst, _deployment(5))
    assert "is better than" not in unconverged and "dnn) has not converged" in unconverged
    assert "still learning" in text  # its validation error fell to the last epoch
    assert "K +3.00" in text  # the gap comes from the kaons: 3 of 100 tracks
    assert "the fixes together close +9.0" in text and "12.0 points" in text
    assert "tof_mismatch_x2" in text and "−1.23 ± 0.20" in text
    assert "−1.0 ± 0.4 points" in text and "mean nothing" in text
    assert "changes nothing" in report.conclusions(settings, "default", comparison, detail, None, _deployment(0))
    unchanged = pipeline.Deployment("dnn", "full", {"value": 0.0, "std": 0.0}, 7, {}, {}, 20, 2.5)
    assert "for none of the 7 test tracks whose TOF measurement it blanks" in report.conclusions(
        settings, "default", comparison, detail, None, unchanged)
    assert "mean nothing" not in report.conclusions(settings, "default", comparison, detail, None, _deployment(0))


def test_deployment_numbers_and_headline(settings: pipeline.Settings) -> None:
    numbers = report.deployment_numbers(_deployment(5))
    assert numbers["blanking_cost"] == "−1.0 ± 0.4" and numbers["emulation_max_diff"] == 3e-7
    assert numbers["n_o2_files"] == 2 and numbers["flagged_fraction"] == 2.5
    headline = report.headline_entries(settings, _gaps())
    assert headline["gap_full"]["value"] == 3.0 and headline["network_full"]["value"] == 80.0


def test_seed_table_quotes_seed_means_with_seed_spread_and_test_bootstrap(settings: pipeline.Settings) -> None:
    table = report.seed_table(settings, _comparison())
    # XGBoost's accuracy: mean 83.0 %, seed std 0.5 ⊕ bootstrap 0.4 points = 0.64
    assert table.loc["xgboost", ("full", "accuracy")] == "83.0 ± 0.6"
    # its electron efficiency: mean 52 %, seed std 2 ⊕ bootstrap 1 = 2.2 points
    assert table.loc["xgboost", ("full", "eff. e")] == "52.0 ± 2.2"
    # dnn's kaons: 71 %, seed std 1 ⊕ 1 = 1.4 points; its balanced accuracy has no seed spread: the bootstrap's 2
    assert table.loc["dnn", ("full", "eff. K")] == "71.0 ± 1.4"
    assert table.loc["dnn", ("full", "balanced accuracy")] == "60.0 ± 2.0"
    assert table.loc["dnn", ("full", "converged")] == "3/3"
    # a baseline: its one value and its bootstrap
    assert table.loc["alice_bayes", ("full", "accuracy")] == "75.0 ± 0.4"
    assert table.loc["alice_bayes", ("full", "converged")] == "closed form"


def test_seed_summary_counts_each_species_against_its_own_tracks() -> None:
    from hepnb.pid.training import seed_summary

    y = np.array([0, 0, 0, 0, 1, 1, 2, 3])
    right = y.copy()
    wrong_e = np.array([0, 0, 0, 1, 1, 1, 2, 0])  # one pion called a kaon, the electron called a pion
    out = seed_summary("xgboost", [right, wrong_e], y, [True, False], [0, 1])
    assert out["accuracy"] == [1.0, 0.75]
    assert out["efficiency"]["el"] == [1.0, 0.0] and out["efficiency"]["pi"] == [1.0, 0.75]
    assert out["balanced"][1] == pytest.approx((0.75 + 1 + 1 + 0) / 4)
    assert out["std"] == pytest.approx(float(np.std([1.0, 0.75], ddof=1)))
    assert out["all_converged"] is False
