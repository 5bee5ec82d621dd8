"""e⁺e⁻ → γ*/Z → ττ / qq̄ events with Pythia 8, and the decay mode of each tau.

Generation follows the FCC-ee cards (reference/tau.md §1): √s = 91.188 GeV, γ*/Z, ISR and FSR on, FCC-ee
vertex spread, Pythia's default tau decays (with polarisation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from hepnb.tau import constants

__all__ = ["MAX_PYTHIA_SEED", "PROCESSES", "decay_mode_class", "pythia_events"]

PROCESSES: dict[str, str] = {"ztautau": "23:onIfAny = 15", "zqq": "23:onIfAny = 1 2 3 4 5"}
#: Pythia's largest random seed.
MAX_PYTHIA_SEED = 900_000_000


def _pythia(process: str, seed: int) -> Any:
    """An initialised ``pythia8mc.Pythia`` for ``process`` (a key of :data:`PROCESSES`) at the Z pole.

    Raises
    ------
    ValueError
        An unknown process, or a seed outside [0, :data:`MAX_PYTHIA_SEED`].
    """
    import pythia8mc

    if process not in PROCESSES:
        msg = f"unknown process {process!r}; choose one of {sorted(PROCESSES)}"
        raise ValueError(msg)
    if not 0 <= seed <= MAX_PYTHIA_SEED:
        msg = f"Pythia seeds must lie in [0, {MAX_PYTHIA_SEED}], found {seed}"
        raise ValueError(msg)
    sigma_mm = constants.VERTEX_SIGMA_MM
    py = pythia8mc.Pythia("", False)
    for line in ("Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {constants.SQRT_S_GEV}",
                 "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", PROCESSES[process], "PartonLevel:ISR = on",
                 "PartonLevel:FSR = on", "Beams:allowVertexSpread = on", f"Beams:sigmaVertexX = {sigma_mm[0]}",
                 f"Beams:sigmaVertexY = {sigma_mm[1]}", f"Beams:sigmaVertexZ = {sigma_mm[2]}",
                 "Random:setSeed = on", f"Random:seed = {seed + 1}", "Next:numberCount = 0", "Print:quiet = on"):
        py.readString(line)
    if not py.init():
        msg = "Pythia failed to initialise"
        raise RuntimeError(msg)
    return py


def decay_mode_class(daughter_ids: list[int], daughter_charges: list[float]) -> int:
    """The 6-class decay mode of a tau from its direct daughters (ml-tau-data convention).

    Neutrinos are ignored; charged hadrons are prongs; neutral hadrons (π⁰, K⁰, η, ω …) count as neutrals;
    any other species (e.g. a photon) makes the decay "rare"; an electron or muon makes it leptonic (−1).
    HPS-like mode 5·(prongs − 1) + min(neutrals, 4) is then reduced to classes 0, 1, 2, 10, 11, 15.
    """
    prongs = neutrals = 0
    rare = False
    for pid, q in zip(daughter_ids, daughter_charges, strict=True):
        a = abs(pid)
        if a in constants.NEUTRINOS:
            continue
        if a in constants.CHARGED_LEPTONS:
            return -1
        if a > 100 and q != 0:
            prongs += 1
        elif a > 100:
            neutrals += 1
        else:
            rare = True
    if rare or prongs == 0:
        return 15
    hps = 5 * (prongs - 1) + min(neutrals, 4)
    return constants.DM_REDUCTION.get(hps, 15)


def pythia_events(process: str, n_events: int, seed: int) -> Iterator[dict[str, Any]]:
    """Final-state particles and hadronic-tau truth of each event (the particle loop in Python).

    Yields
    ------
    dict
        ``particles``: rows (px, py, pz, E [GeV], PDG id, charge, vx, vy, vz [mm] from the primary vertex) of
        the final-state particles other than neutrinos; ``taus``: per tau, its ``charge`` (±1), visible
        four-momentum ``vis_p4`` and decay-mode class ``dm`` (:func:`decay_mode_class`).
    """
    py = _pythia(process, seed)
    made = 0
    while made < n_events:
        if not py.next():
            continue
        made += 1
        ev = py.event
        pv = (ev[0].xProd(), ev[0].yProd(), ev[0].zProd())
        parts, taus = [], []
        for i in range(ev.size()):
            prt = ev[i]
            if prt.isFinal() and prt.idAbs() not in constants.NEUTRINOS:
                parts.append((prt.px(), prt.py(), prt.pz(), prt.e(), prt.id(), prt.charge(),
                              prt.xProd() - pv[0], prt.yProd() - pv[1], prt.zProd() - pv[2]))
            if prt.idAbs() == constants.TAU and prt.iBotCopyId() == i:
                dl = list(prt.daughterList())
                vis = np.zeros(4)
                for d in dl:
                    if ev[d].idAbs() not in constants.NEUTRINOS:
                        vis += (ev[d].px(), ev[d].py(), ev[d].pz(), ev[d].e())
                taus.append({"charge": int(np.sign(prt.charge())), "vis_p4": vis,
                             "dm": decay_mode_class([ev[d].id() for d in dl], [ev[d].charge() for d in dl])})
        yield {"particles": np.array(parts, dtype=np.float64).reshape(-1, 9), "taus": taus}
