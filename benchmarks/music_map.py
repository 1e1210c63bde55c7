"""Music map build time at 10k and 100k tracks (target < 90 s at 100k, numba JIT included).

Peer: PCA of the same vectors (what a library without UMAP would show), measured in the same run.
Usage: python benchmarks/music_map.py [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audiomuse.music_map import pca_2d, project  # noqa: E402
from benchmarks._synthetic import synthetic_embeddings  # noqa: E402


def neighbour_agreement(coords: np.ndarray, labels: np.ndarray, sample: int = 2000) -> float:
    """Share of points whose nearest 2-D neighbour has the same style (higher = styles stay together)."""
    rng = np.random.default_rng(0)
    idx = rng.choice(len(coords), min(sample, len(coords)), replace=False)
    hits = 0
    for i in idx:
        d = np.linalg.norm(coords - coords[i], axis=1)
        d[i] = np.inf
        hits += labels[d.argmin()] == labels[i]
    return hits / len(idx)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = ap.parse_args()
    print(f"{'n':>7} {'umap s':>7} {'pca s':>6} {'umap nn-style':>13} {'pca nn-style':>12} {'peak RSS MB':>11}")
    for n in args.sizes:
        x, labels = synthetic_embeddings(n)
        t0 = time.perf_counter()
        coords, method = project(x)
        umap_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pca = pca_2d(x / np.linalg.norm(x, axis=1, keepdims=True))
        pca_s = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{n:>7} {umap_s:>7.1f} {pca_s:>6.2f} {neighbour_agreement(coords, labels):>13.3f} "
              f"{neighbour_agreement(pca, labels):>12.3f} {rss:>11.0f}  ({method})", flush=True)


if __name__ == "__main__":
    main()
