"""The map's 2-D projection: cosine UMAP for real libraries, PCA when the library is too small for
UMAP's neighbourhood graph; coordinates scaled to [-1, 1]."""

from __future__ import annotations

import numpy as np

UMAP_MIN_TRACKS = 64


def project(vectors: np.ndarray, seed: int = 42, n_neighbors: int = 15) -> tuple[np.ndarray, str]:
    """(n x 2 coordinates scaled to [-1, 1], method name)."""
    n = len(vectors)
    if n == 0:
        return np.zeros((0, 2), np.float32), "empty"
    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    if n < UMAP_MIN_TRACKS:
        coords, method = pca_2d(x), "pca"
    else:
        coords, method = umap_2d(x, seed=seed, n_neighbors=n_neighbors), "umap"
    coords = np.asarray(coords, dtype=np.float32)
    coords -= coords.mean(axis=0)
    scale = np.abs(coords).max() or 1.0
    return coords / scale, method


def umap_2d(x: np.ndarray, *, seed: int = 42, n_neighbors: int = 15, n_epochs: int | None = None) -> np.ndarray:
    """Cosine UMAP to 2-D, single-threaded (``n_epochs`` None: UMAP's own choice); the map and
    alchemy's view use the same settings. Needs at least UMAP_MIN_TRACKS points to be meaningful."""
    from audiomuse.music_map.numba_cache import import_umap

    umap = import_umap()  # slow import (numba, JIT cached on disk); only when needed
    reducer = umap.UMAP(
        n_components=2, n_neighbors=min(n_neighbors, len(x) - 1), min_dist=0.1, metric="cosine",
        random_state=seed, low_memory=True, n_jobs=1, n_epochs=n_epochs,
    )
    return reducer.fit_transform(x)


def pca_2d(x: np.ndarray) -> np.ndarray:
    """The first two principal components of the rows (zeros for fewer than two rows)."""
    centred = x - x.mean(axis=0)
    if len(x) < 2:
        return np.zeros((len(x), 2), np.float32)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    return out if out.shape[1] == 2 else np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
