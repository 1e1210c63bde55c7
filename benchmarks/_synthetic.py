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
