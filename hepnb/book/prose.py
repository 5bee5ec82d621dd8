"""Prose from the run: the markdown checker, and helpers that write numbers and comparisons as words.

The book's rule (Book v2): every number and every comparative claim in a markdown cell comes from the run,
through myst-nb's glue (``glue("name", value, display=False)`` in a code cell, `` {glue:text}`name:.3f` ``
in markdown) or through a markdown cell generated in a code cell (``IPython.display.Markdown``). Output of
code cells is never checked; markdown cells are, by :func:`check_markdown` and :func:`check_notebook`.

What the checker reports
------------------------
* **number** — a word that starts with a digit (``0.93``, ``85``, ``10⁻⁵``, ``1e-4``, ``5-GeV``), anywhere in
  the prose, headings, tables, link texts and image captions.
* **comparative** — one of :data:`COMPARATIVE_WORDS` (better, worse, beats, outperforms, remains, higher,
  lower, than, …) in the prose.
* **glue** — a glue name used in markdown that no code cell of the executed notebook glues
  (:func:`check_notebook` with ``executed=True``).

What it does not report, and why
--------------------------------
* Anything inside a glue role or directive (`` {glue}`…` ``, `` {glue:text}`…` ``, `` {glue:md}`…` ``,
  `` {glue:any}`…` ``, ```` ```{glue:figure} ```` …): the value comes from the run.
* **Digits inside names**: a digit that follows a letter in the same word is part of a name (RK4, O2,
  float32, π⁰, H200, s₁, ``prob_211``, ``rejection_at_0.5``, RK4-10, ParT-B). A hyphenated word is a name
  when its first part starts with a letter. A word that *starts* with a digit is a number; one that starts
  with a superscript or subscript digit (``‖r‖²``, ``(…)⁻¹``) is an exponent or index, notation.
* Names with a leading digit or a space, and definitions and constants, listed once in
  :data:`ALLOWED_PHRASES` with the reason for each (Run 3, 1-prong, 3-D, "R = 0.4", "91.188 GeV",
  "|η| < 0.8", arXiv identifiers …). The list is short on purpose: a study's own choices (a sample size, a
  cut, a learning rate) are parameters or constants of the run and are glued.
* Markup that is not prose: URLs (link targets, autolinks, bare URLs), HTML tags and comments, list-item
  numbers (``1.`` at the start of a line), footnote labels, the targets of cross-reference roles
  (`` {doc}`…` ``, `` {ref}`…` ``, `` {cite}`…` ``, `` {numref}`…` ``, `` {eq}`…` ``) and the option lines
  of MyST directives (``:width: 80%``).
* Comparative idioms that compare no quantities: "rather than", "other than".

Math and code (the principled rule)
-----------------------------------
A number is a number whatever font it is set in, so ``$…$``, ``$$…$$``, `` {math}`…` ``, inline code and
fenced code blocks are checked for numbers like prose, with two notational exceptions: in math, LaTeX
command names are dropped and a single exponent or index (``x^2``, ``p_{T}``, ``a_1``, ``10^{-5}``'s
exponent) is notation, not a number — the mantissa ``10`` still is one; in code, a digit inside an
identifier is part of a name, as in prose. Comparative words are only looked for in prose and in math
``\\text{…}``: in code and math they are identifiers and symbols.

Writing prose from numbers
--------------------------
:func:`hepnb.book.numbers.format_with_uncertainty` rounds a value and its uncertainty by the PDG rule;
:func:`describe_difference` states a paired comparison in words ("higher than … by … ± …", "consistent
with …"); :func:`sample_sentence` states the profile and the sample sizes; :func:`results_markdown` renders
"What results.json holds" from the results file itself. A study notebook uses them like this::

    from IPython.display import Markdown, display
    from hepnb.book.prose import glue

    from hepnb.book import prose

    display(Markdown(prose.sample_sentence(profile, {"training tracks": n_train, "test tracks": n_test})))
    diff = report["paired"]["XGBoost-DNN"]          # paired bootstrap on one test set
    glue("acc_xgb", 100 * acc_xgb, display=False)    # markdown: {glue:text}`acc_xgb:.1f` %
    display(Markdown("With these samples, " + prose.describe_difference(
        "test accuracy", "XGBoost", "the DNN", diff["value"], diff["std"], unit="%") + "."))
    ...
    display(Markdown(prose.results_markdown(results_file)))   # last cell of the page
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from hepnb.book.numbers import format_count, format_with_uncertainty

__all__ = [
    "ALLOWED_PHRASES",
    "COMPARATIVE_WORDS",
    "Finding",
    "check_markdown",
    "check_notebook",
    "describe_difference",
    "glue",
    "glue_names_used",
    "glued_names",
    "results_markdown",
    "sample_sentence",
]

#: Comparative words that make a claim about numbers; in prose they must come from the run.
COMPARATIVE_WORDS: frozenset[str] = frozenset({
    "better", "worse", "beat", "beats", "beaten", "beating", "outperform", "outperforms", "outperformed",
    "outperforming", "underperform", "underperforms", "underperformed", "remain", "remains", "remained",
    "higher", "lower", "than", "superior", "inferior", "exceed", "exceeds", "exceeded", "surpass",
    "surpasses", "surpassed", "faster", "slower",
})

#: Names with a leading digit or a space, and definitions and constants that may be typed in prose.
#: Each entry is a regular expression and the reason it is not a result of the run. Keep it short: a
#: study's own choices (sizes, cuts, learning rates) are glued from its parameters or constants.
ALLOWED_PHRASES: Mapping[str, str] = {
    r"\bRun\s+[123]\b": "LHC running periods (names)",
    r"\bLS[123]\b": "LHC long shutdowns (names)",
    r"\b[13]-prong\b": "tau decay-mode names",
    r"\b[1234]-?D\b": "dimensions as names (1D, 3-D)",
    r"\b4-(?:vector|momentum|momenta)s?\b": "four-vector names",
    r"\barXiv:\d{4}\.\d{4,5}(?:v\d+)?": "arXiv identifiers",
    r"\b[Ss]eeds?\s+00\d\b": "the project's seed documents (names)",
    r"\bPythia\s?8\b": "the event generator's name",
    r"§\s?\d+(?:\.\d+)*": "section numbers of a cited document",
    r"(?<![\w.])1/(?=[A-Za-zµ])": "reciprocal units (1/GeV, 1/s)",
    r"\bR\s*=\s*0\.4\b": "jet radius, a definition of the jet algorithm",
    r"\b91\.188\s*GeV\b": "the Z mass (PDG), the FCC-ee Z-pole energy",
    r"\|η\|\s*<\s*0\.8\b": "ALICE central-barrel acceptance, a definition",
    r"\b2\.99792458(?:e-?4|\s*·\s*10⁻⁴)?": "the speed of light (exact, SI) in the bending constant",
}

#: Comparative idioms that compare no quantities.
_IDIOMS = re.compile(r"\b(?:rather|other)\s+than\b", re.IGNORECASE)

#: Roles whose content is a reference target, not prose.
_REFERENCE_ROLES = ("doc", "ref", "numref", "eq", "cite", "cite:p", "cite:t", "cite:ps", "cite:ts",
                    "download", "term", "py:func", "py:class", "py:mod", "py:meth", "py:attr", "py:data")

_GLUE_ROLE = re.compile(r"\{glue(?::[a-z]*)?\}`([^`]*)`")
_GLUE_DIRECTIVE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{glue(?::[a-z]*)?\}[ \t]*(?P<arg>[^\n]*)\n"
                             r"(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)
_ROLE = re.compile(r"\{(?P<name>[a-zA-Z][\w:-]*)\}`(?P<content>[^`]*)`")
_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})(?P<info>[^\n]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.MULTILINE | re.DOTALL)
_DISPLAY_MATH = re.compile(r"\$\$(.+?)\$\$", re.DOTALL)
_INLINE_MATH = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<![\s\\])\$(?!\d)")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_HTML_TAG = re.compile(r"</?[a-zA-Z][^>\n]*>")
_AUTOLINK = re.compile(r"<(?:https?|ftp|mailto):[^>\s]+>")
_LINK_TARGET = re.compile(r"(\]\()([^)\s]*)((?:\s+\"[^\"]*\")?\))")
_REF_DEFINITION = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$", re.MULTILINE)
_BARE_URL = re.compile(r"\b(?:https?|ftp)://\S+")
_LIST_MARKER = re.compile(r"^(\s*)\d{1,3}[.)](?=\s)", re.MULTILINE)
_FOOTNOTE = re.compile(r"\[\^[^\]\s]+\]")
_DIRECTIVE_OPTION = re.compile(r"^:[\w-]+:.*$", re.MULTILINE)
_LATEX_COMMAND = re.compile(r"\\[a-zA-Z]+")
_LATEX_TEXT = re.compile(r"\\(?:text|textrm|mbox|textit|textbf)\s*\{([^{}]*)\}")
_LATEX_SCRIPT = re.compile(r"[\^_](?:\{[^{}]*\}|[-+−]?\w)")
_SCIENTIFIC = re.compile(r"(?<![\w.])\d+(?:\.\d+)?[eE][-+−]?\d+\b")
# A word: letters, digits (super/subscripts included), underscores, joined by '.', ',', '⁻', '⁺' or '-'
# between word characters ("hepnb.pid", "1,000", "10⁻⁵", "ParT-B").
_WORD = re.compile(r"[\w⁰-⁹₀-₉]+(?:[.,⁻⁺'’-][\w⁰-⁹₀-₉]+)*")
_ALLOWED = re.compile("|".join(f"(?:{pattern})" for pattern in ALLOWED_PHRASES))

Kind = Literal["number", "comparative", "glue"]


@dataclass(frozen=True)
class Finding:
    """One offending token of a markdown cell.

    Attributes
    ----------
    kind
        ``"number"``, ``"comparative"`` or ``"glue"`` (a glue name that the executed notebook does not glue).
    token
        The word as written.
    context
        The line of the cell it is on (shortened).
    cell
        Index of the cell in the notebook (``None`` for plain markdown text).
    """

    kind: Kind
    token: str
    context: str
    cell: int | None = None

    def __str__(self) -> str:
        where = f"cell {self.cell}: " if self.cell is not None else ""
        return f"{where}{self.kind} {self.token!r} in “{self.context}”"


def _blank(match: re.Match[str]) -> str:
    """Replace a match by spaces, keeping newlines, so that line numbers and contexts survive."""
    return re.sub(r"[^\n]", " ", match.group(0))


_SCRIPT_DIGITS = frozenset("⁰¹²³⁴⁵⁶⁷⁸⁹₀₁₂₃₄₅₆₇₈₉")


def _is_number_word(word: str) -> bool:
    """A word that starts with a digit (a number), as opposed to a digit inside a name (RK4, ParT-B) or an
    exponent or index set in super/subscript (‖x‖², (…)⁻¹), which is notation as ``^2`` is in math."""
    return word[0].isdigit() and word[0] not in _SCRIPT_DIGITS


def _numbers(text: str) -> list[str]:
    """The number words of ``text`` (scientific notation first, then words that start with a digit)."""
    found = [m.group(0) for m in _SCIENTIFIC.finditer(text)]
    text = _SCIENTIFIC.sub(" ", text)
    found += [w for w in _WORD.findall(text) if _is_number_word(w)]
    return found


def _comparatives(text: str) -> list[str]:
    text = _IDIOMS.sub(" ", text)
    return [w for w in re.findall(r"[^\W\d_]+", text) if w.lower() in COMPARATIVE_WORDS]


def _math_numbers(latex: str) -> tuple[list[str], list[str]]:
    """Numbers of a LaTeX formula (single exponents and indices are notation) and the comparatives of its text."""
    texts = " ".join(_LATEX_TEXT.findall(latex))
    latex = _LATEX_TEXT.sub(" ", latex)
    latex = _LATEX_SCRIPT.sub(" ", latex)
    latex = _LATEX_COMMAND.sub(" ", latex)
    return _numbers(latex) + _numbers(texts), _comparatives(texts)


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    line = " ".join(text[start:end if end >= 0 else None].split())
    return line if len(line) <= 160 else line[:157] + "…"


def _strip_glue(text: str) -> str:
    return _GLUE_ROLE.sub(_blank, text)


def _markup_free(text: str) -> str:
    """Blank out what is markup and not prose (comments, tags, URLs, list numbers, footnotes, options)."""
    text = _HTML_COMMENT.sub(_blank, text)
    text = _AUTOLINK.sub(_blank, text)
    text = _REF_DEFINITION.sub(_blank, text)
    text = _LINK_TARGET.sub(lambda m: m.group(1) + " " * len(m.group(2)) + m.group(3), text)
    text = _BARE_URL.sub(_blank, text)
    text = _HTML_TAG.sub(_blank, text)
    text = _FOOTNOTE.sub(_blank, text)
    return _LIST_MARKER.sub(lambda m: m.group(1) + " " * (len(m.group(0)) - len(m.group(1))), text)


def check_markdown(text: str, *, cell: int | None = None) -> list[Finding]:
    """The numbers and comparative words of one markdown text that do not come from the run.

    Parameters
    ----------
    text
        MyST markdown (a notebook's markdown cell, or a page).
    cell
        Cell index recorded in the findings.

    Returns
    -------
    list of Finding
        In reading order within each category: numbers and comparatives of the prose, then of math and
        code. Empty when the text follows the rule.
    """
    findings: list[Finding] = []
    original = text
    text = _strip_glue(text)
    text = _ALLOWED.sub(_blank, text)

    def add(kind: Kind, tokens: Iterable[str], where: int) -> None:
        findings.extend(Finding(kind, token, _line_of(original, where), cell) for token in tokens)

    # fenced blocks: code is checked for numbers; a directive's header (argument, glue name) and option lines
    # are markup, its body is MyST prose (a caption, an admonition), checked with the rest; math is math
    def fence(match: re.Match[str]) -> str:
        info, body = match.group("info").strip(), match.group("body")
        if not info.startswith("{"):
            add("number", _numbers(body), match.start())
            return _blank(match)
        name = info[1:info.index("}")] if "}" in info else info[1:]
        if name in ("math", "glue:math"):
            numbers, comps = _math_numbers(body)
            add("number", numbers, match.start())
            add("comparative", comps, match.start())
            return _blank(match)
        head = match.string[match.start():match.start("body")]
        tail = match.string[match.end("body"):match.end()]
        return " " * (len(head) - 1) + "\n" + _DIRECTIVE_OPTION.sub(_blank, body) + " " * len(tail)

    text = _FENCE.sub(fence, text)

    def role(match: re.Match[str]) -> str:
        name, content = match.group("name"), match.group("content")
        if name == "math":
            numbers, comps = _math_numbers(content)
            add("number", numbers, match.start())
            add("comparative", comps, match.start())
            return _blank(match)
        if name in _REFERENCE_ROLES:
            title = re.match(r"([^<]*)<[^>]*>\s*$", content)
            return " " * (len(name) + 3) + (title.group(1) if title else " " * len(content)).ljust(
                len(content)) + " "
        return " " * (len(name) + 3) + content + " "

    text = _ROLE.sub(role, text)

    def math(match: re.Match[str]) -> str:
        numbers, comps = _math_numbers(match.group(1))
        add("number", numbers, match.start())
        add("comparative", comps, match.start())
        return _blank(match)

    text = _DISPLAY_MATH.sub(math, text)
    text = _INLINE_MATH.sub(math, text)

    def code(match: re.Match[str]) -> str:
        add("number", _numbers(match.group(2)), match.start())
        return _blank(match)

    text = _INLINE_CODE.sub(code, text)
    text = _markup_free(text)
    for match in _SCIENTIFIC.finditer(text):
        add("number", [match.group(0)], match.start())
    text = _SCIENTIFIC.sub(_blank, text)
    for match in _WORD.finditer(text):
        word = match.group(0)
        if _is_number_word(word):
            add("number", [word], match.start())
    prose = _IDIOMS.sub(_blank, text)
    for match in re.finditer(r"[^\W\d_]+", prose):
        if match.group(0).lower() in COMPARATIVE_WORDS:
            add("comparative", [match.group(0)], match.start())
    return findings


def glue_names_used(text: str) -> set[str]:
    """The glue names a markdown text pastes (roles and directives; ``doc::name`` references excluded)."""
    names = set()
    for match in _GLUE_ROLE.finditer(text):
        content = match.group(1).strip()
        role = match.group(0)[: match.group(0).index("`")]
        formatted = role in ("{glue:text}", "{glue:md}") and ":" in content.replace("::", "")
        key = content.rsplit(":", 1)[0] if formatted else content
        if "::" not in key:
            names.add(key.strip())
    for match in _GLUE_DIRECTIVE.finditer(text):
        key = match.group("arg").strip()
        if key and "::" not in key:
            names.add(key)
    return names


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


def _formatted_glue_names(text: str) -> set[str]:
    """The glue names a markdown text pastes through ``{glue:text}`name:FORMAT``` (formatted as a number)."""
    names = set()
    for match in _GLUE_ROLE.finditer(text):
        role, content = match.group(0)[: match.group(0).index("`")], match.group(1).strip()
        if role == "{glue:text}" and ":" in content.replace("::", ""):
            names.add(content.rsplit(":", 1)[0].strip())
    return names


def _glued_text(cells: list[Any]) -> dict[str, str]:
    """Each glued name's ``text/plain`` representation."""
    texts = {}
    for cell in cells:
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if scrapbook and "name" in scrapbook:
                data = output.get("data", {})
                plain = data.get(scrapbook.get("mime_prefix", "") + "text/plain", data.get("text/plain", ""))
                texts[str(scrapbook["name"])] = plain if isinstance(plain, str) else "".join(plain)
    return texts


# What myst-nb's number formats accept (it calls float() on the glued text/plain).
_FLOAT_TEXT = re.compile(r"\s*[+-]?(?:(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)\s*",
                         re.IGNORECASE)


def _cells(notebook: Any) -> list[Any]:
    if isinstance(notebook, (str, os.PathLike)):
        import nbformat

        notebook = nbformat.read(notebook, as_version=4)
    return list(notebook["cells"])


def glued_names(notebook: Any) -> set[str]:
    """The names an executed notebook glues (myst-nb's ``scrapbook`` output metadata).

    Parameters
    ----------
    notebook
        A path or an ``nbformat`` notebook (a plain dict with ``cells`` works too).
    """
    names = set()
    for cell in _cells(notebook):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if scrapbook and "name" in scrapbook:
                names.add(str(scrapbook["name"]))
    return names


def check_notebook(notebook: Any, *, executed: bool = True) -> list[Finding]:
    """Check every markdown cell of a notebook; with ``executed``, also that every glue name used is glued.

    Parameters
    ----------
    notebook
        A path or an ``nbformat`` notebook.
    executed
        The notebook has outputs (e.g. papermill's executed copy); glue names used in markdown that no code
        cell glues, and names pasted with a number format whose glued value is not a plain number (a numpy
        repr such as ``np.float64(0.1)``, which the book build rejects), are reported as ``"glue"`` findings.

    Returns
    -------
    list of Finding
    """
    cells = _cells(notebook)
    findings: list[Finding] = []
    used: dict[str, tuple[int, str]] = {}
    formatted: set[str] = set()
    for index, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        findings += check_markdown(source, cell=index)
        formatted |= _formatted_glue_names(source)
        for name in sorted(glue_names_used(source)):
            pos = source.find(name)
            used.setdefault(name, (index, _line_of(source, max(pos, 0))))
    if executed:
        glued = glued_names(cells and {"cells": cells})
        findings += [Finding("glue", name, context, index) for name, (index, context) in used.items()
                     if name not in glued]
        texts = _glued_text(cells)
        findings += [Finding("glue", f"{name} = {texts[name]}", context, index)
                     for name, (index, context) in used.items()
                     if name in formatted and name in texts and not _FLOAT_TEXT.fullmatch(texts[name])]
    return findings


# --------------------------------------------------------------------------------------------- numbers as words


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


# ------------------------------------------------------------------------------ what results.json holds

#: Unit suffixes of key names (``pos_median_um``) and their symbols.
UNIT_SUFFIXES: Mapping[str, str] = {
    "um": "µm", "mm": "mm", "cm": "cm", "m": "m", "nm": "nm", "s": "s", "ms": "ms", "us": "µs", "ns": "ns",
    "gev": "GeV", "mev": "MeV", "tev": "TeV", "mrad": "mrad", "rad": "rad", "deg": "°", "pct": "%",
    "percent": "%", "per_s": "1/s", "ps": "ps", "t": "T", "bytes": "bytes", "mb": "MB", "gb": "GB",
}


def _unit(key: str) -> str:
    lower = key.lower()
    for suffix in sorted(UNIT_SUFFIXES, key=len, reverse=True):
        if lower.endswith("_" + suffix):
            return UNIT_SUFFIXES[suffix]
    return ""


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "list"
    return "object"


def _signature(value: Any) -> Any:
    """A hashable shape of a JSON value, used to find siblings that share a structure."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, _signature(v)) for k, v in value.items())))
    if isinstance(value, list):
        inner = {_signature(v) for v in value}
        return ("list", tuple(sorted(inner, key=repr)) if len(inner) <= 1 else "mixed")
    kind = _kind(value)
    return "number" if kind in ("int", "float") else kind


def _list_text(value: list[Any]) -> str:
    if not value:
        return "empty list"
    kinds = {_kind(v) for v in value}
    depth, inner = 1, value
    while all(isinstance(v, list) for v in inner) and inner and all(inner):
        depth += 1
        inner = [x for v in inner for x in v]
        kinds = {_kind(v) for v in inner}
    shape = "×".join(str(n) for n in _shape(value)) if depth > 1 else str(len(value))
    kinds_text = "numbers" if kinds <= {"int", "float", "null"} else "/".join(sorted(kinds))
    return f"list of {shape} {kinds_text}"


def _shape(value: Any) -> list[int]:
    shape = []
    while isinstance(value, list) and value:
        shape.append(len(value))
        value = value[0]
    return shape


def _keys_text(keys: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(f"`{k}`" for k in keys[:limit])
    return shown + (f", … ({len(keys)} in all)" if len(keys) > limit else "")


def _describe(key: str, value: Any, depth: int, max_depth: int, lines: list[str], indent: str) -> None:
    unit = _unit(key)
    unit_text = f" [{unit}]" if unit else ""
    if isinstance(value, dict) and isinstance(value.get("label"), str) and "value" in value:
        # a headline entry (hepnb.book.site.headline_entry): its label says what it is
        extra = [k for k in ("uncertainty", "unit") if k in value]
        entry_unit = f" [{value['unit']}]" if value.get("unit") else unit_text
        with_text = f", with {' and '.join(extra)}" if extra else ""
        lines.append(f"{indent}- `{key}`{entry_unit}: “{value['label']}”, {_kind(value['value'])}{with_text}")
        return
    if isinstance(value, dict):
        keys = list(value)
        if not keys:
            lines.append(f"{indent}- `{key}`: empty object")
            return
        children = list(value.values())
        shared = len(keys) > 2 and len({_signature(v) for v in children}) == 1 and isinstance(children[0], dict)
        if shared:
            lines.append(f"{indent}- `{key}`: object keyed by {_keys_text(keys)}; each:")
            if depth < max_depth:
                for sub_key, sub_value in children[0].items():
                    _describe(sub_key, sub_value, depth + 1, max_depth, lines, indent + "  ")
            else:
                lines.append(f"{indent}  - object with {_keys_text(list(children[0]))}")
            return
        if depth >= max_depth:
            lines.append(f"{indent}- `{key}`: object with {_keys_text(keys)}")
            return
        lines.append(f"{indent}- `{key}`: object with {len(keys)} key{'s' if len(keys) != 1 else ''}")
        for sub_key, sub_value in value.items():
            _describe(sub_key, sub_value, depth + 1, max_depth, lines, indent + "  ")
        return
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            fields = list(dict.fromkeys(k for v in value for k in v))
            lines.append(f"{indent}- `{key}`: list of {len(value)} records with {_keys_text(fields, 12)}")
            return
        lines.append(f"{indent}- `{key}`{unit_text}: {_list_text(value)}")
        return
    lines.append(f"{indent}- `{key}`{unit_text}: {_kind(value)}")


def results_markdown(results: str | os.PathLike[str] | Mapping[str, Any], *, max_depth: int = 3,
                     sections: Sequence[str] = ("params", "timings_s", "metrics"),
                     heading: str = "### What `results.json` holds") -> str:
    """Markdown that says what a results file holds, from the file itself.

    Every key of ``params``, ``timings_s`` and ``metrics`` is listed with its type (object, list with its
    shape, number, string); siblings that share one structure (the same record per model or per range)
    are written once, "keyed by …; each: …"; units come from the key names (``pos_median_um`` → µm).

    Parameters
    ----------
    results
        Path of a ``results.json``, or the loaded record.
    max_depth
        Nesting depth written out in full; deeper objects are summarised by their keys.
    sections
        The top-level sections described in detail; the provenance fields are named in one line.
    heading
        The section heading (empty for none).

    Returns
    -------
    str
        Markdown, for ``IPython.display.Markdown`` in the notebook's last cell. No local path appears in it:
        the file is named as ``results/<profile>/<study>/results.json``.
    """
    if isinstance(results, (str, os.PathLike)):
        record = json.loads(Path(results).read_text(encoding="utf-8"))
    else:
        record = dict(results)
    missing = [k for k in ("study", "profile") if k not in record]
    if missing:
        msg = f"not a results record: the keys {missing} are missing (found {sorted(record)[:10]})"
        raise ValueError(msg)
    where = f"`results/{record['profile']}/{record['study']}/results.json`"
    provenance = [k for k in record if k not in sections]
    lines = [heading, ""] if heading else []
    lines += [f"{where} holds the provenance of the run ({_keys_text(provenance, 12)}) and:", ""]
    for section in sections:
        if section in record:
            _describe(section, record[section], 1, max_depth, lines, "")
    return "\n".join(lines) + "\n"
