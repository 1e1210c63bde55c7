"""Post-processing of the best run: every song (not only the sample) is assigned to its clusters;
playlists get an optional per-artist cap, are split when larger than ``max_songs_per_cluster``,
dropped under ``min_playlist_size``, and the ``top_playlists`` most diverse ones are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from audiomuse.clustering.data import ClusteringInput, PlaylistResult
from audiomuse.clustering.naming import name_playlists
from audiomuse.clustering.params import ClusteringParams
from audiomuse.clustering.problem import Problem, nearest
from audiomuse.playlists.artist_cap import ArtistCap

DOMINANT_MOODS = 3  # labels kept in PlaylistResult.dominant_moods


def assign_all(problem: Problem, sample: np.ndarray, run_params: Mapping[str, Any],
                labels: np.ndarray, model: Any) -> np.ndarray:
    """Cluster of every song (-1 = none): nearest centre (K-Means), predict (GMM), or the label of
    the nearest clustered sample song (spectral; DBSCAN only within eps)."""
    X, x2 = problem.X, problem.x2
    algo = run_params["algorithm"]
    if algo == "kmeans":
        C = model
        return nearest(X, x2, C, np.einsum("ij,ij->i", C, C))[0]
    if algo == "gmm":
        return model.predict(X).astype(np.int64)
    out = np.full(len(X), -1, dtype=np.int64)
    out[sample] = labels
    ref = sample[labels >= 0]
    rest = np.setdiff1d(np.arange(len(X)), sample)
    if len(ref) and len(rest):
        idx, d2 = nearest(X[rest], x2[rest], X[ref], x2[ref])
        lab = labels[labels >= 0][idx]
        if algo == "dbscan":
            lab = np.where(d2 <= float(model) ** 2, lab, -1)
        out[rest] = lab
    return out


def _ordered_by_centre(X: np.ndarray, members: np.ndarray) -> np.ndarray:
    centre = X[members].mean(axis=0)
    d = ((X[members] - centre) ** 2).sum(axis=1)
    return members[np.argsort(d, kind="stable")]


def _split(X: np.ndarray, members: np.ndarray, max_size: int) -> list[np.ndarray]:
    """Cut along the playlist's main axis of variation into ceil(len/max) near-equal parts."""
    parts = -(-len(members) // max_size)
    if parts <= 1:
        return [members]
    Y = X[members].astype(np.float64)
    Y -= Y.mean(axis=0)
    _, vecs = np.linalg.eigh(Y.T @ Y)
    axis = vecs[:, -1]
    axis *= np.sign(axis[np.argmax(np.abs(axis))])  # deterministic sign
    order = members[np.argsort(Y @ axis, kind="stable")]
    return [_ordered_by_centre(X, chunk) for chunk in np.array_split(order, parts)]


def _cap_artists(members: np.ndarray, artists: Sequence[str | None], cap: int) -> np.ndarray:
    """The members the artist cap admits, in order; each row is its own song (the library holds no
    duplicates), so only the per-artist limit can refuse one."""
    policy = ArtistCap(cap)
    return np.array([i for i in members if policy.admit(artists[i], (f"row:{i}",))], dtype=np.int64)


def _playlist(inp: ClusteringInput, members: np.ndarray) -> PlaylistResult:
    prof = inp.moods[members].mean(axis=0).astype(np.float64)
    order = np.argsort(-prof, kind="stable")
    profile = {inp.mood_labels[j]: float(prof[j]) for j in order}
    other_means = {}
    if inp.other is not None:
        other_means = dict(zip(inp.other_labels, map(float, inp.other[members].mean(axis=0)), strict=True))
    return PlaylistResult(
        track_indices=[int(i) for i in members],
        profile=profile,
        dominant_moods=[inp.mood_labels[j] for j in order[:DOMINANT_MOODS]],
        tempo_mean=float(inp.tempo[members].mean()) if inp.tempo is not None else None,
        energy_mean=float(inp.energy[members].mean()) if inp.energy is not None else None,
        other_means=other_means,
        track_ids=[inp.track_ids[i] for i in members] if inp.track_ids is not None else [],
    )


def build_playlists(inp: ClusteringInput, problem: Problem, labels_all: np.ndarray,
                     params: ClusteringParams) -> list[PlaylistResult]:
    X = problem.X
    groups: list[np.ndarray] = []
    for c in np.unique(labels_all[labels_all >= 0]):
        members = _ordered_by_centre(X, np.flatnonzero(labels_all == c))
        if params.max_songs_per_artist > 0 and inp.artists is not None:
            members = _cap_artists(members, inp.artists, params.max_songs_per_artist)
        if params.max_songs_per_cluster > 0:
            groups.extend(_split(X, members, params.max_songs_per_cluster))
        else:
            groups.append(members)
    playlists = [_playlist(inp, g) for g in groups if len(g) >= params.min_playlist_size]
    playlists = select_diverse(playlists, params.top_playlists, inp.mood_labels)
    names = name_playlists(playlists)
    return [replace(p, name=name) for p, name in zip(playlists, names, strict=True)]


def select_diverse(playlists: Sequence[PlaylistResult], n: int, mood_labels: Sequence[str]) -> list[PlaylistResult]:
    """Greedy top-``n``: start with the largest playlist; then, preferring playlists whose dominant
    mood is not taken yet, pick the one maximising (min profile distance to the chosen, normalised)
    x (log size, normalised). Returns them in selection order."""
    if not playlists:
        return []
    P = np.array([[p.profile.get(m, 0.0) for m in mood_labels] for p in playlists])
    size = np.log1p([len(p.track_indices) for p in playlists])
    dom = [p.dominant_moods[0] if p.dominant_moods else "" for p in playlists]
    chosen = [int(np.argmax(size))]
    free = np.ones(len(playlists), dtype=bool)
    free[chosen[0]] = False
    while len(chosen) < min(n, len(playlists)):
        cand = np.flatnonzero(free)
        taken = {dom[i] for i in chosen}
        fresh = cand[[dom[i] not in taken for i in cand]]
        if len(fresh):
            cand = fresh
        dist = np.sqrt(((P[cand][:, None, :] - P[chosen][None, :, :]) ** 2).sum(-1)).min(axis=1)
        score = (dist / dist.max() if dist.max() > 0 else np.ones(len(cand))) * (size[cand] / size[cand].max())
        pick = int(cand[np.argmax(score)])
        chosen.append(pick)
        free[pick] = False
    return [playlists[i] for i in chosen]
