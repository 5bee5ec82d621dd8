"""HepMC3 event files: Pythia records out, any generator's events in (pyhepmc).

:class:`HepMC3Writer` writes Pythia event records as HepMC3 ASCII with the vertex structure of Pythia's own
``Pythia8ToHepMC3`` interface (a particle's production vertex is the end vertex of its first mother that has
one, mothers from Pythia's ``motherList`` rules; HepMC status 1 final, 2 decayed hadron/μ/τ, 4 beam, else
Pythia's |status|; momenta in GeV, positions in mm). :func:`read_hepmc3` reads HepMC3 files (ASCII, or any
format and compression ``pyhepmc.open`` reads) into :class:`hepnb.tau.events.GenEvents`, so that events of any
generator go through the study's detector, jets and labels: final-state particles are those of status 1 with
their production-vertex positions (a vertex without a position takes its ancestors', as HepMC3's
``GenVertex::position``); a tau is the last copy of a |PDG id| 15 particle with an end vertex, its direct
daughters the particles of that vertex; it is prompt unless a hadron or a tau made its first copy.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hepnb.paths import why_missing
from hepnb.tau import constants
from hepnb.tau.events import GenEvents, Record, charge_of, concatenate, decay_mode_class, is_prompt_parent

__all__ = ["HEPMC_SUFFIXES", "HepMC3Writer", "hepmc_status", "iter_hepmc3", "mother_list", "read_hepmc3"]

#: File names read as HepMC3 (any of these, optionally compressed: .gz, .bz2, .xz).
HEPMC_SUFFIXES: tuple[str, ...] = (".hepmc", ".hepmc3")
_NEUTRINOS = np.asarray(constants.NEUTRINOS)


@functools.lru_cache(maxsize=4096)
def _is_hadron(pid: int) -> bool:
    from particle import PDGID

    return bool(PDGID(pid).is_hadron)


def mother_list(status: int, mother1: int, mother2: int) -> list[int]:
    """Pythia's ``Particle::motherList`` (without the system entry 0)."""
    a = abs(status)
    if a in (11, 12) or (mother1 == 0 and mother2 == 0):
        return []
    if mother2 == 0 or mother2 == mother1:
        return [mother1]
    if 80 < a < 90 or 100 < a < 107:
        return list(range(mother1, mother2 + 1))
    return [min(mother1, mother2), max(mother1, mother2)]


def hepmc_status(event: dict[str, np.ndarray], i: int) -> int:
    """Pythia's ``Particle::statusHepMC`` of entry ``i`` of one event's record."""
    status, pid = int(event["status"][i]), int(event["pid"][i])
    if status > 0:
        return 1
    if status == -12:
        return 4
    d1 = int(event["daughter1"][i])
    if ((_is_hadron(pid) or abs(pid) in (constants.MUON, constants.TAU)) and d1 > 0 and int(event["pid"][d1]) != pid
            and 90 < abs(int(event["status"][d1])) < 95):
        return 2
    return abs(status) if 3 < abs(status) < 199 else 0


def _gen_event(event: dict[str, np.ndarray], number: int) -> Any:
    import pyhepmc

    n = len(event["pid"])
    evt = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
    evt.event_number = number
    particles = [None] + [pyhepmc.GenParticle((float(event["px"][i]), float(event["py"][i]), float(event["pz"][i]),
                                                float(event["e"][i])), int(event["pid"][i]), hepmc_status(event, i))
                          for i in range(1, n)]
    for i in range(1, n):
        particles[i].generated_mass = float(event["m"][i])
    end_vertex: list[Any] = [None] * n
    loose = []
    for i in range(1, n):
        mothers = mother_list(int(event["status"][i]), int(event["mother1"][i]), int(event["mother2"][i]))
        prod = next((end_vertex[m] for m in mothers if end_vertex[m] is not None), None)
        pos = (float(event["x"][i]), float(event["y"][i]), float(event["z"][i]), float(event["t"][i]))
        if prod is None and mothers:  # a particle without mothers (a beam) hangs from the root vertex
            prod = pyhepmc.GenVertex(pos)
            evt.add_vertex(prod)
        if prod is None:
            loose.append(particles[i])
            continue
        prod.add_particle_out(particles[i])
        for m in mothers:
            if end_vertex[m] is None:
                prod.add_particle_in(particles[m])
                end_vertex[m] = prod
    for p in loose:
        if not p.in_event:
            evt.add_particle(p)
    return evt


class HepMC3Writer:
    """Write Pythia event records (:class:`hepnb.tau.events.Record`) to a HepMC3 ASCII file, atomically: the
    events go to a temporary file renamed to ``path`` by :meth:`close` (:meth:`abort` removes it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        import pyhepmc

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        self._file = pyhepmc.open(self._tmp, "w", format="HepMC3")
        self.n_events = 0

    def write(self, record: Record) -> None:
        """Append every event of ``record``."""
        for i in range(record.n_events):
            self._file.write(_gen_event(record.event(i), self.n_events))
            self.n_events += 1

    def close(self) -> Path:
        """Finish the file and give it its name."""
        self._file.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)


#: The units a HepMC3 ``U`` line may name, and their factors to GeV and mm.
MOMENTUM_UNITS = {"GEV": 1.0, "MEV": 1e-3}
LENGTH_UNITS = {"MM": 1.0, "CM": 10.0}
_END_LISTING = ("HepMC::Asciiv3-END_EVENT_LISTING", "HepMC::IO_GenEvent-END_EVENT_LISTING")


def _open_text(path: Path) -> Any:
    """A text handle on an event file, plain or gzip/bzip2/xz-compressed."""
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open, ".lzma": lzma.open}.get(path.suffix.lower())
    if opener is None:
        return path.open(encoding="utf-8", errors="replace")
    return opener(path, "rt", encoding="utf-8", errors="replace")


def _is_text_listing(path: Path) -> bool:
    """Whether ``path`` is a HepMC3/HepMC2 text listing (its first line)."""
    try:
        with _open_text(path) as handle:
            return handle.readline().startswith(("HepMC::", "E "))
    except (OSError, EOFError, ValueError):
        return False


def scan_hepmc_text(path: str | os.PathLike[str]) -> int | None:
    """Check a text HepMC3/HepMC2 file before pyhepmc reads it, which skips what it cannot parse: every ``U`` line
    names units of :data:`MOMENTUM_UNITS` and :data:`LENGTH_UNITS`, and the file ends with its end-of-listing
    line (a file cut short does not). Returns the number of events (``E`` lines), ``None`` for a file that is
    not text in these formats.

    Raises
    ------
    ValueError
        A unit line with other units (the event named), or a file that ends inside its events.
    """
    if not _is_text_listing(Path(path)):
        return None
    n_events, event, last = 0, None, ""
    with _open_text(Path(path)) as lines:
        for line in lines:
            if not line.strip():
                continue
            last = line.strip()
            if line.startswith("E "):
                n_events += 1
                event = line.split()[1] if len(line.split()) > 1 else "?"
            elif line.startswith("U "):
                units = line.split()[1:3]
                if len(units) != 2 or units[0] not in MOMENTUM_UNITS or units[1] not in LENGTH_UNITS:
                    msg = (f"{path}: event {event} has the units {' '.join(units) or 'nothing'}; expected a "
                           f"momentum unit of {sorted(MOMENTUM_UNITS)} and a length unit of {sorted(LENGTH_UNITS)}")
                    raise ValueError(msg)
    if n_events and last not in _END_LISTING:
        msg = (f"{path} ends inside event {event} (the {n_events}th) without its end-of-listing line: the file is "
               "cut short")
        raise ValueError(msg)
    return n_events


def _units(data: Any) -> tuple[float, float]:
    import pyhepmc

    to_gev = 1.0 if data.momentum_unit == pyhepmc.Units.GEV else 1e-3
    to_mm = 1.0 if data.length_unit == pyhepmc.Units.MM else 10.0
    return to_gev, to_mm


def _one_event(evt: Any) -> GenEvents:
    """The :class:`GenEvents` (one event) of a ``pyhepmc.GenEvent``."""
    import pyhepmc

    data = pyhepmc.GenEventData()
    evt.write_data(data)
    to_gev, to_mm = _units(data)
    prt, vtx = data.particles, data.vertices
    n_p, n_v = len(prt), len(vtx)
    pid = prt["pid"].astype(np.int64)
    l1, l2 = np.asarray(data.links1, np.int64), np.asarray(data.links2, np.int64)
    end_vertex = np.full(n_p, -1)
    prod_vertex = np.full(n_p, -1)
    into = (l1 > 0) & (l2 < 0)
    out = (l1 < 0) & (l2 > 0)
    for kind, vertex, particle in (("ends at", -l2[into], l1[into]), ("comes from", -l1[out], l2[out])):
        missing = (vertex > n_v) | (particle > n_p)
        if missing.any():
            msg = (f"event {evt.event_number}: particle {int(particle[missing][0])} {kind} vertex "
                   f"{-int(vertex[missing][0])}, which the event does not have ({n_v} vertices, {n_p} particles)")
            raise ValueError(msg)
    end_vertex[l1[into] - 1] = -l2[into] - 1
    prod_vertex[l2[out] - 1] = -l1[out] - 1
    # vertex positions; an unset one takes the position of its first incoming particle's production vertex
    pos = np.column_stack([vtx["x"], vtx["y"], vtx["z"]]).astype(np.float64) * to_mm if n_v else np.zeros((0, 3))
    event_pos = np.array([data.event_pos.x, data.event_pos.y, data.event_pos.z]) * to_mm
    unset = ~np.any(pos != 0, axis=1) if n_v else np.zeros(0, bool)
    first_in = np.full(n_v, -1)
    for p in np.flatnonzero(into)[::-1]:  # the first link of each vertex wins
        first_in[-l2[p] - 1] = l1[p] - 1
    for _ in range(64):
        if not unset.any():
            break
        parent = np.where(first_in >= 0, prod_vertex[np.maximum(first_in, 0)], -1)
        resolvable = unset & (parent >= 0) & ~unset[np.maximum(parent, 0)]
        pos[resolvable] = pos[parent[resolvable]]
        unset &= ~resolvable
        unset &= parent >= 0  # no ancestor: stays at the origin, shifted by event_pos below
    xyz = np.zeros((n_p, 3))
    has = prod_vertex >= 0
    xyz[has] = pos[prod_vertex[has]]
    xyz[~np.any(xyz != 0, axis=1)] = event_pos
    p4 = np.column_stack([prt["px"], prt["py"], prt["pz"], prt["e"]]).astype(np.float64) * to_gev
    bad = ~np.all(np.isfinite(p4), axis=1) | ~np.all(np.isfinite(xyz), axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = (f"event {evt.event_number}: particle {i + 1} (PDG id {int(pid[i])}) has a non-finite momentum or "
               f"vertex ({p4[i].tolist()}, {xyz[i].tolist()})")
        raise ValueError(msg)
    status = prt["status"]
    final = (status == 1) & ~np.isin(np.abs(pid), _NEUTRINOS)
    charge = charge_of(pid)
    particles = {"event": np.zeros(int(final.sum()), np.int64), "px": p4[final, 0], "py": p4[final, 1],
                 "pz": p4[final, 2], "e": p4[final, 3], "pid": pid[final], "charge": charge[final],
                 "x": xyz[final, 0], "y": xyz[final, 1], "z": xyz[final, 2]}
    children_of = {}
    for p in np.flatnonzero(prod_vertex >= 0):
        children_of.setdefault(int(prod_vertex[p]), []).append(int(p))
    incoming_of = {}
    for p in np.flatnonzero(end_vertex >= 0):
        incoming_of.setdefault(int(end_vertex[p]), []).append(int(p))

    def parent_of_first_copy(p: int) -> int | None:
        """PDG id of the particle that made the first copy of ``p`` (None without one)."""
        for _ in range(1000):
            v = int(prod_vertex[p])
            parents = incoming_of.get(v, []) if v >= 0 else []
            if not parents:
                return None
            same = [q for q in parents if pid[q] == pid[p]]
            if not same:
                return int(pid[parents[0]])
            p = same[0]
        return None

    rows: dict[str, list[Any]] = {"charge": [], "vis": [], "dm": []}
    for t in np.flatnonzero((np.abs(pid) == constants.TAU) & (end_vertex >= 0)):
        kids = children_of.get(int(end_vertex[t]), [])
        if not kids or any(pid[k] == pid[t] for k in kids):
            continue  # not the last copy
        parent = parent_of_first_copy(int(t))
        if parent is not None and not is_prompt_parent(parent):
            continue
        kids_arr = np.asarray(kids)
        visible = ~np.isin(np.abs(pid[kids_arr]), _NEUTRINOS)
        rows["charge"].append(-1 if pid[t] > 0 else 1)
        rows["vis"].append(p4[kids_arr[visible]].sum(axis=0))
        rows["dm"].append(decay_mode_class(pid[kids_arr].tolist(), charge[kids_arr].tolist()))
    taus = {"event": np.zeros(len(rows["dm"]), np.int64), "charge": np.asarray(rows["charge"], np.int32),
            "vis": np.asarray(rows["vis"], np.float64).reshape(-1, 4), "dm": np.asarray(rows["dm"], np.int32)}
    prompt = 0
    for p in np.flatnonzero(final & np.isin(np.abs(pid), constants.CHARGED_LEPTONS)):
        parent = parent_of_first_copy(int(p))
        if parent is not None and abs(parent) in (22, 23, 24, 25):
            prompt = int(abs(pid[p]))
    return GenEvents(n_events=1, particles=particles, taus=taus, prompt_lepton=np.array([prompt], np.int32))


def iter_hepmc3(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str], *, batch: int = 500
                ) -> Iterator[GenEvents]:
    """:class:`~hepnb.tau.events.GenEvents` of the events of HepMC3 files, ``batch`` events at a time.

    Raises
    ------
    ValueError
        A file that does not exist, from which pyhepmc reads no event or fewer than it holds (a damaged event,
        a file cut short), with units other than GeV/MeV and mm/cm, a non-finite momentum or vertex, or a
        particle linked to a vertex the event does not have (the file and event named).
    """
    import pyhepmc

    files = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    for path in files:
        if not Path(path).is_file():
            msg = f"HepMC3 input {path} {why_missing(path)}"
            raise ValueError(msg)
        expected = scan_hepmc_text(path)
        parts: list[GenEvents] = []
        n_read = 0
        try:
            with pyhepmc.open(path) as handle:
                for evt in handle:
                    parts.append(_one_event(evt))
                    n_read += 1
                    if len(parts) == batch:
                        yield concatenate(parts)
                        parts = []
        except (OSError, RuntimeError) as err:
            msg = f"{path} is not a HepMC3 file pyhepmc can read ({err})"
            raise ValueError(msg) from err
        if n_read == 0:
            msg = f"{path} holds no HepMC event (expected a HepMC3, HepMC2 or HEPEVT file)"
            raise ValueError(msg)
        if expected is not None and n_read != expected:
            msg = (f"{path}: pyhepmc read {n_read} of its {expected} events: event parsing failed after the "
                   f"{n_read}th (a damaged event)")
            raise ValueError(msg)
        if parts:
            yield concatenate(parts)


def read_hepmc3(paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str]) -> GenEvents:
    """All events of HepMC3 files as one :class:`~hepnb.tau.events.GenEvents`."""
    return concatenate(list(iter_hepmc3(paths)))
