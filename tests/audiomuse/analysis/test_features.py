import librosa
import numpy as np
import pytest

from audiomuse.analysis.features import OTHER_FEATURES, estimate_key, global_tempo, other_features, signal_features
from audiomuse.analysis.musicnn import MSD_TAGS
from tests.signals import click_track, noise, tone


def _at16k(y):
    return librosa.resample(y, orig_sr=22050, target_sr=16000)


@pytest.mark.parametrize("bpm", [90, 120, 140])
def test_tempo_of_a_click_track(bpm):
    f = signal_features(_at16k(click_track(bpm, 20)))
    assert abs(f["tempo"] - bpm) <= 2


def test_tempo_of_silence_is_zero():
    assert global_tempo(np.zeros(1000), 62.5) == 0.0


def _chords(names):
    return np.concatenate([tone([librosa.note_to_hz(n) for n in chord], 2, sr=16000) for chord in names])


def test_key_and_scale():
    c_major = _chords([["C4", "E4", "G4"], ["F4", "A4", "C5"], ["G4", "B4", "D5"], ["C4", "E4", "G4"]])
    a_minor = _chords([["A3", "C4", "E4"], ["D4", "F4", "A4"], ["E4", "G#4", "B4"], ["A3", "C4", "E4"]])
    assert estimate_key(c_major)[:2] == ("C", "major")
    assert estimate_key(a_minor)[:2] == ("A", "minor")


def test_energy_orders_loud_over_quiet():
    loud = signal_features(noise(5, sr=16000, amp=0.3))
    quiet = signal_features(noise(5, sr=16000, amp=0.03))
    assert loud["energy"] > 5 * quiet["energy"]


def test_other_features_in_range_and_direction():
    base = {"tempo": 120, "energy": 0.1, "scale": "major", "spectral_centroid_hz": 1500, "pulse": 0.5}
    calm = np.zeros(50)
    metal = np.zeros(50)
    metal[MSD_TAGS.index("metal")] = 0.9
    calm[MSD_TAGS.index("ambient")] = 0.9
    f_metal = other_features(metal, {**base, "energy": 0.25})
    f_calm = other_features(calm, {**base, "energy": 0.02})
    assert set(f_metal) == set(OTHER_FEATURES)
    assert all(0 <= v <= 1 for v in [*f_metal.values(), *f_calm.values()])
    assert f_metal["aggressive"] > f_calm["aggressive"] + 0.4
    assert f_calm["relaxed"] > f_metal["relaxed"] + 0.4
    minor = other_features(calm, {**base, "scale": "minor"})
    assert minor["sad"] > other_features(calm, base)["sad"]
