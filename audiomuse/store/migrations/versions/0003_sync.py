"""Collection sync: the shared analysis table a sync hub serves, and a small key/value settings table.

``shared_analysis`` holds analysis results keyed by content only (normalised artist, title, album
and whole seconds of duration) and the model identity: no track id, album id, file name or path.
Any AudioMuse database migrated to this revision can be the remote of ``audiomuse.sync``; in the
local database the table simply stays empty. ``app_settings`` stores what the user decides in the
app, e.g. that the sync policy was accepted (and which version of it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE shared_analysis (
            track_key       text NOT NULL,       -- normalised 'artist|title|album'
            seconds         integer NOT NULL,    -- duration rounded to whole seconds
            model_id        text NOT NULL,       -- model name, weights checksum, patch hop
            embedding       vector(200) NOT NULL,
            n_patches       integer NOT NULL,
            tempo           real,
            key             text,
            scale           text,
            energy          real,
            mood_vector     jsonb NOT NULL DEFAULT '{}',
            other_features  jsonb NOT NULL DEFAULT '{}',
            signal_features jsonb NOT NULL DEFAULT '{}',
            contributed_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (track_key, seconds, model_id)
        );

        CREATE TABLE app_settings (
            name       text PRIMARY KEY,
            value      jsonb NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS app_settings, shared_analysis")
