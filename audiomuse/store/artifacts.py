"""Binary artifacts (similarity index, map, scaler stats) in PostgreSQL, checksummed.

A new artifact replaces the old one in a single UPDATE, so readers see either the last good
version or the new one, never none.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg.types.json import Jsonb


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
    row = conn.execute("SELECT data, sha256, meta FROM artifacts WHERE name = %s", (name,)).fetchone()
    if row is None:
        return None
    data, digest, meta = row
    if data is not None and hashlib.sha256(data).hexdigest() != digest:
        raise ValueError(f"artifact {name!r} is corrupt: checksum mismatch")
    return (bytes(data) if data is not None else None), meta
