"""Read the media server's catalog into the store.

The catalog is the root of everything: each album found here becomes one analysis partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from audiomuse.providers.base import MediaProvider, ProviderError
from audiomuse.store import Database
from audiomuse.store import catalog as catalog_store

log = logging.getLogger(__name__)


@dataclass
class CatalogResult:
    album_ids: list[str] = field(default_factory=list)
    new_album_ids: list[str] = field(default_factory=list)
    tracks: int = 0
    failed_albums: dict[str, str] = field(default_factory=dict)  # album id -> error


BATCH_ALBUMS = 500  # albums whose tracks are written (and committed) together


def refresh_catalog(
    provider: MediaProvider,
    db: Database,
    limit: int = 0,
    progress: Callable[[int, int], None] | None = None,
    batch_albums: int = BATCH_ALBUMS,
) -> CatalogResult:
    """Store the newest ``limit`` albums (0 = all) and their tracks.

    One album whose track listing fails is recorded and skipped; a server that is down for the
    album list itself raises (nothing is written, the previous catalog stays). Tracks are read
    from the server ``batch_albums`` albums at a time, each batch then written in one short
    transaction (its own connection, so a database restart between batches is waited out): a
    provider that fails mid-way keeps every album read before the failure. ``progress`` is called
    for each stored album once its batch is committed.
    """
    albums = provider.newest_albums(limit)
    result = CatalogResult(album_ids=[a.id for a in albums])
    with db.connection() as conn:
        result.new_album_ids = catalog_store.upsert_albums(conn, albums)
    pending: dict[str, list] = {}
    read: list[int] = []  # positions of the pending albums, for progress

    def flush() -> None:
        with db.connection() as conn:
            result.tracks += catalog_store.upsert_album_tracks(conn, pending)
        pending.clear()
        if progress:
            for i in read:
                progress(i, len(albums))
        read.clear()

    for i, album in enumerate(albums, 1):
        try:
            tracks = provider.album_tracks(album.id)
        except ProviderError as exc:
            log.warning("album %r skipped: %s", album.name, exc)
            result.failed_albums[album.id] = str(exc)
            continue
        except BaseException:
            if pending:
                flush()  # keep the albums read before a failure the refresh cannot handle
            raise
        pending[album.id] = tracks
        read.append(i)
        if len(pending) >= batch_albums:
            flush()
    if pending:
        flush()
    return result


def discover_new_albums(provider: MediaProvider, db: Database, poll_limit: int = 200) -> list[str]:
    """Store albums among the newest ``poll_limit`` that the catalog has not seen; returns their ids.

    Cheap enough for a sensor tick: new albums are listed first by every provider, so only the head
    of the list is read.
    """
    albums = provider.newest_albums(poll_limit)
    with db.connection() as conn:
        known = catalog_store.known_album_ids(conn, [a.id for a in albums])
    new = [a for a in albums if a.id not in known]
    stored = []
    for album in new:
        try:
            tracks = provider.album_tracks(album.id)
        except ProviderError as exc:
            log.warning("new album %r not readable yet: %s", album.name, exc)
            continue
        with db.connection() as conn:
            catalog_store.upsert_albums(conn, [album])
            catalog_store.upsert_tracks(conn, album.id, tracks)
        stored.append(album.id)
    return stored
