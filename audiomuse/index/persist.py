"""The index lives in PostgreSQL; each process keeps one copy in memory and one on local disk.

Loading checks the stored checksum first (a tiny query): unchanged index -> the in-memory copy;
changed -> the local file cache if it has that checksum, else the blob from the database.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.store import Database
from audiomuse.store.artifacts import artifact_info, load_artifact, save_artifact

INDEX_ARTIFACT = "similarity_index"

_lock = threading.Lock()
_loaded: dict[str, tuple[str, SimilarityIndex]] = {}  # db url -> (sha256, index)


def save_index(db: Database, index: SimilarityIndex, meta: dict) -> str:
    with db.connection() as conn:
        return save_artifact(conn, INDEX_ARTIFACT, index.to_bytes(), {**meta, "tracks": len(index)})


def load_index(db: Database, cache_dir: Path | None = None) -> SimilarityIndex | None:
    """The current index, or None when none has been built yet."""
    with db.connection() as conn:
        info = artifact_info(conn, INDEX_ARTIFACT)
    if info is None or info[0] is None:
        return None
    sha = info[0]
    with _lock:
        cached = _loaded.get(db.url)
        if cached and cached[0] == sha:
            return cached[1]
        blob = _read_file_cache(cache_dir, sha)
        if blob is None:
            with db.connection() as conn:
                blob, _ = load_artifact(conn, INDEX_ARTIFACT)
            _write_file_cache(cache_dir, sha, blob)
        index = SimilarityIndex.from_bytes(blob)
        _loaded[db.url] = (sha, index)
        return index


def _cache_file(cache_dir: Path, sha: str) -> Path:
    return cache_dir / "index" / f"{sha}.amvx"


def _read_file_cache(cache_dir: Path | None, sha: str) -> bytes | None:
    if cache_dir is None:
        return None
    path = _cache_file(cache_dir, sha)
    if not path.exists():
        return None
    blob = path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != sha:  # torn write or bit rot: fall back to the database
        path.unlink(missing_ok=True)
        return None
    return blob


def _write_file_cache(cache_dir: Path | None, sha: str, blob: bytes) -> None:
    if cache_dir is None:
        return
    path = _cache_file(cache_dir, sha)
    path.parent.mkdir(parents=True, exist_ok=True)
    for old in path.parent.glob("*.amvx"):
        old.unlink(missing_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(blob)
    tmp.replace(path)
