"""The markdown checker (hepnb.book.lint): numbers and comparative words of the prose come from the run."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from hepnb.book import lint


def _tokens(text: str, kind: str | None = None) -> list[str]:
    return [f.token for f in lint.check_markdown(text) if kind is None or f.kind == kind]


@pytest.mark.parametrize(("text", "expected"), [
    ("XGBoost remains the reference to beat.", ["remains", "beat"]),
    ("The networks are better, the trees worse; ParT outperforms the Transformer.", ["better", "worse",
                                                                                     "outperforms"]),
    ("Its error is higher (lower) than RK4's.", ["higher", "lower", "than"]),
])
def test_comparative_words_are_found(text: str, expected: list[str]) -> None:
    assert _tokens(text, "comparative") == expected
    assert _tokens(text, "number") == []


@pytest.mark.parametrize(("text", "expected"), [
    ("The visible-pT spectrum peaks near 40 GeV.", ["40"]),
    ("N = 50 steps are 103.6 mm long; 0.026 / 0.015.", ["50", "103.6", "0.026", "0.015"]),
    ("π 85 %, K 9 %, split 70/10/20 and 0–1 GeV/c", ["85", "9", "70", "10", "20", "0", "1"]),
    ("learning rate 1e-4, σ = 4·10⁻⁵, 5-GeV bins, 1,000 jets, 16× faster", ["1e-4", "4", "10⁻⁵", "5-GeV",
                                                                           "1,000", "16"]),
    ("## 3 results\n| model | 0.93 |\n|---|---|", ["3", "0.93"]),
    ("a [link with 2 words](https://example.org/3) and ![caption 7](fig/8.png)", ["2", "7"]),
])
def test_numbers_are_found(text: str, expected: list[str]) -> None:
    assert _tokens(text, "number") == expected


def test_digits_inside_names_are_allowed() -> None:
    text = ("RK4, RK4-10, O2 and O2Physics, float32, bfloat16, π⁰, K⁰, s₁, x², H200, ParT-B, Run 3, LS3, "
            "3-prong and 1-prong modes, a 3-D map, 4-vectors, arXiv:2606.18460, seed 002, `prob_211`, "
            "`rejection_at_0.5`, `hepnb.pid.data`, `results/<profile>/pid_ranges/results.json`, Pythia 8, "
            "reference/tau.md §5.2, q/p in 1/GeV, ‖r‖², (AᵀA)⁻¹.")
    assert lint.check_markdown(text) == []


def test_definitions_and_constants_are_allowed_and_documented() -> None:
    text = "Jets with R = 0.4 at √s = 91.188 GeV; tracks with |η| < 0.8; κ = 2.99792458e-4 GeV/(T·mm)."
    assert lint.check_markdown(text) == []
    assert all(reason for reason in lint.ALLOWED_PHRASES.values())
    assert len(lint.ALLOWED_PHRASES) <= 15, "the list of allowed phrases must stay short"


def test_glue_roles_are_not_checked_but_the_prose_around_them_is() -> None:
    text = ("Accuracy {glue:text}`acc_xgb:.3f` ± {glue:text}`acc_xgb_err:.3f`, {glue}`n_train` tracks, "
            "{glue:md}`verdict`, {glue:any}`table`; 12 more.")
    assert _tokens(text) == ["12"]


def test_glue_figure_caption_is_prose_but_its_name_and_options_are_not() -> None:
    text = "```{glue:figure} fig_3\n:width: 80%\n:name: fig-2\n\nCaption with 12 things\n```\n"
    assert _tokens(text) == ["12"]
    assert lint.glue_names_used(text) == {"fig_3"}


def test_math_and_code_are_no_loophole() -> None:
    # numbers in math and code are numbers; exponents and indices are notation; code identifiers are names
    assert _tokens(r"$\sigma/p_T = 2.5 \cdot 10^{-3}$ and $x_1^2$") == ["2.5", "10"]
    assert _tokens(r"$$\frac{a}{b}\quad\text{beats } 4$$") == ["4", "beats"]
    assert _tokens("run `hepnb run env -p n_steps 1000` with `float32`") == ["1000"]
    assert _tokens("```console\nhepnb tau generate --tau-events 20000\n```\n") == ["20000"]
    assert _tokens("{math}`a = 3`") == ["3"]
    # comparative words in code are identifiers
    assert _tokens("the key `better_than_rk4`") == []


def test_markup_is_not_prose() -> None:
    text = ("1. first\n2. second <br> <!-- 77 --> <https://a.b/3> see https://x.org/9 and [^1]\n"
            "{doc}`the PID page <executed/pid_ranges>` {cite}`qu2022` {ref}`sec-3`\n"
            "```{note}\n:class: 12\nrather than and other than a number\n```\n")
    assert lint.check_markdown(text) == []


def test_reference_role_titles_are_prose() -> None:
    assert _tokens("{doc}`Page 3 <executed/pid_ranges>`") == ["3"]


def test_findings_carry_cell_and_line() -> None:
    found = lint.check_markdown("first line\nsecond line has 42 in it", cell=5)
    assert [(f.kind, f.token, f.context, f.cell) for f in found] == [
        ("number", "42", "second line has 42 in it", 5)]
    assert "cell 5" in str(found[0])


def _executed(tmp_path: Path, markdown: str, glued: list[str], text: str = "1") -> Path:
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("from myst_nb import glue")
    code.outputs = [nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": text},
                                           metadata={"scrapbook": {"name": name,
                                                                   "mime_prefix": "application/papermill.record/"}})
                    for name in glued]
    nb.cells = [nbformat.v4.new_markdown_cell(markdown), code]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    return path


def test_every_glue_name_used_must_be_glued(tmp_path: Path) -> None:
    path = _executed(tmp_path, "{glue:text}`acc:.3f` and {glue}`n_train`", ["acc"])
    assert lint.glued_names(path) == {"acc"}
    found = lint.check_notebook(path)
    assert [(f.kind, f.token, f.cell) for f in found] == [("glue", "n_train", 0)]
    assert lint.check_notebook(path, executed=False) == []
    good = _executed(tmp_path, "{glue:text}`acc:.3f` and {glue}`n_train`", ["acc", "n_train"])
    assert lint.check_notebook(good) == []


def test_a_number_format_needs_a_plain_number_glued(tmp_path: Path) -> None:
    """numpy 2 writes np.float64(0.12); {glue:text}`x:.2f` then fails the book build, so the check says so."""
    bad = _executed(tmp_path, "{glue:text}`acc:.3f`", ["acc"], text="np.float64(0.12)")
    assert [(f.kind, f.token) for f in lint.check_notebook(bad)] == [("glue", "acc = np.float64(0.12)")]
    unformatted = _executed(tmp_path, "{glue}`acc`", ["acc"], text="np.float64(0.12)")
    assert lint.check_notebook(unformatted) == []


def test_glue_names_used_parses_formats_and_skips_other_documents() -> None:
    text = "{glue:text}`acc:.3f` {glue}`n` {glue:md}`table:myst` {glue:text}`other::x:.2f` {glue:}`y`"
    assert lint.glue_names_used(text) == {"acc", "n", "table", "y"}
