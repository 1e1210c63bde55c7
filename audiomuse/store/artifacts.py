"""Binary artifacts (similarity index, map, scaler stats) in PostgreSQL, checksummed.

A new artifact replaces the old one in a single UPDATE, so readers see either the last good
version or the new one, never none. :class:`ArtifactCache` keeps a process's decoded copy of one
artifact and decodes again only when the stored checksum changes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import psycopg
from psycopg.types.json import Jsonb

from audiomuse.store.db import Database

T = TypeVar("T")


def save_artifact(conn: psycopg.Connection, name: str, data: bytes | None, meta: dict | None = None) -> str:
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    conn.execute(
        """
        INSERT INTO artifacts (name, data, sha256, meta, created_at) VALUES (%s, %s, %s, %s, now())
        ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, sha256 = EXCLUDED.sha256,
            meta = EXCLUDED.meta, created_at = now()
        """,
        (name, data, digest, Jsonb(meta or {})),
    )
    return digest or ""


def artifact_info(conn: psycopg.Connection, name: str) -> tuple[str | None, dict] | None:
    """(sha256, meta) without the payload, or None when absent: a cheap freshness check."""
    row = conn.execute("SELECT sha256, meta FROM artifacts WHERE name = %s", (name,)).fetchone()
    return (row[0], row[1]) if row else None


def load_artifact(conn: psycopg.Connection, name: str) -> tuple[bytes | None, dict] | None:
    stored = _load_verified(conn, name)
    return None if stored is None else (stored[0], stored[2])


def _load_verified(conn: psycopg.Connection, name: str) -> tuple[bytes | None, str | None, dict] | None:
    """(data, sha256, meta); ValueError when the data does not match its checksum."""
    row = conn.execute("SELECT data, sha256, meta FROM artifacts WHERE name = %s", (name,)).fetchone()
    if row is None:
        return None
    data, digest, meta = row
    if data is not None and hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"artifact {name!r} is corrupt: checksum mismatch")
    return (bytes(data) if data is not None else None), digest, meta


# A process's decoded copy ------------------------------------------------------------------------
@dataclass(frozen=True)
class CachedArtifact(Generic[T]):
    """One stored version of an artifact, decoded; shared by every reader, so read-only."""

    sha256: str
    meta: dict
    value: T


@dataclass(frozen=True)
class DiskCopy:
    """A local copy of an artifact's payload, ``<cache dir>/<folder>/<sha256><suffix>``: a new process
    skips the download of a large payload it already has. Checked against its name when read."""

    folder: str
    suffix: str

    def path(self, cache_dir: Path, sha: str) -> Path:
        return Path(cache_dir) / self.folder / f"{sha}{self.suffix}"

    def read(self, cache_dir: Path, sha: str) -> bytes | None:
        path = self.path(cache_dir, sha)
        if not path.exists():
            return None
        blob = path.read_bytes()
        if hashlib.sha256(blob).hexdigest() != sha:  # torn write or bit rot: fall back to the database
            path.unlink(missing_ok=True)
            return None
        return blob

    def write(self, cache_dir: Path, sha: str, blob: bytes) -> None:
        """The new copy replaces the older ones, atomically (readers never see half a file)."""
        path = self.path(cache_dir, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        for old in path.parent.glob(f"*{self.suffix}"):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_bytes(blob)
        tmp.replace(path)


class ArtifactCache(Generic[T]):
    """Artifact ``name`` of each database, decoded once per stored version.

    Every :meth:`get` costs the cheap freshness check (:func:`artifact_info`); the payload is read
    (from the ``disk`` copy of that checksum when a cache dir is given and has it, else from the
    database) and decoded only when the checksum changed. A payload that fails its checksum raises
    and the last good version stays cached.
    """

    def __init__(self, name: str, decode: Callable[[bytes], T], disk: DiskCopy | None = None):
        self.name = name
        self.decode = decode
        self.disk = disk
        self._lock = threading.Lock()
        self._versions: dict[str, CachedArtifact[T]] = {}  # database url -> the version read last

    def __repr__(self) -> str:
        return f"ArtifactCache({self.name!r})"

    def get(self, db: Database, cache_dir: Path | None = None, *,
            conn: psycopg.Connection | None = None) -> CachedArtifact[T] | None:
        """The current version, or None when none is stored. ``conn``, one of ``db``'s connections,
        saves opening another (a caller that keeps one open)."""
        if conn is None:
            with db.connection() as own:
                return self.get(db, cache_dir, conn=own)
        info = artifact_info(conn, self.name)
        if info is None or info[0] is None:
            return None
        sha, meta = info
        with self._lock:
            cached = self._versions.get(db.url)
            if cached is not None and cached.sha256 == sha:
                return cached
            fresh = self._read(conn, cache_dir, sha, meta)
            if fresh is not None:
                self._versions[db.url] = fresh
            return fresh

    def clear(self) -> None:
        """Forget every decoded version: the next read fetches the payload again."""
        with self._lock:
            self._versions.clear()

    def _read(self, conn: psycopg.Connection, cache_dir: Path | None, sha: str,
              meta: dict) -> CachedArtifact[T] | None:
        blob = self.disk.read(cache_dir, sha) if self.disk and cache_dir is not None else None
        if blob is None:
            stored = _load_verified(conn, self.name)
            if stored is None or stored[0] is None:  # deleted since the freshness check
                return None
            blob, sha, meta = stored  # the version now stored, if it changed since the check
            if self.disk and cache_dir is not None:
                self.disk.write(cache_dir, sha, blob)
        return CachedArtifact(sha, meta, self.decode(blob))
