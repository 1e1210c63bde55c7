"""Evolutionary clustering search: many randomised clusterings of stratified samples, best one kept.

One *run* = draw (or mutate) parameters, cluster a stratified sample of the songs, score it
(:mod:`audiomuse.clustering.scoring`). Runs execute in fixed batches (``ClusteringParams.batch_size``);
between batches the master updates the elites, calls ``progress`` and checks ``should_stop``.

Reproducibility: run ``i`` draws everything from ``np.random.default_rng((seed, i, stream))``; the
sample chain and the parameters are decided in the master, the elites change only between batches
and batch boundaries do not depend on ``workers``; every process pins BLAS/OpenMP to one thread. So
the same seed gives the same result whatever ``workers`` is.

Speed: K-Means, the default, is a small numpy Lloyd (batched k-means++ seeding, n_init=1, at most
``kmeans_max_iter`` iterations, float32 GEMM distances, sparse one-hot centroid updates): about
11 ms per run on 1,500 x 200, scoring included, against 55-90 ms for one scikit-learn ``KMeans`` or
``MiniBatchKMeans`` fit with n_init=1 (greedy k-means++ seeding and per-call overhead dominate at this
size); its inertia is within 0.5% of scikit-learn's. GMM, DBSCAN and spectral use scikit-learn.

Post-processing of the best run: every song (not only the sample) is assigned to its clusters;
playlists get an optional per-artist cap, are split when larger than ``max_songs_per_cluster``,
dropped under ``min_playlist_size``, and the ``top_playlists`` most diverse ones are kept.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from audiomuse.clustering import naming
from audiomuse.clustering.scoring import (
    LN_MOOD_DIVERSITY_STATS,
    LN_MOOD_PURITY_STATS,
    LogNormalStats,
    ScoreWeights,
    onehot,
    score_labels,
)

ALGORITHMS = ("kmeans", "gmm", "dbscan", "spectral")
GMM_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
OTHER_FEATURE_LABELS = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")
DOMINANT_MOODS = 3  # labels kept in PlaylistResult.dominant_moods


class ClusteringCancelled(Exception):
    """``should_stop()`` returned True; the caller keeps its previous playlists."""

    def __init__(self, runs_done: int, runs_total: int):
        super().__init__(f"clustering cancelled after {runs_done} of {runs_total} runs")
        self.runs_done = runs_done
        self.runs_total = runs_total


# --- public data types ---------------------------------------------------------------------------


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
class ClusteringParams:
    """Search settings; defaults are the reference's."""

    runs: int = 5000
    algorithm: str = "kmeans"
    k_min: int = 40
    k_max: int = 100
    use_embeddings: bool = True
    elites: int = 10
    exploitation_start: float = 0.2
    exploitation_probability: float = 0.7
    sampling_change: float = 0.2
    top_k_moods: int = 3
    weights: ScoreWeights = field(default_factory=ScoreWeights)
    max_songs_per_cluster: int = 0  # 0 = no limit
    min_playlist_size: int = 20
    top_playlists: int = 10
    sample_size: int = 1500  # songs per run: min(n, sample_size)
    max_songs_per_artist: int = 0  # 0 = no cap (from_settings maps MAX_SONGS_PER_ARTIST)
    batch_size: int = 100  # runs between elite updates / progress / cancellation checks
    # mutation
    mutation_k_delta: int = 3
    mutation_eps_factor: float = 0.15  # eps *= uniform(1 - f, 1 + f)
    # algorithm details
    kmeans_max_iter: int = 20
    kmeans_tol: float = 0.002  # stop when at most this fraction of labels changed
    gmm_covariance_types: tuple[str, ...] = GMM_COVARIANCE_TYPES
    gmm_max_iter: int = 100
    dbscan_eps_range: tuple[float, float] = (0.6, 1.4)  # x median distance to the 10th neighbour
    dbscan_min_samples_range: tuple[int, int] = (5, 20)
    spectral_n_neighbors: int = 20
    purity_stats: LogNormalStats = LN_MOOD_PURITY_STATS
    diversity_stats: LogNormalStats = LN_MOOD_DIVERSITY_STATS

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {self.algorithm!r}")
        if self.runs < 1 or self.batch_size < 1:
            raise ValueError("runs and batch_size must be >= 1")
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError("need 2 <= k_min <= k_max")
        if not 0.0 <= self.sampling_change <= 1.0:
            raise ValueError("sampling_change must be within 0..1")
        if not (0.0 <= self.exploitation_start <= 1.0 and 0.0 <= self.exploitation_probability <= 1.0):
            raise ValueError("exploitation_start and exploitation_probability must be within 0..1")
        if self.sample_size < 4 or self.top_k_moods < 1 or self.min_playlist_size < 1 or self.top_playlists < 1:
            raise ValueError("sample_size >= 4, top_k_moods, min_playlist_size and top_playlists >= 1")
        if set(self.gmm_covariance_types) - set(GMM_COVARIANCE_TYPES) or not self.gmm_covariance_types:
            raise ValueError(f"gmm_covariance_types must be a non-empty subset of {GMM_COVARIANCE_TYPES}")
        lo, hi = self.dbscan_eps_range
        if not 0 < lo <= hi:
            raise ValueError("dbscan_eps_range must be 0 < lo <= hi")
        lo, hi = self.dbscan_min_samples_range
        if not 1 <= lo <= hi:
            raise ValueError("dbscan_min_samples_range must be 1 <= lo <= hi")

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ClusteringParams:
        """From :class:`audiomuse.config.Settings` (or anything with the same attribute names)."""
        kw: dict[str, Any] = dict(
            runs=settings.clustering_runs,
            algorithm=settings.cluster_algorithm,
            k_min=settings.num_clusters_min,
            k_max=settings.num_clusters_max,
            use_embeddings=settings.enable_clustering_embeddings,
            sampling_change=settings.sampling_percentage_change_per_run,
            max_songs_per_cluster=settings.max_songs_per_cluster,
            min_playlist_size=settings.min_songs_per_playlist,
            top_playlists=settings.top_playlist_number,
            max_songs_per_artist=getattr(settings, "max_songs_per_artist", 0),
            weights=ScoreWeights(
                diversity=settings.score_weight_diversity,
                purity=settings.score_weight_purity,
                silhouette=settings.score_weight_silhouette,
                davies_bouldin=settings.score_weight_davies_bouldin,
                calinski_harabasz=settings.score_weight_calinski_harabasz,
                other_feature_diversity=settings.score_weight_other_feature_diversity,
                other_feature_purity=settings.score_weight_other_feature_purity,
            ),
        )
        kw.update(overrides)
        return cls(**kw)


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


# --- the problem shipped to workers --------------------------------------------------------------


@dataclass
class _Problem:
    X: np.ndarray  # (n, d) float32, standardised clustering space
    x2: np.ndarray  # (n,) squared row norms of X
    moods: np.ndarray  # (n, M) float32
    active: np.ndarray  # (M,) bool
    other: np.ndarray | None
    params: ClusteringParams
    dbscan_scale: float = 1.0


def _standardise(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    sd = x.std(axis=0)
    return np.ascontiguousarray((x - x.mean(axis=0)) / np.where(sd > 1e-8, sd, 1.0), dtype=np.float32)


def _build_problem(inp: ClusteringInput, params: ClusteringParams, seed: int) -> _Problem:
    if params.use_embeddings:
        if inp.X is None:
            raise ValueError("use_embeddings=True needs ClusteringInput.X")
        raw = inp.X
    else:
        raw = score_vectors(inp)
    X = _standardise(raw)
    problem = _Problem(
        X=X, x2=np.einsum("ij,ij->i", X, X), moods=inp.moods, active=inp.active_mask(),
        other=inp.other, params=params,
    )
    if params.algorithm == "dbscan":
        problem.dbscan_scale = _neighbour_scale(X, problem.x2, np.random.default_rng((seed, 0, 9)))
    return problem


def _neighbour_scale(X: np.ndarray, x2: np.ndarray, rng: np.random.Generator, k: int = 10) -> float:
    """Median distance to the k-th nearest neighbour (on a subset): the unit of DBSCAN's eps."""
    idx = np.sort(rng.choice(len(X), min(len(X), 1000), replace=False))
    d2 = _sq_dists(X[idx], x2[idx], X[idx], x2[idx])
    kk = min(k, len(idx) - 1)
    kth = np.partition(d2, kk, axis=1)[:, kk]  # column 0 is the point itself
    return float(np.sqrt(np.median(kth))) or 1.0


def _sq_dists(A: np.ndarray, a2: np.ndarray, B: np.ndarray, b2: np.ndarray) -> np.ndarray:
    d = A @ B.T
    d *= -2.0
    d += a2[:, None]
    d += b2[None, :]
    return np.maximum(d, 0.0, out=d)


def _nearest(A: np.ndarray, a2: np.ndarray, B: np.ndarray, b2: np.ndarray, chunk: int = 4096):
    """Index of and squared distance to the nearest row of B, for every row of A (chunked)."""
    idx = np.empty(len(A), dtype=np.int64)
    dist = np.empty(len(A), dtype=np.float32)
    for s in range(0, len(A), chunk):
        d = _sq_dists(A[s : s + chunk], a2[s : s + chunk], B, b2)
        idx[s : s + chunk] = d.argmin(axis=1)
        dist[s : s + chunk] = d[np.arange(len(d)), idx[s : s + chunk]]
    return idx, dist


# --- stratified sampling -------------------------------------------------------------------------


def _water_fill(sizes: np.ndarray, total: int) -> np.ndarray:
    """Per-stratum quotas summing to ``total``: equal shares, small strata taken whole."""
    quota = np.zeros(len(sizes), dtype=np.int64)
    remaining = int(min(total, sizes.sum()))
    while remaining > 0:
        open_ = np.flatnonzero(quota < sizes)
        share = remaining // len(open_)
        if share == 0:  # fewer songs left than open strata: one more each, largest strata first
            order = open_[np.argsort(-sizes[open_], kind="stable")][:remaining]
            quota[order] += 1
            break
        add = np.minimum(share, sizes[open_] - quota[open_])
        quota[open_] += add
        remaining -= int(add.sum())
    return quota


class _StratifiedSampler:
    """Samples of ``size`` songs with fixed per-stratum quotas; ``perturb`` swaps ``change`` of them."""

    def __init__(self, codes: np.ndarray, size: int, change: float):
        self.codes = codes
        self.n = len(codes)
        self.size = min(size, self.n)
        self.change = change
        self.n_strata = int(codes.max()) + 1 if self.n else 0
        self.sizes = np.bincount(codes, minlength=self.n_strata)
        self.by_stratum = np.argsort(codes, kind="stable")
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)
        self.quota = _water_fill(self.sizes, self.size)

    @property
    def full(self) -> bool:
        return self.size >= self.n

    def next(self, prev: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        if self.full:
            return np.arange(self.n, dtype=np.int32)
        if prev is None:
            return self._first(rng)
        if self.change <= 0:
            return prev
        return self._perturb(prev, rng)

    def _first(self, rng: np.random.Generator) -> np.ndarray:
        order = np.argsort(self.codes + rng.random(self.n), kind="stable")  # strata, random inside
        c = self.codes[order]
        rank = np.arange(self.n) - self.starts[c]
        return np.sort(order[rank < self.quota[c]]).astype(np.int32)

    def _perturb(self, prev: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        S = self.n_strata
        codes_m = self.codes[prev]
        cnt = np.bincount(codes_m, minlength=S)
        avail = self.sizes - cnt  # songs of the stratum not in the sample
        drop = np.minimum(np.rint(self.change * cnt).astype(np.int64), avail)
        # drop `drop[s]` random members of each stratum
        order = np.argsort(codes_m + rng.random(len(prev)), kind="stable")
        c = codes_m[order]
        rank = np.arange(len(prev)) - np.concatenate([[0], np.cumsum(cnt)[:-1]])[c]
        kept = prev[order][rank >= drop[c]]
        need = np.clip(self.quota - (cnt - drop), 0, avail)
        # add `need[s]` random non-members of each stratum: rejection sampling inside the stratum
        member = np.zeros(self.n, dtype=bool)
        member[prev] = True
        strata = np.flatnonzero(need > 0)
        draws = np.ceil(2.0 * need[strata] * self.sizes[strata] / np.maximum(avail[strata], 1)).astype(np.int64) + 4
        grp = np.repeat(strata, draws)
        pos = np.minimum((rng.random(len(grp)) * self.sizes[grp]).astype(np.int64), self.sizes[grp] - 1)
        cand = self.by_stratum[self.starts[grp] + pos]
        ok = ~member[cand]
        cand, grp = cand[ok], grp[ok]
        _, first = np.unique(cand, return_index=True)
        first.sort()
        cand, grp = cand[first], grp[first]
        rank = np.arange(len(grp)) - np.searchsorted(grp, grp, side="left")
        take = rank < need[grp]
        added = [cand[take]]
        got = np.bincount(grp[take], minlength=S)
        short = np.flatnonzero(got < need)
        if len(short):  # rare: exact draw for strata the rejection sampling left short
            member[added[0]] = True
            for s in short:
                pool = self.by_stratum[self.starts[s] : self.starts[s] + self.sizes[s]]
                pool = pool[~member[pool]]
                added.append(rng.choice(pool, min(int(need[s] - got[s]), len(pool)), replace=False))
        return np.sort(np.concatenate([kept, *added])).astype(np.int32)


# --- parameters: random draws and mutations ------------------------------------------------------


def _k_bounds(p: ClusteringParams, n_sample: int) -> tuple[int, int]:
    hi = max(2, min(p.k_max, n_sample - 1))
    lo = max(2, min(p.k_min, hi))
    return lo, hi


def _random_params(rng: np.random.Generator, p: ClusteringParams, n_sample: int) -> dict[str, Any]:
    lo, hi = _k_bounds(p, n_sample)
    if p.algorithm == "dbscan":
        ms_lo, ms_hi = p.dbscan_min_samples_range
        return {"algorithm": "dbscan", "eps_factor": round(float(rng.uniform(*p.dbscan_eps_range)), 4),
                "min_samples": int(rng.integers(ms_lo, ms_hi + 1))}
    out: dict[str, Any] = {"algorithm": p.algorithm, "n_clusters": int(rng.integers(lo, hi + 1))}
    if p.algorithm == "gmm":
        out["covariance_type"] = str(p.gmm_covariance_types[int(rng.integers(len(p.gmm_covariance_types)))])
    return out


def _mutate(rng: np.random.Generator, elite: Mapping[str, Any], p: ClusteringParams, n_sample: int) -> dict[str, Any]:
    out = dict(elite)
    if p.algorithm == "dbscan":
        f = p.mutation_eps_factor
        eps = elite["eps_factor"] * float(rng.uniform(1 - f, 1 + f))
        out["eps_factor"] = round(float(np.clip(eps, *p.dbscan_eps_range)), 4)
        ms_lo, ms_hi = p.dbscan_min_samples_range
        out["min_samples"] = int(np.clip(elite["min_samples"] + rng.integers(-2, 3), ms_lo, ms_hi))
        return out
    lo, hi = _k_bounds(p, n_sample)
    d = p.mutation_k_delta
    out["n_clusters"] = int(np.clip(elite["n_clusters"] + rng.integers(-d, d + 1), lo, hi))
    if p.algorithm == "gmm" and rng.random() < 0.2:
        out["covariance_type"] = str(p.gmm_covariance_types[int(rng.integers(len(p.gmm_covariance_types)))])
    return out


def _params_key(run_params: Mapping[str, Any]) -> tuple:
    return tuple(sorted(run_params.items()))


# --- one run -------------------------------------------------------------------------------------


def _kmeans_pp(X: np.ndarray, x2: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding, ``ceil(k/10)`` centres per round (Efraimidis-Spirakis weighted draws)."""
    n = len(X)
    chosen = np.empty(k, dtype=np.int64)
    chosen[0] = rng.integers(n)
    d2 = np.maximum(x2 + x2[chosen[0]] - 2.0 * (X @ X[chosen[0]]), 0.0)
    d2[chosen[0]] = 0.0
    filled, step = 1, max(1, -(-k // 10))
    while filled < k:
        b = min(step, k - filled)
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=n) / d2.astype(np.float64)
        if not np.isfinite(keys).any():  # all remaining points coincide with centres
            keys = rng.random(n)
            keys[chosen[:filled]] = np.inf
        pick = np.argpartition(keys, b - 1)[:b] if b < n else np.arange(n)
        chosen[filled : filled + b] = pick
        d2 = np.minimum(d2, _sq_dists(X, x2, X[pick], x2[pick]).min(axis=1))
        d2[pick] = 0.0
        filled += b
    return X[chosen].copy()


def kmeans(
    X: np.ndarray, k: int, rng: np.random.Generator, *, x2: np.ndarray | None = None,
    max_iter: int = 20, tol: float = 0.002,
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's K-Means in numpy: returns labels (0..K'-1, empty clusters removed) and the centres."""
    n = len(X)
    k = max(1, min(k, n))
    x2 = np.einsum("ij,ij->i", X, X) if x2 is None else x2
    C = _kmeans_pp(X, x2, k, rng)
    labels = None
    max_changed = int(tol * n)
    for it in range(max_iter):
        D = X @ C.T
        D *= -2.0
        D += np.einsum("ij,ij->i", C, C)[None, :]
        new = D.argmin(axis=1)
        done = labels is not None and np.count_nonzero(new != labels) <= max_changed
        labels = new
        if done or it == max_iter - 1:
            break
        counts = np.bincount(labels, minlength=k)
        sums = np.asarray(onehot(labels, k).T @ X)
        nz = counts > 0
        C[nz] = sums[nz] / counts[nz, None]
    used = np.unique(labels)
    if len(used) < k:
        remap = np.full(k, -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        labels, C = remap[labels], C[used]
    return labels, C


def _cluster(problem: _Problem, Xs: np.ndarray, x2s: np.ndarray, run_params: Mapping[str, Any],
             rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    p = problem.params
    algo = run_params["algorithm"]
    if algo == "kmeans":
        return kmeans(Xs, run_params["n_clusters"], rng, x2=x2s, max_iter=p.kmeans_max_iter, tol=p.kmeans_tol)
    random_state = int(rng.integers(2**31 - 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if algo == "gmm":
            from sklearn.mixture import GaussianMixture

            model = GaussianMixture(
                n_components=run_params["n_clusters"], covariance_type=run_params["covariance_type"],
                max_iter=p.gmm_max_iter, n_init=1, init_params="k-means++", reg_covar=1e-4,
                random_state=random_state,
            )
            return model.fit(Xs).predict(Xs), model
        if algo == "dbscan":
            from sklearn.cluster import DBSCAN

            eps = run_params["eps_factor"] * problem.dbscan_scale
            return DBSCAN(eps=eps, min_samples=run_params["min_samples"]).fit_predict(Xs), eps
        if algo == "spectral":
            from sklearn.cluster import SpectralClustering

            model = SpectralClustering(
                n_clusters=run_params["n_clusters"], affinity="nearest_neighbors",
                n_neighbors=min(p.spectral_n_neighbors, len(Xs) - 1), assign_labels="cluster_qr",
                random_state=random_state,
            )
            return model.fit_predict(Xs), None
    raise ValueError(f"unknown algorithm {algo!r}")


def _execute(problem: _Problem, task: tuple, keep: bool = False) -> dict[str, Any]:
    """Run one task ``(run_index, sample, run_params, seed)``; ``keep`` returns labels and model."""
    run, sample, run_params, seed = task
    rng = np.random.default_rng((seed, run, 2))
    Xs, x2s = problem.X[sample], problem.x2[sample]
    p = problem.params
    w = p.weights
    try:
        labels, model = _cluster(problem, Xs, x2s, run_params, rng)
        geometric = w.silhouette or w.davies_bouldin or w.calinski_harabasz
        other = problem.other[sample] if problem.other is not None else None
        scores = score_labels(
            labels, problem.moods[sample], problem.active, w, top_k=p.top_k_moods,
            X=Xs if geometric else None, other=other,
            purity_stats=p.purity_stats, diversity_stats=p.diversity_stats,
        )
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as e:  # a bad draw, not a bug
        return {"run": run, "score": -math.inf, "components": {}, "error": f"{type(e).__name__}: {e}"}
    out = {"run": run, "score": scores.total, "components": scores.components, "error": None}
    if keep:
        out["labels"], out["model"] = labels, model
    return out


# worker side: the problem arrives once per process through the initializer
_WORKER: dict[str, Any] = {}


def _init_worker(problem: _Problem) -> None:
    _WORKER["limits"] = threadpool_limits(limits=1)  # 2 workers on 2 cores: no oversubscription
    _WORKER["problem"] = problem


def _run_chunk(tasks: list[tuple]) -> list[dict[str, Any]]:
    return [_execute(_WORKER["problem"], t) for t in tasks]


# --- the search ----------------------------------------------------------------------------------


def run_search(
    inp: ClusteringInput,
    params: ClusteringParams,
    seed: int,
    progress: Callable[[RunProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    workers: int = 1,
) -> SearchResult:
    """Evolutionary search for the best clustering, then the playlists of its full assignment.

    Raises :class:`ClusteringCancelled` when ``should_stop()`` returns True (checked before every
    batch) and ``RuntimeError`` when no run produced a clustering.
    """
    t0 = time.perf_counter()
    if inp.n < 4:
        raise ValueError(f"need at least 4 songs to cluster, got {inp.n}")
    if workers <= 0:
        workers = os.cpu_count() or 1
    with threadpool_limits(limits=1):
        problem = _build_problem(inp, params, seed)
        sampler = _StratifiedSampler(inp.strata(), params.sample_size, params.sampling_change)
        executor = None
        if workers > 1:
            executor = ProcessPoolExecutor(
                max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(problem,),
            )
        try:
            best, done, error = _evolve(problem, sampler, params, seed, executor, workers, progress, should_stop, t0)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        if best is None:
            raise RuntimeError(f"no clustering run succeeded; first error: {error}")
        final = _execute(problem, (best["run"], best["sample"], best["run_params"], seed), keep=True)
        labels_all = _assign_all(problem, best["sample"], best["run_params"], final["labels"], final["model"])
        playlists = _build_playlists(inp, problem, labels_all, params)
    best_params = dict(best["run_params"])
    if best_params["algorithm"] == "dbscan":
        best_params["eps"] = best_params["eps_factor"] * problem.dbscan_scale
    return SearchResult(
        best_score=best["score"], components=best["components"], best_params=best_params,
        playlists=playlists, runs_done=done, elapsed_s=time.perf_counter() - t0,
        best_run=best["run"], sample_size=sampler.size,
    )


PIPELINE_DEPTH = 2  # batches in flight: batch b is drawn with the elites known after batch b - 2


def _evolve(problem, sampler, params, seed, executor, workers, progress, should_stop, t0):
    """Batches of runs; results of a batch are applied (best, elites, progress) once the next batch
    is already queued, so workers never wait for the master. The schedule is the same in-process and
    in the pool, hence the same result for any ``workers``."""
    total = params.runs
    exploit_from = int(round(params.exploitation_start * total))
    state: dict[str, Any] = {"elites": [], "best": None, "done": 0, "error": None}
    pending: deque = deque()
    prev_sample: np.ndarray | None = None

    def collect() -> None:
        end, samples, result = pending.popleft()
        outcomes = sorted(result(), key=lambda o: o["run"])
        valid = [o for o in outcomes if math.isfinite(o["score"])]
        if state["error"] is None:
            state["error"] = next((o["error"] for o in outcomes if o["error"]), None)
        for o in valid:
            o["sample"], o["run_params"] = samples[o["run"]]
            if state["best"] is None or o["score"] > state["best"]["score"]:
                state["best"] = o
        state["elites"] = _update_elites(state["elites"], valid, params.elites)
        state["done"] = end
        if progress is not None:
            best = state["best"]["score"] if state["best"] else -math.inf
            progress(RunProgress(end, total, best, time.perf_counter() - t0))

    for start in range(0, total, params.batch_size):
        if should_stop is not None and should_stop():
            raise ClusteringCancelled(state["done"], total)
        end = min(total, start + params.batch_size)
        elites = state["elites"]
        tasks, samples = [], {}
        for i in range(start, end):
            prev_sample = sampler.next(prev_sample, np.random.default_rng((seed, i, 1)))
            rng = np.random.default_rng((seed, i, 0))
            if i >= exploit_from and elites and rng.random() < params.exploitation_probability:
                elite = elites[int(rng.integers(len(elites)))]["run_params"]
                run_params = _mutate(rng, elite, params, len(prev_sample))
            else:
                run_params = _random_params(rng, params, len(prev_sample))
            tasks.append((i, prev_sample, run_params, seed))
            samples[i] = (prev_sample, run_params)
        if executor is None:
            outcomes = [_execute(problem, t) for t in tasks]
            pending.append((end, samples, lambda outcomes=outcomes: outcomes))
        else:
            n_chunks = min(len(tasks), workers * 4)
            bounds = np.linspace(0, len(tasks), n_chunks + 1).astype(int)
            futures = [executor.submit(_run_chunk, tasks[a:b]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
            pending.append((end, samples, lambda futures=futures: [o for f in futures for o in f.result()]))
        if len(pending) >= PIPELINE_DEPTH:
            collect()
    while pending:
        collect()
    return state["best"], state["done"], state["error"]


def _update_elites(elites: list[dict], outcomes: list[dict], keep: int) -> list[dict]:
    """Best ``keep`` distinct parameter sets so far (ties: earlier run first)."""
    merged = sorted(elites + [{"score": o["score"], "run": o["run"], "run_params": o["run_params"]} for o in outcomes],
                    key=lambda e: (-e["score"], e["run"]))
    out, seen = [], set()
    for e in merged:
        key = _params_key(e["run_params"])
        if key not in seen:
            seen.add(key)
            out.append(e)
        if len(out) == keep:
            break
    return out


# --- post-processing -----------------------------------------------------------------------------


def _assign_all(problem: _Problem, sample: np.ndarray, run_params: Mapping[str, Any],
                labels: np.ndarray, model: Any) -> np.ndarray:
    """Cluster of every song (-1 = none): nearest centre (K-Means), predict (GMM), or the label of
    the nearest clustered sample song (spectral; DBSCAN only within eps)."""
    X, x2 = problem.X, problem.x2
    algo = run_params["algorithm"]
    if algo == "kmeans":
        C = model
        return _nearest(X, x2, C, np.einsum("ij,ij->i", C, C))[0]
    if algo == "gmm":
        return model.predict(X).astype(np.int64)
    out = np.full(len(X), -1, dtype=np.int64)
    out[sample] = labels
    ref = sample[labels >= 0]
    rest = np.setdiff1d(np.arange(len(X)), sample)
    if len(ref) and len(rest):
        idx, d2 = _nearest(X[rest], x2[rest], X[ref], x2[ref])
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
    count: dict[str, int] = {}
    keep = []
    for i in members:
        a = (artists[i] or "").strip().lower()
        if count.get(a, 0) < cap:
            count[a] = count.get(a, 0) + 1
            keep.append(i)
    return np.array(keep, dtype=np.int64)


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


def _build_playlists(inp: ClusteringInput, problem: _Problem, labels_all: np.ndarray,
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
    names = naming.name_playlists(playlists)
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
