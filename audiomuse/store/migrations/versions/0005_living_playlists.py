"""Living playlists: saved recipes refreshed on a schedule or as new music arrives, per user; and
clustering playlists a user pins so they survive the next clustering run.

``recipes`` holds what a tool's result was made from (``kind`` and its ``params``), whose it is
(``owner``, a media-server user name; NULL = the configured user), when it is refreshed and the
last good version (``track_ids``, ``provider_id`` of the server playlist), so a failed refresh
keeps it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE recipes (
            id            bigserial PRIMARY KEY,
            name          text NOT NULL,
            kind          text NOT NULL CHECK (kind IN ('similar', 'path', 'alchemy', 'fingerprint',
                                                        'map_selection', 'instant', 'extend', 'daily_mix')),
            params        jsonb NOT NULL DEFAULT '{}',
            owner         text,
            refresh       text NOT NULL CHECK (refresh IN ('daily', 'weekly', 'new_music', 'manual')),
            refresh_hour  integer NOT NULL DEFAULT 6 CHECK (refresh_hour BETWEEN 0 AND 23),
            size          integer NOT NULL DEFAULT 25 CHECK (size BETWEEN 1 AND 500),
            track_ids     text[] NOT NULL DEFAULT '{}',
            provider_id   text,
            refreshed_at  timestamptz,
            last_error    text,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE UNIQUE INDEX recipes_owner_name_idx ON recipes (coalesce(owner, ''), name);
        ALTER TABLE playlists ADD COLUMN pinned boolean NOT NULL DEFAULT false;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        ALTER TABLE playlists DROP COLUMN IF EXISTS pinned;
        DROP TABLE IF EXISTS recipes;
        """
    )
