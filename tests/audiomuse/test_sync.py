"""Collection sync between real PostgreSQL databases: a local library, a remote hub, another user's."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import psycopg
import pytest

from audiomuse.analysis.track import MODEL_NAME, model_identity
from audiomuse.config import Settings
from audiomuse.media import Album, Track
from audiomuse.store import Database
from audiomuse.store import analysis as analysis_store
from audiomuse.store import catalog as catalog_store
from audiomuse.store.server import with_database
from audiomuse.sync import (
    ContentKey,
    SyncError,
    SyncNotConfigured,
    SyncPolicyNotAccepted,
    accept_policy,
    content_key,
    policy_accepted,
    sync_collection,
    withdraw_policy,
)
from tests.conftest import create_database, drop_database

ACCEPTED = Settings(sync_accept_policy=True)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

# (artist, album, days after T0 it was added, [(title, duration)])
ALBUMS = [
    ("Beyoncé", "I Am... Sasha Fierce", 1, [("Halo", 261.4), ("If I Were a Boy", 249.0)]),
    ("Röyksopp", "Melody A.M.", 2, [("Eple", 221.6), ("Poor Leno", 216.1), ("Remind Me", 217.9)]),
    ("The Knife", "Silent Shout", 3, [("Silent Shout", 293.0), ("Marble House", 330.5)]),
]


def _album_rows(owner: str, duration_shift: float = 0.0, title_case=str):
    """Catalog rows as one owner's media server reports them: its own ids, the same music."""
    for artist, album, days, songs in ALBUMS:
        album_id = f"{owner}-album-{hashlib.sha1(album.encode()).hexdigest()[:8]}"
        tracks = [
            Track(f"{owner}/Music/{artist}/{album}/{i:02d} {title}.flac", album_id, title_case(title), artist,
                  album, duration + duration_shift, "flac", i)
            for i, (title, duration) in enumerate(songs, 1)
        ]
        yield Album(album_id, album, artist, 2008, T0 + timedelta(days=days)), tracks


CURRENT = model_identity(187)  # the default PATCH_HOP's identity, as the analyser stores it


def _analysis(title: str, model: str = CURRENT) -> dict:
    """A deterministic analysis per song title, so two owners' copies can be compared."""
    rng = np.random.default_rng(int(hashlib.sha1(title.encode()).hexdigest()[:8], 16))
    return dict(
        embedding=rng.standard_normal(200).astype(np.float32), n_patches=int(rng.integers(50, 120)),
        model=model, tempo=float(rng.uniform(60, 180)), key="A", scale="minor", energy=float(rng.uniform(0, 1)),
        mood_vector={"rock": float(rng.uniform()), "electronic": float(rng.uniform())},
        other_features={"danceable": float(rng.uniform()), "sad": float(rng.uniform())},
        signal_features={"key_strength": float(rng.uniform()), "onset_rate": float(rng.uniform(0, 5))},
    )


def make_library(db: Database, owner: str, *, analysed: bool, model: str = CURRENT, **variant) -> list[str]:
    """Catalog the three albums for ``owner``; analysed (synthetic results) or not. Returns track ids."""
    ids = []
    with db.connection() as conn:
        for album, tracks in _album_rows(owner, **variant):
            catalog_store.upsert_albums(conn, [album])
            catalog_store.upsert_tracks(conn, album.id, tracks)
            for t in tracks:
                ids.append(t.id)
                if analysed:
                    analysis_store.save_track_analysis(conn, t.id, **_analysis(t.title.lower(), model))
    return ids


def with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{(user or 'postgres').split(':')[0]}:{password}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def new_db(pg_admin_url, template):
    name = create_database(pg_admin_url, template=template)
    return name, Database(with_database(pg_admin_url, name))


@pytest.fixture
def hub(pg_admin_url, migrated_template):
    """The remote AudioMuse database (SYNC_DATABASE_URL)."""
    name, database = new_db(pg_admin_url, migrated_template)
    yield database
    drop_database(pg_admin_url, name)


@pytest.fixture
def other_user(pg_admin_url, migrated_template):
    """A second user's local database, syncing with the same hub."""
    name, database = new_db(pg_admin_url, migrated_template)
    yield database
    drop_database(pg_admin_url, name)


def table_counts(database: Database) -> dict[str, int]:
    with database.connection() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def shared_rows(hub: Database) -> list[tuple]:
    with hub.connection() as conn:
        return conn.execute("SELECT track_key, seconds, model_id FROM shared_analysis ORDER BY 1, 2").fetchall()


def stored_analysis(database: Database) -> dict[str, dict]:
    """Analysis per lower-case title, as the store holds it."""
    with database.connection() as conn:
        rows = conn.execute(
            """SELECT lower(t.title), e.embedding, e.n_patches, e.model, s.tempo, s.key, s.scale, s.energy,
                      s.mood_vector, s.other_features, s.signal_features
               FROM tracks t JOIN embedding e ON e.track_id = t.id JOIN score s ON s.track_id = t.id"""
        ).fetchall()
    return {r[0]: {"embedding": r[1].to_numpy(), "n_patches": r[2], "model": r[3],
                   "tempo": r[4], "key": r[5], "scale": r[6], "energy": r[7], "mood_vector": r[8],
                   "other_features": r[9], "signal_features": r[10]} for r in rows}


# --------------------------------------------------------------------------- content key


def test_content_key_normalises_text_and_rounds_duration_to_seconds():
    key = content_key("Beyoncé", "Halo!", "I Am... Sasha Fierce", 261.4)
    assert key == ContentKey("beyonce|halo|i am sasha fierce", 261)
    assert str(key) == "beyonce|halo|i am sasha fierce|261"
    assert content_key("BEYONCE", "halo", "I am - Sasha Fierce", 261.6) == ContentKey(key.track, 262)


def test_content_keys_match_within_one_second_bucket():
    base = content_key("a", "b", "c", 200.3)
    assert base.matches(content_key("a", "b", "c", 200.7))  # 0.4 s apart, across a rounding edge
    assert base.matches(content_key("a", "b", "c", 201.2))
    assert not base.matches(content_key("a", "b", "c", 202.6))
    for shift in np.arange(0.0, 1.0, 0.05):  # under 1 s apart: always; 2 s or more: never
        for start in np.arange(100.0, 101.0, 0.05):
            assert content_key("a", "b", "c", start).matches(content_key("a", "b", "c", start + shift))
            assert not content_key("a", "b", "c", start).matches(content_key("a", "b", "c", start + 2 + shift))
    assert not base.matches(content_key("a", "b", "other album", 200.3))


def test_tracks_without_title_or_duration_have_no_key():
    assert content_key("a", "", "c", 100.0) is None
    assert content_key("a", "b", "c", None) is None
    assert content_key("a", "b", "c", 0.0) is None


def test_model_identity_names_weights_and_patch_hop():
    ident = model_identity(187)
    assert ident.startswith(f"{MODEL_NAME}@") and ident.endswith("/hop187")
    assert model_identity(93) != ident


def test_model_identity_names_the_int8_precision_and_keeps_fp32s():
    assert model_identity(187, "fp32") == "msd-musicnn-onnx@6a6b45c99748d9d3/hop187"  # as before int8
    assert model_identity(187) == model_identity(187, "int8") == "msd-musicnn-onnx@6a6b45c99748d9d3-int8/hop187"
    assert ACCEPTED.analysis_precision == "int8"  # the default: CURRENT is what the analyser stores
    with pytest.raises(ValueError):
        model_identity(187, "fp16")


# --------------------------------------------------------------------------- opt-in


def test_without_accepted_policy_nothing_is_sent(db, hub):
    make_library(db, "alice", analysed=True)
    before = table_counts(hub)
    with pytest.raises(SyncPolicyNotAccepted, match="accept the sync policy"):
        sync_collection(db, hub.url, Settings())
    assert table_counts(hub) == before
    assert shared_rows(hub) == []


def test_refusal_comes_before_any_connection_to_the_remote(db):
    """An unreachable remote still gets the policy error: it was never contacted."""
    with pytest.raises(SyncPolicyNotAccepted):
        sync_collection(db, "postgresql://u:hunter2@127.0.0.1:1/nowhere", Settings())


def test_policy_accepted_in_config_or_in_the_app(db):
    assert not policy_accepted(db, Settings())
    assert policy_accepted(db, ACCEPTED)
    accept_policy(db)
    assert policy_accepted(db, Settings())
    withdraw_policy(db)
    assert not policy_accepted(db, Settings())


def test_stored_acceptance_lets_sync_run(db, hub):
    make_library(db, "alice", analysed=True)
    accept_policy(db)
    assert sync_collection(db, hub.url, Settings()).pushed == 7


def test_no_remote_configured_is_a_clear_error(db):
    with pytest.raises(SyncNotConfigured, match="SYNC_DATABASE_URL"):
        sync_collection(db, None, ACCEPTED)


def test_remote_without_schema_is_refused_without_showing_the_password(db, empty_db):
    make_library(db, "alice", analysed=True)
    url = with_password(empty_db.url, "hunter2")  # the test server trusts any password
    with pytest.raises(SyncError, match="prepare-remote") as err:
        sync_collection(db, url, ACCEPTED)
    assert "hunter2" not in str(err.value)


def test_unreachable_remote_error_hides_the_password(db):
    with pytest.raises(ConnectionError) as err:
        sync_collection(db, "postgresql://u:hunter2@127.0.0.1:1/hub", ACCEPTED)
    assert "hunter2" not in str(err.value) and "***" in str(err.value)


# --------------------------------------------------------------------------- push and pull


def test_push_then_pull_round_trip_keeps_embeddings_and_scores(db, hub, other_user):
    """Alice pushes; Bob, whose ids, paths, title case and durations (+0.4 s) differ, pulls."""
    make_library(db, "alice", analysed=True)
    bob_ids = make_library(other_user, "bob", analysed=False, duration_shift=0.4, title_case=str.upper)

    pushed = sync_collection(db, hub.url, ACCEPTED, direction="push")
    assert (pushed.pushed, pushed.pulled) == (7, 0)
    pulled = sync_collection(other_user, hub.url, ACCEPTED, direction="pull")
    assert (pulled.pushed, pulled.pulled, pulled.incompatible) == (0, 7, 0)

    alice, bob = stored_analysis(db), stored_analysis(other_user)
    assert sorted(bob) == sorted(alice)
    for title, row in alice.items():
        assert np.array_equal(bob[title].pop("embedding"), row.pop("embedding")), title
        assert bob[title] == row, title
    with other_user.connection() as conn:
        assert analysis_store.analysed_track_ids(conn, bob_ids) == set(bob_ids)
        assert catalog_store.albums_needing_analysis(conn) == []  # analysis skips these albums


def test_duration_differing_across_a_rounding_edge_still_matches(db, hub, other_user):
    """'Halo' is 261.4 s at Alice's (key 261) and 261.6 s at Bob's (key 262)."""
    make_library(db, "alice", analysed=True)
    make_library(other_user, "bob", analysed=False, duration_shift=0.2)
    sync_collection(db, hub.url, ACCEPTED, direction="push")
    assert sync_collection(other_user, hub.url, ACCEPTED, direction="pull").pulled == 7


def test_too_different_duration_is_not_matched(db, hub, other_user):
    make_library(db, "alice", analysed=True)
    make_library(other_user, "bob", analysed=False, duration_shift=3.0)  # another edit of the song
    sync_collection(db, hub.url, ACCEPTED, direction="push")
    report = sync_collection(other_user, hub.url, ACCEPTED, direction="pull")
    assert report.pulled == 0 and report.skipped == 7


def test_both_directions_push_what_is_missing_there_and_pull_what_is_missing_here(db, hub, other_user):
    alice_ids = make_library(db, "alice", analysed=True)
    with db.connection() as conn:  # Alice has not analysed "Eple" (yet)
        conn.execute("DELETE FROM embedding WHERE track_id LIKE %s", ("%Eple%",))
        conn.execute("DELETE FROM score WHERE track_id LIKE %s", ("%Eple%",))
    make_library(other_user, "bob", analysed=True)
    assert sync_collection(other_user, hub.url, ACCEPTED, albums=2, direction="push").pushed == 5
    report = sync_collection(db, hub.url, ACCEPTED)
    # Bob shared the two newest albums: Alice pulls Eple and pushes the oldest album's two songs.
    assert (report.pushed, report.pulled) == (2, 1)
    with db.connection() as conn:
        assert analysis_store.analysed_track_ids(conn, alice_ids) == set(alice_ids)
    assert len(shared_rows(hub)) == 7


def test_second_run_pushes_and_pulls_nothing(db, hub, other_user):
    make_library(db, "alice", analysed=True)
    make_library(other_user, "bob", analysed=False, duration_shift=-0.3)
    first = [sync_collection(d, hub.url, ACCEPTED) for d in (db, other_user)]
    assert [(r.pushed, r.pulled) for r in first] == [(7, 0), (0, 7)]
    before = table_counts(hub), stored_analysis(other_user).keys()
    again = [sync_collection(d, hub.url, ACCEPTED) for d in (db, other_user)]
    assert [(r.pushed, r.pulled, r.skipped) for r in again] == [(0, 0, 7), (0, 0, 7)]
    assert (table_counts(hub), stored_analysis(other_user).keys()) == before


def test_newest_n_albums_are_synced_newest_first(db, hub):
    make_library(db, "alice", analysed=True)
    report = sync_collection(db, hub.url, ACCEPTED, albums=2, direction="push")
    assert [a.name for a in report.albums] == ["Silent Shout", "Melody A.M."]
    assert [a.pushed for a in report.albums] == [2, 3]
    assert {k.split("|")[0] for k, _, _ in shared_rows(hub)} == {"the knife", "royksopp"}
    assert sync_collection(db, hub.url, ACCEPTED, albums=0, direction="push").pushed == 2  # the rest


def test_progress_failure_after_an_album_keeps_that_album(db, hub):
    """Each album is its own transaction: a failure on the way keeps the albums already done."""
    make_library(db, "alice", analysed=True)

    def fail(message):
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        sync_collection(db, hub.url, ACCEPTED, direction="push", progress=fail)
    assert len(shared_rows(hub)) == 2  # the newest album, committed before the failure
    assert sync_collection(db, hub.url, ACCEPTED, direction="push").pushed == 5


# --------------------------------------------------------------------------- model identity


def test_rows_of_another_patch_hop_are_refused_on_pull(db, hub, other_user):
    make_library(db, "alice", analysed=True, model=model_identity(93))
    make_library(other_user, "bob", analysed=False)
    sync_collection(db, hub.url, Settings(sync_accept_policy=True, patch_hop=93), direction="push")
    assert {m for _, _, m in shared_rows(hub)} == {model_identity(93)}
    report = sync_collection(other_user, hub.url, ACCEPTED, direction="pull")
    assert (report.pulled, report.incompatible) == (0, 7)
    assert stored_analysis(other_user) == {}


@pytest.mark.parametrize("model", ["some-other-model", MODEL_NAME, model_identity(93)])
def test_rows_of_another_model_are_never_pushed(db, hub, model):
    """Another model, rows from before identities were stored, or another patch hop than the one
    configured now: never labelled with the current identity."""
    make_library(db, "alice", analysed=True, model=model)
    report = sync_collection(db, hub.url, ACCEPTED, direction="push")
    assert (report.pushed, report.incompatible) == (0, 7)
    assert shared_rows(hub) == []


def test_fp32_rows_are_another_model_to_push_and_pull(db, hub, other_user):
    """fp32 embeddings (analysed before int8 became the default, or with ANALYSIS_PRECISION=fp32)
    are pushed only under fp32 and pulled only into an fp32 library: never mixed with int8 ones."""
    fp32, fp32_settings = model_identity(187, "fp32"), Settings(sync_accept_policy=True, analysis_precision="fp32")
    make_library(db, "alice", analysed=True, model=fp32)
    report = sync_collection(db, hub.url, ACCEPTED, direction="push")  # int8 configured: not its rows
    assert (report.pushed, report.incompatible) == (0, 7)
    report = sync_collection(db, hub.url, fp32_settings, direction="push")
    assert (report.pushed, report.model_id) == (7, fp32)
    assert {m for _, _, m in shared_rows(hub)} == {fp32}
    make_library(other_user, "bob", analysed=False)
    report = sync_collection(other_user, hub.url, ACCEPTED, direction="pull")
    assert (report.pulled, report.incompatible) == (0, 7)
    assert stored_analysis(other_user) == {}
    assert sync_collection(other_user, hub.url, fp32_settings, direction="pull").pulled == 7
    assert {r["model"] for r in stored_analysis(other_user).values()} == {fp32}


def test_int8_rows_are_never_pulled_into_an_fp32_library(db, hub, other_user):
    make_library(db, "alice", analysed=True)  # CURRENT: int8
    assert sync_collection(db, hub.url, ACCEPTED, direction="push").pushed == 7
    make_library(other_user, "bob", analysed=False)
    report = sync_collection(other_user, hub.url, Settings(sync_accept_policy=True, analysis_precision="fp32"),
                             direction="pull")
    assert (report.pulled, report.incompatible) == (0, 7)


def test_same_content_under_two_models_is_kept_apart(db, hub, other_user, pg_admin_url, migrated_template):
    """A hub may hold one song under two identities; each side pulls only its own."""
    make_library(db, "alice", analysed=True, model=model_identity(93))
    sync_collection(db, hub.url, Settings(sync_accept_policy=True, patch_hop=93), direction="push")
    name, carol = new_db(pg_admin_url, migrated_template)
    try:
        make_library(carol, "carol", analysed=True)
        sync_collection(carol, hub.url, ACCEPTED, direction="push")
    finally:
        drop_database(pg_admin_url, name)
    assert len(shared_rows(hub)) == 14
    make_library(other_user, "bob", analysed=False)
    assert sync_collection(other_user, hub.url, ACCEPTED, direction="pull").pulled == 7
    assert {r["model"] for r in stored_analysis(other_user).values()} == {CURRENT}


# --------------------------------------------------------------------------- privacy


def _text_values(database: Database) -> str:
    """Every text, varchar and jsonb value of every table in the database, one per line."""
    with database.connection() as conn:
        cols = conn.execute(
            """SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'ARRAY')
                 AND table_name IN (SELECT tablename FROM pg_tables WHERE schemaname = 'public')"""
        ).fetchall()
        values = []
        for table, column in cols:
            values += [str(r[0]) for r in conn.execute(f'SELECT "{column}"::text FROM "{table}"')]
    return "\n".join(values)


def test_no_path_file_name_or_id_reaches_the_remote(db, hub, tmp_path):
    """A real local-folder catalog: ids are path hashes, file names carry a private marker."""
    import mutagen

    from audiomuse.catalog import refresh_catalog
    from audiomuse.providers.local import LocalFolderProvider
    from tests.signals import tone, write_wav

    music = tmp_path / "home-of-alice-zzprivate"
    for i, title in enumerate(["Dawn", "Noon"], 1):
        path = write_wav(music / "Alpha Folder zzprivate" / f"{i:02d} zzprivate take {i}.flac",
                         tone((220.0 * i,), 2.0))
        tags = mutagen.File(path, easy=True)
        tags.update({"artist": "Alpha", "album": "First Light", "title": title, "tracknumber": str(i)})
        tags.save()
    provider = LocalFolderProvider(music)
    refresh_catalog(provider, db)
    with db.connection() as conn:
        tracks = conn.execute("SELECT id, album_id, title FROM tracks").fetchall()
        for track_id, _, title in tracks:
            analysis_store.save_track_analysis(conn, track_id, **_analysis(title.lower()))

    assert sync_collection(db, hub.url, ACCEPTED, direction="push").pushed == 2
    remote_text = _text_values(hub)
    assert "alpha|dawn|first light" in remote_text  # the scan does see the shared rows
    assert "zzprivate" not in remote_text.lower()
    assert str(tmp_path) not in remote_text and "flac" not in remote_text
    for track_id, album_id, _ in tracks:
        assert track_id not in remote_text and album_id not in remote_text


def test_remote_catalog_tables_are_never_touched(db, hub):
    make_library(db, "alice", analysed=True)
    before = {t: n for t, n in table_counts(hub).items() if t != "shared_analysis"}
    sync_collection(db, hub.url, ACCEPTED)
    after = {t: n for t, n in table_counts(hub).items() if t != "shared_analysis"}
    assert after == before


def test_hub_rejects_nothing_but_stores_only_numbers_in_json(db, hub):
    """Non-numeric values smuggled into a JSON column locally are dropped before they leave."""
    make_library(db, "alice", analysed=True)
    with db.connection() as conn:
        conn.execute("""UPDATE score SET signal_features = signal_features || '{"path": "/home/alice/x.flac"}'""")
    sync_collection(db, hub.url, ACCEPTED, direction="push")
    assert "/home/alice" not in _text_values(hub)
    with psycopg.connect(hub.url) as conn:
        keys = {k for (sf,) in conn.execute("SELECT signal_features FROM shared_analysis") for k in sf}
    assert keys == {"key_strength", "onset_rate"}


def test_sync_migration_downgrades_and_upgrades_cleanly(empty_db):
    from alembic import command

    from audiomuse.store.db import alembic_config

    empty_db.migrate()
    command.downgrade(alembic_config(empty_db.url), "0002")
    assert "shared_analysis" not in table_counts(empty_db) and "app_settings" not in table_counts(empty_db)
    empty_db.migrate()
    assert {"shared_analysis", "app_settings"} <= set(table_counts(empty_db))


def test_command_line_prepares_a_hub_then_syncs(db, empty_db, monkeypatch, tmp_path, capsys):
    from audiomuse.config import get_settings
    from audiomuse.sync.cli import main

    make_library(db, "alice", analysed=True)
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("SYNC_DATABASE_URL", with_password(empty_db.url, "hunter2"))
    get_settings.cache_clear()
    try:
        assert main(["--albums", "1"]) == 2  # policy not accepted
        monkeypatch.setenv("SYNC_ACCEPT_POLICY", "true")
        get_settings.cache_clear()
        assert main(["--albums", "1"]) == 2  # hub not prepared
        assert main(["--prepare-remote"]) == 0
        assert main(["--albums", "1", "--direction", "push"]) == 0
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    out = captured.out
    assert "hunter2" not in captured.err
    assert "accept the sync policy" in out and "prepare-remote" in out and "'pushed': 2" in out
    assert "hunter2" not in out
    assert len(shared_rows(empty_db)) == 2
