"""Collection sync: share analysis results with a remote AudioMuse database, opt-in only.

The remote is any AudioMuse PostgreSQL migrated to revision 0003 (``SYNC_DATABASE_URL``); only its
``shared_analysis`` table is read and written. Album by album, newest first (``albums`` = N, 0 =
all), one transaction per album on each side:

* **push**: tracks analysed here whose content is not there yet are inserted there;
* **pull**: tracks not analysed here whose content is there are written into the local ``score``
  and ``embedding`` tables (``analysed_at`` set), so analysis counts them as done and skips them.

A track is identified remotely by its **content key** only: normalised artist, title and album plus
the duration rounded to whole seconds; keys whose seconds differ by at most 1 match, so durations
less than 1 s apart always match (e.g. 261.4 and 261.6 s) and durations 2 s or more apart never do. Track ids, album ids, file names,
paths and provider ids never leave the machine. Every shared row carries the model identity (model
name, weights checksum, patch hop): rows of another model are never pulled, and only rows of the
configured model are pushed, so embeddings of different models are never mixed.

Nothing is sent, and the remote is not even contacted, until the policy is accepted: either
``SYNC_ACCEPT_POLICY=true`` in the configuration or the acceptance stored by the app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from audiomuse.analysis.track import model_identity
from audiomuse.config import Settings, redact_url
from audiomuse.store import Database, connect
from audiomuse.store import analysis as analysis_store
from audiomuse.text import normalise

log = logging.getLogger(__name__)

Direction = Literal["push", "pull", "both"]

POLICY_VERSION = 1
POLICY_TEXT = """\
**Collection sync shares analysis data with another database.** Read this before you accept.

* **What is sent** (push): for each analysed track, its content key - the artist, title and album
  in normalised lower-case form and the duration in whole seconds - with its analysis results: the
  200-number MusiCNN embedding, the 50 tag probabilities, tempo, key, scale, energy, the derived
  mood scores and signal descriptors, and the model identity (name, weights checksum, patch hop).
* **What is never sent**: audio, file names, folders or paths, track or album ids of your media
  server, play counts, playlists, your media-server address or credentials.
* **What is received** (pull): the same kind of rows from the remote, for tracks of yours that are
  not analysed yet; they are stored as if analysed here and analysis skips them.
* **Who sees it**: whoever can read the remote database (`SYNC_DATABASE_URL`), and everyone who
  syncs with it. Rows you pushed stay there after you stop syncing; removing them is up to the
  remote's administrator.
* Nothing happens until you accept *and* start a sync; withdrawing the acceptance stops every
  further sync.
"""

SETTING_NAME = "sync.policy_accepted"
MAX_SECONDS_APART = 1  # content keys match when their whole seconds differ by at most this


class SyncError(RuntimeError):
    """Sync cannot run; the message says why and never contains a secret."""


class SyncPolicyNotAccepted(SyncError):
    """The user has not accepted the sync policy: nothing was sent or received."""


class SyncNotConfigured(SyncError):
    """No remote database is configured (``SYNC_DATABASE_URL``)."""


# --------------------------------------------------------------------------- content key


@dataclass(frozen=True, order=True)
class ContentKey:
    """What identifies a track remotely: ``track`` = 'artist|title|album' normalised, ``seconds``."""

    track: str
    seconds: int

    def __str__(self) -> str:
        return f"{self.track}|{self.seconds}"

    def matches(self, other: ContentKey) -> bool:
        return self.track == other.track and abs(self.seconds - other.seconds) <= MAX_SECONDS_APART


def content_key(artist: str, title: str, album: str, duration: float | None) -> ContentKey | None:
    """The content key, or None when the track cannot be keyed (no title or no duration)."""
    title_n = normalise(title)
    if not title_n or duration is None or not np.isfinite(duration) or duration <= 0:
        return None
    return ContentKey(f"{normalise(artist)}|{title_n}|{normalise(album)}", int(round(float(duration))))


# --------------------------------------------------------------------------- policy


def policy_acceptance(db: Database) -> dict | None:
    """The acceptance stored by the app ({'version', 'accepted_at'}), or None."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT value, updated_at FROM app_settings WHERE name = %s", (SETTING_NAME,)
        ).fetchone()
    if row is None or row[0].get("version") != POLICY_VERSION:
        return None  # never accepted, or an older policy text was accepted
    return {"version": row[0]["version"], "accepted_at": row[1]}


def accept_policy(db: Database) -> None:
    with db.connection() as conn:
        conn.execute(
            """INSERT INTO app_settings (name, value, updated_at) VALUES (%s, %s, now())
               ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()""",
            (SETTING_NAME, Jsonb({"version": POLICY_VERSION})),
        )


def withdraw_policy(db: Database) -> None:
    with db.connection() as conn:
        conn.execute("DELETE FROM app_settings WHERE name = %s", (SETTING_NAME,))


def policy_accepted(db: Database, settings: Settings) -> bool:
    return bool(settings.sync_accept_policy) or policy_acceptance(db) is not None


def remote_url(settings: Settings) -> str | None:
    return settings.sync_database_url.get_secret_value() if settings.sync_database_url else None


def masked_remote(settings: Settings) -> str | None:
    url = remote_url(settings)
    return redact_url(url) if url else None


# --------------------------------------------------------------------------- report


@dataclass
class AlbumSync:
    album_id: str  # local only: reports stay on this machine
    name: str
    artist: str
    pushed: int = 0
    pulled: int = 0
    skipped: int = 0
    incompatible: int = 0  # rows of another model identity (here or on the remote): not shared


@dataclass
class SyncReport:
    direction: Direction
    remote: str  # masked URL
    model_id: str
    albums: list[AlbumSync] = field(default_factory=list)

    @property
    def pushed(self) -> int:
        return sum(a.pushed for a in self.albums)

    @property
    def pulled(self) -> int:
        return sum(a.pulled for a in self.albums)

    @property
    def skipped(self) -> int:
        return sum(a.skipped for a in self.albums)

    @property
    def incompatible(self) -> int:
        return sum(a.incompatible for a in self.albums)

    def summary(self) -> dict:
        return {"albums": len(self.albums), "pushed": self.pushed, "pulled": self.pulled,
                "skipped": self.skipped, "incompatible": self.incompatible}

    def rows(self) -> list[dict]:
        return [asdict(a) for a in self.albums]


# --------------------------------------------------------------------------- sync


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

    model_id = model_identity(settings.patch_hop)
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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m audiomuse.sync [--albums N] [--direction both] | --prepare-remote``."""
    import argparse

    from audiomuse.config import get_settings
    from audiomuse.store import database_urls

    parser = argparse.ArgumentParser(prog="python -m audiomuse.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--albums", type=int, default=0, help="newest N albums, 0 = all")
    parser.add_argument("--direction", choices=("push", "pull", "both"), default="both")
    parser.add_argument("--prepare-remote", action="store_true",
                        help="migrate the remote database (SYNC_DATABASE_URL) so it can serve as a hub")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    url = remote_url(settings)
    try:
        if args.prepare_remote:
            if not url:
                raise SyncNotConfigured("Set SYNC_DATABASE_URL first.")
            prepare_remote(url)
            print(f"{redact_url(url)} is ready for collection sync")
            return 0
        db = Database(database_urls(settings).app)
        db.migrate()
        report = sync_collection(db, url, settings, albums=args.albums, direction=args.direction,
                                 progress=print)
    except (SyncError, ConnectionError) as exc:
        print(f"error: {exc}")
        return 2
    print(report.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
