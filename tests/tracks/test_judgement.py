"""The study's rule: a model is below Runge–Kutta only below all three RK curves (their lower envelope at its cost),
by a paired verdict (hepnb.tracks.envelope, hepnb.tracks.judgement)."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.tracks.envelope import ENVELOPE, build_curves, envelope_at, paired_distances
from hepnb.tracks.judgement import judge, judgement_markdown


def _row(model: str, family: str, cost: float, err: float, err_err: float = 1.0) -> dict:
    return {"model": model, "family": family, "cost": cost, "pos_median_um": err, "pos_median_err_um": err_err,
            "val_median_um": err}


ROWS = [_row("single_kick", "analytic", 5.0, 5000.0), _row("rk4_1", "rk4", 10.0, 1000.0),
        _row("rk4_2", "rk4", 20.0, 100.0), _row("rk4_4", "rk4", 40.0, 10.0),
        _row("rk4_aligned_100mm", "rk4_aligned", 30.0, 1.0), _row("rk4_aligned_50mm", "rk4_aligned", 60.0, 0.1),
        _row("cash_karp_1mm", "cash_karp", 12.0, 50.0), _row("cash_karp_0.01mm", "cash_karp", 24.0, 5.0),
        _row("mlp_cheap", "mlp", 8.0, 300.0),  # below equal-step RK4 (1741 µm there); cheaper than the others
        _row("mlp_mid", "mlp", 20.0, 50.0),  # below equal-step RK4 (100 µm) but above Cash–Karp (7.9 µm there)
        _row("mlp_fast", "mlp", 20.0, 2.0)]  # below all three


def test_the_envelope_is_the_smallest_curve_and_a_curve_says_nothing_below_its_cheapest_point() -> None:
    curves = build_curves(ROWS, "cost", ("rk4", "rk4_aligned", "cash_karp"))
    errors = {r["model"]: r["pos_median_um"] for r in ROWS}
    assert curves["rk4"].names[0] == "single_kick" and curves["rk4"].led
    assert curves["rk4_aligned"].error_at(20.0, errors) == np.inf  # cannot run at 20 ns
    assert curves["rk4"].error_at(2.0, errors) == 5000.0  # the kick leads: flat below it
    ck_at_20 = float(np.exp(np.interp(np.log(20.0), np.log([12.0, 24.0]), np.log([50.0, 5.0]))))
    assert envelope_at(20.0, curves, errors) == pytest.approx(ck_at_20)
    assert envelope_at(45.0, curves, errors) == pytest.approx(np.exp(np.interp(np.log(45.0), np.log([30.0, 60.0]),
                                                                               np.log([1.0, 0.1]))))
    assert envelope_at(100.0, curves, errors) == pytest.approx(0.1)  # beyond every curve: its best point


def test_below_rk_means_below_all_three_curves() -> None:
    judged = judge(ROWS, cost_key="cost", converged={"mlp_cheap": True, "mlp_mid": True, "mlp_fast": True},
                   cost_rel_uncertainty=0.0)  # these curves fall tenfold per doubling: the costs taken as exact
    assert judged["beats_rk4"] == ["mlp_cheap", "mlp_mid", "mlp_fast"]  # the equal-step curve alone
    assert judged["beats_rk"] == ["mlp_cheap", "mlp_fast"]  # the envelope: mlp_mid lies above Cash–Karp
    mid = judged["models"]["mlp_mid"]["curves"]
    assert mid["cash_karp"]["below"] is False and mid["rk4"]["below"] is True
    assert mid[ENVELOPE]["curve_um"] == pytest.approx(mid["cash_karp"]["curve_um"])
    assert judged["models"]["rk4_aligned_100mm"]["below_rk"] is False  # an RK row is never below the envelope
    text = judgement_markdown(judged, "UT → T1")
    assert "2 of these lie below every Runge–Kutta curve (equal-step RK4, plane-aligned RK4, adaptive Cash–Karp)" in text


def test_the_distance_to_a_curve_is_paired_on_the_test_tracks() -> None:
    """With per-track errors, median − curve and its spread come from common resamplings: a model whose errors
    follow the curve's track by track has a far smaller spread than its own bootstrap error."""
    rng = np.random.default_rng(0)
    hard = rng.exponential(1.0, 4000)  # how hard each track is, common to every extrapolator
    rows = [_row("single_kick", "analytic", 5.0, 0.0), _row("rk4_1", "rk4", 10.0, 0.0), _row("rk4_2", "rk4", 20.0, 0.0),
            _row("mlp_a", "mlp", 20.0, 0.0)]
    scale = {"single_kick": 5000.0, "rk4_1": 1000.0, "rk4_2": 100.0, "mlp_a": 95.0}
    errors = {name: s * hard for name, s in scale.items()}
    for r in rows:
        r["pos_median_um"] = float(np.median(errors[r["model"]]))
        r["pos_median_err_um"] = 100.0 * 0.02  # about the bootstrap error of a median of 4000 exponentials
    curves = build_curves(rows, "cost", ("rk4",))
    d = paired_distances(rows, errors, cost_key="cost", curves=curves, envelope_of=("rk4",),
                         cost_rel_uncertainty=0.0)["mlp_a"]
    assert d["rk4"]["value"] == pytest.approx(-5.0 * np.median(hard))
    assert d["rk4"]["std"] < 0.2 * rows[-1]["pos_median_err_um"]  # the common difficulty cancels
    judged = judge(rows, cost_key="cost", errors=errors, converged={"mlp_a": True}, cost_rel_uncertainty=0.0)
    assert judged["beats_rk"] == ["mlp_a"]  # 5 % below, unresolvable unpaired, many σ paired
    assert judge(rows, cost_key="cost", converged={"mlp_a": True},
                 cost_rel_uncertainty=0.0)["beats_rk"] == []  # unpaired: 3.5 µm < 2 × 2 µm


def test_a_margin_within_the_cost_uncertainty_is_not_a_verdict() -> None:
    """VELO → T1 at default (c58a95d): mlp_small_rk4_2, 10.42 µm at 380 ns, against the polynomial curve through
    lhcb_poly_6 (233 ns, 15.36 µm) and lhcb_poly_8 (488 ns, 9.21 µm): 0.53 µm below it, ± 0.20 µm on the test tracks,
    which a 10 % slower timing of the model would undo."""
    rows = [_row("single_kick", "analytic", 5.0, 2900.0), _row("rk4_1", "rk4", 130.0, 48000.0),
            _row("lhcb_poly_6", "poly", 233.0, 15.36, 0.3), _row("lhcb_poly_8", "poly", 488.0, 9.21, 0.17),
            _row("mlp_small_rk4_2", "mlp", 380.0, 10.42, 0.20)]
    curves = build_curves(rows, "cost", ("rk4", "poly"))

    def poly_at(cost: float) -> float:  # log–log interpolation, written out
        slope = np.log(9.21 / 15.36) / np.log(488.0 / 233.0)
        return 15.36 * (cost / 233.0) ** slope

    exact = paired_distances(rows, None, cost_key="cost", curves=curves, envelope_of=("rk4",),
                             cost_rel_uncertainty=0.0)["mlp_small_rk4_2"]["poly"]
    assert exact["curve_um"] == pytest.approx(poly_at(380.0)) and exact["std"] == pytest.approx(0.20)
    timed = paired_distances(rows, None, cost_key="cost", curves=curves, envelope_of=("rk4",),
                             cost_rel_uncertainty=0.1)["mlp_small_rk4_2"]["poly"]
    assert timed["band_um"] == pytest.approx([poly_at(380.0 * np.exp(0.1)), poly_at(380.0 * np.exp(-0.1))])
    assert timed["band_um"] == pytest.approx([10.22, 11.73], abs=0.01)  # 10.42 µm lies inside
    converged = {"mlp_small_rk4_2": True}
    assert judge(rows, cost_key="cost", converged=converged, cost_rel_uncertainty=0.0)["beats_poly"] == [
        "mlp_small_rk4_2"]  # 0.53 / 0.20 = 2.6σ with the cost taken as exact
    judged = judge(rows, cost_key="cost", converged=converged)  # the study's run-to-run uncertainty
    placed = judged["models"]["mlp_small_rk4_2"]["curves"]["poly"]
    assert judged["beats_poly"] == [] and placed["judged_difference_um"] is None
    assert "consistent" in placed["verdict"] and "10.2–11.7 µm" in placed["verdict"]
    with pytest.raises(ValueError, match="relative uncertainty must be a number >= 0, found -0.1"):
        paired_distances(rows, None, cost_key="cost", curves=curves, envelope_of=("rk4",), cost_rel_uncertainty=-0.1)


def test_a_steep_curve_is_beaten_only_below_its_lowest_value_over_the_cost_uncertainty() -> None:
    """UT → T1: the equal-step RK4 curve falls from ~1.8 mm (RK4-2) to ~0.15 mm (RK4-3) within a few hundred ns. A
    model at 11.6 µm lies below the whole range its cost could mean (153–309 µm), and is judged by the smallest
    margin; one at 200 µm lies inside it."""
    rows = [_row("single_kick", "analytic", 5.0, 2900.0), _row("rk4_1", "rk4", 110.0, 1697.0),
            _row("rk4_2", "rk4", 250.0, 1766.0), _row("rk4_3", "rk4", 420.0, 153.0, 3.0),
            _row("mlp_fine", "mlp", 400.0, 11.6, 0.3), _row("mlp_coarse", "mlp", 400.0, 200.0, 5.0)]
    curves = build_curves(rows, "cost", ("rk4",))
    d = paired_distances(rows, None, cost_key="cost", curves=curves, envelope_of=("rk4",), cost_rel_uncertainty=0.1)
    lo_cost = 400.0 * np.exp(-0.1)
    at_lo = float(np.exp(np.interp(np.log(lo_cost), np.log([250.0, 420.0]), np.log([1766.0, 153.0]))))
    assert d["mlp_fine"]["rk4"]["band_um"] == pytest.approx([153.0, at_lo])  # beyond RK4-3: its error
    assert at_lo == pytest.approx(309.0, abs=1.0)
    judged = judge(rows, cost_key="cost", converged={"mlp_fine": True, "mlp_coarse": True})
    fine = judged["models"]["mlp_fine"]["curves"]["rk4"]
    assert fine["below"] and fine["judged_difference_um"] == pytest.approx(11.6 - 153.0)
    assert judged["beats_rk4"] == ["mlp_fine"]  # mlp_coarse: inside the range, consistent
    assert judged["models"]["mlp_coarse"]["curves"]["rk4"]["judged_difference_um"] is None
