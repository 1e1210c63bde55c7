"""Builds over every analysed track, downstream of analysis: the similarity index and the music map.

Each build writes its artifact only after it has fully succeeded, in one statement, so a
failed or cancelled build leaves the last good one in place.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from audiomuse import music_map
from audiomuse.index import SimilarityIndex
from audiomuse.index.persist import save_index
from audiomuse.index.transform import fit_similarity_transform
from audiomuse.index.voyager_index import DEFAULT_EF_CONSTRUCTION, DEFAULT_M
from audiomuse.store import Database
from audiomuse.store.analysis import load_embeddings


@dataclass
class BuildReport:
    tracks: int
    seconds: float
    sha256: str
    detail: dict


def build_similarity_index(
    db: Database, *, M: int = DEFAULT_M, ef_construction: int = DEFAULT_EF_CONSTRUCTION, transform: str = "none"
) -> BuildReport:
    """The index over every embedding, through the similarity ``transform`` fitted on them now."""
    t0 = time.perf_counter()
    with db.connection() as conn:
        ids, vectors = load_embeddings(conn)
    fitted = fit_similarity_transform(transform, vectors)
    index = SimilarityIndex.build(ids, vectors, M=M, ef_construction=ef_construction, transform=fitted)
    detail = {"M": M, "ef_construction": ef_construction, "transform": index.transform_name}
    sha = save_index(db, index, {**detail, "space": "cosine"})
    return BuildReport(len(ids), time.perf_counter() - t0, sha, detail)


def build_music_map(db: Database, *, seed: int = 42) -> BuildReport:
    t0 = time.perf_counter()
    with db.connection() as conn:
        ids, vectors = load_embeddings(conn)
    coords, method = music_map.project(vectors, seed=seed)
    sha = music_map.save_map(db, ids, coords, {"method": method, "seed": seed})
    return BuildReport(len(ids), time.perf_counter() - t0, sha, {"method": method})
