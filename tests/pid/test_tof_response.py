"""TOF mismatches and the mismatch-aware ALICE Bayes: where a wrong hit's time comes from, ALICE's TOF likelihood
(tail and mismatch terms) against an independent scipy computation, and what the mismatch term buys on mismatched
tracks of the simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from hepnb.pid.baselines import baseline_predictions, mismatch_density
from hepnb.pid.bayes import alice_bayes, alice_bayes_mismatch
from hepnb.pid.data import Response, mismatch_partners, simulate_tracks
from hepnb.pid.selection import labels, momentum_range, selected
from hepnb.pid.tof_likelihood import mismatch_density_per_ps, tail_response_density, tof_likelihood_per_ps

C_CM_PER_PS = 0.0299792458  # c = 299 792 458 m/s (exact, SI)
# PDG 2024 masses (GeV/c²): π±, K±, p, e
PDG_MASS_GEV = {211: 0.13957039, 321: 0.493677, 2212: 0.93827208943, 11: 0.51099895069e-3}
O2_TOF_TAIL = 0.9  # O2Physics pidBayes.cxx fTOFtail (AliPIDResponse's default TOF tail)
MISMATCH_FRACTION = 0.02  # the simulation's TOF mismatch fraction


# Where a wrong hit comes from


def test_mismatch_partners_are_other_tof_tracks_of_the_same_event() -> None:
    rng = np.random.default_rng(0)
    event = np.repeat(np.arange(50), 40)
    reaches = rng.uniform(size=len(event)) < 0.6
    reaches[event == 7] = False  # an event without hits: no partner
    reaches[event == 8] = False
    reaches[np.flatnonzero(event == 8)[3]] = True  # an event with one hit: only the others can take it
    partner = mismatch_partners(event, reaches, rng.uniform(size=len(event)))
    ok = partner >= 0
    assert np.all(event[partner[ok]] == event[ok])
    assert np.all(partner[ok] != np.flatnonzero(ok))
    assert np.all(reaches[partner[ok]])
    assert np.all(partner[event == 7] == -1)
    lone = np.flatnonzero(event == 8)[3]
    assert partner[lone] == -1 and np.all(partner[(event == 8) & (np.arange(len(event)) != lone)] == lone)
    assert np.all(ok[(event != 7) & (event != 8)])
    # uniform over the other hits of the event
    big_event = np.zeros(200000, dtype=np.int64)
    few = np.zeros(200000, dtype=bool)
    few[[3, 10, 11, 50]] = True
    picks = mismatch_partners(big_event, few, rng.uniform(size=len(few)))
    counts = np.array([np.sum(picks[~few] == i) for i in (3, 10, 11, 50)])
    assert stats.chisquare(counts).pvalue > 1e-3
    assert np.all(picks[10] != 10)
    with pytest.raises(ValueError, match="non-decreasing"):
        mismatch_partners(np.array([1, 0]), np.array([True, True]), np.array([0.1, 0.2]))


@pytest.fixture(scope="module")
def all_mismatched() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The same tracks with every matched track mismatched, and with none."""
    return (simulate_tracks(30000, seed=21, response=Response(tof_mismatch_fraction=1.0)),
            simulate_tracks(30000, seed=21, response=Response(tof_mismatch_fraction=0.0)))


def test_mismatch_times_are_other_tracks_arrivals(all_mismatched: tuple[dict, dict]) -> None:
    """A wrong hit carries another track's time: in units of the light time L/c, the mismatched tracks' times
    follow the 1/β = √(1 + m²/p²) of the tracks of their events that reach the TOF (pT > 0.278 GeV/c at 0.5 T),
    built here from the truth, and not the late β ∈ U(0.3, 1) times of the first version (median 1/β ≈ 1.6)."""
    mis, clean = all_mismatched
    matched = mis["has_tof"]
    np.testing.assert_array_equal(matched, clean["has_tof"])  # the same tracks, the same matching
    inv_beta_mis = 1.0 / mis["tof_beta"][matched].astype(np.float64)
    mass = np.array([PDG_MASS_GEV[abs(int(c))] for c in mis["mc_pdg"]])
    p = mis["p"].astype(np.float64)
    hits = mis["pt"] > 0.2775  # 2 × R = 2 pT / (0.3 · 0.5 T) must reach r = 3.70 m
    inv_beta_hits = np.sqrt(1.0 + (mass[hits] / p[hits]) ** 2)
    q = [0.1, 0.25, 0.5, 0.75, 0.9]
    np.testing.assert_allclose(np.quantile(inv_beta_mis, q), np.quantile(inv_beta_hits, q), atol=0.01)
    assert abs(np.median(inv_beta_mis) - 1.6) > 0.5
    # broad around the track's own expectation: the true hypothesis' nσ spreads far beyond a unit Gaussian
    y = labels(mis)[matched]
    names = ("pi", "ka", "pr", "el")
    own = np.array([mis[f"tof_nsigma_{names[k]}"][matched][i] for i, k in enumerate(y)])
    own_clean = np.array([clean[f"tof_nsigma_{names[k]}"][matched][i] for i, k in enumerate(y)])
    iqr = np.subtract(*np.quantile(own, [0.75, 0.25]))
    assert iqr > 5.0 and np.subtract(*np.quantile(own_clean, [0.75, 0.25])) < 1.6
    assert np.mean(np.abs(own) > 5) > 0.3


def test_mismatches_change_only_the_tof_time(all_mismatched: tuple[dict, dict]) -> None:
    mis, clean = all_mismatched
    for col in ("p", "mc_pdg", "tpc_signal", "has_tof", "eta"):
        np.testing.assert_array_equal(mis[col], clean[col], err_msg=col)
    assert np.mean(mis["tof_beta"][mis["has_tof"]] != clean["tof_beta"][clean["has_tof"]]) > 0.99


# ALICE's TOF likelihood, computed independently


def _alice_tail_unnormalised(x: float) -> float:
    """Gaussian core below fTOFtail, exponential beyond, continuous at fTOFtail (scipy.stats pieces)."""
    if x < O2_TOF_TAIL:
        return float(stats.norm.pdf(x) * np.sqrt(2 * np.pi))
    return float(np.exp(-0.5 * O2_TOF_TAIL**2) * stats.expon.pdf(x - O2_TOF_TAIL, scale=1 / O2_TOF_TAIL)
                 / O2_TOF_TAIL)


def test_tail_response_density_against_scipy() -> None:
    norm = (integrate.quad(_alice_tail_unnormalised, -np.inf, O2_TOF_TAIL)[0]
            + integrate.quad(_alice_tail_unnormalised, O2_TOF_TAIL, np.inf)[0])
    x = np.array([-6.0, -2.0, -0.3, 0.0, 0.5, 0.89, 0.9, 0.91, 1.5, 3.0, 8.0, 40.0])
    want = np.array([_alice_tail_unnormalised(v) for v in x]) / norm
    np.testing.assert_allclose(tail_response_density(x), want, rtol=1e-10)
    total = sum(integrate.quad(lambda v: float(tail_response_density(v)), a, b)[0]
                for a, b in ((-np.inf, O2_TOF_TAIL), (O2_TOF_TAIL, np.inf)))
    assert total == pytest.approx(1.0, abs=1e-8)
    assert tail_response_density(1e4) == 0.0 and np.isfinite(tail_response_density(-1e4))
    with pytest.raises(ValueError, match="positive"):
        tail_response_density(0.0, tail=0.0)


def test_mismatch_density_against_scipy_histogram() -> None:
    rng = np.random.default_rng(2)
    template = 1.0 + rng.gamma(2.0, 0.05, 200000)
    x = np.quantile(template, [0.05, 0.3, 0.5, 0.8, 0.95])
    length = np.array([370.0, 400.0, 450.0, 380.0, 500.0])
    hist = stats.rv_histogram(np.histogram(template, bins=200), density=True)
    np.testing.assert_allclose(mismatch_density_per_ps(x, length, template),
                               hist.pdf(x) * C_CM_PER_PS / length, rtol=1e-9)
    outside = mismatch_density_per_ps(np.array([0.5, 9.0]), np.array([370.0, 370.0]), template)
    assert np.all(outside > 0) and np.all(outside < 1e-3 * hist.pdf(x[2]) * C_CM_PER_PS / 370)
    with pytest.raises(ValueError, match="at least 2"):
        mismatch_density_per_ps(x, length, template[:1])


def test_alice_bayes_mismatch_posteriors_against_an_independent_computation() -> None:
    """Flat priors (no iteration): P_i ∝ N(nσ_TPC,i)/σ_TPC,i × [(1 − 0.02) h(nσ_TOF,i)/(N_h σ_TOF,i) + 0.02 p_mis],
    with the TOF factor only where TOF is matched."""
    rng = np.random.default_rng(3)
    n = 300
    ns_tpc, ns_tof = rng.normal(0, 3, (n, 4)), rng.normal(0, 6, (n, 4))
    sig_tpc, sig_tof = rng.uniform(2, 6, (n, 4)), rng.uniform(70, 160, (n, 4))
    has_tof = rng.uniform(size=n) < 0.6
    p_mis = rng.uniform(1e-6, 1e-4, n)
    post = alice_bayes_mismatch(ns_tpc, sig_tpc, ns_tof, sig_tof, has_tof, rng.uniform(0.2, 3, n), p_mis, n_iter=0)
    norm = (integrate.quad(_alice_tail_unnormalised, -np.inf, O2_TOF_TAIL)[0]
            + integrate.quad(_alice_tail_unnormalised, O2_TOF_TAIL, np.inf)[0])
    want = np.empty((n, 4))
    for i in range(n):
        for k in range(4):
            tpc = stats.norm.pdf(ns_tpc[i, k]) / sig_tpc[i, k]
            tof = ((1 - MISMATCH_FRACTION) * _alice_tail_unnormalised(ns_tof[i, k]) / norm / sig_tof[i, k]
                   + MISMATCH_FRACTION * p_mis[i])
            want[i, k] = tpc * (tof if has_tof[i] else 1.0)
    np.testing.assert_allclose(post, want / want.sum(axis=1, keepdims=True), rtol=1e-9, atol=1e-300)
    like = tof_likelihood_per_ps(ns_tof, sig_tof, p_mis)
    assert like.shape == (n, 4) and np.all(like >= MISMATCH_FRACTION * p_mis[:, None])
    with pytest.raises(ValueError, match=r"mismatch_fraction must be in \[0, 1\]"):
        tof_likelihood_per_ps(ns_tof, sig_tof, p_mis, mismatch_fraction=1.5)


def test_without_mismatches_and_tails_the_two_alice_variants_agree() -> None:
    """With the mismatch fraction at 0 and the core dominant (|nσ| < 0.9), the mismatch-aware likelihood is the
    Gaussian one: the same posteriors."""
    rng = np.random.default_rng(4)
    n = 200
    ns_tpc, ns_tof = rng.normal(0, 2, (n, 4)), rng.uniform(-3, 0.85, (n, 4))
    sig_tpc, sig_tof = rng.uniform(2, 6, (n, 4)), rng.uniform(70, 160, (n, 4))
    has_tof, pt = rng.uniform(size=n) < 0.7, rng.uniform(0.2, 3, n)
    gauss = alice_bayes(ns_tpc, sig_tpc, ns_tof, sig_tof, has_tof, pt)
    with_terms = alice_bayes_mismatch(ns_tpc, sig_tpc, ns_tof, sig_tof, has_tof, pt, np.zeros(n))
    np.testing.assert_allclose(with_terms, gauss, rtol=1e-9)


# What the mismatch term buys


@pytest.fixture(scope="module")
def paired_sample() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """A selected sample and which of its tracks carry a wrong hit (found by re-simulating without mismatches)."""
    nominal = selected(simulate_tracks(60000, seed=3), "o2")
    clean = selected(simulate_tracks(60000, seed=3, response=Response(tof_mismatch_fraction=0.0)), "o2")
    np.testing.assert_array_equal(nominal["p"], clean["p"])
    return nominal, nominal["has_tof"] & (nominal["tof_beta"] != clean["tof_beta"])


def test_mismatch_aware_bayes_identifies_mismatched_tracks_better(paired_sample: tuple[dict, np.ndarray]) -> None:
    """The audit: the pure-Gaussian ALICE Bayes misidentified 23/30, 11/13 and 37/40 mismatched test tracks.
    With the mismatch term a time no hypothesis explains leaves the decision to the TPC."""
    tracks, mismatched = paired_sample
    y = labels(tracks)
    for r in ("0-1", "full"):
        sel = momentum_range(tracks, r) & (y >= 0)
        part = {k: v[sel] for k, v in tracks.items()}
        base = baseline_predictions(part)
        mm, yy = mismatched[sel], y[sel]
        assert mm.sum() > 80, r  # 2 % of the matched tracks
        wrong = {n: int(np.sum(base[n].pred[mm] != yy[mm])) for n in ("alice_bayes", "alice_bayes_mismatch")}
        assert wrong["alice_bayes"] >= 20, (r, wrong)
        assert wrong["alice_bayes_mismatch"] <= 0.6 * wrong["alice_bayes"], (r, wrong)
        acc = {n: float(np.mean(base[n].pred == yy)) for n in ("alice_bayes", "alice_bayes_mismatch")}
        assert acc["alice_bayes_mismatch"] >= acc["alice_bayes"] - 0.001, (r, acc)
        np.testing.assert_allclose(base["alice_bayes_mismatch"].prob.sum(axis=1), 1.0, atol=1e-9)


def test_mismatch_density_comes_from_the_sample(paired_sample: tuple[dict, np.ndarray]) -> None:
    tracks, _ = paired_sample
    density = mismatch_density(tracks)
    has_tof = tracks["has_tof"]
    assert np.all(density[~has_tof] == 0) and np.all(density[has_tof] > 0)
    # a density in time: over the matched tracks' 1/β range it integrates to ≈ 1 at a fixed path length
    inv_beta = 1.0 / tracks["tof_beta"][has_tof].astype(np.float64)
    grid = np.linspace(inv_beta.min(), inv_beta.max(), 20001)
    per_ps = mismatch_density_per_ps(grid, np.full(len(grid), 400.0), inv_beta)
    assert np.trapezoid(per_ps, grid * 400.0 / C_CM_PER_PS) == pytest.approx(1.0, abs=0.01)
    none = mismatch_density({"has_tof": np.zeros(3, bool), "tof_beta": np.full(3, -999.0), "eta": np.zeros(3)})
    assert np.all(none == 0)


def test_a_mismatched_time_is_the_arrival_of_a_track_of_the_same_event() -> None:
    """With every track that reaches the TOF matched, each mismatched track's 1/β is exactly that of another track
    of its event, the events being blocks of 1000 track ids — here starting mid-event, as a chunk can."""
    every = {"tof_match_plateau": 1e6}  # ε·survival > 1: every track above 0.28 GeV/c is matched
    mis = simulate_tracks(1500, seed=6, first_track_id=1500, response=Response(tof_mismatch_fraction=1.0, **every))
    clean = simulate_tracks(1500, seed=6, first_track_id=1500, response=Response(tof_mismatch_fraction=0.0, **every))
    np.testing.assert_array_equal(mis["track_id"], 1500 + np.arange(1500))
    np.testing.assert_array_equal(mis["event_id"], (1500 + np.arange(1500)) // 1000)
    assert np.all(mis["has_tof"] == (mis["pt"] > 0.28)) and mis["has_tof"].sum() > 500
    others = np.arange(1500)
    for i in np.flatnonzero(mis["has_tof"]):
        arrival = (clean["tof_beta"] == mis["tof_beta"][i]) & clean["has_tof"] & (others != i)
        assert (arrival & (mis["event_id"] == mis["event_id"][i])).any(), i
