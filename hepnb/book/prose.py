"""Prose from the run: glue, and sentences that write numbers and comparisons as words.

The book's rule (Book v2): every number and every comparative claim in a markdown cell comes from the run
(:mod:`hepnb.book.lint` checks it). Numbers reach markdown through :func:`glue` (`` {glue:text}`name:.3f` ``)
or through a markdown cell generated in a code cell (``IPython.display.Markdown``).

Writing prose from numbers
--------------------------
:func:`hepnb.book.numbers.format_with_uncertainty` rounds a value and its uncertainty by the PDG rule;
:func:`describe_difference` states a paired comparison in words ("higher than … by … ± …", "consistent
with …"); :func:`sample_sentence` states the profile and the sample sizes;
:func:`hepnb.book.results_text.results_markdown` renders "What results.json holds" from the results file
itself. A study notebook uses them like this::

    from IPython.display import Markdown, display
    from hepnb.book.prose import glue

    from hepnb.book import prose, results_text

    display(Markdown(prose.sample_sentence(profile, {"training tracks": n_train, "test tracks": n_test})))
    diff = report["paired"]["XGBoost-DNN"]          # paired bootstrap on one test set
    glue("acc_xgb", 100 * acc_xgb, display=False)    # markdown: {glue:text}`acc_xgb:.1f` %
    display(Markdown("With these samples, " + prose.describe_difference(
        "test accuracy", "XGBoost", "the DNN", diff["value"], diff["std"], unit="%") + "."))
    ...
    display(Markdown(results_text.results_markdown(results_file)))   # last cell of the page
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from hepnb.book.numbers import format_count, format_with_uncertainty

__all__ = ["describe_difference", "glue", "sample_sentence"]


def glue(name: str, value: Any, display: bool = False) -> None:
    """myst-nb's ``glue`` with numpy scalars as Python numbers.

    ``{glue:text}`name:.2f``` formats the glued ``text/plain`` with ``float()``; numpy 2 writes a numpy scalar
    as ``np.float64(0.12)``, which the book build rejects. Notebooks import this instead of ``myst_nb.glue``.

    Parameters
    ----------
    name
        The glue name the markdown pastes.
    value
        A number, a string, or a numpy scalar (converted with ``.item()``).
    display
        Also show the value in the code cell's output (myst-nb's meaning).
    """
    from myst_nb import glue as myst_glue

    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    myst_glue(name, value, display=display)



def describe_difference(quantity: str, name_a: str, name_b: str, difference: float, uncertainty: float, *,
                        unit: str = "", significance: float = 2.0, lower_is_better: bool | None = None) -> str:
    """A paired comparison in words, from the difference ``a − b`` and its uncertainty.

    Parameters
    ----------
    quantity
        What is compared, e.g. ``"test accuracy"`` or ``"median position error"``.
    name_a, name_b
        The two things compared, e.g. ``"XGBoost"`` and ``"the best network"``.
    difference, uncertainty
        ``a − b`` and its standard uncertainty, from one common test set (e.g. a paired bootstrap).
    unit
        Written after the numbers with one space (``"%"``, ``"µm"``).
    significance
        The difference is stated as such when ``|difference| >= significance × uncertainty``; otherwise the
        two are "consistent".
    lower_is_better
        When given, the sentence also says which is better.

    Returns
    -------
    str
        E.g. ``"the test accuracy of XGBoost is higher than that of the DNN by 1.20 ± 0.30 % (4.0σ)"``
        or ``"the test accuracy of XGBoost is consistent with that of the DNN (difference +0.10 ± 0.30 %)"``.
    """
    if not (math.isfinite(difference) and math.isfinite(uncertainty)) or uncertainty < 0:
        msg = f"difference and uncertainty must be finite, uncertainty >= 0; found {difference}, {uncertainty}"
        raise ValueError(msg)
    head = f"the {quantity} of {name_a}"
    if uncertainty == 0 or abs(difference) < significance * uncertainty:
        text = format_with_uncertainty(difference, uncertainty, unit=unit)
        sign = "+" if not text.startswith("−") else ""
        return f"{head} is consistent with that of {name_b} (difference {sign}{text})"
    direction = "higher" if difference > 0 else "lower"
    text = format_with_uncertainty(abs(difference), uncertainty, unit=unit)
    sentence = f"{head} is {direction} than that of {name_b} by {text} ({abs(difference) / uncertainty:.1f}σ)"
    if lower_is_better is not None:
        better = (difference < 0) == lower_is_better
        sentence += f": {name_a if better else name_b} is better"
    return sentence


def sample_sentence(profile: str, sizes: Mapping[str, int], *, note: str = "") -> str:
    """The line a study page opens with: its profile and its sample sizes.

    Examples
    --------
    >>> sample_sentence("ci", {"training tracks": 2000, "test tracks": 800})
    'Profile **ci** (tiny samples that exercise every code path; its numbers mean nothing): 2\u202f000 training tracks, 800 test tracks.'
    """
    meaning = {
        "ci": "tiny samples that exercise every code path; its numbers mean nothing",
        "default": "the samples of `make book`",
        "full": "seed-scale samples, for one GPU",
    }.get(profile, "")
    parts = ", ".join(f"{format_count(int(n))} {label}" for label, n in sizes.items())
    head = f"Profile **{profile}**" + (f" ({meaning})" if meaning else "")
    return f"{head}: {parts}." + (f" {note}" if note else "")
