"""Generator-level events of the tau study: Pythia 8 at the Z pole, and what the detector and the labels need.

Generation follows the FCC-ee cards (reference/tau.md §1): √s = 91.188 GeV, γ*/Z → ττ, qq̄ (d u s c b), ee
or μμ, ISR and FSR on, the FCC-ee vertex spread, Pythia's default (polarised) tau decays, and decays of
long-lived particles only inside the tracker (``ParticleDecays:limitCylinder``), so that K⁰_S and Λ decay in
flight and leave displaced daughters or reach the calorimeters whole.

Events come in batches from ``Pythia.nextBatch`` (whole event records as awkward arrays, no per-particle
Python loop) as a :class:`Record` (HEPEVT-like flat arrays), and are reduced to :class:`GenEvents`: the
final-state particles with their production vertices, the prompt taus with their visible four-momentum and
decay mode, and each event's prompt charged lepton. HepMC3 files (:mod:`hepnb.tau.hepmc`) give the same
:class:`GenEvents`, so that events from any generator go through the same detector, jets and labels.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.tau import constants

__all__ = ["MAX_PYTHIA_SEED", "PROCESSES", "GenEvents", "Record", "charge_of", "concatenate", "decay_mode_class",
           "gen_events", "is_prompt_parent", "pythia_events", "pythia_generator", "pythia_records", "pythia_settings",
           "pythia_xml_dir", "xml_dir_candidates"]

#: The processes, as the Z decay channels Pythia is allowed.
PROCESSES: dict[str, str] = {"ztautau": "23:onIfAny = 15", "zqq": "23:onIfAny = 1 2 3 4 5",
                             "zee": "23:onIfAny = 11", "zmumu": "23:onIfAny = 13"}
#: Pythia's largest random seed.
MAX_PYTHIA_SEED = 900_000_000
_BATCH = 500
#: ``Pythia.nextBatch`` of two Pythia instances in two threads of one process deadlocks (pythia8mc 8.317):
#: batches are made one at a time per process (in-process Dask workers are threads).
_BATCH_LOCK = threading.Lock()


def pythia_settings(process: str, seed: int) -> list[str]:
    """The Pythia card of ``process`` (a key of :data:`PROCESSES`) at the Z pole with ``seed``.

    Raises
    ------
    ValueError
        An unknown process, or a seed outside [0, :data:`MAX_PYTHIA_SEED`].
    """
    if process not in PROCESSES:
        msg = f"unknown process {process!r}; choose one of {sorted(PROCESSES)}"
        raise ValueError(msg)
    if not 0 <= seed <= MAX_PYTHIA_SEED:
        msg = f"Pythia seeds must lie in [0, {MAX_PYTHIA_SEED}], found {seed}"
        raise ValueError(msg)
    sx, sy, sz = constants.VERTEX_SIGMA_MM
    return ["Beams:idA = 11", "Beams:idB = -11", f"Beams:eCM = {constants.SQRT_S_GEV}",
            "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", PROCESSES[process], "PartonLevel:ISR = on",
            "PartonLevel:FSR = on", "Beams:allowVertexSpread = on", f"Beams:sigmaVertexX = {sx}",
            f"Beams:sigmaVertexY = {sy}", f"Beams:sigmaVertexZ = {sz}", "ParticleDecays:limitCylinder = on",
            f"ParticleDecays:xyMax = {constants.LIMIT_CYLINDER_XY_MM}",
            f"ParticleDecays:zMax = {constants.LIMIT_CYLINDER_Z_MM}", "Random:setSeed = on",
            f"Random:seed = {seed + 1}", "Next:numberCount = 0", "Print:quiet = on"]


#: Where Pythia 8 keeps its settings (``Index.xml`` and the files it includes), below an installation prefix.
_XMLDOC = Path("share", "Pythia8", "xmldoc")


def xml_dir_candidates(module_file: str | Path) -> list[Path]:
    """The folders where the pythia8mc wheel's settings can be, given the path of its compiled module.

    A normal installation puts the module in ``PREFIX/lib/pythonX.Y/site-packages`` and the settings in
    ``PREFIX/share/Pythia8/xmldoc``, which is where pythia8mc itself looks (``../../../share`` from the
    module). ``pip install --target DIR`` puts both in ``DIR`` (``DIR/share/Pythia8/xmldoc``), where it does
    not look.
    """
    here = Path(module_file).resolve().parent
    return [*([here.parents[2] / _XMLDOC] if len(here.parents) > 2 else []), here / _XMLDOC]


def pythia_xml_dir() -> str:
    """The folder of Pythia 8's settings.

    ``$PYTHIA8DATA`` when it is set (Pythia reads it itself and it takes precedence), otherwise the first
    of :func:`xml_dir_candidates` that holds ``Index.xml``. The generators set ``$PYTHIA8DATA`` to it when it
    is unset, since pythia8mc reads no other way of giving the folder.

    Raises
    ------
    FileNotFoundError
        If ``$PYTHIA8DATA`` or every candidate lacks ``Index.xml``: Pythia would otherwise fail in every
        generation task with "settings unavailable".
    """
    import pythia8mc

    env = os.environ.get("PYTHIA8DATA", "")
    candidates = [Path(env)] if env else xml_dir_candidates(pythia8mc.__file__)
    for folder in candidates:
        if (folder / "Index.xml").is_file():
            return str(folder)
    where = f"$PYTHIA8DATA={env}" if env else f"the pythia8mc module at {pythia8mc.__file__}"
    msg = (f"Pythia 8's settings (Index.xml) were not found for {where}; looked in "
           f"{', '.join(map(str, candidates))}. Set PYTHIA8DATA to the wheel's share/Pythia8/xmldoc folder")
    raise FileNotFoundError(msg)


def pythia_generator(process: str, seed: int) -> Any:
    """An initialised ``pythia8mc.Pythia`` with :func:`pythia_settings`."""
    import pythia8mc

    settings = pythia_settings(process, seed)
    xml_dir = pythia_xml_dir()
    # pythia8mc 8.317 ignores its constructor's folder and reads only $PYTHIA8DATA or its own default
    os.environ.setdefault("PYTHIA8DATA", xml_dir)
    py = pythia8mc.Pythia(xml_dir, False)
    for line in settings:
        py.readString(line)
    if not py.init():
        msg = "Pythia failed to initialise"
        raise RuntimeError(msg)
    return py


@dataclass
class Record:
    """Whole event records in Pythia's (HEPEVT-like) layout, as flat arrays over all entries of all events.

    Entry ``offsets[i] + k`` is entry ``k`` of event ``i`` (entry 0 is Pythia's "system" line). Mother and
    daughter indices are local to the event, with Pythia's conventions; positions are the production
    vertices in mm (t in mm/c).
    """

    offsets: np.ndarray
    pid: np.ndarray
    status: np.ndarray
    mother1: np.ndarray
    mother2: np.ndarray
    daughter1: np.ndarray
    daughter2: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    t: np.ndarray

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.offsets) - 1

    def event(self, i: int) -> dict[str, np.ndarray]:
        """The entries of event ``i``, one array per field."""
        sl = slice(int(self.offsets[i]), int(self.offsets[i + 1]))
        return {f.name: getattr(self, f.name)[sl] for f in fields(self) if f.name != "offsets"}


def _record_from_batch(batch: Any) -> Record:
    """A :class:`Record` from ``Pythia.nextBatch``'s awkward array."""
    import awkward as ak

    prt = batch.prt
    counts = np.asarray(ak.num(prt, axis=1))
    flat = ak.flatten(prt, axis=1)
    p, v = flat.p, flat.vProd

    def col(a: Any, dtype: Any) -> np.ndarray:
        return np.asarray(ak.fill_none(a, 0), dtype=dtype)

    return Record(offsets=np.concatenate([[0], np.cumsum(counts)]), pid=col(flat.id, np.int32),
                  status=col(flat.status, np.int32), mother1=col(flat.mother1, np.int32),
                  mother2=col(flat.mother2, np.int32), daughter1=col(flat.daughter1, np.int32),
                  daughter2=col(flat.daughter2, np.int32), px=col(p.px, np.float64), py=col(p.py, np.float64),
                  pz=col(p.pz, np.float64), e=col(p.e, np.float64), m=col(flat.m, np.float64),
                  x=col(v.px, np.float64), y=col(v.py, np.float64), z=col(v.pz, np.float64),
                  t=col(v.e, np.float64))


def pythia_records(process: str, n_events: int, seed: int) -> Iterator[Record]:
    """Event records of ``n_events`` Pythia events, in batches (``Pythia.nextBatch``).

    Raises
    ------
    ValueError
        As :func:`pythia_settings`, or ``n_events < 1``.
    """
    if n_events < 1:
        msg = f"n_events must be >= 1, found {n_events}"
        raise ValueError(msg)
    py = pythia_generator(process, seed)
    made = 0
    while made < n_events:
        n = min(_BATCH, n_events - made)
        with _BATCH_LOCK:
            batch = py.nextBatch(n, "skip")
        if len(batch) == 0:
            msg = f"Pythia made no event in a batch of {n} ({process}, seed {seed})"
            raise RuntimeError(msg)
        made += len(batch)
        yield _record_from_batch(batch)


@functools.lru_cache(maxsize=4096)
def _charge(pid: int) -> float:
    from particle import PDGID

    q = PDGID(pid).three_charge
    return q / 3.0 if q is not None else 0.0


def charge_of(pid: np.ndarray) -> np.ndarray:
    """Electric charge (units of e) of each PDG id, from the ``particle`` package."""
    pid = np.asarray(pid, dtype=np.int64)
    unique, inverse = np.unique(pid, return_inverse=True)
    return np.array([_charge(int(u)) for u in unique], dtype=np.float64)[inverse].reshape(pid.shape)


def is_prompt_parent(pid: int) -> bool:
    """Whether a tau or lepton with this parent is prompt: a gauge or Higgs boson, or a lepton (not a tau or
    a hadron), e.g. γ*/Z, W, H or the beam electrons of a generator that writes no intermediate boson."""
    a = abs(int(pid))
    return 10 < a < 100 and a != constants.TAU


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


@dataclass
class GenEvents:
    """What the detector and the labels need of a batch of generated events (flat arrays, event indices).

    Attributes
    ----------
    n_events
        Number of events.
    particles
        Final-state particles but neutrinos: ``event``, ``px, py, pz, e`` (GeV), ``pid``, ``charge``,
        ``x, y, z`` (production vertex, mm, lab frame).
    taus
        Prompt taus (last copy): ``event``, ``charge`` (±1), ``vis`` ``[n, 4]`` (visible four-momentum, the
        daughters but neutrinos), ``dm`` (:func:`decay_mode_class`: 0, 1, 2, 10, 11, 15, −1 for leptonic).
    prompt_lepton
        Per event, |PDG id| of a prompt electron or muon (Z → ee/μμ), 0 for none.
    """

    n_events: int
    particles: dict[str, np.ndarray]
    taus: dict[str, np.ndarray]
    prompt_lepton: np.ndarray


def _empty_taus() -> dict[str, np.ndarray]:
    return {"event": np.zeros(0, np.int64), "charge": np.zeros(0, np.int32), "vis": np.zeros((0, 4)),
            "dm": np.zeros(0, np.int32)}


def concatenate(parts: list[GenEvents]) -> GenEvents:
    """One :class:`GenEvents` of several batches, in order (event indices renumbered)."""
    if not parts:
        msg = "nothing to concatenate"
        raise ValueError(msg)
    shift = np.cumsum([0] + [p.n_events for p in parts[:-1]])
    particles = {k: np.concatenate([p.particles[k] + (s if k == "event" else 0) for p, s in zip(parts, shift,
                                                                                              strict=True)])
                 for k in parts[0].particles}
    taus = {k: np.concatenate([p.taus[k] + (s if k == "event" else 0) for p, s in zip(parts, shift, strict=True)])
            for k in parts[0].taus}
    return GenEvents(n_events=int(sum(p.n_events for p in parts)), particles=particles, taus=taus,
                     prompt_lepton=np.concatenate([p.prompt_lepton for p in parts]))


def _daughters(d1: int, d2: int) -> list[int]:
    """Pythia's daughter list of an entry from its two daughter indices."""
    if d1 == 0 and d2 == 0:
        return []
    if d2 == 0 or d2 == d1:
        return [d1]
    if d2 > d1:
        return list(range(d1, d2 + 1))
    return [d2, d1]


def gen_events(record: Record) -> GenEvents:
    """The :class:`GenEvents` of Pythia event records.

    A tau is its last copy (its first daughter is not a tau of the same id); it is prompt when the first copy's
    mother is a boson or lepton (:func:`is_prompt_parent`). A prompt electron or muon is a final-state one whose
    mother is a boson (after following its own copies up).
    """
    n_events = record.n_events
    event = np.repeat(np.arange(n_events), np.diff(record.offsets))
    base = record.offsets[:-1][event]
    apid = np.abs(record.pid)
    final = (record.status > 0) & ~np.isin(apid, constants.NEUTRINOS)
    charge = charge_of(record.pid[final])
    particles = {"event": event[final], "px": record.px[final], "py": record.py[final], "pz": record.pz[final],
                 "e": record.e[final], "pid": record.pid[final], "charge": charge, "x": record.x[final],
                 "y": record.y[final], "z": record.z[final]}

    def first_copy_mother(i: int) -> int:
        """Global index of the mother of the first copy of global entry ``i``."""
        off = base[i]
        while True:
            m = off + record.mother1[i]
            if record.mother1[i] <= 0 or record.pid[m] != record.pid[i]:
                return int(m) if record.mother1[i] > 0 else -1
            i = int(m)

    last = (apid == constants.TAU) & (record.status < 0) & (record.daughter1 > 0)
    first_daughter = np.where(last, base + record.daughter1, 0)
    last &= record.pid[first_daughter] != record.pid
    rows: dict[str, list[Any]] = {"event": [], "charge": [], "vis": [], "dm": []}
    for i in np.flatnonzero(last):
        mother = first_copy_mother(int(i))
        if mother < 0 or not is_prompt_parent(int(record.pid[mother])):
            continue
        kids = base[i] + np.asarray(_daughters(int(record.daughter1[i]), int(record.daughter2[i])), dtype=np.int64)
        ids = record.pid[kids]
        visible = ~np.isin(np.abs(ids), constants.NEUTRINOS)
        vis = np.array([record.px[kids][visible].sum(), record.py[kids][visible].sum(),
                        record.pz[kids][visible].sum(), record.e[kids][visible].sum()])
        rows["event"].append(int(event[i]))
        rows["charge"].append(-1 if record.pid[i] > 0 else 1)  # τ⁻ has PDG id +15
        rows["vis"].append(vis)
        rows["dm"].append(decay_mode_class(ids.tolist(), charge_of(ids).tolist()))
    taus = _empty_taus() if not rows["event"] else {
        "event": np.asarray(rows["event"], np.int64), "charge": np.asarray(rows["charge"], np.int32),
        "vis": np.asarray(rows["vis"], np.float64).reshape(-1, 4), "dm": np.asarray(rows["dm"], np.int32)}
    prompt = np.zeros(n_events, np.int32)
    leptons = np.flatnonzero(final & np.isin(apid, constants.CHARGED_LEPTONS))
    for i in leptons:
        mother = first_copy_mother(int(i))
        if mother >= 0 and abs(int(record.pid[mother])) in (22, 23, 24, 25):
            prompt[event[i]] = apid[i]
    return GenEvents(n_events=n_events, particles=particles, taus=taus, prompt_lepton=prompt)


def pythia_events(process: str, n_events: int, seed: int) -> Iterator[GenEvents]:
    """:class:`GenEvents` of ``n_events`` Pythia events of ``process``, batch by batch."""
    for record in pythia_records(process, n_events, seed):
        yield gen_events(record)
