"""Read-only queries behind the explorer pages."""

from __future__ import annotations

import psycopg


def album_overview(conn: psycopg.Connection) -> list[dict]:
    """Albums newest first with track counts, analysed counts and minutes of audio."""
    return conn.execute(
        """
        SELECT a.id, a.name, a.artist, a.added_at,
               count(t.id)::int AS tracks,
               count(e.track_id)::int AS analysed,
               round((coalesce(sum(t.duration), 0) / 60.0)::numeric, 1)::float AS minutes
        FROM albums a
        LEFT JOIN tracks t ON t.album_id = a.id
        LEFT JOIN embedding e ON e.track_id = t.id
        GROUP BY a.id
        ORDER BY a.added_at DESC NULLS LAST, a.name
        """
    ).fetchall()
