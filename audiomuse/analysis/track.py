"""Analyse one audio file: the spec's MusiCNN front end plus tempo, key, energy and moods."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiomuse.analysis import features as feat
from audiomuse.analysis.decode import load_audio
from audiomuse.analysis.musicnn import DEFAULT_PRECISION, MODEL_PATHS, MSD_TAGS, MusicnnModel, log_mel

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


class TrackAnalyser:
    """Holds the model session (loaded once per process), the patch hop, the precision (which
    model file: fp32 or int8) and the thread budget."""

    def __init__(self, threads: int = 1, patch_hop: int = 187, model: MusicnnModel | None = None,
                 precision: str = DEFAULT_PRECISION):
        self.identity = model_identity(patch_hop, precision)  # validates the precision first
        self.model = model or MusicnnModel(MODEL_PATHS[precision], threads=threads)
        self.patch_hop = patch_hop
        self.precision = precision
        self.threads = threads

    def analyse(self, path: Path) -> TrackResult:
        with blas_threads(self.threads):
            return self._analyse(path)

    def _analyse(self, path: Path) -> TrackResult:
        y = load_audio(path, sr=SAMPLE_RATE)
        mel = log_mel(y)  # shared by the model and the tempo/brightness features
        embedding, tags, n_patches = self.model.analyse_mel(mel, hop=self.patch_hop)
        signal = feat.signal_features(y, SAMPLE_RATE, log_mel=mel)
        return TrackResult(
            embedding=embedding,
            tags=tags,
            n_patches=n_patches,
            **score_columns(signal, tags),
            audio_seconds=len(y) / SAMPLE_RATE,
            model=self.identity,
        )
