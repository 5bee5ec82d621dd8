"""ALICE-style PID study: detector simulation, the extractor's schema, six models, the seed's protocol and its fixes."""

from __future__ import annotations

from hepnb.pid.detector import bethe_bloch_aleph as bethe_bloch_aleph
from hepnb.pid.detector import expected_dedx as expected_dedx
from hepnb.pid.detector import expected_time_ps as expected_time_ps
from hepnb.pid.io import read_selected as read_selected
from hepnb.pid.io import read_tracks as read_tracks
from hepnb.pid.io import write_tracks as write_tracks
from hepnb.pid.selection import FEATURES as FEATURES
from hepnb.pid.selection import RANGES as RANGES
from hepnb.pid.selection import features as features
from hepnb.pid.selection import labels as labels
from hepnb.pid.selection import select as select
from hepnb.pid.simulate import COLUMNS as COLUMNS
from hepnb.pid.simulate import simulate_chunked as simulate_chunked
from hepnb.pid.simulate import simulate_tracks as simulate_tracks

__all__ = ["COLUMNS", "FEATURES", "RANGES", "bethe_bloch_aleph", "expected_dedx", "expected_time_ps", "features",
           "labels", "read_selected", "read_tracks", "select", "simulate_chunked", "simulate_tracks", "write_tracks"]
