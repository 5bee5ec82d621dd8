"""HepMC3 input and output: a hand-written HepMC3 file (not made by the study's writer) read through pyhepmc,
HepMC3's own reader; the study's writer read back by the same reader; jets of HepMC3 events; bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hepnb.tau.hepmc import HepMC3Writer, mother_list, read_hepmc3

#: Two events written by hand in the HepMC3 ASCII format. Event 0: e⁺e⁻ → Z → τ⁻τ⁺ at a displaced beam spot,
#: τ⁻ → π⁻ π⁰ ν (π⁰ → γγ at a vertex without a position, which inherits the τ decay vertex), τ⁺ → e⁺ ν ν̄.
#: Event 1, in MeV and cm: a pion and a K⁰_S that decays 3 cm away into π⁺π⁻.
HAND_WRITTEN = """HepMC::Version 3.02.05
HepMC::Asciiv3-START_EVENT_LISTING
E 0 5 13
U GEV MM
P 1 0 11 0.0 0.0 45.594 45.594 0.000511 4
P 2 0 -11 0.0 0.0 -45.594 45.594 0.000511 4
V -1 0 [1,2] @ 0.001 -0.0001 0.2 0.0
P 3 -1 23 0.0 0.0 0.0 91.188 91.188 22
V -2 0 [3]
P 4 -2 15 20.0 30.0 10.0 37.5 1.777 2
P 5 -2 -15 -20.0 -30.0 -10.0 37.5 1.777 2
V -3 0 [4] @ 1.001 1.4999 0.7 0.0
P 6 -3 -211 8.0 12.0 4.0 15.0 0.13957 1
P 7 -3 111 6.0 9.0 3.0 11.3 0.135 2
P 8 -3 16 6.0 9.0 3.0 11.2 0.0 1
V -4 0 [7]
P 9 -4 22 3.1 4.4 1.6 5.6 0.0 1
P 10 -4 22 2.9 4.6 1.4 5.6 0.0 1
V -5 0 [5] @ -0.999 -1.5001 -0.3 0.0
P 11 -5 -11 -10.0 -15.0 -5.0 18.7 0.000511 1
P 12 -5 12 -5.0 -7.0 -2.0 8.8 0.0 1
P 13 -5 -16 -5.0 -8.0 -3.0 10.0 0.0 1
E 1 2 6
U MEV CM
P 1 0 11 0.0 0.0 45594.0 45594.0 0.511 4
P 2 0 -11 0.0 0.0 -45594.0 45594.0 0.511 4
V -1 0 [1,2] @ 0.0 0.0 0.01 0.0
P 3 -1 211 5000.0 0.0 0.0 5001.9 139.57 1
P 4 -1 310 0.0 3000.0 0.0 3041.0 497.6 2
V -2 0 [4] @ 0.0 3.0 0.01 0.0
P 5 -2 211 100.0 1500.0 0.0 1510.0 139.57 1
P 6 -2 -211 -100.0 1500.0 0.0 1510.0 139.57 1
HepMC::Asciiv3-END_EVENT_LISTING
"""


@pytest.fixture
def hand_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.hepmc3"
    path.write_text(HAND_WRITTEN)
    return path


def test_hand_written_file(hand_file: Path) -> None:
    gen = read_hepmc3(hand_file)
    assert gen.n_events == 2
    p = gen.particles
    ev0 = p["event"] == 0
    assert sorted(p["pid"][ev0].tolist()) == [-211, -11, 22, 22]  # neutrinos dropped
    pion = ev0 & (p["pid"] == -211)
    assert (p["x"][pion][0], p["y"][pion][0], p["z"][pion][0]) == pytest.approx((1.001, 1.4999, 0.7))
    photons = ev0 & (p["pid"] == 22)
    np.testing.assert_allclose(p["x"][photons], 1.001)  # the π⁰ vertex inherits the τ decay vertex
    assert p["charge"][pion][0] == -1.0 and np.all(p["charge"][photons] == 0)
    ev1 = p["event"] == 1
    assert sorted(p["pid"][ev1].tolist()) == [-211, 211, 211]
    daughters = ev1 & (np.hypot(p["x"], p["y"]) > 1)
    assert daughters.sum() == 2
    np.testing.assert_allclose(p["y"][daughters], 30.0)  # 3 cm in mm
    np.testing.assert_allclose(p["px"][ev1 & (p["y"] == 0)], 5.0)  # MeV in GeV
    taus = gen.taus
    assert taus["event"].tolist() == [0, 0]
    by_charge = {int(q): i for i, q in enumerate(taus["charge"])}
    minus, plus = by_charge[-1], by_charge[1]
    assert taus["dm"][minus] == 1  # 1 prong + 1 π⁰
    assert taus["dm"][plus] == -1  # leptonic
    np.testing.assert_allclose(taus["vis"][minus], [14.0, 21.0, 7.0, 26.3])
    assert gen.prompt_lepton.tolist() == [0, 0]  # the e⁺ comes from a τ


def test_jets_of_a_hand_written_file(hand_file: Path) -> None:
    from hepnb.tau.data import read_sample

    sample = read_sample(hand_file, seed=3)
    assert len(sample.taus) == 1 and int(sample.taus.reco[0]) == 1
    origin = np.asarray(sample.jets.origin)
    assert np.sum(origin == 1) == 1 and np.sum(origin == 2) == 1
    tau = np.asarray(sample.jets.is_tau) == 1
    assert int(np.asarray(sample.jets.decay_mode)[tau][0]) == 1
    assert int(np.asarray(sample.jets.charge)[tau][0]) == 0  # τ⁻


def test_bad_hepmc_files(tmp_path: Path) -> None:
    from hepnb.tau.data import read_sample

    text = tmp_path / "junk.hepmc3"
    text.write_text("this is not an event file\n")
    with pytest.raises(ValueError, match="junk.hepmc3"):
        read_hepmc3(text)
    with pytest.raises(ValueError, match="does not exist"):
        read_sample(tmp_path / "missing.hepmc3")


def test_writer_round_trip(tmp_path: Path) -> None:
    """The study's writer, read back by pyhepmc, gives the particles, vertices and taus of the Pythia record."""
    from hepnb.tau.events import gen_events, pythia_records

    record = next(pythia_records("ztautau", 15, seed=8))
    writer = HepMC3Writer(tmp_path / "out.hepmc3")
    writer.write(record)
    path = writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["out.hepmc3"]
    back, direct = read_hepmc3(path), gen_events(record)
    for key, value in direct.particles.items():
        np.testing.assert_allclose(back.particles[key], value, atol=1e-9, err_msg=key)
    for key, value in direct.taus.items():
        np.testing.assert_allclose(back.taus[key], value, atol=1e-9, err_msg=key)


def test_mother_list_rules() -> None:
    """Pythia's motherList: beams none, one mother, a range for string hadrons (81–86), two separate ones."""
    assert mother_list(-12, 0, 0) == []
    assert mother_list(-22, 3, 4) == [3, 4]
    assert mother_list(83, 10, 14) == [10, 11, 12, 13, 14]
    assert mother_list(-51, 7, 0) == [7]
    assert mother_list(-44, 9, 5) == [5, 9]


def _damaged(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_cut_inside_its_second_event_is_refused(tmp_path: Path) -> None:
    """pyhepmc stops at a damaged event and says so only on stderr; the reader counts the events and refuses."""
    cut = HAND_WRITTEN[:HAND_WRITTEN.index("P 4 -1 310")]
    with pytest.raises(ValueError, match="ends inside event 1 .* cut short"):
        read_hepmc3(_damaged(tmp_path, "cut.hepmc3", cut))
    mid_line = HAND_WRITTEN[:HAND_WRITTEN.index("P 4 -1 310") + 7]
    with pytest.raises(ValueError, match="ends inside event 1 .* cut short"):
        read_hepmc3(_damaged(tmp_path, "mid.hepmc3", mid_line))


def test_unknown_units_are_refused_not_taken_for_cm(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"event 1 has the units TEV KM; expected a momentum unit of \['GEV', 'MEV'\]"):
        read_hepmc3(_damaged(tmp_path, "units.hepmc3", HAND_WRITTEN.replace("U MEV CM", "U TEV KM")))


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_non_finite_momenta_are_refused_with_the_event(tmp_path: Path, value: str) -> None:
    text = HAND_WRITTEN.replace("P 6 -3 -211 8.0 12.0", f"P 6 -3 -211 {value} 12.0")
    with pytest.raises(ValueError, match=r"event 0: particle 6 \(PDG id -211\) has a non-finite momentum"):
        read_hepmc3(_damaged(tmp_path, "nan.hepmc3", text))


def test_the_hand_written_file_compressed_reads_the_same(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "events.hepmc3.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HAND_WRITTEN)
    plain = read_hepmc3(_damaged(tmp_path, "plain.hepmc3", HAND_WRITTEN))
    packed = read_hepmc3(path)
    assert packed.n_events == 2
    np.testing.assert_array_equal(packed.particles["pid"], plain.particles["pid"])
