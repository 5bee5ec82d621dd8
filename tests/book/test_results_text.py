"""What results.json holds, in words (hepnb.book.results_text)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hepnb.book import results_text


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
    text = results_text.results_markdown(path)
    assert "`results/ci/demo/results.json`" in text and str(tmp_path) not in text
    assert "- `n_tracks`: int" in text and "- `selection`: str" in text
    assert "- `pos_median_um` [µm]: float" in text
    assert "- `acc` [%]: “test accuracy, XGBoost”, float, with uncertainty and unit" in text
    assert "`grid`: object keyed by `0-1/seed`, `0-1/corrected`, `1-3/seed`, `1-3/corrected`; each:" in text
    assert "list of 2 records with `model`, `pos_mean_um`" in text
    assert "`confusion`: list of 3×2 numbers" in text
    # changing the file changes the text
    record["metrics"]["extra_s"] = 1.0
    assert "`extra_s` [s]: float" in results_text.results_markdown(record)
    with pytest.raises(ValueError, match="not a results record"):
        results_text.results_markdown({"metrics": {}})
