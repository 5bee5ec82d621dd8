"""Numbers in the page's tables (hepnb.book.numbers): integers as integers, no padding zeros, units in headers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hepnb.book import numbers


@pytest.mark.parametrize(("value", "text"), [
    (408.0, "408"), (np.float64(92.0), "92"), (123456.0, "123\u202f456"), (5177.8, "5178"), (0.5, "0.5"),
    (-0.0012345, "−0.001234"), (2.5e-7, "2.5·10⁻⁷"), (np.int64(7), "7"), (math.nan, "–"), (-math.inf, "−∞"),
    ("dnn", "dnn"), (True, "True"),
])
def test_table_cell_writes_integers_as_integers_and_no_padding(value: object, text: str) -> None:
    assert numbers.table_cell(value) == text


def test_headers_carry_their_units() -> None:
    assert numbers.split_unit("scan_steps_per_s") == ("scan steps", "1/s")
    assert numbers.column_header("pos_median_um") == "pos median [µm]"
    assert numbers.column_header("best_epoch") == "best epoch" and numbers.column_header("AUC (test)") == "AUC (test)"
    html = numbers.page_table(pd.DataFrame({"train_time_s": [1.25, 30.0], "n_tracks": [408.0, 5.0]})).to_html()
    assert "train time [s]" in html and ">408<" in html and ">1.25<" in html and "408.0" not in html
