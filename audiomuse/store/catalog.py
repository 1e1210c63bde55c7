"""Catalog tables: albums and tracks as the media server reports them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import psycopg
from psycopg.types.json import Jsonb

from audiomuse.media import Album, Track, server_song
from audiomuse.text import song_key


_UPSERT_ALBUM = """
    INSERT INTO albums (id, name, artist, year, added_at)
    VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET
        name = EXCLUDED.name, artist = EXCLUDED.artist, year = EXCLUDED.year,
        added_at = EXCLUDED.added_at, last_seen = now()
    RETURNING (xmax = 0) AS inserted
"""

_UPSERT_TRACK = """
    INSERT INTO tracks (id, album_id, title, artist, album, duration, file_format,
                        track_number, song_key, server_song)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (id) DO UPDATE SET
        album_id = EXCLUDED.album_id, title = EXCLUDED.title, artist = EXCLUDED.artist,
        album = EXCLUDED.album, duration = EXCLUDED.duration,
        file_format = EXCLUDED.file_format, track_number = EXCLUDED.track_number,
        song_key = EXCLUDED.song_key, server_song = EXCLUDED.server_song, last_seen = now()
"""
# the catalog's Track columns, in Track's field order
_TRACK_COLUMNS = "id, album_id, title, artist, album, duration, file_format, track_number, server_song"


def upsert_albums(conn: psycopg.Connection, albums: Iterable[Album]) -> list[str]:
    """Insert or refresh albums; returns the ids that were not in the table before.

    One statement per album (so an id listed twice is an update, as before), all sent in one
    pipeline: 10k albums cost a few round trips, not 10k."""
    rows = [(a.id, a.name, a.artist, a.year, a.added) for a in albums]
    if not rows:
        return []
    new_ids = []
    with conn.cursor() as cur:
        cur.executemany(_UPSERT_ALBUM, rows, returning=True)
        for row in rows:
            if cur.fetchone()[0]:
                new_ids.append(row[0])
            cur.nextset()
    return new_ids


def upsert_tracks(conn: psycopg.Connection, album_id: str, tracks: Sequence[Track]) -> int:
    """Insert or refresh an album's tracks and its track count; analysis columns are kept.

    ``server_song`` is written as the provider reports it: a refresh fills it for rows stored
    without it (before migration 0004) and a provider without one (None) clears it."""
    return upsert_album_tracks(conn, {album_id: tracks})


def upsert_album_tracks(conn: psycopg.Connection, tracks_by_album: Mapping[str, Sequence[Track]]) -> int:
    """``upsert_tracks`` for many albums at once: one pipelined batch of upserts (in album order,
    so a track listed under two albums ends in the later one), then every album's track count in
    one statement. Tracks the server no longer lists stay, and are counted, as before."""
    rows = [
        (t.id, album_id, t.title, t.artist, t.album, t.duration, t.file_format, t.track_number,
         song_key(t.artist, t.title), Jsonb(dict(t.server_song)) if t.server_song else None)
        for album_id, tracks in tracks_by_album.items() for t in tracks
    ]
    if not tracks_by_album:
        return 0
    with conn.cursor() as cur:
        if rows:
            cur.executemany(_UPSERT_TRACK, rows)
        cur.execute(
            "UPDATE albums SET track_count = (SELECT count(*) FROM tracks WHERE tracks.album_id = albums.id)"
            " WHERE id = ANY(%s)",
            (list(tracks_by_album),),
        )
    return len(rows)


def album_ids(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM albums ORDER BY added_at DESC NULLS LAST, id")]


def album_tracks(conn: psycopg.Connection, album_id: str) -> list[Track]:
    rows = conn.execute(
        f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE album_id = %s ORDER BY track_number NULLS LAST, title",
        (album_id,),
    ).fetchall()
    return [Track(*row[:-1], server_song=server_song(row[-1])) for row in rows]


# the order of a server artist's or an album's tracks: album, disc (when the server says), track number
_TRACK_ORDER = """album_id,
    CASE WHEN jsonb_typeof(server_song->'discNumber') = 'number' THEN (server_song->>'discNumber')::numeric END
        NULLS FIRST,
    track_number NULLS LAST, title, id"""


def tracks_of_server_artist(conn: psycopg.Connection, artist_id: str) -> list[str]:
    """Ids of the tracks whose server song names ``artist_id`` as its artist (the Subsonic
    ``artistId``, the id ``getArtist`` takes), by album, disc and track number; answered from the
    catalog (``tracks_server_artist_idx``), not the server. Tracks stored without the server's
    fields (other providers, rows not refreshed since migration 0004) are not found."""
    rows = conn.execute(
        f"SELECT id FROM tracks WHERE server_song->>'artistId' = %s ORDER BY {_TRACK_ORDER}", (str(artist_id),))
    return [r[0] for r in rows]


def tracks_of_album(conn: psycopg.Connection, album_id: str) -> list[str]:
    """Ids of an album's tracks by disc and track number (the catalog's album id, which for a
    Subsonic server is its ID3 ``albumId``)."""
    rows = conn.execute(f"SELECT id FROM tracks WHERE album_id = %s ORDER BY {_TRACK_ORDER}", (album_id,))
    return [r[0] for r in rows]


def catalog_summary(conn: psycopg.Connection) -> dict:
    albums, tracks, hours = conn.execute(
        "SELECT (SELECT count(*) FROM albums), count(*), coalesce(sum(duration), 0) / 3600.0 FROM tracks"
    ).fetchone()
    return {"albums": albums, "tracks": tracks, "hours": round(float(hours), 2)}


def known_album_ids(conn: psycopg.Connection, ids: Sequence[str]) -> set[str]:
    return {r[0] for r in conn.execute("SELECT id FROM albums WHERE id = ANY(%s)", (list(ids),))}


def albums_needing_analysis(conn: psycopg.Connection, limit: int = 0) -> list[str]:
    """Albums (newest first, the newest ``limit`` when > 0) with tracks neither analysed nor failed."""
    rows = conn.execute(
        """
        SELECT a.id FROM albums a
        WHERE EXISTS (SELECT 1 FROM tracks t WHERE t.album_id = a.id
                      AND t.analysed_at IS NULL AND t.analysis_error IS NULL)
        ORDER BY a.added_at DESC NULLS LAST, a.id
        """ + (" LIMIT %s" if limit else ""),
        (limit,) if limit else (),
    )
    return [r[0] for r in rows]


def album_labels(conn: psycopg.Connection, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(artist, name) of each of ``ids`` the catalog holds: what a person reads instead of an id."""
    rows = conn.execute("SELECT id, artist, name FROM albums WHERE id = ANY(%s)", (list(ids),))
    return {album_id: (artist or "", name or "") for album_id, artist, name in rows}
