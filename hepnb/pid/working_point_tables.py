"""The PID page's working-point tables: the test efficiency at each validation-chosen threshold, and the
contamination of the kaon selection per momentum bin with the counts it rests on
(:func:`hepnb.pid.pipeline.working_points`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from hepnb.book import numbers
from hepnb.pid.constants import SPECIES, SPECIES_SYMBOLS
from hepnb.pid.pipeline import WorkingPoints

__all__ = ["contamination_table", "working_point_table"]


def working_point_table(points: WorkingPoints) -> Any:
    """Test efficiency at the validation-chosen threshold per range, model, species and target purity."""
    rows = [{"range": r, "model": m, "species": s, "target": t, **v} for r, per_model in points.points.items()
            for m, per_species in per_model.items() for s in SPECIES for t, v in per_species[s].items()]
    table = pd.DataFrame(rows).pivot_table(index=["range", "model"], columns=["species", "target"],
                                           values="efficiency")
    return table.style.format("{:.3f}", na_rep="–").set_caption("test efficiency at the validation-chosen threshold")


def contamination_table(points: WorkingPoints, species: str = "ka") -> pd.DataFrame:
    """Per shown model and momentum bin at the 90 %-purity working point: the tracks selected, and of them the
    count and fraction of each species (%, 68 % Clopper–Pearson interval); bins that select fewer than
    :data:`hepnb.pid.working_points.MIN_SELECTED` tracks, which the figure shades, are marked."""
    from hepnb.pid.working_points import MIN_SELECTED

    rows = {}
    for model, c in points.contamination.items():
        edges = c["edges_gev"]
        for i in range(len(edges) - 1):
            n = c["n_selected"][i]
            cells = {"selected": numbers.format_count(n) + ("" if n >= MIN_SELECTED else " (too few)")}
            for s in SPECIES:
                cells[SPECIES_SYMBOLS[s]] = ("–" if not n else
                                             f"{c[f'n_{s}'][i]}: {100 * c[f'fraction_{s}'][i]:.0f} % "
                                             f"({100 * c[f'fraction_{s}_lo'][i]:.0f}–"
                                             f"{100 * c[f'fraction_{s}_hi'][i]:.0f})")
            rows[(model, f"{edges[i]:g}–{edges[i + 1]:g}")] = cells
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "p (GeV/c)"])
    return table.style.set_caption(f"the {SPECIES_SYMBOLS[species]} selection at 90 % purity per momentum bin: "
                                   "tracks selected, and each species' count and fraction (%, 68 % interval)")
