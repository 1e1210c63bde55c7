"""Neighbour-quality metrics: label precision@k (optionally other albums only) and hubness.

Used by ``benchmarks/similarity_quality.py``; plain numpy over neighbour lists or dense scores.
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` highest-scoring columns of each row of a dense n x n score matrix, best first,
    never the row itself and never a column where ``exclude`` (n x n bool) is True."""
    s = np.array(scores, dtype=np.float64)
    np.fill_diagonal(s, -np.inf)
    if exclude is not None:
        s[exclude] = -np.inf
    k = min(k, s.shape[1] - 1)
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


def precision_at_k(neighbours: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per query row: the share of its neighbours (n x k indices) that carry its label."""
    labels = np.asarray(labels)
    return (labels[neighbours] == labels[:, None]).mean(axis=1)


def same_group(groups: np.ndarray) -> np.ndarray:
    """n x n bool: True where two tracks share a group (e.g. an album): the ``exclude`` of
    :func:`top_k` for cross-album precision, where album production cannot help."""
    g = np.asarray(groups)
    return g[:, None] == g[None, :]


def k_occurrence(neighbours: np.ndarray, n: int | None = None) -> np.ndarray:
    """N_k: how many rows' neighbour lists (n x k indices) each item appears in."""
    n = len(neighbours) if n is None else n
    return np.bincount(np.asarray(neighbours).ravel(), minlength=n)


def skewness(values: np.ndarray) -> float:
    """Sample skewness (the biased moment estimator, as in Radovanovic et al.'s hubness papers)."""
    v = np.asarray(values, np.float64)
    d = v - v.mean()
    m2 = (d**2).mean()
    return float((d**3).mean() / m2**1.5) if m2 > 0 else 0.0


def hubness(neighbours: np.ndarray, n: int | None = None) -> dict:
    """Skewness of N_k, the share of items in no one's list (orphans) and the largest N_k."""
    nk = k_occurrence(neighbours, n)
    return {"skew": skewness(nk), "orphans": float((nk == 0).mean()), "max": int(nk.max())}
