"""The index lives in PostgreSQL; each process keeps one copy in memory and one on local disk.

Loading checks the stored checksum first (a tiny query): unchanged index -> the in-memory copy;
changed -> the local file cache if it has that checksum, else the blob from the database
(:class:`~audiomuse.store.artifacts.ArtifactCache` does all three).
"""

from __future__ import annotations

from pathlib import Path

from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.store import Database
from audiomuse.store.artifacts import ArtifactCache, DiskCopy, save_artifact

INDEX_ARTIFACT = "similarity_index"
#: the process's copy of each database's index (files ``<cache dir>/index/<sha256>.amvx``)
INDEX_CACHE = ArtifactCache(INDEX_ARTIFACT, SimilarityIndex.from_bytes, DiskCopy("index", ".amvx"))


def save_index(db: Database, index: SimilarityIndex, meta: dict) -> str:
    with db.connection() as conn:
        return save_artifact(conn, INDEX_ARTIFACT, index.to_bytes(), {**meta, "tracks": len(index)})


def load_index(db: Database, cache_dir: Path | None = None) -> SimilarityIndex | None:
    """The current index, or None when none has been built yet."""
    current = INDEX_CACHE.get(db, cache_dir)
    return None if current is None else current.value
