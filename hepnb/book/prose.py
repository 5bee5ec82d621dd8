"""Prose from the run: glue, and sentences that write numbers and comparisons as words.

The book's rule (Book v2): every number and every comparative claim in a markdown cell comes from the run
(:mod:`hepnb.book.lint` checks it). Numbers reach markdown through :func:`glue` (`` {glue:text}`name:.3f` ``)
or through a markdown cell generated in a code cell (``IPython.display.Markdown``).

Writing prose from numbers
--------------------------
:func:`hepnb.book.numbers.format_with_uncertainty` rounds a value and its uncertainty by the PDG rule;
:func:`hepnb.book.verdict.paired_verdict` states a paired comparison in words through the verdict gate (a
ranking only between converged models and beyond twice the combined uncertainty; otherwise "not converged" or
"consistent"); :func:`sample_sentence` states the profile and the sample sizes;
:func:`hepnb.book.results_text.results_markdown` renders "What results.json holds" from the results file
itself. A study notebook uses them like this::

    from IPython.display import Markdown, display
    from hepnb.book.prose import glue

    from hepnb.book import prose, results_text
    from hepnb.book.verdict import Contender, paired_verdict

    display(Markdown(prose.sample_sentence(profile, {"training tracks": n_train, "test tracks": n_test})))
    diff = report["paired"]["XGBoost-DNN"]          # paired bootstrap on one test set
    glue("acc_xgb", 100 * acc_xgb, display=False)    # markdown: {glue:text}`acc_xgb:.1f` %
    said = paired_verdict("test accuracy", Contender("XGBoost"), Contender("the DNN", dnn_fit.converged), diff,
                          lower_is_better=False, seed_std=seed_std, unit="%")
    display(Markdown("With these samples, " + said.sentence + "."))
    ...
    display(Markdown(results_text.results_markdown(results_file)))   # last cell of the page
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hepnb.book.numbers import format_count

__all__ = ["glue", "sample_sentence"]


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
