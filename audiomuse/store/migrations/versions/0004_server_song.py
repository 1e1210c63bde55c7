"""The media server's own song fields on each track: ``tracks.server_song``.

A Subsonic server's song object (``Child``) as the catalog read it: its own ids (``parent`` is the
folder/directory id, ``albumId``/``artistId`` the ID3 ones; they differ on supysonic), cover art,
content type, size, bit rate, path... JSON scalars only, NULL for other providers and for rows
stored before this revision (the next catalog refresh fills them). The Subsonic front builds song
objects from it; the expression index finds a server artist's tracks without asking the server.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE tracks ADD COLUMN server_song jsonb;
        CREATE INDEX tracks_server_artist_idx ON tracks ((server_song->>'artistId'))
            WHERE server_song->>'artistId' IS NOT NULL;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX IF EXISTS tracks_server_artist_idx;
        ALTER TABLE tracks DROP COLUMN IF EXISTS server_song;
        """
    )
