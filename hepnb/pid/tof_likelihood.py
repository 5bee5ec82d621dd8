"""The TOF likelihood of the ALICE Bayesian PID with its tail and mismatch terms (AliPIDResponse, O2 pidBayes).

ALICE's TOF probability of hypothesis i is a Gaussian core continued by an exponential tail beyond ``tail`` σ,
divided by the hypothesis' expected σ, plus a mismatch probability that is the same for every hypothesis: the
density of the times that a wrong hit carries (``AliPIDResponse::GetComputeTOFProbability``,
``AliTOFPIDResponse::GetMismatchProbability``; O2Physics ``pidBayes.cxx``; reference/pid.md §2–3). Here the two
terms are normalised densities in time (per ps) mixed with the mismatch fraction::

    L_i(t) = (1 − f_mis) h(nσ_i) / (N_h σ_i) + f_mis p_mis(t),
    h(x) = exp(−x²/2) for x < tail, exp(−(x − tail/2)·tail) above,   N_h = ∫ h = √(2π) Φ(tail) + exp(−tail²/2)/tail.

``tail`` is O2's ``fTOFtail`` (0.9), the slope the simulation's late tail uses. ALICE's code also shifts nσ by
0.07/tail because real expected times are calibrated to the mean, tail included; the simulated nσ are centred on
the core (the calibration check), so no shift is applied. p_mis is estimated from the sample itself, as ALICE
measures its template from hits: the distribution of c·t/L = 1/β of every matched track, since a wrong hit is
another track's arrival.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from hepnb.pid.constants import C_CM_PER_PS, TOF_MISMATCH_FRACTION, TOF_TAIL_SLOPE_SIGMA

__all__ = ["mismatch_density_per_ps", "tail_response_density", "tof_likelihood_per_ps"]

F = NDArray[np.float64]


def tail_response_density(nsigma: ArrayLike, tail: float = TOF_TAIL_SLOPE_SIGMA) -> F:
    """ALICE's TOF response in nσ, normalised to unit integral: a Gaussian core, exponential beyond ``tail`` σ.

    Parameters
    ----------
    nsigma
        nσ of a hypothesis (any shape).
    tail
        Where the exponential takes over, in σ, and its slope (O2 ``fTOFtail``); must be positive.
    """
    if not tail > 0:
        msg = f"tail must be a positive number of sigma, found {tail}"
        raise ValueError(msg)
    x = np.asarray(nsigma, dtype=np.float64)
    norm = np.sqrt(2.0 * np.pi) * ndtr(tail) + np.exp(-0.5 * tail * tail) / tail
    core = np.exp(-0.5 * np.minimum(x, tail) ** 2)  # each branch capped at the joint: no overflow in the other
    exponential = np.exp(-(np.maximum(x, tail) - 0.5 * tail) * tail)
    return np.where(x < tail, core, exponential) / norm


def mismatch_density_per_ps(inv_beta: ArrayLike, length_cm: ArrayLike, template_inv_beta: ArrayLike,
                            n_bins: int = 200) -> F:
    """Density (per ps) of the time a wrong hit carries, at each track's measured time.

    The template is the histogram of 1/β = c·t/L of the sample's matched tracks (a wrong hit is another track's
    arrival); at a track of path ``length_cm`` a density in 1/β becomes one in time by the factor c/L. Outside
    the template's range, and in its empty bins, the density is that of half a count in a bin.

    Parameters
    ----------
    inv_beta
        1/β of the tracks to evaluate (N,).
    length_cm
        Their track lengths to the TOF (N,).
    template_inv_beta
        1/β of the matched tracks the template is made of (at least two).
    n_bins
        Histogram bins between the template's smallest and largest value.
    """
    template = np.asarray(template_inv_beta, dtype=np.float64)
    template = template[np.isfinite(template)]
    if len(template) < 2 or n_bins < 1:
        msg = f"the mismatch template needs at least 2 finite 1/β values and 1 bin, found {len(template)}, {n_bins}"
        raise ValueError(msg)
    counts, edges = np.histogram(template, bins=n_bins)
    width = edges[1] - edges[0]
    per_unit = np.maximum(counts, 0.5) / (len(template) * width) if width > 0 else np.full(n_bins, 1.0)
    x = np.asarray(inv_beta, dtype=np.float64)
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, n_bins - 1)
    inside = (x >= edges[0]) & (x <= edges[-1])
    density = np.where(inside, per_unit[index], 0.5 / (len(template) * max(width, 1e-3)))
    return density * C_CM_PER_PS / np.asarray(length_cm, dtype=np.float64)


def tof_likelihood_per_ps(nsigma_tof: F, sigma_tof_ps: F, mismatch_per_ps: F,
                          mismatch_fraction: float = TOF_MISMATCH_FRACTION, tail: float = TOF_TAIL_SLOPE_SIGMA) -> F:
    """L_i(t) = (1 − f_mis) h(nσ_i)/(N_h σ_i) + f_mis p_mis(t) per hypothesis (N, 4), per ps.

    Parameters
    ----------
    nsigma_tof, sigma_tof_ps
        nσ and expected time resolution (ps) per hypothesis (N, 4).
    mismatch_per_ps
        The mismatch density at each track's time (N,), e.g. :func:`mismatch_density_per_ps`.
    mismatch_fraction
        Fraction f_mis of matched tracks carrying a wrong hit, in [0, 1].
    tail
        As :func:`tail_response_density`.
    """
    if not 0.0 <= mismatch_fraction <= 1.0:
        msg = f"mismatch_fraction must be in [0, 1], found {mismatch_fraction}"
        raise ValueError(msg)
    core = tail_response_density(nsigma_tof, tail) / np.asarray(sigma_tof_ps, dtype=np.float64)
    return (1.0 - mismatch_fraction) * core + mismatch_fraction * np.asarray(mismatch_per_ps)[:, None]
