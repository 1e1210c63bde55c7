"""Fitness of one clustering: mood purity, mood diversity and optional geometric / other-feature terms.

Definitions follow the reference spec exactly; the worked examples in the tests reproduce it.

* **Playlist profile**: the mean of the mood vectors of the playlist's songs. When clustering ran on
  score vectors the K-Means centroid, mapped back to the original scale, *is* that mean; when it ran
  on embeddings the spec defines the profile as that mean. Computing it as the mean in both cases is
  therefore the same thing, for every algorithm.
* **Mood purity** (raw): per playlist take the ``top_k`` moods of its profile; per song take the MAX
  of its scores over those top moods that are *active* (encoded in the song's feature vector; a top
  mood that is not active is skipped; a song with no active top mood contributes 0); sum over the
  songs and over the playlists. Score: ``z = (log1p(raw) - mean) / sd`` with ``LN_MOOD_PURITY_STATS``.
* **Mood diversity** (raw): each playlist's dominant mood (highest profile score); unique dominant
  moods across playlists; sum of their scores. When several playlists share a dominant mood it
  counts ONCE with the HIGHEST of their scores (as the reference implementation does). Score:
  log1p then z with ``LN_MOOD_DIVERSITY_STATS``.
* **Other features** (danceable, aggressive, ...): the same two ideas on the ``other`` matrix, with
  the reference's predominance threshold 0.3 and its (placeholder) log-normal stats.
* **Silhouette** (as is, -1..1), **Davies-Bouldin** (negated: lower is better) and
  **Calinski-Harabasz** (log1p) on the clustered space; computed only when their weight is non-zero
  (silhouette is O(n^2)).

Two implementations: readable dict-based functions (``mood_purity_raw``, ``mood_diversity_raw``) that
mirror the spec's wording, and the vectorised array versions used by the search (bincount / sparse
one-hot cluster means, no Python loop over songs or clusters). Tests check they agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from audiomuse.clustering.fitness import (
    LN_MOOD_DIVERSITY_STATS,
    LN_MOOD_PURITY_STATS,
    LN_OTHER_FEATURE_DIVERSITY_STATS,
    LN_OTHER_FEATURE_PURITY_STATS,
    LogNormalStats,
    ScoreWeights,
)

OTHER_FEATURE_PREDOMINANCE_THRESHOLD = 0.3
TOP_K_MOODS_FOR_PURITY = 3


def normalise(raw: float, stats: LogNormalStats) -> float:
    """``(log1p(raw) - mean) / sd``."""
    return stats.z(raw)


@dataclass(frozen=True)
class Scores:
    """The weighted total and every component (normalised ones and the raw sums behind them)."""

    total: float
    components: dict[str, float]


# --- readable, dict-based versions (the spec's wording) ----------------------------------------


def top_moods(profile: Mapping[str, float], k: int = TOP_K_MOODS_FOR_PURITY) -> list[str]:
    """The ``k`` highest-scoring labels of a profile (ties keep the profile's order)."""
    return [label for label, _ in sorted(profile.items(), key=lambda kv: -kv[1])[:k]]


def mood_purity_raw(
    playlists: Iterable[tuple[Mapping[str, float], Sequence[Mapping[str, float]]]],
    active_moods: Iterable[str],
    top_k: int = TOP_K_MOODS_FOR_PURITY,
) -> float:
    """Raw mood purity of ``(profile, songs)`` pairs; each song is a ``{mood: score}`` mapping."""
    active = set(active_moods)
    total = 0.0
    for profile, songs in playlists:
        used = [m for m in top_moods(profile, top_k) if m in active]
        for song in songs:
            scores = [song[m] for m in used if m in song]
            total += max(0.0, max(scores)) if scores else 0.0
    return total


def mood_diversity_raw(profiles: Iterable[Mapping[str, float]]) -> float:
    """Raw mood diversity: sum over unique dominant moods (a shared one counts once, its max)."""
    best: dict[str, float] = {}
    for profile in profiles:
        if not profile:
            continue
        mood = max(profile, key=profile.get)
        best[mood] = max(best.get(mood, float("-inf")), profile[mood])
    return float(sum(best.values()))


# --- vectorised versions (used per run by the search) ------------------------------------------


def onehot(labels: np.ndarray, k: int, dtype=np.float32) -> sp.csr_matrix:
    """Sparse ``(n, k)`` one-hot matrix of non-negative labels."""
    n = len(labels)
    return sp.csr_matrix((np.ones(n, dtype=dtype), labels, np.arange(n + 1)), shape=(n, k))


def cluster_means(labels: np.ndarray, values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster means of ``values`` rows and the cluster sizes; labels are 0..k-1 (no noise)."""
    counts = np.bincount(labels, minlength=k)
    sums = np.asarray(onehot(labels, k, values.dtype).T @ values)
    return sums / np.maximum(counts, 1)[:, None], counts


def top_mood_indices(profiles: np.ndarray, k: int) -> np.ndarray:
    """``(K, k)`` indices of the highest profile scores per row (stable: ties keep label order)."""
    return np.argsort(-profiles, axis=1, kind="stable")[:, :k]


def mood_purity_raw_array(
    labels: np.ndarray, moods: np.ndarray, profiles: np.ndarray, active: np.ndarray, top_k: int
) -> float:
    """Array form of :func:`mood_purity_raw`: ``labels`` index rows of ``profiles``."""
    if len(labels) == 0:
        return 0.0
    top = top_mood_indices(profiles, top_k)  # (K, top_k)
    song_top = top[labels]  # (n, top_k)
    vals = np.take_along_axis(moods, song_top, axis=1).astype(np.float64)
    vals = np.where(active[song_top], vals, -np.inf).max(axis=1)
    return float(np.maximum(vals, 0.0).sum())  # a song with no active top mood gives 0


def mood_diversity_raw_array(profiles: np.ndarray) -> float:
    """Array form of :func:`mood_diversity_raw`."""
    if len(profiles) == 0:
        return 0.0
    dom = profiles.argmax(axis=1)
    best = np.full(profiles.shape[1], -np.inf)
    np.maximum.at(best, dom, profiles[np.arange(len(dom)), dom])
    return float(best[np.isfinite(best)].sum())


def other_feature_diversity_raw_array(
    other_profiles: np.ndarray, threshold: float = OTHER_FEATURE_PREDOMINANCE_THRESHOLD
) -> float:
    """Unique predominant other features (score > threshold) across playlists, max score each."""
    if len(other_profiles) == 0:
        return 0.0
    dom = other_profiles.argmax(axis=1)
    score = other_profiles[np.arange(len(dom)), dom]
    keep = score > threshold
    best = np.full(other_profiles.shape[1], -np.inf)
    np.maximum.at(best, dom[keep], score[keep])
    return float(best[np.isfinite(best)].sum())


def other_feature_purity_raw_array(
    labels: np.ndarray, other: np.ndarray, other_profiles: np.ndarray,
    threshold: float = OTHER_FEATURE_PREDOMINANCE_THRESHOLD,
) -> float:
    """Per playlist whose predominant other feature reaches ``threshold``: sum of its songs' values."""
    if len(labels) == 0:
        return 0.0
    dom = other_profiles.argmax(axis=1)
    keep = other_profiles[np.arange(len(dom)), dom] >= threshold
    vals = other[np.arange(len(labels)), dom[labels]]
    return float(vals[keep[labels]].sum())


def score_labels(
    labels: np.ndarray,
    moods: np.ndarray,
    active: np.ndarray,
    weights: ScoreWeights,
    *,
    top_k: int = TOP_K_MOODS_FOR_PURITY,
    X: np.ndarray | None = None,
    other: np.ndarray | None = None,
    purity_stats: LogNormalStats = LN_MOOD_PURITY_STATS,
    diversity_stats: LogNormalStats = LN_MOOD_DIVERSITY_STATS,
) -> Scores:
    """Score one clustering of ``len(labels)`` songs; label -1 is noise and is ignored.

    ``moods`` (n, M) are the songs' mood scores, ``active`` a boolean (M,) mask of the moods encoded
    in the feature vector, ``X`` the clustered space (only needed for the geometric terms) and
    ``other`` (n, F) the other features (only needed for their terms).
    """
    labels = np.asarray(labels)
    keep = labels >= 0
    if not keep.all():
        labels, moods = labels[keep], moods[keep]
        X = X[keep] if X is not None else None
        other = other[keep] if other is not None else None
    uniq, labels = np.unique(labels, return_inverse=True)
    k = len(uniq)
    profiles, _ = cluster_means(labels, moods, k)
    raw_purity = mood_purity_raw_array(labels, moods, profiles, active, top_k)
    raw_diversity = mood_diversity_raw_array(profiles)
    comp = {
        "mood_purity": purity_stats.z(raw_purity),
        "mood_diversity": diversity_stats.z(raw_diversity),
        "raw_mood_purity": raw_purity,
        "raw_mood_diversity": raw_diversity,
        "n_clusters": float(k),
    }
    total = weights.purity * comp["mood_purity"] + weights.diversity * comp["mood_diversity"]

    if other is not None and (weights.other_feature_diversity or weights.other_feature_purity):
        oprof, _ = cluster_means(labels, other, k)
        if weights.other_feature_diversity:
            raw = other_feature_diversity_raw_array(oprof)
            comp["raw_other_feature_diversity"] = raw
            comp["other_feature_diversity"] = LN_OTHER_FEATURE_DIVERSITY_STATS.z(raw)
            total += weights.other_feature_diversity * comp["other_feature_diversity"]
        if weights.other_feature_purity:
            raw = other_feature_purity_raw_array(labels, other, oprof)
            comp["raw_other_feature_purity"] = raw
            comp["other_feature_purity"] = LN_OTHER_FEATURE_PURITY_STATS.z(raw)
            total += weights.other_feature_purity * comp["other_feature_purity"]

    geometric = weights.silhouette or weights.davies_bouldin or weights.calinski_harabasz
    if X is not None and geometric and 2 <= k < len(labels):
        from sklearn import metrics  # imported lazily: most runs never need it

        if weights.silhouette:
            comp["silhouette"] = float(metrics.silhouette_score(X, labels))
            total += weights.silhouette * comp["silhouette"]
        if weights.davies_bouldin:
            comp["davies_bouldin"] = -float(metrics.davies_bouldin_score(X, labels))
            total += weights.davies_bouldin * comp["davies_bouldin"]
        if weights.calinski_harabasz:
            comp["calinski_harabasz"] = float(np.log1p(metrics.calinski_harabasz_score(X, labels)))
            total += weights.calinski_harabasz * comp["calinski_harabasz"]
    return Scores(float(total), comp)
