"""The problem shipped once to every worker: the standardised clustering space and the mood data."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiomuse.clustering.data import ClusteringInput, score_vectors
from audiomuse.clustering.params import ClusteringParams


@dataclass
class Problem:
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


def build_problem(inp: ClusteringInput, params: ClusteringParams, seed: int) -> Problem:
    if params.use_embeddings:
        if inp.X is None:
            raise ValueError("use_embeddings=True needs ClusteringInput.X")
        raw = inp.X
    else:
        raw = score_vectors(inp)
    X = _standardise(raw)
    problem = Problem(
        X=X, x2=np.einsum("ij,ij->i", X, X), moods=inp.moods, active=inp.active_mask(),
        other=inp.other, params=params,
    )
    if params.algorithm == "dbscan":
        problem.dbscan_scale = _neighbour_scale(X, problem.x2, np.random.default_rng((seed, 0, 9)))
    return problem


def _neighbour_scale(X: np.ndarray, x2: np.ndarray, rng: np.random.Generator, k: int = 10) -> float:
    """Median distance to the k-th nearest neighbour (on a subset): the unit of DBSCAN's eps."""
    idx = np.sort(rng.choice(len(X), min(len(X), 1000), replace=False))
    d2 = sq_dists(X[idx], x2[idx], X[idx], x2[idx])
    kk = min(k, len(idx) - 1)
    kth = np.partition(d2, kk, axis=1)[:, kk]  # column 0 is the point itself
    return float(np.sqrt(np.median(kth))) or 1.0


def sq_dists(A: np.ndarray, a2: np.ndarray, B: np.ndarray, b2: np.ndarray) -> np.ndarray:
    d = A @ B.T
    d *= -2.0
    d += a2[:, None]
    d += b2[None, :]
    return np.maximum(d, 0.0, out=d)


def nearest(A: np.ndarray, a2: np.ndarray, B: np.ndarray, b2: np.ndarray, chunk: int = 4096):
    """Index of and squared distance to the nearest row of B, for every row of A (chunked)."""
    idx = np.empty(len(A), dtype=np.int64)
    dist = np.empty(len(A), dtype=np.float32)
    for s in range(0, len(A), chunk):
        d = sq_dists(A[s : s + chunk], a2[s : s + chunk], B, b2)
        idx[s : s + chunk] = d.argmin(axis=1)
        dist[s : s + chunk] = d[np.arange(len(d)), idx[s : s + chunk]]
    return idx, dist
