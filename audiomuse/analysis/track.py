"""Analyse one audio file: the spec's MusiCNN front end plus tempo, key, energy and moods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiomuse.analysis import features as feat
from audiomuse.analysis.decode import SampleBuffer, decode_stream
from audiomuse.analysis.musicnn import (DEFAULT_PRECISION, HOP, MODEL_PATHS, MSD_TAGS, N_FFT, N_MELS,
                                        MelStream,
                                        MusicnnModel, PatchPool)

SAMPLE_RATE = 16000
MODEL_NAME = "msd-musicnn-onnx"


# Names the model's function, not the bytes of its file: the sha256 (16 hex) of the first ONNX file
# of these weights. tf2onnx writes other bytes on every conversion, and the graph has since been
# rearranged (pooled before its norms) without changing its outputs; the parity test holds every
# committed file to the musicnn checkpoint within 1e-4. Change it when the weights or the front end
# change, and only then: embeddings stored under it stay comparable, so nobody re-analyses.
MODEL_DIGEST = "6a6b45c99748d9d3"


def model_identity(patch_hop: int, precision: str = DEFAULT_PRECISION) -> str:
    """'<model name>@<weights digest>[-int8]/hop<patch hop>': stored with every embedding, so
    embeddings of other weights, another precision or another patch hop are never mixed
    (collection sync checks it). fp32 has no suffix: the identity embeddings were stored under
    before the int8 model existed. ``precision`` defaults to the analyser's default."""
    if precision not in MODEL_PATHS:
        raise ValueError(f"analysis precision must be one of {sorted(MODEL_PATHS)}, not {precision!r}")
    suffix = "" if precision == "fp32" else f"-{precision}"
    return f"{MODEL_NAME}@{MODEL_DIGEST}{suffix}/hop{int(patch_hop)}"


@dataclass
class TrackResult:
    embedding: np.ndarray  # (200,) float32
    tags: np.ndarray  # (50,) MSD tag probabilities
    n_patches: int
    tempo: float
    key: str
    scale: str
    energy: float
    other_features: dict[str, float]
    signal_features: dict[str, float]
    audio_seconds: float
    model: str = MODEL_NAME  # the analyser's model_identity

    @property
    def mood_vector(self) -> dict[str, float]:
        return dict(zip(MSD_TAGS, map(float, self.tags), strict=True))

    def as_row(self) -> dict:
        return dict(
            embedding=self.embedding, n_patches=self.n_patches, model=self.model,
            tempo=self.tempo, key=self.key, scale=self.scale, energy=self.energy,
            mood_vector=self.mood_vector, other_features=self.other_features,
            signal_features=self.signal_features, features_version=feat.FEATURES_VERSION,
        )


SCORE_COLUMNS = ("tempo", "key", "scale", "energy")


def score_columns(signal: dict, tags) -> dict:
    """``signal_features``'s dict and the MusiCNN tags as the score's columns: tempo, key, scale,
    energy, the derived ``other_features`` and the remaining descriptors as ``signal_features``
    (shared by a full analysis and a features-only refresh, which passes the stored tags)."""
    return dict(
        **{name: signal[name] for name in SCORE_COLUMNS},
        other_features=feat.other_features(tags, signal),
        signal_features={k: v for k, v in signal.items() if k not in SCORE_COLUMNS},
    )


def blas_threads(threads: int):
    """A context limiting numpy/scipy's BLAS to ``threads`` threads.

    Analysis runs one worker per core, each with one onnxruntime thread; OpenBLAS's own threads
    (one per core by default) then only fight the other worker: limited to one, the mel and the
    features cost 2-3x less CPU on a busy 2-core machine.
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


class FeatureWindow:
    """An ``AudioSink`` keeping the first ``seconds`` of the signal, the part the signal features
    read (``features.FEATURE_WINDOW_S``), and counting the rest."""

    def __init__(self, seconds: float = feat.FEATURE_WINDOW_S, expected: int = 0):
        self.limit = int(seconds * SAMPLE_RATE)
        self.samples = 0
        self._kept = SampleBuffer(min(expected, self.limit))

    def push(self, y: np.ndarray) -> None:
        keep = self.limit - self._kept.n
        if keep > 0:
            self._kept.push(y[:keep])
        self.samples += len(y)

    def finish(self) -> tuple[np.ndarray, float]:
        """(the window's samples, the whole signal's length in seconds)."""
        return self._kept.finish(), self.samples / SAMPLE_RATE


class _TrackStream(FeatureWindow):
    """The analyser's ``AudioSink``: each decoded block goes through the log-mel, its patches and
    the model as it comes (only the pooled outputs are kept), and the feature window keeps its
    samples and their log-mel frames for the signal features at the end."""

    def __init__(self, model: MusicnnModel, patch_hop: int, window_s: float, expected: int = 0):
        super().__init__(window_s, expected)
        self._mel_stream = MelStream()
        self._pool = PatchPool(model, patch_hop)
        # log_mel(window)'s frames; np.empty touches no memory beyond the frames written
        self._window_mel = np.empty((1 + (max(self.limit, N_FFT) - N_FFT) // HOP, N_MELS), np.float32)
        self._mel_kept = 0

    def push(self, y: np.ndarray) -> None:
        super().push(y)
        for block in self._mel_stream.push(y):
            self._take_mel(block)

    def _take_mel(self, block: np.ndarray) -> None:
        keep = min(len(self._window_mel) - self._mel_kept, len(block))
        if keep > 0:
            self._window_mel[self._mel_kept : self._mel_kept + keep] = block[:keep]
            self._mel_kept += keep
        self._pool.push(block)

    def finish(self) -> tuple[np.ndarray, np.ndarray, int, dict, float]:
        """(embedding, tags, number of patches, signal features, audio seconds)."""
        self._take_mel(self._mel_stream.finish())
        embedding, tags, n_patches = self._pool.finish()
        y, seconds = super().finish()
        signal = feat.signal_features(y, SAMPLE_RATE, log_mel=self._window_mel[: self._mel_kept])
        return embedding, tags, n_patches, signal, seconds


class TrackAnalyser:
    """Holds the model session (loaded once per process), the patch hop, the precision (which
    model file: fp32 or int8) and the thread budget.

    A track is analysed as it is decoded (``decode_stream``): peak memory does not grow with its
    length. ``feature_window_s`` is how much of it the signal features read (tests shorten it)."""

    def __init__(self, threads: int = 1, patch_hop: int = 187, model: MusicnnModel | None = None,
                 precision: str = DEFAULT_PRECISION, feature_window_s: float = feat.FEATURE_WINDOW_S):
        self.identity = model_identity(patch_hop, precision)  # validates the precision first
        self.model = model or MusicnnModel(MODEL_PATHS[precision], threads=threads)
        self.patch_hop = patch_hop
        self.precision = precision
        self.threads = threads
        self.feature_window_s = feature_window_s

    def analyse(self, path: Path) -> TrackResult:
        with blas_threads(self.threads):
            return self._analyse(path)

    def _analyse(self, path: Path) -> TrackResult:
        embedding, tags, n_patches, signal, seconds = decode_stream(
            path, lambda expected: _TrackStream(self.model, self.patch_hop, self.feature_window_s, expected),
            SAMPLE_RATE)
        return TrackResult(
            embedding=embedding,
            tags=tags,
            n_patches=n_patches,
            **score_columns(signal, tags),
            audio_seconds=seconds,
            model=self.identity,
        )


def feature_window(path: Path, window_s: float = feat.FEATURE_WINDOW_S) -> tuple[np.ndarray, float]:
    """(the first ``window_s`` of the file at 16 kHz, its whole length in seconds): what the signal
    features of ``TrackAnalyser`` read, decoded without keeping the rest (a features-only refresh)."""
    return decode_stream(path, lambda expected: FeatureWindow(window_s, expected), SAMPLE_RATE)
