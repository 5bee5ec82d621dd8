"""Network input transforms applied to the raw features before standardisation.

The nσ inputs have heavy tails (mismatched TOF hits, the TPC's upper tail, other species' nσ of several hundred):
over a momentum range the standard deviation of nσ_π and nσ_e is 26–33, so standardising alone squeezes the
electron window (|nσ_e| ≲ 3) into a few hundredths of a unit. A transform compresses the tails first:

- ``none``: the value as it is;
- ``clip``: clipped to ±c (the window of ±c σ kept linear, everything beyond it one value);
- ``asinh``: the signed ``asinh(x / s)``, linear for |x| ≲ s and logarithmic beyond (no information lost).

An :class:`InputTransform` gives one such transform to the eight nσ columns and one to the dE/dx-like column
(the TPC signal); every other feature is left as it is. The same code applies it to numpy arrays (training,
``hepnb pid predict``) and to jax.numpy arrays (inside the exported O2Physics graph, so O2 still feeds raw
values); which transform a network gets is a tuning choice made on validation (:mod:`hepnb.pid.tuning`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from hepnb.pid.selection import FEATURES

__all__ = ["DEDX_FEATURES", "IDENTITY", "KINDS", "NSIGMA_FEATURES", "ColumnTransform", "InputTransform"]

#: The transform kinds.
KINDS = ("none", "clip", "asinh")
#: The nσ columns (TPC and TOF, four hypotheses each) and the dE/dx-like column an :class:`InputTransform` acts on.
NSIGMA_FEATURES: tuple[str, ...] = tuple(f for f in FEATURES if "_nsigma_" in f)
DEDX_FEATURES: tuple[str, ...] = ("tpc_signal",)


@dataclass(frozen=True)
class ColumnTransform:
    """One column's transform: ``none``, ``clip`` to ±``scale``, or signed ``asinh(x / scale)``.

    Raises
    ------
    ValueError
        An unknown kind, or a scale that is not a finite positive number.
    """

    kind: str = "none"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            msg = f"unknown input transform {self.kind!r}; choose one of {list(KINDS)}"
            raise ValueError(msg)
        if not (math.isfinite(self.scale) and self.scale > 0):
            msg = f"an input transform's scale must be finite and > 0, found {self.scale!r}"
            raise ValueError(msg)

    @property
    def label(self) -> str:
        """How a table writes it: ``none``, ``clip ±10``, ``asinh(x/3)``."""
        if self.kind == "clip":
            return f"clip ±{self.scale:g}"
        return f"asinh(x/{self.scale:g})" if self.kind == "asinh" else "none"

    def apply(self, x: Any, xp: ModuleType = np) -> Any:
        """The transformed values of ``x`` (NaN stays NaN) with the array module ``xp`` (numpy or jax.numpy)."""
        if self.kind == "clip":
            return xp.clip(x, -self.scale, self.scale)
        if self.kind == "asinh":
            return xp.arcsinh(x / self.scale)
        return x


_NONE = ColumnTransform()


@dataclass(frozen=True)
class InputTransform:
    """The transform of the nσ columns and the one of the dE/dx-like column (:data:`NSIGMA_FEATURES`,
    :data:`DEDX_FEATURES`); the other features pass unchanged."""

    nsigma: ColumnTransform = field(default_factory=ColumnTransform)
    dedx: ColumnTransform = field(default_factory=ColumnTransform)

    @property
    def label(self) -> str:
        """``nσ clip ±10, dE/dx none`` (or ``none`` for the identity)."""
        if self.is_identity:
            return "none"
        return f"nσ {self.nsigma.label}, dE/dx {self.dedx.label}"

    @property
    def is_identity(self) -> bool:
        """True when no column is changed."""
        return self.nsigma.kind == "none" and self.dedx.kind == "none"

    def per_feature(self) -> tuple[ColumnTransform, ...]:
        """The transform of each of the 22 features, in :data:`hepnb.pid.selection.FEATURES` order."""
        return tuple(self.nsigma if f in NSIGMA_FEATURES else self.dedx if f in DEDX_FEATURES else _NONE
                     for f in FEATURES)

    def apply(self, x: Any, xp: ModuleType = np) -> Any:
        """The (N, 22) features ``x`` with each column transformed, as ``xp`` arrays (numpy or jax.numpy).

        Raises
        ------
        ValueError
            ``x`` without the 22 feature columns.
        """
        if x.ndim != 2 or x.shape[1] != len(FEATURES):
            msg = f"input transforms act on (N, {len(FEATURES)}) feature arrays, found shape {tuple(x.shape)}"
            raise ValueError(msg)
        if self.is_identity:
            return x
        return xp.stack([t.apply(x[:, j], xp) for j, t in enumerate(self.per_feature())], axis=1)

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """The JSON form (``model.json``): ``{"nsigma": {"kind", "scale"}, "dedx": {...}}``."""
        return {"nsigma": {"kind": self.nsigma.kind, "scale": self.nsigma.scale},
                "dedx": {"kind": self.dedx.kind, "scale": self.dedx.scale}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> InputTransform:
        """The transform of :meth:`as_dict`'s JSON form; ``None`` (a folder written before transforms) is the
        identity."""
        if data is None:
            return cls()
        unknown = sorted(set(data) - {"nsigma", "dedx"})
        if unknown:
            msg = f"an input transform names the column groups 'nsigma' and 'dedx', found {unknown}"
            raise ValueError(msg)
        return cls(**{k: ColumnTransform(str(v["kind"]), float(v["scale"])) for k, v in data.items()})


#: No transform: the features as the extractor writes them.
IDENTITY = InputTransform()
