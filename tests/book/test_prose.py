"""The helpers that write numbers as words, and glue (hepnb.book.prose)."""

from __future__ import annotations

import numpy as np
import pytest

from hepnb.book import numbers, prose


def test_glue_writes_numpy_scalars_as_python_numbers() -> None:
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    InteractiveShell.instance()
    with capture_output() as captured:
        prose.glue("acc", np.float64(0.125))
        prose.glue("n", np.int64(7))
    plain = [out.data["application/papermill.record/text/plain"] for out in captured.outputs]
    assert plain == ["0.125", "7"]


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


def test_sample_sentence_names_profile_and_sizes() -> None:
    text = prose.sample_sentence("default", {"training jets": 120000, "test jets": 30000})
    assert text.startswith("Profile **default**")
    assert "120\u202f000 training jets" in text and "30\u202f000 test jets" in text
