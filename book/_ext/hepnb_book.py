"""Sphinx glue for the hepnb book.

With Jupyter Book 1 (Sphinx 7.4, sphinx-thebe 0.3, sphinx-togglebutton), the inline configuration scripts
that extensions add after the builder starts are emitted twice on every page; browsers then report
``Identifier 'THEBE_JS_URL' has already been declared``. When the build finishes, drop the second copy of
any identical inline ``<script>`` line from the written pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def dedupe_inline_scripts(html: str) -> str:
    """Remove repeated identical inline ``<script>…</script>`` lines (scripts with ``src`` are kept)."""
    seen: set[str] = set()
    kept = []
    for line in html.splitlines(keepends=True):
        text = line.strip()
        if text.startswith("<script>") and text.endswith("</script>"):
            if text in seen:
                continue
            seen.add(text)
        kept.append(line)
    return "".join(kept)


def _on_build_finished(app: Any, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = dedupe_inline_scripts(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app: Any) -> dict[str, Any]:
    app.connect("build-finished", _on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
