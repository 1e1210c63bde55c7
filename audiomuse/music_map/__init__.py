"""The 2-D music map: every embedding projected once, stored, and served in deterministic samples.

UMAP (cosine) for real libraries; PCA when the library is too small for UMAP's neighbourhood
graph (:mod:`.projection`, with numba's JIT cache in :mod:`.numba_cache`). Samples of
25/50/75/100% use evenly spaced, nested indices so the same request always shows the same points
(:mod:`.sampling`). The map is stored as an artifact and read through a per-process cache
(:mod:`.store`).
"""

from audiomuse.music_map.projection import UMAP_MIN_TRACKS, pca_2d, project, umap_2d
from audiomuse.music_map.sampling import SAMPLE_PERCENTS, sample_indices
from audiomuse.music_map.store import (
    MAP_ARTIFACT, MAP_CACHE, UNKNOWN_MOOD, StoredMap, load_map, map_points, map_positions, save_map, stored_map,
)

__all__ = [
    "MAP_ARTIFACT", "MAP_CACHE", "SAMPLE_PERCENTS", "UMAP_MIN_TRACKS", "UNKNOWN_MOOD", "StoredMap", "load_map",
    "map_points", "map_positions", "pca_2d", "project", "sample_indices", "save_map", "stored_map", "umap_2d",
]
