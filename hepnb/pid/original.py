"""The original study for reference: what its README reported, and each way this re-implementation deviates from it."""

from __future__ import annotations

__all__ = ["ORIGINAL_DEVIATIONS", "ORIGINAL_REPORTED"]

#: The original's README (January 2026): test accuracy (%) per range and model, on its own Run 3 Pb–Pb MC.
ORIGINAL_REPORTED: dict[str, dict[str, float]] = {
    "full": {"simple_nn": 66.7, "dnn": 65.2, "fse_phase0": 67.9, "fse_phase1": 68.4, "random_forest": 77.5,
             "xgboost": 91.4},
    "0-1": {"simple_nn": 56.8, "dnn": 63.4, "fse_phase0": 60.5, "fse_phase1": 58.8, "random_forest": 71.3,
            "xgboost": 87.2},
    "1-3": {"simple_nn": 63.5, "dnn": 70.5, "fse_phase0": 51.5, "fse_phase1": 62.2, "random_forest": 75.9,
            "xgboost": 83.2},
}

#: Where the ``original`` protocol here differs from the original's code, and why (the book shows this table).
ORIGINAL_DEVIATIONS: tuple[dict[str, str], ...] = (
    {"item": "data", "original": "Run 3 Pb–Pb MC (LHC25f6) through the O2 feature extractor",
     "here": "a parametrised ALICE-like simulation written as the extractor's table, tuned to the original MC's "
             "species mix after cuts",
     "why": "the original's tables are not public"},
    {"item": "test split", "original": "a stratified 80/20 split of its own",
     "here": "the 20 % common test set every protocol shares; training on the other 80 %",
     "why": "paired comparisons between protocols need the same test tracks"},
    {"item": "FSE phase 1 detector embedding in 1–3 GeV/c", "original": "configured as 24, built with 8 (hard-coded)",
     "here": "8", "why": "the original's network ran with 8 (its flaw 3); the configured 24 never took effect"},
    {"item": "epochs, patience, trees", "original": "100 epochs, patience 30, 500 trees",
     "here": "the profile's epochs, patience and tree counts",
     "why": "the default profile fits the book's time budget on two cores; the full profile uses original-scale data"},
    {"item": "learning rates", "original": "Adam 1e-4 (DNN and phase one in 0–1 GeV/c: 5e-5)",
     "here": "the original's, times the profile's lr_scale, for every protocol alike; halved on a plateau of the "
             "validation loss (down to 1/64)",
     "why": "a profile that trains far fewer steps than the original's hundred epochs would leave every network "
            "unconverged; the comparison between protocols stays paired"},
    {"item": "XGBoost rounds", "original": "500 trees, no early stopping",
     "here": "all n_trees_xgb under original; early stopping on the validation log-loss under the other protocols",
     "why": "a choice on validation, as the corrected protocols make every choice"},
    {"item": "Bayes token", "original": "−0.25 where the scaled probability is exactly 0 (a no-op)",
     "here": "the same no-op under original; tokenised missing values under the later protocols",
     "why": "kept knowingly (its flaw 1)"},
    {"item": "class weights", "original": "computed, logged, unused in the loss (flaw 2)",
     "here": "used in the loss under original, as its README describes; dropped under corrected",
     "why": "the README's protocol is the one reproduced"},
)
