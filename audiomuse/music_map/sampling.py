"""Samples of the map's points (25/50/75/100%) that are deterministic and nested: the same request
always shows the same points, and a denser view only adds points."""

from __future__ import annotations

import numpy as np

SAMPLE_PERCENTS = (25, 50, 75, 100)


def sample_indices(n: int, percent: int) -> np.ndarray:
    """Deterministic, evenly spread indices covering ``percent`` of ``n`` items.

    The 50% sample is evenly spaced (linspace); 25% takes evenly spaced members of the 50% sample and
    75% adds evenly spaced members of the rest to it, so 25 < 50 < 75 < 100 are nested: switching the
    view's density only adds or removes points, it never moves the ones on screen.
    """
    if percent >= 100 or n == 0:
        return np.arange(n)
    count = max(1, round(n * percent / 100))
    half = _spaced(np.arange(n), max(1, round(n / 2)))
    if count <= len(half):
        return _spaced(half, count)
    rest = np.setdiff1d(np.arange(n), half)
    return np.union1d(half, _spaced(rest, count - len(half)))


def _spaced(items: np.ndarray, count: int) -> np.ndarray:
    """``count`` evenly spaced members of the sorted array ``items`` (first and last included)."""
    if count >= len(items):
        return items
    return items[np.unique(np.linspace(0, len(items) - 1, count).round().astype(int))]
