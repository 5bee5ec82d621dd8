"""Plotting helpers over mplhep: experiment style and figure saving next to results.json."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["savefig", "use_style"]

_STYLES = ("ALICE", "ATLAS", "CMS", "LHCb", "LHCb2", "DUNE", "plothist")


def use_style(experiment: str = "ALICE") -> None:
    """Apply the mplhep style of ``experiment`` globally (mplhep recommends global use).

    Raises
    ------
    ValueError
        For a name mplhep does not provide.
    """
    if experiment not in _STYLES:
        msg = f"unknown style {experiment!r}; choose one of {list(_STYLES)}"
        raise ValueError(msg)
    import matplotlib as mpl
    import mplhep

    mplhep.style.use(experiment)
    mpl.rcParams["figure.dpi"] = 100
    mpl.rcParams["savefig.bbox"] = "tight"


def savefig(fig: Any, folder: str | os.PathLike[str], name: str, *, dpi: int = 110) -> Path:
    """Save ``fig`` as ``folder/name.png`` and return the path (the figure stays open for display)."""
    if not name or "/" in name:
        msg = f"figure name must be a plain file stem, found {name!r}"
        raise ValueError(msg)
    path = Path(folder) / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
