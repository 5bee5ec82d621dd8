"""The CLD-like parametrised detector: from final-state particles to reconstructed candidates.

Following reference/tau.md §5, the detector keeps particles with |cos θ| < 0.99; tracks (e, μ, charged
hadrons) need pT ≥ 0.1 GeV and get σpT/pT = √((4e-5 pT)² + (2.5e-3)²); photons 15 %/√E ⊕ 1 % above 0.5 GeV;
neutral hadrons 35 %/√E ⊕ 5 % above 1 GeV. Impact parameters come from each track's true production vertex
(a tau flies about 2 mm) relative to the event's primary vertex, smeared with σ(d0) = 2 µm ⊕
12 µm·GeV/(p sin^{3/2}θ), σ(dz) = 1.2 σ(d0). Particle identification is perfect.
"""

from __future__ import annotations

import numpy as np

from hepnb import kinematics
from hepnb.tau import constants

__all__ = ["reconstruct"]


def reconstruct(particles: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reconstructed candidates of one event's final-state particles.

    Parameters
    ----------
    particles
        Rows (px, py, pz, E [GeV], PDG id, charge, vx, vy, vz [mm]), as
        :func:`hepnb.tau.events.pythia_events` yields them.
    rng
        The random numbers of the smearing.

    Returns
    -------
    numpy.ndarray
        Rows (px, py, pz, E [GeV], category, charge, d0, dz, d0_err, dz_err [mm]) of the particles in the
        acceptance, the category being a PDG id of :data:`hepnb.tau.constants.CANDIDATE_CATEGORIES`; a neutral
        candidate's impact parameters and errors are :data:`hepnb.tau.constants.IP_MISSING`.
    """
    px, py_, pz, e, pid, q = (particles[:, i] for i in range(6))
    p4 = particles[:, :4]
    momenta = kinematics.momenta(p4)
    p, pt, cos_t = momenta.p, momenta.pt, momenta.costheta
    apid = np.abs(pid)
    charged = q != 0
    photon = apid == constants.PHOTON
    neutral_h = ~charged & ~photon
    keep = (np.abs(cos_t) < constants.COS_THETA_MAX) & np.where(charged, pt >= constants.TRACK_PT_MIN_GEV, True)
    scale = np.ones_like(p)
    sig_pt = np.sqrt((constants.TRACK_SAGITTA_PER_GEV * pt) ** 2 + constants.TRACK_MS_TERM**2)
    scale[charged] = 1.0 + sig_pt[charged] * rng.normal(size=int(charged.sum()))
    sig_g = np.sqrt((0.15 / np.sqrt(np.maximum(e, 1e-3))) ** 2 + 0.01**2)
    sig_h = np.sqrt((0.35 / np.sqrt(np.maximum(e, 1e-3))) ** 2 + 0.05**2)
    scale[photon] = np.maximum(1.0 + sig_g[photon] * rng.normal(size=int(photon.sum())), 0.0)
    scale[neutral_h] = np.maximum(1.0 + sig_h[neutral_h] * rng.normal(size=int(neutral_h.sum())), 0.0)
    keep &= np.where(photon, e * scale >= constants.PHOTON_E_MIN_GEV, True)
    keep &= np.where(neutral_h, e * scale >= constants.NEUTRAL_HADRON_E_MIN_GEV, True)
    mom = np.stack([px, py_, pz], axis=1) * scale[:, None]
    mass = kinematics.mass_gev(p4)
    energy = np.where(charged, np.sqrt((p * scale) ** 2 + mass**2), e * scale)
    category = np.select([apid == constants.ELECTRON, apid == constants.MUON, photon, charged],
                         [constants.ELECTRON, constants.MUON, constants.PHOTON, constants.CHARGED_HADRON],
                         constants.NEUTRAL_HADRON)
    # impact parameters of straight tracks from the true production vertex
    vx, vy, vz = particles[:, 6], particles[:, 7], particles[:, 8]
    d0_true = (vx * py_ - vy * px) / np.maximum(pt, 1e-9)
    dz_true = vz - (vx * px + vy * py_) / np.maximum(pt, 1e-9) * pz / np.maximum(pt, 1e-9)
    sin_t = np.sqrt(np.maximum(1 - cos_t**2, 1e-6))
    sig_d0 = np.sqrt(constants.D0_CONST_MM**2 + (constants.D0_MS_MM_GEV / (np.maximum(p, 1e-3) * sin_t**1.5)) ** 2)
    d0 = np.where(charged, d0_true + sig_d0 * rng.normal(size=p.size), constants.IP_MISSING)
    dz = np.where(charged, dz_true + 1.2 * sig_d0 * rng.normal(size=p.size), constants.IP_MISSING)
    rows = np.column_stack([mom, energy, category, q, d0, dz, np.where(charged, sig_d0, constants.IP_MISSING),
                            np.where(charged, 1.2 * sig_d0, constants.IP_MISSING)])
    return rows[keep]
