"""Chat playlists: the ``chat_tracks`` view and the ``audiomuse_chat`` role that may read only it.

Model-written SQL runs as ``SET LOCAL ROLE audiomuse_chat`` inside a READ ONLY transaction with a
statement timeout (``audiomuse.chat.execute``). The role is NOLOGIN, owns nothing and is granted
SELECT on the view only; the view itself runs with its owner's rights over tracks + score.

Roles are cluster-wide, so the role is created only if missing (several databases of one server -
the test suite's, or a shared server - all use the same role). The app's own database user is made
a member so ``SET ROLE`` works when it is not a superuser. When the app user may not create roles
(no CREATEROLE), the migration still succeeds and warns; chat queries then refuse to run until an
administrator runs::

    CREATE ROLE audiomuse_chat NOLOGIN; GRANT audiomuse_chat TO <app user>;

What the role cannot prevent: functions granted to PUBLIC by PostgreSQL itself (``pg_sleep``,
``set_config``, reading most of ``pg_catalog``) stay callable, and REVOKE on them is neither possible
for one role nor ours to do cluster-wide. Those are covered by the allowlist validation (no function
outside the allowlist, no catalog names) and by the statement timeout.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLE = "audiomuse_chat"


def upgrade() -> None:
    op.execute(
        """
        CREATE VIEW chat_tracks AS
        SELECT t.id          AS item_id,
               t.title,
               t.artist,
               t.album,
               a.year,
               s.tempo,
               s.key,
               s.scale,
               s.energy,
               s.mood_vector,
               s.other_features,
               t.duration
        FROM tracks t
        JOIN score s ON s.track_id = t.id
        LEFT JOIN albums a ON a.id = t.album_id
        WHERE t.duplicate_of IS NULL
        """
    )
    op.execute(
        f"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{ROLE}') THEN
                BEGIN
                    CREATE ROLE {ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT
                        NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 0;
                EXCEPTION
                    WHEN duplicate_object OR unique_violation THEN
                        NULL;  -- another database's migration created it a moment ago
                    WHEN insufficient_privilege THEN
                        RAISE WARNING 'audiomuse: cannot create role {ROLE} (needs CREATEROLE); '
                            'chat playlists stay disabled until an administrator runs: '
                            'CREATE ROLE {ROLE} NOLOGIN; GRANT {ROLE} TO %;', quote_ident(current_user);
                        RETURN;
                END;
            END IF;

            -- Make the app user a member that may SET ROLE to it, so no superuser rights are needed.
            -- (PostgreSQL 16+ tracks the SET option apart from membership: a CREATEROLE user who
            -- just created the role holds it WITH ADMIN but SET FALSE.)
            BEGIN
                IF current_setting('server_version_num')::int >= 160000 THEN
                    IF NOT pg_catalog.pg_has_role(current_user, '{ROLE}', 'SET') THEN
                        EXECUTE format('GRANT {ROLE} TO %I WITH SET TRUE', current_user);
                    END IF;
                ELSIF NOT pg_catalog.pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
                    EXECUTE format('GRANT {ROLE} TO %I', current_user);
                END IF;
            EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
                RAISE WARNING 'audiomuse: cannot grant role {ROLE} to %; chat playlists stay disabled '
                    'until an administrator runs: GRANT {ROLE} TO %;', current_user, quote_ident(current_user);
            END;

            -- Read the view and nothing else. (A fresh role holds nothing; the REVOKEs make the
            -- intent explicit and undo anything granted by hand.)
            -- The schema is the one the view was just created in (normally public).
            EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM {ROLE}', current_schema());
            EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM {ROLE}', current_schema());
            EXECUTE format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %I FROM {ROLE}', current_schema());
            EXECUTE format('REVOKE ALL ON DATABASE %I FROM {ROLE}', current_database());
            EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM {ROLE}', current_schema());
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO {ROLE}', current_schema());
            GRANT SELECT ON chat_tracks TO {ROLE};
        END
        $$
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        DO $$
        BEGIN
            IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = '{ROLE}') THEN
                EXECUTE format('REVOKE ALL ON SCHEMA %I FROM {ROLE}', current_schema());
                EXECUTE format('REVOKE ALL ON DATABASE %I FROM {ROLE}', current_database());
            END IF;
        END
        $$
        """
    )
    op.execute("DROP VIEW IF EXISTS chat_tracks")
    # The role is cluster-wide: drop it only when no other database still grants it anything.
    op.execute(
        f"""
        DO $$
        BEGIN
            DROP ROLE IF EXISTS {ROLE};
        EXCEPTION WHEN dependent_objects_still_exist OR insufficient_privilege THEN
            NULL;
        END
        $$
        """
    )
