"""What the search takes and gives: the songs (``ClusteringInput``), progress, results, cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OTHER_FEATURE_LABELS = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")


class ClusteringCancelled(Exception):
    """``should_stop()`` returned True; the caller keeps its previous playlists."""

    def __init__(self, runs_done: int, runs_total: int):
        super().__init__(f"clustering cancelled after {runs_done} of {runs_total} runs")
        self.runs_done = runs_done
        self.runs_total = runs_total


def _opt_vector(a, n: int, name: str) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    if len(a) != n:
        raise ValueError(f"{name} has {len(a)} values for {n} songs")
    return a


@dataclass
class ClusteringInput:
    """Everything the search needs about the songs, row-aligned.

    ``X``: (n, d) embeddings (or any clustering space); may be ``None`` when clustering on score
    vectors (``use_embeddings=False``), which are built from tempo, energy, active moods and ``other``.
    ``moods``: (n, M) mood/tag probabilities with column labels ``mood_labels``. ``active_moods``: the
    moods encoded in the songs' feature vectors (default: all). ``other``: (n, F) features labelled
    ``other_labels``. ``tempo`` normalised 0..1, ``energy`` 0..1. ``genre``: the stratum of each song
    for sampling (default: its top mood). ``track_ids`` / ``artists``: optional, copied into results /
    used by the per-artist cap.
    """

    X: np.ndarray | None
    moods: np.ndarray
    mood_labels: Sequence[str]
    other: np.ndarray | None = None
    other_labels: Sequence[str] = OTHER_FEATURE_LABELS
    tempo: np.ndarray | None = None
    energy: np.ndarray | None = None
    genre: Sequence[str] | None = None
    track_ids: Sequence[str] | None = None
    artists: Sequence[str] | None = None
    active_moods: Sequence[str] | None = None

    def __post_init__(self) -> None:
        self.moods = np.ascontiguousarray(self.moods, dtype=np.float32)
        if self.moods.ndim != 2:
            raise ValueError("moods must be a (n, M) matrix")
        n, m = self.moods.shape
        self.mood_labels = [str(x) for x in self.mood_labels]
        if len(self.mood_labels) != m:
            raise ValueError(f"{m} mood columns but {len(self.mood_labels)} mood labels")
        if self.X is not None:
            self.X = np.ascontiguousarray(self.X, dtype=np.float32)
            if self.X.ndim != 2 or len(self.X) != n:
                raise ValueError(f"X must be (n, d) with n = {n}")
        if self.other is not None:
            self.other = np.ascontiguousarray(self.other, dtype=np.float32)
            if self.other.ndim != 2 or len(self.other) != n:
                raise ValueError(f"other must be (n, F) with n = {n}")
            self.other_labels = [str(x) for x in self.other_labels][: self.other.shape[1]]
            if len(self.other_labels) != self.other.shape[1]:
                raise ValueError("other has more columns than other_labels")
        self.tempo = _opt_vector(self.tempo, n, "tempo")
        self.energy = _opt_vector(self.energy, n, "energy")
        for name in ("genre", "track_ids", "artists"):
            value = getattr(self, name)
            if value is not None:
                value = [None if v is None else str(v) for v in value]
                if len(value) != n:
                    raise ValueError(f"{name} has {len(value)} entries for {n} songs")
                setattr(self, name, value)
        if self.active_moods is not None:
            unknown = set(self.active_moods) - set(self.mood_labels)
            if unknown:
                raise ValueError(f"active moods not among mood_labels: {sorted(unknown)}")
            self.active_moods = [str(x) for x in self.active_moods]

    @property
    def n(self) -> int:
        return len(self.moods)

    def active_mask(self) -> np.ndarray:
        if self.active_moods is None:
            return np.ones(len(self.mood_labels), dtype=bool)
        active = set(self.active_moods)
        return np.array([m in active for m in self.mood_labels], dtype=bool)

    def strata(self) -> np.ndarray:
        """Integer stratum per song: its ``genre``, else its top mood."""
        genre = self.genre
        if genre is None:
            genre = [self.mood_labels[i] for i in self.moods.argmax(axis=1)]
        _, codes = np.unique(np.array([g if g is not None else "" for g in genre], dtype=object).astype(str),
                             return_inverse=True)
        return codes.astype(np.int64)


def score_vectors(inp: ClusteringInput) -> np.ndarray:
    """The interpretable per-song vector: [tempo, energy, active moods..., other features...]."""
    cols = []
    if inp.tempo is not None:
        cols.append(inp.tempo[:, None])
    if inp.energy is not None:
        cols.append(inp.energy[:, None])
    cols.append(inp.moods[:, inp.active_mask()])
    if inp.other is not None:
        cols.append(inp.other)
    return np.ascontiguousarray(np.hstack(cols), dtype=np.float32)


@dataclass(frozen=True)
class RunProgress:
    runs_done: int
    runs_total: int
    best_score: float
    elapsed_s: float


@dataclass(frozen=True)
class PlaylistResult:
    track_indices: list[int]  # rows of the input, closest to the playlist's centre first
    profile: dict[str, float]  # mean mood score per label, highest first
    dominant_moods: list[str]  # the top moods of the profile
    tempo_mean: float | None
    energy_mean: float | None
    other_means: dict[str, float]
    name: str = ""  # automatic name, unique within the result (naming.automatic_name)
    track_ids: list[str] = field(default_factory=list)  # when the input has track_ids


@dataclass(frozen=True)
class SearchResult:
    best_score: float
    components: dict[str, float]  # normalised terms, raw sums, n_clusters
    best_params: dict[str, Any]  # e.g. {"algorithm": "kmeans", "n_clusters": 57}
    playlists: list[PlaylistResult]
    runs_done: int
    elapsed_s: float
    best_run: int
    sample_size: int
