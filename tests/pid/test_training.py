"""The PID networks train to convergence by the Book's rule (:mod:`hepnb.convergence`), read on the validation loss
evaluated several times per epoch, and stop once it holds."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.convergence import MIN_POINTS, relative_convergence
from hepnb.pid import training
from hepnb.pid.data import simulate_tracks
from hepnb.pid.protocols import prepare_cell
from hepnb.pid.selection import selected


@pytest.fixture(scope="module")
def low_p() -> training.RangeData:
    return training.range_data(selected(simulate_tracks(20000, seed=3), "o2"), "0-1")


def test_network_stops_once_converged_and_records_every_evaluation(low_p: training.RangeData) -> None:
    """SimpleNN in 0–1 GeV/c (~10 000 training tracks), four validation evaluations per epoch and a cap of 60
    epochs: it stops before the cap (measured: epoch 17), converged (two consecutive epoch ends), its rate cut on the
    plateau of its validation loss (measured: to the floor, 1/64), with a point per evaluation, and beats the all-pion
    guess on the test tracks. With one evaluation per epoch and four epochs,
    the same network cannot be called converged."""
    data = prepare_cell(low_p.raw, low_p.y, "corrected")
    n_batches = len(data.train["y"]) // 256
    config = training.TrainingConfig(epochs=60, patience=60, lr_scale=10.0, evals_per_epoch=4)
    model, info = training.train_network("simple_nn", data, config, range_name="0-1")
    assert info["converged"] and info["epochs_run"] < 60, info["convergence"]
    assert 1 / 64 <= info["final_lr_factor"] < 1  # the validation plateau cut the rate before the stop
    assert info["steps"] == info["epochs_run"] * 4 * (n_batches // 4)
    assert len(info["val_err_history"]) == info["convergence"]["n_points"] == 4 * info["epochs_run"] >= MIN_POINTS
    assert info["convergence"]["metric"] == "val_loss"
    assert info["best_evaluation"] == int(np.argmin(info["val_err_history"]))
    pred, y = training.predict_network(model, data.test).argmax(1), data.test["y"]
    assert np.mean(pred == y) > np.mean(y == 0) + 0.01
    val_acc = np.mean(training.predict_network(model, data.val).argmax(1) == data.val["y"])
    assert val_acc == pytest.approx(1 - info["val_err_history"][info["best_evaluation"]], abs=1e-6)
    _, short = training.train_network("simple_nn", data, training.TrainingConfig(epochs=4, patience=4, lr_scale=10.0),
                                      range_name="0-1")
    assert not short["converged"] and short["convergence"]["n_points"] == 4
    assert not relative_convergence(short["val_err_history"]).converged


@pytest.mark.parametrize(("n_train", "min_steps", "cap"), [
    (5200, 2000, 100),   # 20 batches → 20 steps per epoch: 2000 steps need 100 epochs
    (5300, 2001, 101),   # 20 steps per epoch, one step more needs one more epoch (rounded up)
    (30000, 2000, 24),   # 116 steps per epoch: 24 epochs already give 2784 steps
    (5200, 0, 24),       # no minimum: the epochs
])
def test_the_epoch_cap_gives_short_epochs_their_steps(n_train: int, min_steps: int, cap: int) -> None:
    config = training.TrainingConfig(epochs=24, patience=8, batch_size=256, evals_per_epoch=4, min_steps=min_steps)
    assert training.epoch_cap(config, n_train) == cap


def test_the_epoch_cap_refuses_a_training_set_without_a_step() -> None:
    config = training.TrainingConfig(epochs=24, patience=8, batch_size=256, evals_per_epoch=4, min_steps=100)
    with pytest.raises(ValueError, match="need at least 1024 tracks"):
        training.epoch_cap(config, 1000)
