"""Host-side kinematics of four-momenta, computed by `vector <https://vector.readthedocs.io>`_.

A four-momentum array has the components (px, py, pz, E) in GeV on its last axis, shape ``[..., 4]``; an
awkward array of fixed-size records converts with ``numpy.asarray``. Every function returns an array of shape
``p4.shape[:-1]`` in the dtype of its input (a float32 array is computed in float32). Angles are in radians
unless the name says degrees. JAX kernels (e.g. :mod:`hepnb.tau.pairs`) keep their own code, since vector has
no JAX backend, and are tested against these functions.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vector
from numpy.typing import ArrayLike, NDArray

__all__ = ["cos_theta", "delta_phi_rad", "delta_r", "eta", "mass_gev", "momenta", "p_gev", "phi_rad", "pt_gev",
           "theta_deg", "theta_rad"]


def momenta(p4: ArrayLike) -> Any:
    """The four-momenta ``[..., 4]`` (px, py, pz, E) as a flat :class:`vector.MomentumNumpy4D` array."""
    arr = np.asarray(p4)
    if arr.ndim == 0 or arr.shape[-1] != 4:
        msg = f"four-momenta need a last axis of 4 (px, py, pz, E), found shape {arr.shape}"
        raise ValueError(msg)
    flat = arr.reshape(-1, 4)
    return vector.array({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]})


def _shaped(values: Any, p4: ArrayLike) -> NDArray[Any]:
    return np.asarray(values).reshape(np.shape(p4)[:-1])


def pt_gev(p4: ArrayLike) -> NDArray[Any]:
    """Transverse momentum √(px² + py²), GeV."""
    return _shaped(momenta(p4).pt, p4)


def p_gev(p4: ArrayLike) -> NDArray[Any]:
    """Momentum |p|, GeV."""
    return _shaped(momenta(p4).p, p4)


def eta(p4: ArrayLike) -> NDArray[Any]:
    """Pseudorapidity asinh(pz / pT) (±inf along the beam)."""
    return _shaped(momenta(p4).eta, p4)


def phi_rad(p4: ArrayLike) -> NDArray[Any]:
    """Azimuth atan2(py, px) in (−π, π]."""
    return _shaped(momenta(p4).phi, p4)


def theta_rad(p4: ArrayLike) -> NDArray[Any]:
    """Polar angle to the +z axis, in [0, π]."""
    return _shaped(momenta(p4).theta, p4)


def theta_deg(p4: ArrayLike) -> NDArray[Any]:
    """Polar angle to the +z axis, in degrees."""
    return np.degrees(theta_rad(p4))


def cos_theta(p4: ArrayLike) -> NDArray[Any]:
    """cos θ = pz / |p| (1 for a zero momentum)."""
    return _shaped(momenta(p4).costheta, p4)


def mass_gev(p4: ArrayLike) -> NDArray[Any]:
    """Invariant mass √max(E² − |p|², 0), GeV: a space-like four-vector (round-off) has mass 0."""
    return np.sqrt(np.maximum(_shaped(momenta(p4).mass2, p4), 0.0))


def delta_phi_rad(phi_a_rad: ArrayLike, phi_b_rad: ArrayLike) -> NDArray[Any]:
    """φ_a − φ_b wrapped into [−π, π) (broadcast); angles, not four-momenta, so that any two azimuths compare."""
    a, b = np.broadcast_arrays(np.asarray(phi_a_rad), np.asarray(phi_b_rad))
    ones = np.ones(a.size, dtype=np.result_type(a, b, np.float32))
    va = vector.array({"rho": ones, "phi": a.ravel()})
    vb = vector.array({"rho": ones, "phi": b.ravel()})
    return np.asarray(va.deltaphi(vb)).reshape(a.shape)


def delta_r(p4_a: ArrayLike, p4_b: ArrayLike) -> NDArray[Any]:
    """ΔR = √(Δη² + Δφ²) between four-momenta ``[..., 4]`` (broadcast over the leading axes)."""
    a, b = np.broadcast_arrays(np.asarray(p4_a), np.asarray(p4_b))
    return _shaped(momenta(a).deltaR(momenta(b)), a)
