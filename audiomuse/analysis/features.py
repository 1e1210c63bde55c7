"""Per-track signal features (tempo, key, scale, energy, descriptors) and the derived moods.

Signal features, from the 16 kHz mono signal and the MusiCNN log-mel (shared with the model, so
the onset envelope costs nothing extra); ~0.05 CPU-s per audio minute beside the mel:

* ``tempo``: BPM. Onset strength of the MusiCNN log-mel (62.5 frames/s; ``tempo_onset``: a
  2-frame difference, median over the mel bands), its 8 s autocorrelation tempogram (each window
  mean-removed, every 16th frame, mean over time), then the tempogram peak between 40 and 250 BPM
  with the largest autocorrelation times a log-normal prior (1 octave around 120 BPM), refined
  by parabolic interpolation and folded by octaves into 60-200 BPM. 0.0 when there is no onset
  at all (silence). (Version 1 was librosa.feature.tempo's ``log1p(1e6 * tg)`` + prior.)
* ``key`` (C, C#, ... B) and ``scale`` (major/minor): mean chroma (``chroma_stft`` on a
  4096-point STFT with 50 % overlap, no tuning estimation) correlated with the 24 rotated
  Temperley's Kostka-Payne profiles; ``key_strength`` is the winning Pearson correlation.
* ``energy``: the mean RMS of 2048-sample frames (linear amplitude, as the original's mean RMS
  energy; a full-scale sine gives 0.707). ``loudness_db`` is the same in dBFS, 20 log10(energy).
* ``pulse`` (0-1): beat regularity, the autocorrelation of the mean-removed onset envelope at
  the beat period over its energy (about 0 for noise, near 1 for a metronome).
* ``onset_rate``: detected onsets (``librosa.onset.onset_detect``) per second.
* ``spectral_centroid_hz``: mean STFT-frame spectral centroid over the non-silent frames.
* ``spectral_flatness``: mean frame spectral flatness (0 = tonal, 1 = white noise).
* ``dynamic_range_db``: loudness range, 95th minus 10th percentile of 1 s RMS levels after an
  absolute (-70 dBFS) and a relative (-20 dB) gate, like EBU R128 LRA without K-weighting.

Every signal feature reads the first ``FEATURE_WINDOW_S`` (20 minutes) of a track: all of it for
normal tracks (the longest of the sample library is 10 minutes), so their features are those of
the whole track; a longer file (a DJ mix, an audiobook, a concatenated 10-hour file) gets the
features of its first 20 minutes, which keeps the analysis memory flat in the file's length
(the decoded window is 77 MB, its log-mel 29 MB; a 30-minute window peaked at 584 MB, too near
the 600 MB budget). The MusiCNN embedding and tags cover the whole track.

The original's "other features" came from Essentia heads licensed CC BY-NC-SA that are not
available here. They are derived openly instead, from the 50 MSD tag probabilities of MusiCNN
and the signal features. Every term is in [0, 1] and each row's weights sum to 1:

| feature    | mapping                                                                           |
|------------|-----------------------------------------------------------------------------------|
| danceable  | 0.50 T(dance, House, electro, funk, Hip-Hop, party) + 0.25 tempo_fit + 0.25 pulse |
| aggressive | 0.55 T(metal, heavy metal, hard rock, punk) + 0.25 loud + 0.20 bright             |
| happy      | 0.55 T(happy, catchy, party, pop) + 0.30 major + 0.15 tempo_fit                   |
| party      | 0.55 T(party, dance, House) + 0.25 loud + 0.20 tempo_fit                          |
| relaxed    | 0.55 T(chillout, chill, Mellow, ambient, easy listening, acoustic) + 0.45 (1 - loud) |
| sad        | 0.55 T(sad, beautiful, Mellow) + 0.30 minor + 0.15 (1 - loud)                     |

* ``T(tags...)`` = the strongest of the tags, each as ``min(1, p / ref)``: ref = 0.25 for the
  mood tags the model rarely predicts high (party, happy, catchy, sad, Mellow, beautiful, chill,
  easy listening, acoustic, sexy), 0.5 for genre tags. The max keeps one strong tag from being
  diluted by absent ones.
* ``tempo_fit`` = 1 for 90-135 BPM, falling linearly to 0 at 60 and 180 BPM (0 with no tempo).
* ``loud`` = (loudness_db + 30) / 20 clipped: -30 dBFS mean RMS -> 0, -10 dBFS -> 1.
* ``bright`` = (spectral_centroid_hz - 800) / 1700 clipped: 800 Hz -> 0, 2.5 kHz -> 1.
* ``major`` / ``minor`` = tonal confidence ``(key_strength - 0.3) / 0.4`` clipped, for the detected
  scale, 0 for the other: an atonal track (weak key) is neither major nor minor.
"""

from __future__ import annotations

import functools

import numpy as np
import scipy.fft  # measured 2x faster than numpy.fft on these float32 frames

from audiomuse.analysis.musicnn import MSD_TAGS, periodic_hann

# The version of the estimators below (tempo, key, scale, energy and every descriptor of
# ``signal_features``), stored per track in ``score.features_version``. Bump it when an estimator's
# output changes (not for a speed-up that keeps the numbers): a ``features_only`` backfill then
# recomputes the tracks of older versions (decode + features, no model; embeddings stay).
# 1 = the estimators as first versioned; rows stored before versions (NULL) count as older.
# 2 = tempo from tempo_onset and the peaks of the mean-removed tempogram; Temperley key profiles.
FEATURES_VERSION = 2

SAMPLE_RATE = 16000
FEATURE_WINDOW_S = 20 * 60  # the signal features read this much of a track, from its start
MEL_HOP = 256  # the MusiCNN log-mel hop: 62.5 frames/s
KEYS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Temperley's Kostka-Payne key profiles (C major / C minor; Temperley 2007, "Music and Probability"),
# rotated for the other keys. They replaced Krumhansl-Kessler's probe-tone ratings (FEATURES_VERSION
# 1), whose flat non-scale weights let the tonic's 5th harmonic (the major third, which chroma_stft
# folds in) turn minor keys into the parallel major: 4 of 48 minor tracks of the tempo/key set.
MAJOR_PROFILE = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
MINOR_PROFILE = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])
OTHER_FEATURES = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")

TEMPO_WINDOW_S = 8.0  # librosa.feature.tempo ac_size
TEMPO_STEP = 16  # evaluate the tempogram on every 16th onset frame
TEMPO_RANGE = (60.0, 200.0)
TEMPO_CANDIDATES = (40.0, 250.0)  # BPM range of the tempogram peaks considered as the beat
TEMPO_ONSET_LAG = 2  # frames of the onset difference of tempo_onset
TEMPO_BLOCK = 2048  # tempogram frames per FFT call
STFT_BLOCK = 512  # spectrogram frames per FFT call (4 MB of power)
STFT_N = 4096
STFT_HOP = 2048
RMS_FRAME = 2048

RARE_TAGS = frozenset({"party", "happy", "catchy", "sad", "Mellow", "beautiful", "chill", "easy listening",
                       "acoustic", "sexy"})
MAPPING = {  # feature -> (tag weight, tags, [(weight, signal term)])
    "danceable": (0.50, ("dance", "House", "electro", "funk", "Hip-Hop", "party"),
                  [(0.25, "tempo_fit"), (0.25, "pulse")]),
    "aggressive": (0.55, ("metal", "heavy metal", "hard rock", "punk"), [(0.25, "loud"), (0.20, "bright")]),
    "happy": (0.55, ("happy", "catchy", "party", "pop"), [(0.30, "major"), (0.15, "tempo_fit")]),
    "party": (0.55, ("party", "dance", "House"), [(0.25, "loud"), (0.20, "tempo_fit")]),
    "relaxed": (0.55, ("chillout", "chill", "Mellow", "ambient", "easy listening", "acoustic"),
                [(0.45, "quiet")]),
    "sad": (0.55, ("sad", "beautiful", "Mellow"), [(0.30, "minor"), (0.15, "quiet")]),
}


def signal_features(y: np.ndarray, sr: int = SAMPLE_RATE, log_mel: np.ndarray | None = None) -> dict:
    """tempo, key, scale, energy and descriptors (see the module docstring) of a 16 kHz mono signal.

    ``log_mel`` is the MusiCNN log-mel ([frames, 96], hop 256) of ``y``; computed if not given.
    """
    import librosa

    y = np.ascontiguousarray(y, dtype=np.float32)
    if sr != SAMPLE_RATE:
        raise ValueError(f"signal_features expects {SAMPLE_RATE} Hz audio, got {sr}")
    duration = len(y) / sr
    if log_mel is None:
        from audiomuse.analysis.musicnn import log_mel as compute_log_mel

        log_mel = compute_log_mel(y)
    frame_rate = sr / MEL_HOP
    if len(log_mel) > 1:
        onset = librosa.onset.onset_strength(S=log_mel.T, sr=sr, hop_length=MEL_HOP)
    else:
        onset = np.zeros(1, np.float32)
    tempo, pulse = estimate_tempo(tempo_onset(log_mel, sr), frame_rate)
    onset_rate = 0.0
    if np.any(onset) and duration > 0:
        peaks = librosa.onset.onset_detect(onset_envelope=onset, sr=sr, hop_length=MEL_HOP)
        onset_rate = len(peaks) / duration

    profile, centroid, flatness = _spectral_pass(y, sr)
    key, scale, key_strength = _key_from_profile(profile)

    n = len(y) // RMS_FRAME
    if n:
        frames = y[: n * RMS_FRAME].reshape(n, RMS_FRAME)
        rms = np.sqrt(np.einsum("ij,ij->i", frames, frames, dtype=np.float64) / RMS_FRAME)
    else:
        rms = np.array([float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0])
    energy = float(rms.mean())
    return {
        "tempo": tempo,
        "key": key,
        "scale": scale,
        "energy": energy,
        "key_strength": key_strength,
        "loudness_db": float(20 * np.log10(max(energy, 1e-5))),
        "pulse": pulse,
        "onset_rate": float(onset_rate),
        "spectral_centroid_hz": centroid,
        "spectral_flatness": flatness,
        "dynamic_range_db": dynamic_range_db(y, sr),
    }


def tempo_onset(log_mel: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The onset envelope ``estimate_tempo`` reads: librosa's onset strength of the log-mel with a
    2-frame difference (32 ms: a bowed or organ note's slow attack still rises across it) and the
    median over the mel bands instead of the mean (a broadband onset counts, the drift of one
    sustained partial does not; librosa documents the median for this, after Boeck & Widmer)."""
    import librosa

    if len(log_mel) <= TEMPO_ONSET_LAG:
        return np.zeros(1, np.float32)
    return librosa.onset.onset_strength(S=log_mel.T, sr=sr, hop_length=MEL_HOP, lag=TEMPO_ONSET_LAG,
                                        aggregate=np.median)


def _tempogram(onset: np.ndarray, frame_rate: float, step: int) -> np.ndarray:
    """Mean over time of the 8 s windowed autocorrelation (every ``step``-th frame), each window's
    mean removed first: without it the envelope's DC gives every short lag a large triangle of
    correlation that buries the beat peak of weak (no-drum) envelopes under the prior."""
    win = int(round(TEMPO_WINDOW_S * frame_rate))
    padded = np.pad(onset, win // 2, mode="linear_ramp", end_values=0)
    starts = np.arange(0, len(onset), step)
    windows = np.lib.stride_tricks.sliding_window_view(padded, win)
    window = periodic_hann(win)
    n_fft = 1 << int(np.ceil(np.log2(2 * win - 1)))
    tg = np.zeros(win, np.float64)
    for block in range(0, len(starts), TEMPO_BLOCK):  # blocks bound the FFT temporaries of long files
        frames = windows[starts[block : block + TEMPO_BLOCK]]
        spec = scipy.fft.rfft((frames - frames.mean(axis=1, keepdims=True)) * window, n_fft, axis=1)
        ac = scipy.fft.irfft(spec.real**2 + spec.imag**2, n_fft, axis=1)[:, :win]
        peak = np.abs(ac).max(axis=1, keepdims=True)
        ac /= np.where(peak > 1e-30, peak, 1.0)
        tg += ac.sum(axis=0, dtype=np.float64)
    return tg / len(starts)


def estimate_tempo(onset: np.ndarray, frame_rate: float, start_bpm: float = 120.0,
                   step: int = TEMPO_STEP) -> tuple[float, float]:
    """(BPM folded into 60-200, pulse 0-1) from an onset-strength envelope (``tempo_onset``).

    BPM: the peaks (local maxima) of the mean-removed tempogram (``_tempogram``) between 40 and
    250 BPM are the candidate beat periods, each refined by parabolic interpolation; the winner
    has the largest autocorrelation times a log-normal prior (std 1 octave around ``start_bpm``,
    librosa's). The autocorrelation is taken linearly, not as librosa's ``log1p(1e6 * tg)``, which
    flattens every peak to about the same height so the prior, not the music, picked the tempo
    (the ~125 BPM of weak envelopes). Pulse: the autocorrelation of the mean-removed envelope at
    that lag, over its energy (0 for noise, near 1 for a metronome).
    """
    onset = np.asarray(onset, dtype=np.float32)
    if len(onset) < 8 or not np.any(onset > 0):
        return 0.0, 0.0
    tg = _tempogram(onset, frame_rate, step)
    lo, hi = TEMPO_CANDIDATES
    lags = np.arange(max(2, int(60.0 * frame_rate / hi)), min(len(tg) - 1, int(np.ceil(60.0 * frame_rate / lo)) + 1))
    peaks = lags[(tg[lags] > 0) & (tg[lags] >= tg[lags - 1]) & (tg[lags] >= tg[lags + 1])]
    if not len(peaks):
        return 0.0, 0.0
    a, b, c = tg[peaks - 1], tg[peaks], tg[peaks + 1]
    denom = a - 2 * b + c
    shift = np.where(denom < 0, np.clip(0.5 * (a - c) / np.where(denom < 0, denom, -1.0), -0.5, 0.5), 0.0)
    refined = peaks + shift
    evidence = np.interp(refined, np.arange(len(tg)), tg)
    bpms = 60.0 * frame_rate / refined
    score = evidence * np.exp(-0.5 * np.log2(bpms / start_bpm) ** 2)
    best = int(np.argmax(score))
    bpm = float(bpms[best])
    lo, hi = TEMPO_RANGE
    while bpm > hi:
        bpm /= 2
    while bpm < lo:
        bpm *= 2
    return bpm, _pulse(onset, int(peaks[best]))


def _pulse(onset: np.ndarray, lag: int) -> float:
    """Normalised autocorrelation of the mean-removed onset envelope at the beat lag (+-1 frame)."""
    x = onset.astype(np.float64) - onset.mean()
    energy = float(x @ x)
    if energy <= 0 or lag + 2 >= len(x):
        return 0.0
    r = max(float(x[:-k] @ x[k:]) for k in (lag - 1, lag, lag + 1) if k > 0)
    return float(np.clip(r / energy, 0.0, 1.0))


def _power_blocks(y: np.ndarray):
    """|STFT|^2 (Hann window, 4096 points, hop 2048, no centring) as [frames, 2049] float32 blocks
    of STFT_BLOCK frames: memory stays one block whatever the length of the track."""
    if len(y) < STFT_N:
        y = np.pad(y, (0, STFT_N - len(y)))
    n = 1 + (len(y) - STFT_N) // STFT_HOP
    frames = np.lib.stride_tricks.as_strided(y, (n, STFT_N), (y.strides[0] * STFT_HOP, y.strides[0]),
                                             writeable=False)
    window = periodic_hann(STFT_N)
    for s in range(0, n, STFT_BLOCK):
        spec = scipy.fft.rfft(frames[s : s + STFT_BLOCK] * window, axis=1)
        yield spec.real**2 + spec.imag**2


@functools.lru_cache(maxsize=2)
def _chroma_filters(sr: int) -> np.ndarray:
    import librosa

    return librosa.filters.chroma(sr=sr, n_fft=STFT_N, tuning=0.0).astype(np.float32)  # as chroma_stft


def _chroma(power: np.ndarray, sr: int) -> np.ndarray:
    """Per-frame chroma of [frames, bins] power, each frame max-normalised: librosa.feature.chroma_stft."""
    raw = power @ _chroma_filters(sr).T
    peak = np.abs(raw).max(axis=1, keepdims=True)
    return raw / np.where(peak < np.finfo(np.float32).tiny, 1.0, peak)


def _spectral_pass(y: np.ndarray, sr: int) -> tuple[np.ndarray, float, float]:
    """(mean chroma [12], mean spectral centroid in Hz, mean spectral flatness) in one pass over the
    power spectrogram, block by block; centroid and flatness over the non-silent frames."""
    freqs = np.linspace(0, sr / 2, STFT_N // 2 + 1, dtype=np.float32)
    chroma_sum = np.zeros(12, np.float64)
    frame_power, centroid, flatness = [], [], []
    for p in _power_blocks(y):
        chroma_sum += _chroma(p, sr).sum(axis=0, dtype=np.float64)
        total = p.sum(axis=1, dtype=np.float64)
        mag = np.sqrt(p)
        frame_power.append(total)
        centroid.append((mag @ freqs) / np.maximum(mag.sum(axis=1, dtype=np.float64), 1e-30))
        log_mean = np.log(p + np.float32(1e-12)).mean(axis=1, dtype=np.float64)
        flatness.append(np.exp(log_mean) / (total / p.shape[1] + 1e-12))
    frame_power = np.concatenate(frame_power)
    profile = chroma_sum / len(frame_power)
    loud = frame_power > max(frame_power.max() * 1e-6, 1e-10)
    if not loud.any():
        return profile, 0.0, 0.0
    return (profile, float(np.concatenate(centroid)[loud].mean()),
            float(np.clip(np.concatenate(flatness)[loud], 0, 1).mean()))


def estimate_key(y: np.ndarray, sr: int = SAMPLE_RATE) -> tuple[str, str, float]:
    """(key, 'major'|'minor', correlation) from the mean chroma and Temperley's Kostka-Payne profiles."""
    return _key_from_profile(_spectral_pass(np.ascontiguousarray(y, dtype=np.float32), sr)[0])


def _key_from_profile(profile: np.ndarray) -> tuple[str, str, float]:
    if not np.any(profile) or np.ptp(profile) == 0:
        return "C", "major", 0.0
    best = (-2.0, 0, "major")
    for shift in range(12):
        for scale, template in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            r = float(np.corrcoef(profile, np.roll(template, shift))[0, 1])
            if r > best[0]:
                best = (r, shift, scale)
    return KEYS[best[1]], best[2], best[0]


def dynamic_range_db(y: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Loudness range: 95th - 10th percentile of gated 1 s RMS levels in dB (0 for < 3 s)."""
    n = len(y) // sr
    if n < 3:
        return 0.0
    blocks = y[: n * sr].reshape(n, sr)
    power = np.einsum("ij,ij->i", blocks, blocks, dtype=np.float64) / sr
    power = power[power > 1e-7]  # absolute gate: -70 dBFS
    if len(power) < 3:
        return 0.0
    power = power[power > power.mean() * 0.01]  # relative gate: 20 dB under the mean power
    db = 10 * np.log10(power)
    return float(np.percentile(db, 95) - np.percentile(db, 10))


def tag_strength(tags: dict[str, float], name: str) -> float:
    """A tag probability scaled to [0, 1]: p / 0.25 for the rarely-high mood tags, p / 0.5 else."""
    ref = 0.25 if name in RARE_TAGS else 0.5
    return float(np.clip(float(tags.get(name, 0.0)) / ref, 0.0, 1.0))


def signal_terms(signal: dict) -> dict[str, float]:
    """The [0, 1] signal terms of the mapping: tempo_fit, pulse, loud, quiet, bright, major, minor."""
    tempo = float(signal.get("tempo", 0.0) or 0.0)
    tempo_fit = float(np.interp(tempo, [60, 90, 135, 180], [0, 1, 1, 0])) if tempo > 0 else 0.0
    energy = float(signal.get("energy", 0.0) or 0.0)
    loudness_db = float(signal.get("loudness_db", 20 * np.log10(max(energy, 1e-5))))
    loud = float(np.clip((loudness_db + 30.0) / 20.0, 0.0, 1.0))
    bright = float(np.clip((float(signal.get("spectral_centroid_hz", 0.0)) - 800.0) / 1700.0, 0.0, 1.0))
    tonal = float(np.clip((float(signal.get("key_strength", 0.7)) - 0.3) / 0.4, 0.0, 1.0))
    major = signal.get("scale") == "major"
    return {
        "tempo_fit": tempo_fit,
        "pulse": float(np.clip(signal.get("pulse", 0.0), 0.0, 1.0)),
        "loud": loud,
        "quiet": 1.0 - loud,
        "bright": bright,
        "major": tonal if major else 0.0,
        "minor": 0.0 if major else tonal,
    }


def other_features(tags, signal: dict) -> dict[str, float]:
    """The six derived mood features, by the table in this module's docstring.

    ``tags``: {MSD tag: probability} or the 50 probabilities in ``MSD_TAGS`` order;
    ``signal``: the dict of ``signal_features``.
    """
    if isinstance(tags, dict):
        t = {k: float(v) for k, v in tags.items()}
    else:
        values = np.asarray(tags, dtype=np.float64).ravel()
        if len(values) != len(MSD_TAGS):
            raise ValueError(f"expected {len(MSD_TAGS)} MSD tag probabilities, got {len(values)}")
        t = dict(zip(MSD_TAGS, values.tolist(), strict=True))
    terms = signal_terms(signal)
    out = {}
    for name in OTHER_FEATURES:
        tag_weight, names, signal_parts = MAPPING[name]
        value = tag_weight * max(tag_strength(t, n) for n in names)
        value += sum(w * terms[term] for w, term in signal_parts)
        out[name] = float(np.clip(value, 0.0, 1.0))
    return out
