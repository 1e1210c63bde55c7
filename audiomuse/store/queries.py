"""Read-only queries behind the explorer pages (connections opened with ``dict_rows=True``)."""

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


def search_tracks(conn: psycopg.Connection, text: str, limit: int = 30) -> list[dict]:
    """Tracks whose artist or title contains every word of ``text`` (case-insensitive), analysed first."""
    words = [w for w in text.split() if w]
    if not words:
        return []
    where = " AND ".join(["(t.artist ILIKE %s OR t.title ILIKE %s OR t.album ILIKE %s)"] * len(words))
    params: list = []
    for w in words:
        like = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        params += [like, like, like]
    return conn.execute(
        f"""SELECT t.id, t.title, t.artist, t.album, (e.track_id IS NOT NULL) AS analysed
            FROM tracks t LEFT JOIN embedding e ON e.track_id = t.id
            WHERE {where}
            ORDER BY (e.track_id IS NULL), t.artist, t.title LIMIT %s""",
        [*params, limit],
    ).fetchall()


def tracks_by_ids(conn: psycopg.Connection, ids: list[str]) -> list[dict]:
    """Rows for ``ids`` in the given order: title, artist, album, tempo, energy, top mood."""
    rows = conn.execute(
        """SELECT t.id, t.title, t.artist, t.album, s.tempo, s.energy, s.mood_vector
           FROM tracks t LEFT JOIN score s ON s.track_id = t.id WHERE t.id = ANY(%s)""",
        (list(ids),),
    ).fetchall()
    by_id = {}
    for r in rows:
        r = dict(r) if not isinstance(r, dict) else r
        moods = r.pop("mood_vector") or {}
        r["top_moods"] = ", ".join(sorted(moods, key=moods.get, reverse=True)[:3])
        by_id[r["id"]] = r
    return [by_id[i] for i in ids if i in by_id]


def library_status(conn: psycopg.Connection) -> dict:
    """Counts and artifact freshness for the sidebar."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM albums) AS albums,
                  (SELECT count(*) FROM tracks) AS tracks,
                  (SELECT count(*) FROM embedding) AS analysed,
                  (SELECT count(*) FROM tracks WHERE analysis_error IS NOT NULL) AS failed,
                  (SELECT max(updated_at) FROM embedding) AS last_analysis"""
    ).fetchone()
    status = dict(row) if not isinstance(row, dict) else row
    for name in ("similarity_index", "music_map"):
        art = conn.execute(
            "SELECT created_at, meta FROM artifacts WHERE name = %s", (name,)
        ).fetchone()
        status[name] = (dict(art) if not isinstance(art, dict) else art) if art else None
    return status
