"""The tempo and key scores of audiomuse.analysis.accuracy (used by benchmarks/tempo_key.py)."""

import pytest

from audiomuse.analysis.accuracy import acc1, acc2, mean, mirex_key_score, pitch_class


def test_acc1_is_within_four_percent():
    assert acc1(120.0, 120.0)
    assert acc1(124.8, 120.0) and acc1(115.2, 120.0)
    assert not acc1(125.0, 120.0) and not acc1(115.0, 120.0)
    assert not acc1(60.0, 120.0)  # an octave error is not Acc1


def test_acc2_accepts_octave_and_triple_errors():
    for factor in (1, 2, 0.5, 3, 1 / 3):
        assert acc2(90.0 * factor, 90.0)
        assert acc2(90.0 * factor * 1.039, 90.0)
    assert not acc2(90.0 * 1.5, 90.0)  # a 3:2 error is wrong for both
    assert not acc2(90.0 * 4, 90.0)
    assert not acc2(90.0 * 2 * 1.05, 90.0)  # the tolerance is relative to the scaled tempo


def test_no_estimate_or_no_truth_scores_nothing():
    assert not acc1(0.0, 120.0) and not acc2(0.0, 120.0)
    assert not acc1(120.0, 0.0) and not acc2(120.0, 0.0)


def test_mirex_weights():
    assert mirex_key_score("C", "major", "C", "major") == 1.0
    assert mirex_key_score("G", "major", "C", "major") == 0.5  # a fifth above
    assert mirex_key_score("E", "minor", "A", "minor") == 0.5
    assert mirex_key_score("F", "major", "C", "major") == 0.0  # a fifth below: not by default
    assert mirex_key_score("F", "major", "C", "major", allow_descending_fifths=True) == 0.5
    assert mirex_key_score("A", "minor", "C", "major") == 0.3  # relative minor
    assert mirex_key_score("C", "major", "A", "minor") == 0.3  # relative major
    assert mirex_key_score("C", "minor", "C", "major") == 0.2  # parallel
    assert mirex_key_score("A", "major", "A", "minor") == 0.2
    assert mirex_key_score("C#", "major", "C", "major") == 0.0
    assert mirex_key_score("G", "minor", "C", "major") == 0.0  # a fifth in the other mode


def test_mirex_wraps_around_the_octave_and_reads_flats():
    assert mirex_key_score("C#", "major", "F#", "major") == 0.5
    assert mirex_key_score("Db", "major", "Gb", "major") == 0.5
    assert mirex_key_score("Bb", "minor", "Db", "major") == 0.3
    assert mirex_key_score("a#", "Minor", "C#", "Major") == 0.3
    assert mirex_key_score("Eb", "major", "D#", "major") == 1.0


def test_pitch_class_and_bad_names():
    assert [pitch_class(t) for t in ("C", "C#", "Db", "B", "Cb", "B#", "E#")] == [0, 1, 1, 11, 11, 0, 5]
    with pytest.raises(ValueError):
        pitch_class("H")
    with pytest.raises(ValueError):
        mirex_key_score("C", "dorian", "C", "major")


def test_mean():
    assert mean([True, False, True, True]) == 0.75
    assert mean([]) == 0.0
