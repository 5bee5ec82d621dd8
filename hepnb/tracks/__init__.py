"""Track-extrapolation study (LHCb-style): dipole field, Runge–Kutta reference, learned extrapolators.

Public API (documented in the book): ``field(x_mm, y_mm, z_mm) -> (Bx, By, Bz)`` in tesla and
``rk4(states, z0_mm, z1_mm, n_steps)`` for states shaped (N, 5) = (x, y, tx, ty, q/p).
"""

from __future__ import annotations

from hepnb.tracks.field import FieldMap as FieldMap
from hepnb.tracks.field import field as field
from hepnb.tracks.field import seed_field as seed_field
from hepnb.tracks.models import SIZES as SIZES
from hepnb.tracks.models import MLPExtrapolator as MLPExtrapolator
from hepnb.tracks.models import RKPINNExtrapolator as RKPINNExtrapolator
from hepnb.tracks.models import build_model as build_model
from hepnb.tracks.propagate import rk4 as rk4
from hepnb.tracks.simulate import default_field_map as default_field_map
from hepnb.tracks.simulate import generate_tracks as generate_tracks
from hepnb.tracks.simulate import generate_tracks_chunked as generate_tracks_chunked

__all__ = ["SIZES", "FieldMap", "MLPExtrapolator", "RKPINNExtrapolator", "build_model", "default_field_map",
           "field", "generate_tracks", "generate_tracks_chunked", "rk4", "seed_field"]
