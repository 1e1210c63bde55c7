"""Initial schema: catalog, analysis results, playlists, artifacts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.execute(
        """
        CREATE TABLE albums (
            id          text PRIMARY KEY,            -- the provider's album id
            name        text NOT NULL,
            artist      text NOT NULL DEFAULT '',
            year        integer,
            added_at    timestamptz,                 -- when the server says it was added
            first_seen  timestamptz NOT NULL DEFAULT now(),
            last_seen   timestamptz NOT NULL DEFAULT now(),
            track_count integer NOT NULL DEFAULT 0
        );

        CREATE TABLE tracks (
            id            text PRIMARY KEY,          -- the provider's track id
            album_id      text NOT NULL REFERENCES albums(id) ON DELETE CASCADE,
            title         text NOT NULL,
            artist        text NOT NULL DEFAULT '',
            album         text NOT NULL DEFAULT '',
            duration      real,
            file_format   text,
            track_number  integer,
            song_key      text NOT NULL,             -- normalised artist + title, finds the same song twice
            duplicate_of  text REFERENCES tracks(id) ON DELETE SET NULL,
            analysed_at   timestamptz,
            analysis_error text,                     -- last failure, cleared on success
            last_seen     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX tracks_album_idx ON tracks(album_id);
        CREATE INDEX tracks_song_key_idx ON tracks(song_key);

        CREATE TABLE score (
            track_id       text PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            tempo          real,
            key            text,
            scale          text,
            energy         real,
            mood_vector    jsonb NOT NULL DEFAULT '{}',   -- 50 MSD tag -> probability
            other_features jsonb NOT NULL DEFAULT '{}',   -- danceable, aggressive, happy, party, relaxed, sad
            signal_features jsonb NOT NULL DEFAULT '{}',
            score_vector   real[],                        -- standardised interpretable vector
            updated_at     timestamptz NOT NULL DEFAULT now()
        );

        CREATE TABLE embedding (
            track_id   text PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
            embedding  vector(200) NOT NULL,
            n_patches  integer NOT NULL,
            model      text NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- One row per generated playlist; a generation is replaced only after its successor is stored.
        CREATE TABLE playlists (
            id          bigserial PRIMARY KEY,
            name        text NOT NULL,
            kind        text NOT NULL,                -- clustering, similar, path, alchemy, fingerprint, instant
            generation  text NOT NULL,                -- e.g. the Dagster run id that produced it
            track_ids   text[] NOT NULL,
            details     jsonb NOT NULL DEFAULT '{}',
            provider_id text,                         -- id on the media server once published
            created_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX playlists_kind_idx ON playlists(kind, generation);

        -- Binary artifacts (Voyager index, map projection, scaler stats) with a checksum.
        CREATE TABLE artifacts (
            name       text PRIMARY KEY,
            data       bytea,
            sha256     text,
            meta       jsonb NOT NULL DEFAULT '{}',
            created_at timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS artifacts, playlists, embedding, score, tracks, albums")
