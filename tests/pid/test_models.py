"""The PID networks' loss (hepnb.pid.models.focal_loss) against its formula and at its edges."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hepnb.pid.models import focal_loss

jax.config.update("jax_enable_x64", False)


def _reference(logits: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float, gamma: float) -> float:
    """The focal loss written out in float64 numpy (Lin et al., arXiv:1708.02002, eq. 5, with a weight per track)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    p_t = p[np.arange(len(y)), y]
    return float(np.mean(w * alpha * (1.0 - p_t) ** gamma * -np.log(p_t)))


@pytest.mark.parametrize(("alpha", "gamma"), [(0.5, 2.5), (0.4, 2.5), (1.0, 0.0), (0.25, 1.0), (1.0, 0.5)])
def test_focal_loss_is_its_formula(alpha: float, gamma: float) -> None:
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, (64, 4)).astype(np.float32)
    y = rng.integers(0, 4, 64)
    w = rng.uniform(0.5, 2.0, 64).astype(np.float32)
    got = float(focal_loss(jnp.asarray(logits), jnp.asarray(y), jnp.asarray(w), alpha, gamma))
    assert got == pytest.approx(_reference(logits.astype(np.float64), y, w, alpha, gamma), rel=1e-5)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.5])
def test_focal_loss_gradient_is_finite_where_p_t_rounds_to_one(gamma: float) -> None:
    """A track classified with certainty (p_t = 1 in float32): (1 − p_t)^γ has a 0 · ∞ gradient for γ < 1, the
    loss must still be finite with a finite gradient (γ = 0 is weighted cross-entropy)."""
    logits = jnp.asarray([[60.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]], jnp.float32)
    y, w = jnp.asarray([0, 1]), jnp.ones(2, jnp.float32)
    value, grad = jax.value_and_grad(lambda x: focal_loss(x, y, w, 1.0, gamma))(logits)
    assert np.isfinite(float(value)) and np.all(np.isfinite(np.asarray(grad)))
    if gamma == 0.0:
        ce = -jax.nn.log_softmax(logits)[jnp.arange(2), y].mean()
        assert float(value) == pytest.approx(float(ce), rel=1e-6)
