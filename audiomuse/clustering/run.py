"""One run: cluster a sample (numpy K-Means, or scikit-learn's GMM / DBSCAN / spectral) and score it.

Speed: K-Means, the default, is a small numpy Lloyd (batched k-means++ seeding, n_init=1, at most
``kmeans_max_iter`` iterations, float32 GEMM distances, sparse one-hot centroid updates): about
11 ms per run on 1,500 x 200, scoring included, against 55-90 ms for one scikit-learn ``KMeans`` or
``MiniBatchKMeans`` fit with n_init=1 (greedy k-means++ seeding and per-call overhead dominate at this
size); its inertia is within 0.5% of scikit-learn's. GMM, DBSCAN and spectral use scikit-learn.

Also the worker side of the process pool: the problem arrives once per process.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from audiomuse.clustering.problem import Problem, sq_dists
from audiomuse.clustering.scoring import onehot, score_labels


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
        d2 = np.minimum(d2, sq_dists(X, x2, X[pick], x2[pick]).min(axis=1))
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


def cluster(problem: Problem, Xs: np.ndarray, x2s: np.ndarray, run_params: Mapping[str, Any],
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


def execute(problem: Problem, task: tuple, keep: bool = False) -> dict[str, Any]:
    """Run one task ``(run_index, sample, run_params, seed)``; ``keep`` returns labels and model."""
    run, sample, run_params, seed = task
    rng = np.random.default_rng((seed, run, 2))
    Xs, x2s = problem.X[sample], problem.x2[sample]
    p = problem.params
    w = p.weights
    try:
        labels, model = cluster(problem, Xs, x2s, run_params, rng)
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


def init_worker(problem: Problem) -> None:
    _WORKER["limits"] = threadpool_limits(limits=1)  # 2 workers on 2 cores: no oversubscription
    _WORKER["problem"] = problem


def run_chunk(tasks: list[tuple]) -> list[dict[str, Any]]:
    return [execute(_WORKER["problem"], t) for t in tasks]
