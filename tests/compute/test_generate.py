"""The generator commands' shared checks (hepnb.compute.generate): working folders refused before any work."""

from __future__ import annotations

from pathlib import Path

import pytest

from hepnb.cli import main
from hepnb.compute.generate import check_folders


def test_working_folders_that_clash_with_the_output_or_an_input_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "jets.parquet"
    with pytest.raises(ValueError, match="--cache-dir .* is \\(or lies inside\\) the output file"):
        check_folders(out, {"--cache-dir": out})
    with pytest.raises(ValueError, match="--hepmc-dir .* is \\(or lies inside\\) the output file"):
        check_folders(out, {"--hepmc-dir": out / "hepmc"})
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match="--cache-dir .*a_file is an existing file, expected a folder"):
        check_folders(out, {"--cache-dir": tmp_path / "a_file"})
    src = tmp_path / "inputs"
    with pytest.raises(ValueError, match="lies inside the input"):
        check_folders(out, {"--cache-dir": src / "cache"}, inputs=[src])
    check_folders(out, {"--cache-dir": tmp_path / "cache", "--hepmc-dir": None})  # fine


def test_a_cache_equal_to_the_output_is_refused_before_generating(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tracks.parquet"
    assert main(["tracks", "generate", "--n", "50", "--output", str(out), "--cache-dir", str(out)]) == 2
    assert "--cache-dir" in capsys.readouterr().err and not out.exists()
