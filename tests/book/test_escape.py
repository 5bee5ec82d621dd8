"""Values from results.json show as text on every page: no live HTML, no broken table (hepnb.book.escape)."""

from __future__ import annotations

import json
from pathlib import Path

from markdown_it import MarkdownIt

from hepnb.book import headline, results_text, site
from hepnb.book.escape import code_span, page_text

HOSTILE = "<script>alert(1)</script> | *x* {glue}`y` $z$ [l](http://e) \\"


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


def test_page_text_renders_as_exactly_its_text() -> None:
    html = _html(f"| a | b |\n|---|---|\n| {page_text(HOSTILE)} | end |\n")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<td>") == 2, "a | in a value must not add a table cell"
    assert "<em>" not in html and "<a " not in html and "<code>" not in html
    assert "{glue}" in html and "$z$" in html
    assert page_text("two\nlines") == "two lines"


def test_code_span_cannot_be_closed_by_the_value() -> None:
    html = _html(code_span("a`b <i>"))
    assert "<code>a`b &lt;i&gt;</code>" in html


def _record(tmp_path: Path) -> Path:
    folder = tmp_path / "ci" / "environment"
    folder.mkdir(parents=True)
    record = {"study": "environment", "profile": "ci", "created": "2026-12-05<img src=x>", "git_commit": "<b>c</b>",
              "versions": {}, "device": HOSTILE, "params": {"n`<i>": 1}, "timings_s": {},
              "metrics": {"headline": {"x": headline.headline_entry(HOSTILE, "<b>bold</b>", unit="<u>")}}}
    (folder / "results.json").write_text(json.dumps(record))
    return folder / "results.json"


def test_landing_table_and_results_text_escape_every_value(tmp_path: Path) -> None:
    results = _record(tmp_path)
    landing = _html(site.summary_markdown(tmp_path, tmp_path / "executed", profile="ci"))
    described = _html(results_text.results_markdown(results))
    for html in (landing, described):
        assert "<script>" not in html and "<b>" not in html and "<img" not in html and "<u>" not in html
        assert "<i>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in landing
    row = next(tr for tr in landing.split("<tr>") if "alert" in tr)
    assert row.count("<td") == 3, "the environment row keeps its three cells"
