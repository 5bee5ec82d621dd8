"""Bayesian PID three ways and the other baselines, against hand-computed cases and the simulation."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.pid.baselines import BASELINES, baseline_predictions, hypothesis_sigmas, nsigma_cut_prediction
from hepnb.pid.bayes import alice_bayes, extractor_bayes_probabilities, o2_pid_bayes, original_bayes_accuracy
from hepnb.pid.constants import MISSING, SPECIES
from hepnb.pid.data import simulate_tracks
from hepnb.pid.selection import labels, momentum_range, selected


def test_extractor_bayes_is_zero_without_tof_and_float32_like_the_cpp() -> None:
    tpc = np.array([[0.5, 3.0, 8.0, 2.0], [0.5, 3.0, 8.0, 2.0], [20.0, 20.0, 20.0, 20.0]])
    tof = np.array([[MISSING] * 4, [np.nan, 1.0, 5.0, 0.2], [0.0, 0.0, 0.0, 0.0]])
    prob = extractor_bayes_probabilities(tpc, tof)
    assert np.all(prob[0] == 0)  # −999 is finite: exp(−½·999²) underflows for every hypothesis
    like = np.exp(-0.5 * np.array([0.25, 10.0, 89.0, 4.04])) * np.array([1.0, 0.2, 0.1, 0.05])  # NaN term → 0
    np.testing.assert_allclose(prob[1], like / like.sum(), rtol=1e-5)
    assert np.all(prob[2] == 0)  # χ² = 400: exp underflows in float32 for all four, as in the extractor
    assert prob.dtype == np.float32


def test_o2_pid_bayes_flat_term_beyond_five_sigma() -> None:
    """O2's TPC likelihood: exp(−½nσ²) within 5σ, the flat 1/9 beyond, so a far hypothesis outranks a true one
    that sits beyond 2.1σ."""
    tpc = np.array([[2.5, 6.0, 9.0, 7.0], [1.0, 6.0, 9.0, 7.0]])
    sigma_tof = np.full((2, 4), 80.0)
    post = o2_pid_bayes(tpc, np.zeros((2, 4)), sigma_tof, np.array([False, False]))
    np.testing.assert_allclose(post[0], np.array([np.exp(-3.125), 1 / 9, 1 / 9, 1 / 9]) / (np.exp(-3.125) + 3 / 9))
    assert post[0].argmax() != 0 and post[1].argmax() == 0
    tof = np.array([[0.0, 3.0, 6.0, 0.5]])  # with TOF: the 1/σ factor and the exponential tail above 0.9
    post = o2_pid_bayes(np.zeros((1, 4)), tof, np.array([[80.0, 80.0, 80.0, 160.0]]), np.array([True]))
    nu = tof[0] + 0.07 / 0.9
    like = np.where(nu < 0.9, np.exp(-0.5 * nu**2), np.exp(-(nu - 0.45) * 0.9)) / np.array([80, 80, 80, 160.0])
    np.testing.assert_allclose(post[0], like / like.sum())


def test_alice_bayes_uses_the_resolutions_and_learns_priors() -> None:
    rng = np.random.default_rng(1)
    n = 4000
    y = (rng.uniform(size=n) < 0.2).astype(int)  # 80 % "pions", 20 % "kaons", overlapping TPC response
    nsig = np.stack([rng.normal(size=n) + 2.0 * y, rng.normal(size=n) - 2.0 * (1 - y), np.full(n, 9.0),
                     np.full(n, 9.0)], axis=1)
    sigma = np.ones((n, 4))
    post = alice_bayes(nsig, sigma, np.zeros((n, 4)), np.ones((n, 4)), np.zeros(n, bool), np.full(n, 0.5))
    flat = alice_bayes(nsig, sigma, np.zeros((n, 4)), np.ones((n, 4)), np.zeros(n, bool), np.full(n, 0.5), n_iter=0)
    assert abs(post[:, 1].mean() - 0.2) < 0.03  # the iterated priors find the kaon share
    assert np.mean(post.argmax(1) == y) > np.mean(flat.argmax(1) == y)
    wider = alice_bayes(np.zeros((1, 4)), np.array([[1.0, 2.0, 1.0, 1.0]]), np.zeros((1, 4)), np.ones((1, 4)),
                        np.zeros(1, bool), np.ones(1), n_iter=0)
    np.testing.assert_allclose(wider[0], np.array([1, 0.5, 1, 1]) / 3.5)  # the 1/σ of each hypothesis


def test_nsigma_cuts_pick_the_closest_passing_hypothesis() -> None:
    tpc = np.array([[0.5, 2.0, 9, 9], [4.0, 3.5, 9, 9], [1.0, 0.2, 9, 9], [2.0, 2.5, 9, 9]], dtype=float)
    tof = np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0.5, 4.0, 0, 0], [MISSING] * 4], dtype=float)
    pred = nsigma_cut_prediction(tpc, tof, np.array([False, False, True, False]))
    np.testing.assert_array_equal(pred, [0, -1, 0, 0])  # track 3: K fails the combined cut, π passes


@pytest.fixture(scope="module")
def tracks() -> dict[str, np.ndarray]:
    return selected(simulate_tracks(30000, seed=8), "o2")


def test_baselines_on_the_simulation(tracks: dict[str, np.ndarray]) -> None:
    for r in ("0-1", "1-3"):
        sel = momentum_range(tracks, r)
        part = {k: v[sel] for k, v in tracks.items()}
        y = labels(part)
        base = baseline_predictions(part)
        assert list(base) == list(BASELINES)
        acc = {k: float(np.mean(v.pred == y)) for k, v in base.items()}
        assert acc["all_pions"] == pytest.approx(np.mean(y == 0))
        assert acc["alice_bayes"] > acc["all_pions"] + 0.05, acc
        assert acc["alice_bayes"] > acc["o2_bayes"], acc  # the flat 1/9 term costs O2's implementation
        for name in ("o2_bayes", "alice_bayes"):
            np.testing.assert_allclose(base[name].prob.sum(axis=1), 1.0, atol=1e-9, err_msg=name)
        tof = part["has_tof"]
        bayes = np.stack([part[f"bayes_prob_{s}"] for s in SPECIES], axis=1)
        two_tier = original_bayes_accuracy(bayes, y)
        assert two_tier["real_bayes_fraction"] == pytest.approx(np.mean(bayes.sum(1) > 0))
        assert two_tier["real_bayes_fraction"] <= tof.mean()
    tpc, tof = hypothesis_sigmas(tracks)
    assert tpc.shape == tof.shape == (len(tracks["pt"]), 4) and np.all(tpc > 0) and np.all(tof > 60)
