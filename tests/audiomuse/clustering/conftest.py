"""Synthetic libraries with a known mood structure for the clustering tests."""

from __future__ import annotations

import numpy as np
import pytest

from audiomuse.clustering.data import ClusteringInput

MOOD_LABELS = [f"mood{i:02d}" for i in range(20)]
OTHER_LABELS = ["danceable", "aggressive", "happy", "party", "relaxed", "sad"]


def make_library(n: int = 600, styles: int = 8, d: int = 32, seed: int = 0) -> tuple[ClusteringInput, np.ndarray]:
    """Songs from ``styles`` Gaussian styles; style s is dominated by mood s (score ~0.8)."""
    rng = np.random.default_rng(seed)
    style = rng.integers(0, styles, n)
    centres = rng.standard_normal((styles, d)) * 3.0
    X = centres[style] + rng.standard_normal((n, d))
    moods = rng.uniform(0.0, 0.2, (n, len(MOOD_LABELS)))
    moods[np.arange(n), style] = rng.uniform(0.6, 0.95, n)
    other = rng.uniform(0.0, 1.0, (styles, len(OTHER_LABELS)))[style]
    tempo = np.linspace(0.1, 0.9, styles)[style]
    energy = rng.uniform(0, 1, n)
    inp = ClusteringInput(
        X=X, moods=moods, mood_labels=MOOD_LABELS, other=other, other_labels=OTHER_LABELS,
        tempo=tempo, energy=energy, track_ids=[f"t{i}" for i in range(n)],
        artists=[f"artist{i % 50}" for i in range(n)],
    )
    return inp, style


@pytest.fixture(scope="session")
def library() -> tuple[ClusteringInput, np.ndarray]:
    return make_library()
