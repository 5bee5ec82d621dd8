"""What a study notebook's cells share: its figures folder, the timings of its sections, its parameters.

A study page opens with ``page = Page("pid_ranges", profile, results_dir)`` and then, instead of repeating
``perf_counter``, ``savefig`` and ``plt.show`` lines in every cell::

    with page.timer("simulate"):
        tracks = data.simulate_tracks(...)
    page.show(fig, "dedx", caption="TPC dE/dx against p")   # saves and checks it, shows it as Figure 1
    page.save(metrics, globals())             # results.json with the declared parameters and the timings

The parameters written to ``results.json`` are the ones the notebook declares in its ``parameters`` cell (read
from the study registry, as the runner reads them), with the values the run had: no hand-copied list.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Self

__all__ = ["RUNNER_PARAMETERS", "Page", "PageSettings"]

#: Parameters that every study notebook has and that the runner sets; they are the run's, not the study's.
RUNNER_PARAMETERS = ("profile", "results_dir")


@dataclass
class Page:
    """One executing study page.

    Parameters
    ----------
    study, profile
        The study's name (its notebook's stem) and the profile it runs at.
    results_dir
        Root of the results tree; the figures and ``results.json`` go to ``results_dir/profile/study``.
    """

    study: str
    profile: str
    results_dir: str | os.PathLike[str]
    #: Wall-clock seconds per named section, summed when a name is timed twice.
    timings_s: dict[str, float] = field(default_factory=dict)
    #: Figures shown so far (their captions are numbered from 1).
    n_figures: int = 0
    _start: float = field(default_factory=time.perf_counter, repr=False)

    def __post_init__(self) -> None:
        """Tables of the page write their numbers by the book's rule (:func:`hepnb.book.numbers.table_cell`)."""
        import pandas as pd

        from hepnb.book.numbers import table_cell

        pd.set_option("display.float_format", table_cell)
        pd.set_option("styler.format.formatter", table_cell)

    @property
    def figures(self) -> Path:
        """The folder of this run's figures (and of its ``results.json``)."""
        from hepnb.book.results import results_path

        return results_path(self.study, self.profile, self.results_dir)

    @contextmanager
    def timer(self, name: str) -> Iterator[None]:
        """Time the block under ``name`` (seconds, added to an earlier block of the same name)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings_s[name] = self.timings_s.get(name, 0.0) + time.perf_counter() - start

    def show(self, fig: Any, name: str, *, caption: str, **savefig_options: Any) -> Path:
        """Save ``fig`` as ``name`` (:func:`hepnb.plotting.savefig`, which checks it), show it in the page with its
        numbered caption ("**Figure 3.** ``caption``", escaped), close it.

        Raises
        ------
        ValueError
            ``caption`` is empty: every figure of a page says what it shows.
        """
        import matplotlib.pyplot as plt
        from IPython.display import Markdown, display

        from hepnb import plotting
        from hepnb.book.escape import page_text

        if not caption.strip():
            msg = f"figure {name!r} needs a caption that says what it shows, found an empty one"
            raise ValueError(msg)
        path = plotting.savefig(fig, self.figures, name, **savefig_options)
        self.n_figures += 1
        display(fig)
        display(Markdown(f"**Figure {self.n_figures}.** {page_text(caption)}"))
        plt.close(fig)
        return path

    def parameters(self, namespace: Mapping[str, Any]) -> dict[str, Any]:
        """The study's declared parameters (without the runner's) with their values in ``namespace``.

        Raises
        ------
        KeyError
            A declared parameter is missing from ``namespace`` (the parameters cell did not run).
        """
        from hepnb.book.registry import get_study

        names = [n for n in get_study(self.study).parameters if n not in RUNNER_PARAMETERS]
        missing = [n for n in names if n not in namespace]
        if missing:
            msg = f"the parameters {missing} of study {self.study!r} are not defined: run its parameters cell first"
            raise KeyError(msg)
        return {n: namespace[n] for n in names}

    def save(self, metrics: Mapping[str, Any], namespace: Mapping[str, Any]) -> Path:
        """Write ``results.json`` with ``metrics``, the declared parameters and the timings (``total`` added)."""
        from hepnb.book.results import save_results

        timings = {**self.timings_s, "total": time.perf_counter() - self._start}
        return save_results(self.study, self.profile, params=self.parameters(namespace), metrics=metrics,
                            timings_s=timings, results_dir=self.results_dir)




class PageSettings:
    """Base of a study page's frozen ``Settings`` dataclass: its fields are the page's parameters.

    A study declares ``@dataclass(frozen=True) class Settings(PageSettings)`` with one field per parameter the
    package needs and builds it with :meth:`from_parameters` from :meth:`Page.parameters`.
    """

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> Self:
        """The settings from the page's declared parameters (lists become tuples; other names are ignored).

        Raises
        ------
        KeyError
            A setting is missing from ``parameters``.
        """
        values = {f.name: parameters[f.name] for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
