"""Text from a results file as page text: whatever a ``results.json`` holds shows as text, never as markup.

A device name, a label or a parameter value reaches the book's Markdown (the landing table, "What results.json
holds"); written as it is, ``<script>`` would run in the reader's browser and a ``|`` would shift a table's
cells. :func:`page_text` escapes HTML (with :mod:`markupsafe`) and the characters that Markdown and MyST give a
meaning, as numeric character references, which the page shows as the characters themselves.
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import escape

__all__ = ["code_span", "page_text"]

#: Characters with a meaning inside a line of CommonMark, GFM tables (|) or MyST (roles, math), written as references.
_MARKDOWN = re.compile(r"[\\`*_{}\[\]|$~]")


def page_text(value: Any) -> str:
    """``value`` as Markdown that renders as exactly its text (HTML and Markdown escaped; one line).

    Examples
    --------
    >>> page_text("<b>x</b> | y")
    '&lt;b&gt;x&lt;/b&gt; &#124; y'
    """
    text = " ".join(str(value).split())  # one line: a newline would end a table row
    return "".join(f"&#{ord(c)};" if _MARKDOWN.fullmatch(c) else str(escape(c)) for c in text)


def code_span(value: Any) -> str:
    """``value`` as an inline code span that no backtick inside it can close early (one line).

    Examples
    --------
    >>> code_span("a`b")
    '`` a`b ``'
    """
    text = " ".join(str(value).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    return f"{fence} {text} {fence}" if longest else f"{fence}{text}{fence}"
