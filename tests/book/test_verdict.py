"""The verdict gate (hepnb.book.verdict): no ranking from an unconverged model or within the uncertainty."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from hepnb.book.verdict import Contender, combined_uncertainty, seed_spread_of_difference, verdict

RANKING = re.compile(r"\b(better|worse|beats?|outperform\w*|below the curve)\b", re.IGNORECASE)


def test_an_unconverged_network_is_never_ranked_whatever_the_difference() -> None:
    for diff in (0.001, 0.5, -3.0):
        v = verdict("tau-ID AUC", Contender("SingleParTau", converged=False), Contender("XGBoost"), diff, 1e-4,
                    lower_is_better=False)
        assert v.kind == "not converged" and not v.ranked and v.better is None
        assert not RANKING.search(v.sentence) and "SingleParTau has not converged" in v.sentence
    both = verdict("accuracy", Contender("A", False), Contender("B", False), 1.0, 0.1, lower_is_better=False)
    assert both.sentence.startswith("neither A nor B has converged, so the two are not ranked on accuracy")


def test_within_the_combined_uncertainty_the_two_are_consistent() -> None:
    a, b = Contender("MLP", converged=True), Contender("polynomial")
    v = verdict("median position error", a, b, -3.0, 2.0, lower_is_better=True, unit="µm")
    assert v.kind == "consistent" and v.significance == pytest.approx(1.5)
    assert not RANKING.search(v.sentence) and "−3.0 ± 2.0 µm" in v.sentence  # PDG rule: 200 keeps two digits


def test_a_significant_difference_between_converged_models_is_ranked_in_the_right_direction() -> None:
    a, b = Contender("MLP", converged=True), Contender("RK4-20")
    lower = verdict("median position error", a, b, -5.0, 1.0, lower_is_better=True, unit="µm")
    assert lower.ranked and lower.better == "MLP" and lower.sentence.startswith("MLP is better than RK4-20")
    higher = verdict("median position error", a, b, 5.0, 1.0, lower_is_better=True, unit="µm")
    assert higher.better == "RK4-20"
    auc = verdict("AUC", a, b, 0.01, 0.001, lower_is_better=False)
    assert auc.better == "MLP" and auc.significance == pytest.approx(10.0)
    untrained = verdict("accuracy", Contender("Bayes A"), Contender("Bayes B"), -2.0, 0.5, lower_is_better=False)
    assert untrained.better == "Bayes B" and untrained.sentence.endswith("(4.0σ)")  # neither side is trained


def test_two_methods_that_are_not_trained_are_ranked_without_a_convergence_note() -> None:
    """A polynomial against a Runge–Kutta curve: neither side has a convergence record (``None``)."""
    v = verdict("median position error", Contender("polynomial"), Contender("RK4-20"), -5.0, 1.0,
                lower_is_better=True, unit="µm")
    assert v.ranked and v.better == "polynomial" and v.sentence.endswith("(5.0σ)")


def test_seed_spread_can_turn_a_ranking_into_consistency() -> None:
    a, b = Contender("XGBoost"), Contender("ParT", converged=True)
    test_only = verdict("AUC", a, b, 0.004, combined_uncertainty(0.0015), lower_is_better=False)
    assert test_only.ranked
    seeds = seed_spread_of_difference([0.990, 0.991, 0.992], [0.980, 0.992, 0.995])  # ParT varies a lot
    # √(var(a)/3 + var(b)/3), written out: var(a) = 1e-6, var(b) = 6.3e-5
    assert seeds == pytest.approx(math.sqrt(1e-6 / 3 + np.var([0.980, 0.992, 0.995], ddof=1) / 3), rel=1e-12)
    both = verdict("AUC", a, b, 0.004, combined_uncertainty(0.0015, seeds), lower_is_better=False)
    assert both.kind == "consistent"
    assert combined_uncertainty(3.0, 4.0) == 5.0
    assert seed_spread_of_difference([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], paired=True) == 0.0
    with pytest.raises(ValueError, match="finite"):
        combined_uncertainty(float("nan"))


def test_paired_verdict_adds_the_seed_spread_to_the_test_bootstrap() -> None:
    """A paired difference of 0.05 ± 0.01 (test) ranks two converged models; the same with a seed spread of 0.03
    (combined 0.032, 1.6σ) does not; and it never ranks a network that has not converged."""
    from hepnb.book.verdict import paired_verdict

    a, b = Contender("ParT", converged=True), Contender("XGBoost")
    d = {"value": 0.05, "std": 0.01}
    assert paired_verdict("AUC", a, b, d, lower_is_better=False).better == "ParT"
    consistent = paired_verdict("AUC", a, b, d, lower_is_better=False, seed_std=0.03)
    assert consistent.kind == "consistent" and consistent.significance == pytest.approx(0.05 / math.hypot(0.01, 0.03))
    assert paired_verdict("AUC", Contender("ParT", converged=False), b, d, lower_is_better=False).kind == "not converged"


def test_seed_spread_of_one_model_each_is_the_mean_s_times_root_k() -> None:
    a, b = [0.90, 0.92, 0.94], [0.80, 0.81]
    of_mean = seed_spread_of_difference(a, b)
    one_each = seed_spread_of_difference(a, b, of_mean=False)
    assert one_each == pytest.approx(math.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1)))
    assert of_mean == pytest.approx(math.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 2))
    paired = seed_spread_of_difference(a, [0.80, 0.81, 0.83], paired=True, of_mean=False)
    assert paired == pytest.approx(np.std(np.subtract(a, [0.80, 0.81, 0.83]), ddof=1))


def test_the_rule_in_words_quotes_the_constants_the_code_uses() -> None:
    from hepnb import convergence
    from hepnb.book.verdict import SIGNIFICANCE, rule_markdown

    text = rule_markdown("loss")
    assert (convergence.RELATIVE_TOLERANCE, convergence.LAST_FRACTION, SIGNIFICANCE) == (0.01, 0.2, 2.0)
    assert "validation loss improved by less than 1 % of its best value over the last 20 %" in text
    assert f"at least {convergence.MIN_POINTS} times" in text and "exceeds 2 times its uncertainty" in text


def test_mean_over_seeds_adds_the_seed_spread_to_the_test_uncertainty() -> None:
    from hepnb.book.verdict import mean_over_seeds

    # values 0.80, 0.81, 0.79: mean 0.80, std (ddof 1) 0.01; ⊕ a test uncertainty 0.004 → √(1e-4 + 1.6e-5)
    mean, std = mean_over_seeds([0.80, 0.81, 0.79], 0.004)
    assert mean == pytest.approx(0.80) and std == pytest.approx((1e-4 + 1.6e-5) ** 0.5)
    assert mean_over_seeds([0.8], 0.004) == pytest.approx((0.8, 0.004))  # one seed: the test uncertainty alone
    # a non-finite seed is left out; a test uncertainty never computed adds nothing
    assert mean_over_seeds([0.80, float("nan"), 0.82], float("nan")) == pytest.approx((0.81, 0.02 / 2 ** 0.5))
    assert all(math.isnan(v) for v in mean_over_seeds([float("nan")], 0.1))
