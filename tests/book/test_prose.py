"""The prose checker and the helpers that write numbers as words (hepnb.book.prose)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pytest

from hepnb.book import numbers, prose


def _tokens(text: str, kind: str | None = None) -> list[str]:
    return [f.token for f in prose.check_markdown(text) if kind is None or f.kind == kind]


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
    assert prose.check_markdown(text) == []


def test_definitions_and_constants_are_allowed_and_documented() -> None:
    text = "Jets with R = 0.4 at √s = 91.188 GeV; tracks with |η| < 0.8; κ = 2.99792458e-4 GeV/(T·mm)."
    assert prose.check_markdown(text) == []
    assert all(reason for reason in prose.ALLOWED_PHRASES.values())
    assert len(prose.ALLOWED_PHRASES) <= 15, "the list of allowed phrases must stay short"


def test_glue_roles_are_not_checked_but_the_prose_around_them_is() -> None:
    text = ("Accuracy {glue:text}`acc_xgb:.3f` ± {glue:text}`acc_xgb_err:.3f`, {glue}`n_train` tracks, "
            "{glue:md}`verdict`, {glue:any}`table`; 12 more.")
    assert _tokens(text) == ["12"]


def test_glue_figure_caption_is_prose_but_its_name_and_options_are_not() -> None:
    text = "```{glue:figure} fig_3\n:width: 80%\n:name: fig-2\n\nCaption with 12 things\n```\n"
    assert _tokens(text) == ["12"]
    assert prose.glue_names_used(text) == {"fig_3"}


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
    assert prose.check_markdown(text) == []


def test_reference_role_titles_are_prose() -> None:
    assert _tokens("{doc}`Page 3 <executed/pid_ranges>`") == ["3"]


def test_findings_carry_cell_and_line() -> None:
    found = prose.check_markdown("first line\nsecond line has 42 in it", cell=5)
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
    assert prose.glued_names(path) == {"acc"}
    found = prose.check_notebook(path)
    assert [(f.kind, f.token, f.cell) for f in found] == [("glue", "n_train", 0)]
    assert prose.check_notebook(path, executed=False) == []
    good = _executed(tmp_path, "{glue:text}`acc:.3f` and {glue}`n_train`", ["acc", "n_train"])
    assert prose.check_notebook(good) == []


def test_a_number_format_needs_a_plain_number_glued(tmp_path: Path) -> None:
    """numpy 2 writes np.float64(0.12); {glue:text}`x:.2f` then fails the book build, so the check says so."""
    bad = _executed(tmp_path, "{glue:text}`acc:.3f`", ["acc"], text="np.float64(0.12)")
    assert [(f.kind, f.token) for f in prose.check_notebook(bad)] == [("glue", "acc = np.float64(0.12)")]
    unformatted = _executed(tmp_path, "{glue}`acc`", ["acc"], text="np.float64(0.12)")
    assert prose.check_notebook(unformatted) == []


def test_glue_writes_numpy_scalars_as_python_numbers() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        prose.glue("acc", np.float64(0.125))
        prose.glue("n", np.int64(7))
    plain = [out.data["application/papermill.record/text/plain"] for out in captured.outputs]
    assert plain == ["0.125", "7"]


def test_glue_names_used_parses_formats_and_skips_other_documents() -> None:
    text = "{glue:text}`acc:.3f` {glue}`n` {glue:md}`table:myst` {glue:text}`other::x:.2f` {glue:}`y`"
    assert prose.glue_names_used(text) == {"acc", "n", "table", "y"}


@pytest.mark.parametrize(("value", "err", "expected"), [
    (0.91234, 0.00123, "0.9123 ± 0.0012"),   # 123 -> two significant digits
    (0.91234, 0.00500, "0.912 ± 0.005"),     # 500 -> one
    (0.91234, 0.00980, "0.912 ± 0.010"),     # 980 -> rounds up to 1000, two digits
    (12.3456, 0.0354, "12.346 ± 0.035"),
    (-3.21, 0.36, "−3.2 ± 0.4"),
    (1234.5, 56.0, "1230 ± 60"),
])
def test_pdg_rounding(value: float, err: float, expected: str) -> None:
    assert numbers.format_with_uncertainty(value, err) == expected


def test_describe_difference_states_direction_and_significance() -> None:
    higher = prose.describe_difference("test accuracy", "XGBoost", "the DNN", 1.2, 0.3, unit="%")
    assert higher == "the test accuracy of XGBoost is higher than that of the DNN by 1.20 ± 0.30 % (4.0σ)"
    lower = prose.describe_difference("median error", "the MLP", "RK4-10", -3.0, 0.5, unit="µm",
                                      lower_is_better=True)
    assert lower.startswith("the median error of the MLP is lower than that of RK4-10 by 3.0 ± 0.5 µm")
    assert lower.endswith(": the MLP is better")
    same = prose.describe_difference("macro AUC", "ParT", "the Transformer", -0.001, 0.002)
    assert same == "the macro AUC of ParT is consistent with that of the Transformer (difference −0.0010 ± 0.0020)"
    with pytest.raises(ValueError, match="finite"):
        prose.describe_difference("x", "a", "b", float("nan"), 0.1)


def test_sample_sentence_names_profile_and_sizes() -> None:
    text = prose.sample_sentence("default", {"training jets": 120000, "test jets": 30000})
    assert text.startswith("Profile **default**")
    assert "120\u202f000 training jets" in text and "30\u202f000 test jets" in text


def test_results_markdown_is_generated_from_the_file(tmp_path: Path) -> None:
    record = {
        "study": "demo", "profile": "ci", "created": "2026-01-01T00:00", "git_commit": "abc", "versions": {},
        "device": "cpu", "params": {"n_tracks": 100, "selection": "o2"}, "timings_s": {"total": 1.5},
        "metrics": {
            "headline": {"pos_median_um": 12.5, "best": "MLP-4",
                         "acc": {"label": "test accuracy, XGBoost", "value": 91.2, "uncertainty": 0.3, "unit": "%"}},
            "grid": {f"{r}/{p}": {"accuracy": {"value": 0.9, "std": 0.01}, "per_class": [0.1, 0.2]}
                     for r in ("0-1", "1-3") for p in ("seed", "corrected")},
            "leaderboard": [{"model": "RK4-10", "pos_mean_um": 3.0}, {"model": "MLP", "pos_mean_um": 9.0}],
            "confusion": [[1, 2], [3, 4], [5, 6]],
        },
    }
    path = tmp_path / "results.json"
    path.write_text(json.dumps(record))
    text = prose.results_markdown(path)
    assert "`results/ci/demo/results.json`" in text and str(tmp_path) not in text
    assert "- `n_tracks`: int" in text and "- `selection`: str" in text
    assert "- `pos_median_um` [µm]: float" in text
    assert "- `acc` [%]: “test accuracy, XGBoost”, float, with uncertainty and unit" in text
    assert "`grid`: object keyed by `0-1/seed`, `0-1/corrected`, `1-3/seed`, `1-3/corrected`; each:" in text
    assert "list of 2 records with `model`, `pos_mean_um`" in text
    assert "`confusion`: list of 3×2 numbers" in text
    # changing the file changes the text
    record["metrics"]["extra_s"] = 1.0
    assert "`extra_s` [s]: float" in prose.results_markdown(record)
    with pytest.raises(ValueError, match="not a results record"):
        prose.results_markdown({"metrics": {}})
