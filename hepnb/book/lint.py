"""The markdown checker: numbers and comparative words in a page's prose must come from the run.

The book's rule (Book v2): every number and every comparative claim in a markdown cell comes from the run,
through myst-nb's glue (``glue("name", value, display=False)`` in a code cell, `` {glue:text}`name:.3f` ``
in markdown, see :func:`hepnb.book.prose.glue`) or through a markdown cell generated in a code cell
(``IPython.display.Markdown``). Output of code cells is never checked; markdown cells are, by
:func:`check_markdown` and :func:`check_notebook`.

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
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ALLOWED_PHRASES",
    "COMPARATIVE_WORDS",
    "GENERATED_KEY",
    "Finding",
    "check_markdown",
    "check_notebook",
    "glue_names_used",
    "glued_names",
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


#: Metadata key of a markdown cell the book layer wrote from the run (:func:`hepnb.book.pages.present_as_paper`):
#: its numbers are the run's, so the checker skips it.
GENERATED_KEY = "hepnb_generated"


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
        if cell.get("metadata", {}).get(GENERATED_KEY):
            continue  # written from the run by the book layer (the run's parameters table), not by hand
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
