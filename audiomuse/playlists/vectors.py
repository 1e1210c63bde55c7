"""Small vector helpers shared by the playlist tools (all angular: direction is what matters)."""

from __future__ import annotations

import numpy as np


def unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


def angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle between two vectors in radians (0 = same direction, pi = opposite)."""
    return float(np.arccos(np.clip(np.dot(unit(a), unit(b)), -1.0, 1.0)))


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity: the distance the Voyager index reports."""
    return float(1.0 - np.dot(unit(a), unit(b)))


def slerp(a: np.ndarray, b: np.ndarray, steps: int) -> np.ndarray:
    """``steps`` points from ``a`` to ``b`` (both included) along the great circle."""
    a, b = unit(a), unit(b)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    theta = angle(a, b)
    if theta < 1e-6:
        return np.repeat(a[None], steps, axis=0)
    s = np.sin(theta)
    return (np.sin((1 - t) * theta) / s) * a + (np.sin(t * theta) / s) * b


def weighted_centroid(vectors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    vectors = unit(np.atleast_2d(vectors))
    w = np.ones(len(vectors)) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        raise ValueError("weights must not all be zero")
    return unit((vectors * w[:, None]).sum(axis=0) / w.sum())
