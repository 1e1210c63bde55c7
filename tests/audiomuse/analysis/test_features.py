"""Signal features (tempo, key/scale, energy, descriptors) and the derived mood features."""

import json
import time

import librosa
import numpy as np
import pytest

from audiomuse.analysis import features as F
from audiomuse.analysis.features import OTHER_FEATURES, estimate_key, estimate_tempo, other_features, signal_features
from audiomuse.analysis.musicnn import MSD_TAGS
from tests.signals import click_track, noise, tone


def _at16k(y, sr=22050):
    return librosa.resample(y, orig_sr=sr, target_sr=16000)


@pytest.mark.parametrize("bpm", [90, 120, 140, 75, 170])
def test_tempo_of_a_click_track(bpm):
    f = signal_features(_at16k(click_track(bpm, 20)))
    assert abs(f["tempo"] - bpm) <= 2
    assert f["pulse"] > 0.4  # a metronome is regular


def test_tempo_folds_into_60_200():
    slow = signal_features(_at16k(click_track(40, 30)))["tempo"]  # 40 BPM reads as 80
    assert abs(slow - 80) <= 2
    onset = librosa.onset.onset_strength(y=_at16k(click_track(250, 30)), sr=16000, hop_length=256)
    assert abs(estimate_tempo(onset, 62.5, start_bpm=250)[0] - 125) <= 2  # the prior picks 250: folded


def test_tempo_matches_librosa_tempo_on_the_same_onsets():
    """Every 16th tempogram frame gives librosa.feature.tempo's answer (to its lag grid)."""
    rng = np.random.default_rng(3)
    for bpm in (84, 100, 128, 150):
        y = _at16k(click_track(bpm, 30)) + 0.02 * rng.standard_normal(int(30 * 16000)).astype(np.float32)
        onset = librosa.onset.onset_strength(y=y, sr=16000, hop_length=256)
        ref = float(librosa.feature.tempo(onset_envelope=onset, sr=16000, hop_length=256)[0])
        ours, _ = estimate_tempo(onset, 16000 / 256)
        assert abs(ours - ref) / ref < 0.03, (bpm, ours, ref)


def test_silence_and_tiny_signals():
    for y in (np.zeros(16000 * 5, np.float32), np.zeros(100, np.float32), np.zeros(0, np.float32)):
        f = signal_features(y)
        assert f["tempo"] == 0.0 and f["energy"] == 0.0 and f["pulse"] == 0.0
        assert all(np.isfinite(v) for v in f.values() if isinstance(v, float))
    assert estimate_tempo(np.zeros(1000), 62.5) == (0.0, 0.0)


def test_noise_has_no_pulse_and_is_flat():
    f = signal_features(noise(20, sr=16000, amp=0.1))
    assert f["pulse"] < 0.15
    assert f["spectral_flatness"] > 0.3
    assert f["key_strength"] < 0.5  # no key worth the name


def _chords(names, seconds=2.0):
    return np.concatenate([tone([librosa.note_to_hz(n) for n in chord], seconds, sr=16000) for chord in names])


def test_key_and_scale():
    c_major = _chords([["C4", "E4", "G4"], ["F4", "A4", "C5"], ["G4", "B4", "D5"], ["C4", "E4", "G4"]])
    a_minor = _chords([["A3", "C4", "E4"], ["D4", "F4", "A4"], ["E4", "G#4", "B4"], ["A3", "C4", "E4"]])
    assert estimate_key(c_major)[:2] == ("C", "major")
    assert estimate_key(a_minor)[:2] == ("A", "minor")
    f = signal_features(a_minor)
    assert (f["key"], f["scale"]) == ("A", "minor") and f["key_strength"] > 0.6
    # Transposed up a whole tone: D major, B minor.
    d_major = _chords([["D4", "F#4", "A4"], ["G4", "B4", "D5"], ["A4", "C#5", "E5"], ["D4", "F#4", "A4"]])
    assert estimate_key(d_major)[:2] == ("D", "major")


def test_energy_orders_loud_over_quiet():
    loud = signal_features(noise(5, sr=16000, amp=0.3))
    quiet = signal_features(noise(5, sr=16000, amp=0.03))
    assert loud["energy"] == pytest.approx(0.3, rel=0.05)  # mean RMS, linear amplitude
    assert quiet["energy"] == pytest.approx(0.03, rel=0.05)
    assert loud["loudness_db"] - quiet["loudness_db"] == pytest.approx(20, abs=0.5)


def test_brightness_and_dynamics():
    low = signal_features(tone((200.0,), 5, sr=16000))
    high = signal_features(tone((3000.0,), 5, sr=16000))
    assert low["spectral_centroid_hz"] == pytest.approx(200, abs=60)
    assert high["spectral_centroid_hz"] == pytest.approx(3000, abs=60)
    steady = noise(20, sr=16000, amp=0.1)
    swell = steady * np.repeat(np.geomspace(0.01, 1, 20), 16000).astype(np.float32)  # -40 dB to 0 dB
    assert F.dynamic_range_db(steady) < 1
    assert 15 < F.dynamic_range_db(swell) < 40


def test_onset_rate_counts_clicks():
    assert signal_features(_at16k(click_track(120, 20)))["onset_rate"] == pytest.approx(2.0, abs=0.3)


def test_given_log_mel_is_used():
    from audiomuse.analysis.musicnn import log_mel

    y = _at16k(click_track(120, 20))
    assert signal_features(y, log_mel=log_mel(y)) == signal_features(y)


def _tags(**probs):
    t = np.zeros(len(MSD_TAGS))
    for name, p in probs.items():
        t[MSD_TAGS.index(name.replace("_", " "))] = p
    return t


BASE = {"tempo": 120.0, "energy": 0.1, "loudness_db": -20.0, "scale": "major", "key_strength": 0.8,
        "spectral_centroid_hz": 1500.0, "pulse": 0.5}


def test_other_features_keys_range_and_input_forms():
    rng = np.random.default_rng(0)
    for _ in range(200):
        tags = rng.random(50) ** 3
        signal = {"tempo": rng.uniform(0, 250), "energy": rng.uniform(0, 1), "loudness_db": rng.uniform(-100, 0),
                  "scale": rng.choice(["major", "minor"]), "key_strength": rng.uniform(-1, 1),
                  "spectral_centroid_hz": rng.uniform(0, 8000), "pulse": rng.uniform(0, 1)}
        f = other_features(tags, signal)
        assert tuple(f) == OTHER_FEATURES
        assert all(0.0 <= v <= 1.0 for v in f.values())
    as_array = other_features(_tags(metal=0.6), BASE)
    assert other_features(dict(zip(MSD_TAGS, _tags(metal=0.6))), BASE) == as_array
    assert other_features({"metal": 0.6}, BASE) == as_array
    with pytest.raises(ValueError):
        other_features(np.zeros(49), BASE)


def test_other_features_react_in_the_documented_direction():
    nothing = _tags()
    metal = other_features(_tags(metal=0.7, heavy_metal=0.4),
                           {**BASE, "loudness_db": -9.0, "spectral_centroid_hz": 2600})
    calm = other_features(_tags(ambient=0.6, chillout=0.4), {**BASE, "loudness_db": -28.0, "spectral_centroid_hz": 900})
    assert metal["aggressive"] > calm["aggressive"] + 0.5
    assert calm["relaxed"] > metal["relaxed"] + 0.5

    dance = other_features(_tags(dance=0.5, House=0.4), {**BASE, "tempo": 124.0, "pulse": 0.8})
    still = other_features(nothing, {**BASE, "tempo": 0.0, "pulse": 0.0})
    assert dance["danceable"] > still["danceable"] + 0.5
    assert dance["party"] > still["party"] + 0.4
    # Tempo alone: inside the 90-135 band beats far outside it.
    in_band = other_features(nothing, {**BASE, "tempo": 120})["danceable"]
    assert in_band > other_features(nothing, {**BASE, "tempo": 62})["danceable"] + 0.2

    happy = other_features(_tags(happy=0.2, catchy=0.2, pop=0.4), BASE)
    assert happy["happy"] > other_features(nothing, BASE)["happy"] + 0.4

    minor = {**BASE, "scale": "minor"}
    assert other_features(nothing, minor)["sad"] > other_features(nothing, BASE)["sad"] + 0.2
    assert other_features(nothing, BASE)["happy"] > other_features(nothing, minor)["happy"] + 0.2
    assert other_features(_tags(sad=0.25), minor)["sad"] > other_features(nothing, minor)["sad"] + 0.4
    # A weak key is neither major nor minor.
    atonal = {**BASE, "key_strength": 0.2}
    assert other_features(nothing, atonal)["happy"] < other_features(nothing, BASE)["happy"]
    # Louder is less relaxed, more aggressive.
    quiet, loud = {**BASE, "loudness_db": -30.0}, {**BASE, "loudness_db": -10.0}
    assert other_features(nothing, quiet)["relaxed"] > other_features(nothing, loud)["relaxed"] + 0.4
    assert other_features(nothing, loud)["aggressive"] > other_features(nothing, quiet)["aggressive"]


def test_features_are_cheap():
    """Well under 0.2 CPU-s per audio minute beside the (shared) mel; 0.05-0.08 measured."""
    from audiomuse.analysis.musicnn import log_mel

    rng = np.random.default_rng(5)
    y = (_at16k(click_track(128, 120)) + 0.05 * rng.standard_normal(int(120 * 16000))).astype(np.float32)
    mel = log_mel(y)
    signal_features(y[: 16000 * 10], log_mel=mel[:600])  # first-call costs (imports, numba)
    t = time.process_time()
    signal_features(y, log_mel=mel)
    per_minute = (time.process_time() - t) / 2
    assert per_minute < 0.2, per_minute


@pytest.mark.slow
def test_real_music_tempo_agrees_with_librosa(sample_library):
    """Our tempo vs librosa.feature.tempo on the mean onsets of the MusiCNN mel: the same pulse,
    within 4 % at 1, 2, 3, 1/2 or 1/3 times (Acc2), on real tracks. (Version 1 was librosa's
    estimator and this asked for the same metrical level; version 2 departs from its choice of
    level on purpose: its log1p-flattened peaks let the prior pick ~120 BPM.)"""
    from audiomuse.analysis.accuracy import acc2
    from audiomuse.analysis.decode import load_audio
    from audiomuse.analysis.musicnn import log_mel

    tracks = json.loads((sample_library / "manifest.json").read_text())["tracks"]
    paths = [p for p in (sample_library / t["path"] for t in tracks) if p.exists()]
    if len(paths) < 8:
        pytest.skip(f"sample library at {sample_library} is incomplete (being rebuilt?)")
    agree = 0
    chosen = paths[:: max(1, len(paths) // 8)][:8]
    for path in chosen:
        y = load_audio(path)
        mel = log_mel(y)
        f = signal_features(y, log_mel=mel)
        onset = librosa.onset.onset_strength(S=mel.T, sr=16000, hop_length=256)
        ref = float(librosa.feature.tempo(onset_envelope=onset, sr=16000, hop_length=256)[0])
        while ref > 200:
            ref /= 2
        agree += acc2(f["tempo"], ref)
        assert f["key"] in F.KEYS and f["scale"] in ("major", "minor")
        assert 0 < f["energy"] < 1 and 0 <= f["pulse"] <= 1
    # measured 5 of 8: the three orchestral tracks differ (librosa 121, 129, 125.0 = its prior's lag;
    # ours 112, 87, 163). No truth there: this guards against a broken estimator, not for accuracy.
    assert agree >= len(chosen) // 2
