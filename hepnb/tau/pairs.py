"""Pair features of the Particle Transformer for e+e− jets (the θ–φ metric of the tau code).

For candidates a and b with four-vectors (px, py, pz, E), Δ = √(Δθ² + Δφ²) and

* ln Δ,
* ln kT = ln(min(pT,a, pT,b) · Δ),
* ln z = ln(min(pT,a, pT,b) / (pT,a + pT,b)),
* ln m² = ln((E_a + E_b)² − |p_a + p_b|²),

each argument clamped at 1e-8 before the logarithm (reference/tau.md §2 and §4).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

__all__ = ["EPS", "N_PAIR_FEATURES", "pair_features"]

EPS = 1e-8
N_PAIR_FEATURES = 4


def _pt_theta_phi(p4: Array) -> tuple[Array, Array, Array]:
    px, py, pz = p4[..., 0], p4[..., 1], p4[..., 2]
    pt = jnp.hypot(px, py)
    return pt, jnp.arctan2(pt, pz), jnp.arctan2(py, px)


def pair_features(p4: Array) -> Array:
    """ln Δ, ln kT, ln z, ln m² for every pair of candidates.

    Parameters
    ----------
    p4
        Candidate four-vectors ``[..., P, 4]`` as (px, py, pz, E) in GeV; padded slots are zeros.

    Returns
    -------
    Array
        ``[..., P, P, 4]``, symmetric in the two candidate indices.
    """
    p4 = p4.astype(jnp.float32)
    pt, theta, phi = _pt_theta_phi(p4)
    pt_a, pt_b = pt[..., :, None], pt[..., None, :]
    dphi = jnp.remainder(phi[..., :, None] - phi[..., None, :] + jnp.pi, 2 * jnp.pi) - jnp.pi
    delta = jnp.sqrt((theta[..., :, None] - theta[..., None, :]) ** 2 + dphi**2)
    pt_min = jnp.minimum(pt_a, pt_b)
    total = p4[..., :, None, :] + p4[..., None, :, :]
    m2 = total[..., 3] ** 2 - jnp.sum(total[..., :3] ** 2, axis=-1)
    feats = [delta, pt_min * delta, pt_min / jnp.maximum(pt_a + pt_b, EPS), m2]
    return jnp.stack([jnp.log(jnp.maximum(f, EPS)) for f in feats], axis=-1)
