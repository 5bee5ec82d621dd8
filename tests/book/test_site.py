"""The landing-page table (hepnb.book.site): one profile, human labels with units, every study present."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from hepnb.book import headline, site
from hepnb.book.results import save_results


def _executed(folder: Path, name: str, profile: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"parameters": {"profile": profile}}
    nbformat.write(nb, folder / f"{name}.ipynb")


def _results(root: Path, name: str, profile: str, headline: dict[str, object]) -> None:
    save_results(name, profile, params={}, metrics={"headline": headline}, timings_s={}, results_dir=root)


def test_table_shows_only_the_book_profile_with_human_labels(notebooks: Path, tmp_path: Path) -> None:
    res, out = tmp_path / "results", tmp_path / "executed"
    _results(res, "good", "ci", {"rate": headline.headline_entry("JAX steps/s, scan vs loop", 1.0, unit="1/s")})
    _results(res, "good", "default", {
        "rate": headline.headline_entry("JAX steps/s, scan vs loop", 123456.7, unit="1/s"),
        "acc": headline.headline_entry("test accuracy, XGBoost", 91.234, uncertainty=0.123, unit="%"),
        "scan_s": 0.25,
    })
    _executed(out, "good", "default")
    text = site.summary_markdown(res, out)
    assert "Built at the **default** profile" in text
    assert "JAX steps/s, scan vs loop: **123\u202f457 1/s**" in text
    assert "test accuracy, XGBoost: **91.23 ± 0.12 %**" in text
    assert "scan: **0.25 s**" in text  # a raw key gets a label and the unit of its suffix
    assert "**1 1/s**" not in text and "1.0" not in text, "ci numbers must not appear on a default book"
    # every study is present, linked when its page is of the book's profile
    assert "{doc}`good title <executed/good>`" in text
    assert "| boom title | *not run at the default profile* | |" in text
    assert "| silent title |" in text
    ci = site.summary_markdown(res, out, profile="ci")
    assert "Built at the **ci** profile" in ci and "**1 1/s**" in ci and "123" not in ci
    assert "| good title |" in ci, "a page of another profile is not linked"
    damaged = res / "default" / "silent" / "results.json"
    damaged.parent.mkdir(parents=True)
    damaged.write_text('{"study": "silent", "metrics": [1]}')
    text = site.summary_markdown(res, out)
    assert "| silent title | *its results.json is damaged:" in text and "lacks the required keys" in text


def test_book_profile_is_read_from_the_executed_notebooks(notebooks: Path, tmp_path: Path) -> None:
    out = tmp_path / "executed"
    assert site.book_profile(out) is None
    _executed(out, "good", "ci")
    _executed(out, "boom", "ci")
    assert site.book_profile(out) == "ci"
    _executed(out, "silent", "default")
    with pytest.raises(site.BookError, match="different profiles"):
        site.book_profile(out)


def test_headline_entry_needs_a_label() -> None:
    assert headline.headline_entry("median error", 3.0, uncertainty=0.1, unit="µm") == {
        "label": "median error", "value": 3.0, "uncertainty": 0.1, "unit": "µm"}
    with pytest.raises(ValueError, match="label"):
        headline.headline_entry(" ", 1.0)


def test_landing_numbers_are_the_headline_else_the_first_scalar_metrics() -> None:
    entry = headline.headline_entry("test accuracy", 91.2, uncertainty=0.3, unit="%")
    assert headline.landing_numbers({"metrics": {"headline": {"acc": entry}, "loss": 0.1}}) == {"acc": entry}
    record = {"metrics": {"grid": {"a": 1}, **{f"m{i}": float(i) for i in range(8)}}}
    assert headline.landing_numbers(record) == {f"m{i}": float(i) for i in range(6)}
    assert headline.landing_numbers({}) == {}


def test_a_failed_build_is_never_reported_built_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed `jupyter-book build` raises and leaves its marker; the next build starts from a clean `_build`
    (Sphinx's cache of the failed build would otherwise let it succeed without reading the failed pages)."""
    import subprocess

    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (tmp_path / "intro.md").write_text("# intro\n")
    monkeypatch.setattr(site, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(site, "book_profile", lambda: None)
    monkeypatch.setattr(site, "write_summary", lambda *a, **k: tmp_path / "summary.md")
    outcomes = iter([1, 0])

    def fake_build(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        code = next(outcomes)
        html = tmp_path / "_build" / "html"
        html.mkdir(parents=True, exist_ok=True)
        if code == 0:
            (html / "index.html").write_text("ok")
        else:
            (html / "cached-from-the-failed-build.html").write_text("stale")
        return subprocess.CompletedProcess(cmd, code, "WARNING: a page failed", "")

    monkeypatch.setattr(site.subprocess, "run", fake_build)
    with pytest.raises(site.BookError, match="a page failed"):
        site.build_book()
    assert (tmp_path / "_build" / site.FAILED_MARKER).is_file()
    assert site.build_book() == tmp_path / "_build" / "html" / "index.html"
    assert not (tmp_path / "_build" / "html" / "cached-from-the-failed-build.html").exists()
    assert not (tmp_path / "_build" / site.FAILED_MARKER).exists()


def test_no_partial_or_failed_notebook_enters_the_site() -> None:
    import yaml

    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "_config.yml").read_text())
    assert config["only_build_toc_files"] is True
    assert {"**/.*.partial.ipynb", "**/*.failed.ipynb"} <= set(config["exclude_patterns"])


def test_a_non_finite_headline_is_said_to_be_one() -> None:
    for value in (float("nan"), float("inf")):
        text = headline.headline_text("acc", headline.headline_entry("test accuracy", value, uncertainty=0.1))
        assert text == f"test accuracy: **not a finite number** (the run gave {value})"
    assert headline.headline_text("big", 1e308) == "big: **1·10³⁰⁸**"
