"""The sync policy the user must accept before anything is shared.

Nothing is sent, and the remote is not even contacted, until the policy is accepted: either
``SYNC_ACCEPT_POLICY=true`` in the configuration or the acceptance stored by the app (a new
``POLICY_VERSION`` asks again).
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from audiomuse.config import Settings
from audiomuse.store import Database

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
