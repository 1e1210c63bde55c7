"""Signal features per track (tempo, key, scale, energy, ...) and the derived mood features.

Signal features reuse the MusiCNN log-mel where they can, so they cost little beside the model:
tempo from the mel onset envelope (librosa's tempo estimator), key and scale from a coarse chroma
correlated with the Krumhansl-Schmuckler profiles, energy as the mean frame RMS of the 16 kHz signal.

The original's "other features" came from Essentia heads licensed CC BY-NC-SA, not available here.
They are derived openly instead, from the 50 MSD tag probabilities (t[...]) and signal features,
each clipped to [0, 1]:

| feature    | mapping |
|------------|---------|
| danceable  | 0.6 * max(t[dance], t[House], t[electro], t[funk], t[Hip-Hop], t[party]) + 0.25 * tempo_fit + 0.15 * pulse |
| aggressive | 0.6 * max(t[metal], t[heavy metal], t[hard rock], t[punk]) + 0.25 * loudness + 0.15 * brightness |
| happy      | 0.6 * max(t[happy], t[catchy], t[party], t[pop]) + 0.25 * major + 0.15 * tempo_fit |
| party      | 0.7 * max(t[party], t[dance], t[House]) + 0.3 * loudness |
| relaxed    | 0.6 * max(t[chillout], t[chill], t[Mellow], t[ambient], t[easy listening], t[acoustic]) + 0.4 * (1 - loudness) |
| sad        | 0.6 * max(t[sad], t[Mellow], t[beautiful]) + 0.2 * minor + 0.2 * (1 - loudness) |

with tempo_fit = 1 inside 95-135 BPM falling linearly to 0 at 60 and 180; pulse = the onset
envelope's autocorrelation peak (beat regularity); loudness = energy scaled so RMS 0.25 -> 1;
brightness = spectral centroid scaled so 3 kHz -> 1; major/minor = the detected scale (1 or 0).
Tags are the model's raw probabilities; the max keeps one strong tag from being diluted by absent ones.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 16000
MEL_HOP = 256
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Krumhansl-Kessler key profiles (C major / C minor), rotated for the other keys.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
OTHER_FEATURES = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")


def signal_features(y: np.ndarray, sr: int = SAMPLE_RATE, log_mel: np.ndarray | None = None) -> dict:
    """tempo (BPM), key, scale, energy (mean RMS) and a few descriptors, from the 16 kHz signal."""
    import librosa

    if log_mel is None:
        from audiomuse.analysis.musicnn import log_mel as compute_log_mel

        log_mel = compute_log_mel(y)
    onset = librosa.onset.onset_strength(S=log_mel.T, sr=sr, hop_length=MEL_HOP)
    tempo = global_tempo(onset, sr / MEL_HOP)
    key, scale, key_strength = estimate_key(y, sr)
    frame = 2048
    n = len(y) // frame
    rms = np.sqrt(np.mean(np.square(y[: n * frame].reshape(n, frame), dtype=np.float32), axis=1)) if n else np.zeros(1)
    db = 20 * np.log10(np.maximum(rms, 1e-5))
    # Undo log10(1 + 10000 * mel) (up to the 1e4 factor); weight band centres by magnitude.
    magnitude = np.sqrt(np.maximum(np.power(10.0, log_mel[::4], dtype=np.float32) - 1.0, 0.0)).sum(axis=0)
    centres = librosa.mel_frequencies(n_mels=log_mel.shape[1] + 2, fmax=sr / 2)[1:-1]
    centroid = float(magnitude @ centres / max(magnitude.sum(), 1e-9))
    return {
        "tempo": tempo,
        "key": key,
        "scale": scale,
        "key_strength": key_strength,
        "energy": float(rms.mean()),
        "dynamic_range_db": float(np.percentile(db, 95) - np.percentile(db, 5)),
        "spectral_centroid_hz": centroid,
        "onset_rate": float((onset > onset.mean() + onset.std()).mean() * sr / MEL_HOP),
        "pulse": _pulse_clarity(onset),
    }


def global_tempo(onset: np.ndarray, frame_rate: float, start_bpm: float = 120.0) -> float:
    """BPM from the autocorrelation of the whole onset envelope, with librosa's log-normal prior.

    One FFT instead of librosa's per-frame tempogram: the same answer on steady music at a small
    fraction of the cost (the tempogram was most of the feature time).
    """
    x = onset - onset.mean()
    if len(x) < 8 or not np.any(x):
        return 0.0
    n = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, n)
    ac = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n)[: len(x)]
    lags = np.arange(1, len(ac))
    bpm = 60.0 * frame_rate / lags
    valid = (bpm >= 40) & (bpm <= 240)
    prior = np.exp(-0.5 * np.log2(bpm / start_bpm) ** 2)  # librosa's default: std 1 octave
    score = np.where(valid, ac[1:] * prior, -np.inf)
    i = int(np.argmax(score))
    if not np.isfinite(score[i]):
        return 0.0
    lag = float(lags[i])
    if 0 < i < len(score) - 1 and np.isfinite(score[i - 1]) and np.isfinite(score[i + 1]):
        a, b, c = ac[i], ac[i + 1], ac[i + 2]  # parabolic refinement on the raw autocorrelation
        denom = a - 2 * b + c
        if denom < 0:
            lag += 0.5 * (a - c) / denom
    return float(60.0 * frame_rate / lag)


def estimate_key(y: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[str, str, float]:
    """(key, 'major'|'minor', correlation) from a coarse chroma and Krumhansl-Schmuckler profiles."""
    import librosa

    chroma = librosa.feature.chroma_stft(y=y, sr=sr, n_fft=4096, hop_length=4096, tuning=0.0)
    profile = chroma.mean(axis=1)
    if not np.any(profile):
        return "C", "major", 0.0
    best = (-2.0, 0, "major")
    for shift in range(12):
        for scale, template in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            r = float(np.corrcoef(profile, np.roll(template, shift))[0, 1])
            if r > best[0]:
                best = (r, shift, scale)
    return KEYS[best[1]], best[2], best[0]


def _pulse_clarity(onset: np.ndarray) -> float:
    """Height of the strongest autocorrelation peak between 0.3 and 1.5 s lags (0 = no steady beat)."""
    if len(onset) < 200:
        return 0.0
    x = onset - onset.mean()
    ac = np.correlate(x, x, mode="full")[len(x) - 1 :]
    if ac[0] <= 0:
        return 0.0
    lo, hi = int(0.3 * SAMPLE_RATE / MEL_HOP), int(1.5 * SAMPLE_RATE / MEL_HOP)
    return float(np.clip(ac[lo:hi].max() / ac[0], 0.0, 1.0))


def other_features(tags, signal: dict) -> dict[str, float]:
    """The six derived mood features, by the table in this module's docstring."""
    from audiomuse.analysis.musicnn import MSD_TAGS

    t = dict(zip(MSD_TAGS, map(float, tags), strict=True)) if not isinstance(tags, dict) else tags

    def top(*names):
        return max(t.get(n, 0.0) for n in names)

    tempo = signal.get("tempo", 0.0)
    tempo_fit = float(np.interp(tempo, [60, 95, 135, 180], [0, 1, 1, 0]))
    loudness = min(1.0, signal.get("energy", 0.0) / 0.25)
    brightness = min(1.0, signal.get("spectral_centroid_hz", 0.0) / 3000.0)
    major = 1.0 if signal.get("scale") == "major" else 0.0
    pulse = signal.get("pulse", 0.0)
    values = {
        "danceable": 0.6 * top("dance", "House", "electro", "funk", "Hip-Hop", "party") + 0.25 * tempo_fit + 0.15 * pulse,
        "aggressive": 0.6 * top("metal", "heavy metal", "hard rock", "punk") + 0.25 * loudness + 0.15 * brightness,
        "happy": 0.6 * top("happy", "catchy", "party", "pop") + 0.25 * major + 0.15 * tempo_fit,
        "party": 0.7 * top("party", "dance", "House") + 0.3 * loudness,
        "relaxed": 0.6 * top("chillout", "chill", "Mellow", "ambient", "easy listening", "acoustic") + 0.4 * (1 - loudness),
        "sad": 0.6 * top("sad", "Mellow", "beautiful") + 0.2 * (1 - major) + 0.2 * (1 - loudness),
    }
    return {k: float(np.clip(v, 0.0, 1.0)) for k, v in values.items()}
