"""Synthetic embeddings that look like real ones: a mixture of styles with sub-clusters.

Real MusiCNN embeddings are anisotropic and clustered by style; uniform Gaussian noise would make
ANN search look harder and UMAP easier than they are.
"""

from __future__ import annotations

import numpy as np


def synthetic_embeddings(n: int, d: int = 200, styles: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((d, d)) / np.sqrt(d)
    scales = np.linspace(3.0, 0.2, d)  # a few strong directions, many weak: like real embeddings
    style_centres = rng.standard_normal((styles, d)) * 2.0
    labels = rng.integers(0, styles, n)
    sub = rng.standard_normal((styles, 8, d)) * 0.8
    sub_pick = rng.integers(0, 8, n)
    x = style_centres[labels] + sub[labels, sub_pick] + rng.standard_normal((n, d)) * scales
    return (x @ basis).astype(np.float32), labels


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _readout(x: np.ndarray, outputs: int, rng: np.random.Generator) -> np.ndarray:
    """A random linear read-out of the embeddings, unit variance per output: tags that vary
    smoothly with the embedding, so neighbours in embedding space get similar scores."""
    xc = x - x.mean(axis=0)
    proj = xc @ (rng.standard_normal((x.shape[1], outputs)) / np.sqrt(x.shape[1]))
    return proj / np.maximum(proj.std(axis=0), 1e-9)


def synthetic_scores(x: np.ndarray, labels: np.ndarray, tags: int = 50, other: int = 6,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Scores consistent with :func:`synthetic_embeddings`: ``moods`` (n x tags), ``other`` (n x other),
    ``tempo`` (BPM), ``energy``.

    Like MusiCNN's sigmoid outputs: most tags are weak (~0.03) for every track; each style has a
    dominant tag (~0.55-0.85) and two secondary ones; within a style the scores follow the embedding
    (a linear read-out of it) plus a little noise.
    """
    rng = np.random.default_rng(seed + 1)
    n, styles = len(x), int(labels.max()) + 1 if len(labels) else 1
    base = np.full((styles, tags), -3.5)
    dominant = rng.permutation(tags)[:styles] if styles <= tags else rng.integers(0, tags, styles)
    base[np.arange(styles), dominant] = rng.uniform(0.2, 1.7, styles)
    for s in range(styles):
        base[s, rng.choice(tags, 2, replace=False)] += rng.uniform(1.5, 2.5, 2)
    moods = _sigmoid(base[labels] + 0.7 * _readout(x, tags, rng) + rng.normal(0, 0.2, (n, tags)))
    other_base = rng.normal(0, 1.2, (styles, other))
    others = _sigmoid(other_base[labels] + 0.6 * _readout(x, other, rng) + rng.normal(0, 0.2, (n, other)))
    tempo_base, energy_base = rng.uniform(70, 170, styles), rng.uniform(0.05, 0.5, styles)
    drive = _readout(x, 2, rng)
    tempo = np.clip(tempo_base[labels] + 8 * drive[:, 0] + rng.normal(0, 4, n), 40, 220)
    energy = np.clip(energy_base[labels] + 0.05 * drive[:, 1] + rng.normal(0, 0.02, n), 0.0, 1.0)
    return {"moods": moods.astype(np.float32), "other": others.astype(np.float32),
            "tempo": tempo.astype(np.float32), "energy": energy.astype(np.float32)}
