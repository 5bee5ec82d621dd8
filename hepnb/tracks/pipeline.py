"""What the leaderboard page calls to make its data: the simulated tracks of a leg, split for training.

Training is in :mod:`hepnb.tracks.training`, the baselines in :mod:`hepnb.tracks.baselines`, the leaderboard's
rows and checks in :mod:`hepnb.tracks.evaluate`, its tables and sentences in :mod:`hepnb.tracks.report`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from hepnb.tracks.data import generate_tracks
from hepnb.tracks.fieldmap import FieldMap

__all__ = [
    "Array",
    "make_dataset",
]


Array = Any


def make_dataset(n_train: int, n_val: int, n_test: int, *, leg: str = "ut_t", physics: str = "correct",
                 seed: int = 0, p_range_gev: tuple[float, float] = (2.0, 500.0), displaced_fraction: float = 0.2,
                 field_map: FieldMap | str | None = None) -> dict[str, Any]:
    """Simulate tracks on a leg and split them into train, validation and test.

    Returns
    -------
    dict
        ``train``, ``val``, ``test``: each ``start`` (N, 5) float32 (what models see), ``start64`` and ``end``
        (N, 5) float64 (the reference), ``p_gev`` and ``displaced``; ``stats`` (input mean and std, (q/p)_rms of
        the training set); ``setting``; ``sizes`` and ``simulate_s``.
    """
    total = n_train + n_val + n_test
    if min(n_train, n_val, n_test) < 1:
        msg = f"n_train, n_val and n_test must be >= 1, found {n_train}, {n_val}, {n_test}"
        raise ValueError(msg)
    t0 = time.perf_counter()
    data = generate_tracks(total, leg=leg, physics=physics, seed=seed, p_range_gev=p_range_gev,
                           displaced_fraction=displaced_fraction, field_map=field_map)
    simulate_s = time.perf_counter() - t0
    parts = np.split(np.arange(total), [n_train, n_train + n_val])

    def split(idx: np.ndarray) -> dict[str, np.ndarray]:
        return {"start": data["start"][idx].astype(np.float32), "start64": data["start"][idx],
                "end": data["end"][idx], "p_gev": data["p_gev"][idx], "displaced": data["displaced"][idx]}

    train = split(parts[0])
    s = train["start64"]
    stats = {"in_mean": s.mean(0), "in_std": s.std(0) + 1e-12, "qop_rms": float(np.sqrt(np.mean(s[:, 4] ** 2)))}
    return {"train": train, "val": split(parts[1]), "test": split(parts[2]), "stats": stats, "setting": data["setting"],
            "sizes": {"train": n_train, "val": n_val, "test": n_test}, "simulate_s": simulate_s}


