"""The project's tempo and key estimators on the generated ground-truth set (``--small``, 24 tracks)
and its tempo estimator on the set's tracker part (6 sample-library modules of stated tempo).

Builds the set with ``audiomuse_run.tempo_key_set`` (cached under ~/.cache/audiomuse; FluidSynth
and the FluidR3 GM soundfont, installed by scripts/install_system_deps.sh when missing) and checks
the scores stay near what they were measured at (benchmarks/tempo_key.py --small: Acc2 95.8 %,
Acc1 87.5 %, MIREX key score 1.000; trackers: Acc2 100 %, Acc1 66.7 %), so a regression of
estimate_tempo or estimate_key fails.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from audiomuse.analysis.accuracy import acc1, acc2, mean, mirex_key_score

ROOT = Path(__file__).resolve().parents[3]
MIN_ACC2 = 0.91  # measured 0.958 (23 of 24; FEATURES_VERSION 1: 0.875)
MIN_ACC1 = 0.83  # measured 0.875 (21 of 24; version 1: 0.792)
MIN_KEY_SCORE = 0.97  # measured 1.000 (24 of 24; version 1: 0.967, one parallel)
MIN_TRACKER_ACC2 = 0.83  # measured 1.000 (6 of 6; Essentia degara the same)
MIN_TRACKER_ACC1 = 0.5  # measured 0.667 (4 of 6: the two IT files' stated beat is 2x and 3x the heard one)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_set() -> Path:
    from audiomuse_run import tempo_key_set as tks

    try:
        tks.check_tools()
    except tks.TempoKeySetError:
        subprocess.run(["bash", str(ROOT / "scripts" / "install_system_deps.sh")], capture_output=True, timeout=900)
        try:
            tks.check_tools()
        except tks.TempoKeySetError as exc:
            pytest.skip(f"cannot build the tempo/key set: {exc}")
    pytest.importorskip("mido", reason="mido (the test extra) writes the set's MIDI songs")
    return tks.build_tempo_key_set(small=True, log=lambda _: None)


def test_the_small_set_covers_keys_meters_and_drums(small_set):
    from audiomuse_run.tempo_key_set import load_truth

    truth = load_truth(small_set)
    assert len(truth) == 24
    assert len({(t["tonic"], t["mode"]) for t in truth}) == 24
    assert {t["meter"] for t in truth} == {"4/4", "3/4", "6/8", "12/8"}
    assert {t["drums"] for t in truth} == {True, False} and {t["swing"] for t in truth} == {True, False}
    assert all(60 <= t["bpm"] <= 200 and t["duration"] >= 30 for t in truth)
    assert all((small_set / t["file"]).exists() for t in truth)


def test_tempo_and_key_scores_do_not_regress(small_set):

    from audiomuse.analysis import features
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    from audiomuse_run.tempo_key_set import load_truth

    truth = load_truth(small_set)
    tempo_ok1, tempo_ok2, key_scores = [], [], []
    for t in truth:
        y = load_audio(small_set / t["file"])
        # as signal_features computes them
        onset = features.tempo_onset(log_mel(y))
        bpm, _ = features.estimate_tempo(onset, features.SAMPLE_RATE / features.MEL_HOP)
        key, scale, _ = features.estimate_key(y)
        tempo_ok1.append(acc1(bpm, t["bpm"]))
        tempo_ok2.append(acc2(bpm, t["bpm"]))
        key_scores.append(mirex_key_score(key, scale, t["tonic"], t["mode"]))
    assert mean(tempo_ok2) >= MIN_ACC2, f"tempo Acc2 {mean(tempo_ok2):.3f} < {MIN_ACC2}"
    assert mean(tempo_ok1) >= MIN_ACC1, f"tempo Acc1 {mean(tempo_ok1):.3f} < {MIN_ACC1}"
    assert mean(key_scores) >= MIN_KEY_SCORE, f"MIREX key score {mean(key_scores):.3f} < {MIN_KEY_SCORE}"


def test_the_small_set_has_tracker_modules_of_stated_tempo(small_set):
    from audiomuse_run.tempo_key_set import load_tracker_truth

    trackers = load_tracker_truth(small_set)
    assert len(trackers) == 6 and all(t["stated"] for t in trackers)
    assert {t["package"] for t in trackers} == {"tecnoballz-data", "pingus-data", "open-invaders-data"}
    assert {t["rows_per_beat_source"] for t in trackers} == {"file", "assumed"}
    for t in trackers:
        assert t["key"] is None and t["duration"] >= 30 and t["bpm_share"] >= 0.9
        assert abs(t["duration_agreement"] - 1) < 0.01, t  # the walked song is as long as the rendered one
        assert (small_set / t["file"]).exists() and (small_set / t["file"]).with_suffix(".json").exists()


def test_tempo_on_tracker_modules_does_not_regress(small_set):
    from audiomuse.analysis import features
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel
    from audiomuse_run.tempo_key_set import load_tracker_truth

    ok1, ok2 = [], []
    for t in load_tracker_truth(small_set, stated_only=True):
        onset = features.tempo_onset(log_mel(load_audio(small_set / t["file"])))
        bpm, _ = features.estimate_tempo(onset, features.SAMPLE_RATE / features.MEL_HOP)
        ok1.append(acc1(bpm, t["bpm"]))
        ok2.append(acc2(bpm, t["bpm"]))
    assert len(ok2) == 6
    assert mean(ok2) >= MIN_TRACKER_ACC2, f"tracker tempo Acc2 {mean(ok2):.3f} < {MIN_TRACKER_ACC2}"
    assert mean(ok1) >= MIN_TRACKER_ACC1, f"tracker tempo Acc1 {mean(ok1):.3f} < {MIN_TRACKER_ACC1}"
