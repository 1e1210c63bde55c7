"""Push and pull analysis rows between this collection and a remote AudioMuse database.

The remote is any AudioMuse PostgreSQL migrated to revision 0003 (``SYNC_DATABASE_URL``); only its
``shared_analysis`` table is read and written. Album by album, newest first (``albums`` = N, 0 =
all), one transaction per album on each side:

* **push**: tracks analysed here whose content is not there yet are inserted there;
* **pull**: tracks not analysed here whose content is there are written into the local ``score``
  and ``embedding`` tables (``analysed_at`` set), so analysis counts them as done and skips them.

Rows are matched by content key only (:mod:`audiomuse.sync.content_key`). Every shared row carries
the model identity (model name, weights checksum, patch hop): rows of another model are never
pulled, and only rows of the configured model are pushed, so embeddings of different models are
never mixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from audiomuse.analysis.track import model_identity
from audiomuse.config import Settings, redact_url
from audiomuse.store import Database, connect
from audiomuse.store import analysis as analysis_store
from audiomuse.sync.content_key import ContentKey, content_key
from audiomuse.sync.errors import SyncError, SyncNotConfigured, SyncPolicyNotAccepted
from audiomuse.sync.policy import policy_accepted
from audiomuse.sync.report import AlbumSync, Direction, SyncReport

log = logging.getLogger(__name__)


def remote_url(settings: Settings) -> str | None:
    return settings.sync_database_url.get_secret_value() if settings.sync_database_url else None


def masked_remote(settings: Settings) -> str | None:
    url = remote_url(settings)
    return redact_url(url) if url else None


_REMOTE_COLUMNS = ("track_key, seconds, model_id, embedding, n_patches, tempo, key, scale, energy, "
                   "mood_vector, other_features, signal_features")


def prepare_remote(url: str) -> None:
    """Migrate the remote database so it can serve as a sync hub (needs DDL rights there)."""
    Database(url).migrate()


def sync_collection(
    local_db: Database,
    remote_url: str | None,
    settings: Settings,
    *,
    albums: int = 0,
    direction: Direction = "both",
    progress: Callable[[str], None] = log.info,
) -> SyncReport:
    """Push and/or pull analysis rows for the newest ``albums`` local albums (0 = all)."""
    if direction not in ("push", "pull", "both"):
        raise ValueError(f"direction must be push, pull or both, not {direction!r}")
    if albums < 0:
        raise ValueError("albums must be >= 0 (0 = all)")
    if not policy_accepted(local_db, settings):  # checked before the remote is contacted at all
        raise SyncPolicyNotAccepted(
            "Collection sync is off: accept the sync policy first (the Collection sync page, or "
            "SYNC_ACCEPT_POLICY=true). Nothing was sent or received."
        )
    if not remote_url:
        raise SyncNotConfigured("Collection sync needs SYNC_DATABASE_URL (the remote AudioMuse database).")

    model_id = model_identity(settings.patch_hop, settings.analysis_precision)
    report = SyncReport(direction=direction, remote=redact_url(remote_url), model_id=model_id)
    remote = connect(remote_url, connect_timeout=15, application_name="audiomuse-sync")
    try:
        remote.rollback()  # leave any transaction pgvector's type lookup opened (or failed)
        if remote.execute("SELECT to_regclass('public.shared_analysis')").fetchone()[0] is None:
            raise SyncError(
                f"The remote database {report.remote} has no shared_analysis table: migrate it to "
                "AudioMuse revision 0003 or later (python -m audiomuse.sync --prepare-remote)."
            )
        remote.rollback()
        with local_db.connection() as local:  # rolls back only the album in progress on failure
            album_rows = local.execute(
                "SELECT id, name, artist FROM albums ORDER BY added_at DESC NULLS LAST, id"
                + (" LIMIT %s" if albums else ""),
                (albums,) if albums else (),
            ).fetchall()
            local.commit()
            for i, (album_id, name, artist) in enumerate(album_rows, 1):
                result = AlbumSync(album_id, name, artist)
                _sync_album(local, remote, album_id, result, direction, model_id)
                remote.commit()  # the remote first: a local failure then only repeats a pull
                local.commit()
                report.albums.append(result)
                progress(f"[{i}/{len(album_rows)}] {artist} - {name}: pushed {result.pushed}, "
                         f"pulled {result.pulled}, skipped {result.skipped}")
    except BaseException:
        remote.rollback()
        raise
    finally:
        remote.close()
    return report


def _sync_album(
    local: psycopg.Connection,
    remote: psycopg.Connection,
    album_id: str,
    result: AlbumSync,
    direction: Direction,
    model_id: str,
) -> None:
    tracks = local.execute(
        """SELECT t.id, t.title, t.artist, t.album, t.duration,
                  (e.track_id IS NOT NULL AND s.track_id IS NOT NULL) AS analysed, e.model
           FROM tracks t
           LEFT JOIN embedding e ON e.track_id = t.id
           LEFT JOIN score s ON s.track_id = t.id
           WHERE t.album_id = %s ORDER BY t.id""",
        (album_id,),
    ).fetchall()
    keyed = []
    for track_id, title, artist, album, duration, analysed, model in tracks:
        key = content_key(artist, title, album, duration)
        if key is None:
            result.skipped += 1
        else:
            keyed.append((track_id, key, analysed, model))
    if not keyed:
        return

    shared = _remote_rows(remote, sorted({k.track for _, k, _, _ in keyed}))
    to_push: dict[str, ContentKey] = {}
    for track_id, key, analysed, model in keyed:
        candidates = [r for r in shared if key.matches(r["key"])]
        compatible = [r for r in candidates if r["model_id"] == model_id]
        if analysed:
            if model != model_id:
                result.incompatible += 1  # analysed here by another model or patch hop: never shared
                result.skipped += 1
            elif (direction in ("push", "both") and not compatible
                  and not any(map(key.matches, to_push.values()))):
                to_push[track_id] = key
            else:
                result.skipped += 1  # already shared (or a copy of it in this album), or push not asked for
        elif direction in ("pull", "both") and compatible:
            best = min(compatible, key=lambda r: (abs(r["key"].seconds - key.seconds), r["key"].seconds))
            _pull(local, track_id, best, model_id)
            result.pulled += 1
        else:
            if candidates and not compatible:
                result.incompatible += 1  # the remote has it only from another model: refused
            result.skipped += 1
    if to_push:
        result.pushed = _push(local, remote, to_push, model_id)
        result.skipped += len(to_push) - result.pushed  # someone else pushed them a moment ago
    if result.pulled:
        analysis_store.mark_duplicates(local, [t[0] for t in tracks])


def _remote_rows(remote: psycopg.Connection, track_keys: Sequence[str]) -> list[dict]:
    rows = remote.execute(
        f"SELECT {_REMOTE_COLUMNS} FROM shared_analysis WHERE track_key = ANY(%s)", (list(track_keys),)
    ).fetchall()
    out = []
    for (track_key, seconds, model_id, embedding, n_patches, tempo, key, scale, energy,
         moods, other, signal) in rows:
        out.append({
            "key": ContentKey(track_key, seconds), "model_id": model_id, "embedding": embedding,
            "n_patches": n_patches, "tempo": tempo, "key_name": key, "scale": scale, "energy": energy,
            "mood_vector": moods, "other_features": other, "signal_features": signal,
        })
    return out


def _push(local: psycopg.Connection, remote: psycopg.Connection, keys: dict[str, ContentKey],
          model_id: str) -> int:
    """Copy local analyses to the remote under their content keys (one pipelined batch); returns
    how many were inserted (a row someone else pushed meanwhile is left as it is)."""
    rows = local.execute(
        """SELECT e.track_id, e.embedding, e.n_patches, s.tempo, s.key, s.scale, s.energy, s.mood_vector,
                  s.other_features, s.signal_features
           FROM embedding e JOIN score s USING (track_id) WHERE e.track_id = ANY(%s) ORDER BY e.track_id""",
        (list(keys),),
    ).fetchall()
    params = [
        (keys[track_id].track, keys[track_id].seconds, model_id, embedding, n_patches, tempo, key_name,
         scale, energy, Jsonb(_numbers(moods)), Jsonb(_numbers(other)), Jsonb(_numbers(signal)))
        for track_id, embedding, n_patches, tempo, key_name, scale, energy, moods, other, signal in rows
    ]
    with remote.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO shared_analysis ({_REMOTE_COLUMNS})
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT DO NOTHING RETURNING 1""",
            params, returning=True,
        )
        inserted = 0
        while True:
            inserted += len(cur.fetchall())
            if not cur.nextset():
                break
    return inserted


def _numbers(d: dict | None) -> dict:
    """Only name -> number pairs cross the wire (a defence against anything else in a JSON column)."""
    return {str(k): float(v) for k, v in (d or {}).items() if isinstance(v, (int, float))}


def _pull(local: psycopg.Connection, track_id: str, row: dict, model_id: str) -> None:
    embedding = row["embedding"]
    vector = embedding.to_numpy() if hasattr(embedding, "to_numpy") else np.asarray(embedding)
    analysis_store.save_track_analysis(
        local, track_id, embedding=vector.astype(np.float32), n_patches=row["n_patches"], model=model_id,
        tempo=row["tempo"], key=row["key_name"], scale=row["scale"], energy=row["energy"],
        mood_vector=_numbers(row["mood_vector"]), other_features=_numbers(row["other_features"]),
        signal_features=_numbers(row["signal_features"]),
    )
