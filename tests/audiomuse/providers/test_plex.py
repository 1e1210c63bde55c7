"""Plex specifics against its contract fake (the shared behaviours are in test_contract.py): the
endpoints plexapi sends and nothing else, the music section by name, bad input (an HTML login page,
a missing section, a silent server), per-account playlists, history per account, settings, and the
store left alone by a failed catalog run."""

from __future__ import annotations

import logging
import socket

import pytest

from audiomuse.config import Settings
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.plex import PlexProvider, _MaskTokens, _Session
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.plex import PlexFake
from tests.seed import store_generation

TOKEN = "plex-Token-7f3e91"
BOB_TOKEN = "bob-Token-22a0c4"


@pytest.fixture
def fake():
    with PlexFake(TOKEN, sample_library(), user="alice", other_tokens={"bob": BOB_TOKEN}) as server:
        yield server


def _provider(fake, **kw) -> PlexProvider:
    return PlexProvider(fake.url, "alice", TOKEN, **{"retries": 1, "backoff": 0.001, **kw})


def _routes(fake) -> list[str]:
    return [f"{method} {path}" for method, path, _q, _h in fake.requests]


def test_a_session_uses_only_the_documented_endpoints_with_the_token_in_a_header(fake, tmp_path, monkeypatch):
    sent = []
    original = _Session.request

    def recording(self, method, url, *args, **kwargs):
        sent.append(url)
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(_Session, "request", recording)
    p = _provider(fake)
    album = p.newest_albums()[0]
    tracks = p.album_tracks(album.id)
    p.download(tracks[0], tmp_path)
    made = p.create_or_replace_playlist("Mix_automatic", [t.id for t in tracks])
    p.create_or_replace_playlist("Mix_automatic", [tracks[0].id])
    p.top_played()
    p.delete_playlist(made.id)
    assert all(url.startswith(fake.url + "/") for url in sent)  # never plex.tv, never another host
    assert set(_routes(fake)) == {
        "GET /", "GET /library", "GET /library/sections", "GET /library/sections/3/all",
        "GET /library/sections/3/collections", f"GET /library/metadata/{album.id}/children",
        f"GET /library/metadata/{tracks[0].id}", f"GET /library/metadata/{tracks[0].id},{tracks[1].id}",
        f"GET /library/parts/{tracks[0].id}/1780000000/file.flac", "GET /playlists", "POST /playlists",
        f"DELETE /playlists/{made.id}/items", f"PUT /playlists/{made.id}/items",
        "GET /status/sessions/history/all", f"GET /playlists/{made.id}", f"DELETE /playlists/{made.id}"}
    assert _routes(fake).count("GET /") == 1  # one identity request per connection
    assert f"GET /library/metadata/{tracks[1].id}" not in _routes(fake)  # no auto-reload of a listed track
    for _method, _path, query, headers in fake.requests:
        assert headers["X-Plex-Token"] == TOKEN and "X-Plex-Token" not in query
        assert headers["X-Plex-Product"] == "AudioMuse" and headers["X-Plex-Client-Identifier"]
    albums = next(q for m, path, q, _h in fake.requests if path == "/library/sections/3/all" and "type" in q)
    assert albums["sort"] == ["album.addedAt:desc"]


def test_newest_albums_are_paged_with_plex_container_headers(fake):
    p = _provider(fake, page_size=2)
    assert [a.name for a in p.newest_albums()] == ["Newest", "Middle", "Older"]
    starts = [h["X-Plex-Container-Start"] for _m, path, q, h in fake.requests
              if path == "/library/sections/3/all" and "type" in q]
    assert starts == ["0", "2"]


def test_the_library_section_is_chosen_by_name(fake):
    assert _provider(fake, library="  music ").section().key == 3
    fake.sections = [("Films", "movie"), ("Jazz", "artist"), ("Rock", "artist")]
    assert _provider(fake).section().title == "Jazz"  # default: the first music section
    assert _provider(fake, library="rock").section().title == "Rock"
    with pytest.raises(ProviderError) as err:
        _provider(fake, library="Classical").newest_albums()
    message = str(err.value)
    assert message.startswith(f"Plex server at {fake.url}: no library section named 'Classical'")
    assert "'Films' (movie), 'Jazz' (artist), 'Rock' (artist)" in message
    with pytest.raises(ProviderError, match="'Films' holds movie, not music"):
        _provider(fake, library="Films").newest_albums()
    fake.sections = [("Films", "movie")]
    with pytest.raises(ProviderError, match="no music library; the server's sections: 'Films' \\(movie\\)"):
        _provider(fake).newest_albums()


def test_an_html_login_page_is_a_clear_error_without_the_token(fake, caplog):
    fake.login_page = True
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as err:
        _provider(fake).newest_albums()
    message = str(err.value)
    assert message.startswith(f"Plex server at {fake.url}: answered an HTML page instead of Plex XML")
    assert not isinstance(err.value, ProviderUnavailable)
    assert TOKEN not in message + caplog.text + repr(err.value.args)


def test_wrong_token_names_the_server_and_never_the_token(fake, caplog):
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderAuthError) as err:
        PlexProvider(fake.url, "alice", "wrong-Token-000", retries=1).list_playlists()
    assert str(err.value) == f"Plex server at {fake.url}: rejected the credentials (X-Plex-Token of user 'alice')"
    assert "wrong-Token-000" not in caplog.text + repr(err.value.args)
    assert err.value.__suppress_context__  # plexapi's message (the server's answer) is not chained on


def test_a_server_that_never_answers_times_out(caplog):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never answers
    try:
        port = silent.getsockname()[1]
        p = PlexProvider(f"http://127.0.0.1:{port}", "alice", TOKEN, timeout=0.2, retries=2, backoff=0.001)
        with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable) as err:
            p.newest_albums()
        assert str(err.value) == f"Plex server at http://127.0.0.1:{port}: unreachable after 2 attempts: timed out"
        assert caplog.text.count("retrying") == 1 and TOKEN not in caplog.text
    finally:
        silent.close()


def test_a_token_is_required():
    with pytest.raises(ProviderAuthError, match="needs the server owner's X-Plex-Token"):
        PlexProvider("http://127.0.0.1:32400", "alice", "")


def test_playlists_belong_to_the_account_whose_token_made_them(fake):
    p = _provider(fake, user_tokens={"bob": BOB_TOKEN})
    k = fake.key_of
    mine = p.create_or_replace_playlist("Mix_recipe", [k["a1"], k["b2"]])
    bobs = p.create_or_replace_playlist("Mix_recipe", [k["c1"], k["a3"]], owner="bob")
    assert mine.id != bobs.id
    assert fake.playlists[mine.id]["account"] == 1 and fake.playlists[bobs.id]["account"] == 2
    assert [pl.id for pl in p.list_playlists()] == [mine.id]
    assert [pl.id for pl in p.list_playlists(owner="bob")] == [bobs.id]
    assert p.playlist_tracks(bobs.id, owner="bob") == [k["c1"], k["a3"]]
    with pytest.raises(ProviderError, match=f"no playlist with id {bobs.id}"):
        p.playlist_tracks(bobs.id)  # alice's token does not open bob's playlist
    assert p.create_or_replace_playlist("Mix_recipe", [k["b1"]], owner="bob").id == bobs.id
    assert p.delete_playlists_by_suffix("_recipe", owner="alice") == ["Mix_recipe"]
    assert list(fake.playlists) == [bobs.id] and fake.playlist_tracks("Mix_recipe") == [k["b1"]]


def test_without_a_configured_user_the_token_account_is_the_servers_owner(fake):
    p = PlexProvider(fake.url, "", TOKEN, retries=1)
    made = p.create_or_replace_playlist("Mine_recipe", [fake.key_of["a1"]], owner="alice")
    assert p.user == "alice" and fake.playlists[made.id]["account"] == 1
    assert [pl.id for pl in p.list_playlists(owner="alice")] == [made.id]


def test_an_owner_without_a_token_is_refused_and_nothing_happens(fake, caplog):
    p = _provider(fake)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as err:
        p.create_or_replace_playlist("X_recipe", [fake.key_of["a1"]], owner="carol")
    assert "acting as user 'carol' needs that account's own token" in str(err.value)
    assert "PLEX_USER_TOKENS" in str(err.value) and fake.playlists == {}
    assert not any(m == "POST" for m, *_ in fake.requests)


def test_bad_track_ids_and_empty_new_playlists_change_nothing(fake):
    p = _provider(fake)
    k = fake.key_of
    made = p.create_or_replace_playlist("Keep", [k["a1"], k["a1"], k["c2"]])  # duplicates kept, in order
    assert fake.playlist_tracks("Keep") == [k["a1"], k["a1"], k["c2"]]
    for bad in ("999", "a1"):
        with pytest.raises(ProviderError, match=f"no track with id {bad}"):
            p.create_or_replace_playlist("Keep", [k["b1"], bad])
    assert fake.playlist_tracks("Keep") == [k["a1"], k["a1"], k["c2"]]
    with pytest.raises(ProviderError, match="cannot create playlist 'Empty' without tracks"):
        p.create_or_replace_playlist("Empty", [])
    assert [pl.id for pl in p.list_playlists()] == [made.id]
    with pytest.raises(ProviderError, match="no playlist with id 12345"):
        p.delete_playlist("12345")


def test_long_playlists_are_sent_in_chunks_in_order(fake, monkeypatch):
    monkeypatch.setattr("audiomuse.providers.plex.KEY_CHUNK", 2)
    p = _provider(fake, page_size=3)
    order = [fake.key_of[i] for i in ("c2", "a1", "b2", "a3", "c1")]
    made = p.create_or_replace_playlist("Long", order)
    assert p.playlist_tracks(made.id) == order
    assert _routes(fake).count(f"PUT /playlists/{made.id}/items") == 2  # created with 2, then 2 + 1 added


def test_history_per_account(fake):
    p = _provider(fake)
    bob = p.top_played(user="bob")
    assert [(t.track_id, t.play_count) for t in bob] == [(fake.key_of["c2"], 1)]
    assert bob[0].last_played.timestamp() == 1_781_000_000
    assert [t.play_count for t in p.top_played(user="alice")] == [9, 6, 4, 2]
    history = [q for _m, path, q, _h in fake.requests if path == "/status/sessions/history/all"]
    assert [q["accountID"] for q in history] == [["2"], ["1"]] and history[0]["librarySectionID"] == ["3"]
    with pytest.raises(ProviderError, match="no Plex account named 'carol' \\(accounts: 'alice', 'bob'\\)"):
        p.top_played(user="carol")


def test_settings_build_the_provider_and_keep_tokens_secret():
    settings = Settings(media_server_type="plex", media_server_url="http://127.0.0.1:32400", media_server_user="alice",
                        media_server_token=TOKEN, plex_library="Music", plex_user_tokens=f"bob:{BOB_TOKEN}")
    provider = make_provider(settings)
    assert isinstance(provider, PlexProvider) and provider.library == "Music"
    assert provider._user_tokens == {"bob": BOB_TOKEN}
    shown = repr(provider) + repr(settings) + str(settings.public_dict())
    assert TOKEN not in shown and BOB_TOKEN not in shown
    bad = Settings(media_server_type="plex", media_server_url="http://127.0.0.1:32400", media_server_token=TOKEN,
                   plex_user_tokens="bob:tok,leaked-Secret")
    with pytest.raises(ProviderError, match="PLEX_USER_TOKENS entry 2 is not 'user:token'") as err:
        make_provider(bad)
    assert "leaked-Secret" not in str(err.value)
    with pytest.raises(ProviderAuthError, match="MEDIA_SERVER_TOKEN"):
        make_provider(Settings(media_server_type="plex", media_server_url="http://127.0.0.1:32400"))


def test_plexapi_reads_no_personal_config_and_urls_never_carry_the_token(fake):
    import plexapi

    assert plexapi.CONFIG_PATH == "/dev/null" and plexapi.CONFIG.data == {}
    server = _provider(fake)._server()
    server._showSecrets = True  # what a config's log.show_secrets would set: ignored
    assert TOKEN not in server.url("/library") and server.url("/x", includeToken=True).endswith("X-Plex-Token=" + TOKEN)
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, "", 0, "%s %s",
                               ("GET", f"/a?X-Plex-Token={TOKEN}&b=1"), None)
    _MaskTokens().filter(record)
    assert record.getMessage() == "GET /a?X-Plex-Token=***&b=1"


def test_publishing_clustering_playlists_twice_replaces_them_in_place(fake, db):
    """published_playlists' core: the second publish replaces the same Plex playlist (same
    ratingKey) and deletes the stale one."""

    from audiomuse.playlists.clustering import publish_generation

    p = _provider(fake)
    ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]

    store_generation(db, "g1", [("Night Drive_automatic", ids[:3]), ("Old Mood_automatic", ids[3:5])])
    publish_generation(db, p)
    first = {pl.name: pl.id for pl in p.list_playlists()}
    store_generation(db, "g2", [("Night Drive_automatic", ids[4:7])])
    report = publish_generation(db, p)
    assert report["deleted"] == ["Old Mood_automatic"]
    kept = first["Night Drive_automatic"]
    assert [(pl.name, pl.id) for pl in p.list_playlists()] == [("Night Drive_automatic", kept)]
    assert fake.playlist_tracks("Night Drive_automatic") == ids[4:7] and len(fake.playlists) == 1


@pytest.mark.parametrize("failure", ["token", "login page", "library", "down"])
def test_a_failed_catalog_run_changes_nothing_in_the_store(fake, db, failure):
    from audiomuse.catalog import refresh_catalog

    refresh_catalog(_provider(fake), db)
    with db.connection() as conn:
        before = conn.execute("SELECT id, album_id, title FROM tracks ORDER BY id").fetchall()
    assert len(before) == 7
    fake.albums["al3"]["name"] = "Renamed"  # would show up if anything were written
    fake.sections = fake.sections if failure != "library" else [("Podcasts", "artist")]
    fake.login_page = failure == "login page"
    kinds = {"token": ProviderAuthError, "down": ProviderUnavailable}
    if failure == "token":
        provider = PlexProvider(fake.url, "alice", "not-the-token", retries=1)
    elif failure == "down":
        provider = PlexProvider("http://127.0.0.1:9", "alice", TOKEN, retries=1)
    else:
        provider = _provider(fake, library="Music" if failure == "library" else None)
    with pytest.raises(kinds.get(failure, ProviderError)) as err:
        refresh_catalog(provider, db)
    assert str(err.value).startswith("Plex server at")
    with db.connection() as conn:
        assert conn.execute("SELECT id, album_id, title FROM tracks ORDER BY id").fetchall() == before
        assert "Renamed" not in {r[0] for r in conn.execute("SELECT name FROM albums")}


def test_the_compose_override_sets_plex_for_every_audiomuse_service(monkeypatch, tmp_path):
    """docker/compose.plex.yaml: each AudioMuse service of compose.yaml gets the Plex variables,
    each one a real setting documented in the file's header, and they build a Plex provider."""
    import re
    from pathlib import Path

    import yaml

    docker = Path(__file__).resolve().parents[3] / "docker"
    base = yaml.safe_load((docker / "compose.yaml").read_text())["services"]
    text = (docker / "compose.plex.yaml").read_text()
    override = yaml.safe_load(text)["services"]
    assert set(override) == {name for name, s in base.items() if "MEDIA_SERVER_TYPE" in s.get("environment", {})}
    env = override["app"]["environment"]
    assert all(s["environment"] == env for s in override.values()) and env["MEDIA_SERVER_TYPE"] == "plex"
    fields = {name.upper() for name in Settings.model_fields}
    assert set(env) <= fields
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert all(var in header for var in set(env) - {"MEDIA_SERVER_TYPE"})
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
    for key in env:
        monkeypatch.setenv(key, re.sub(r"\$\{\w+:[-?]([^}]*)\}", r"\1", str(env[key])))
    monkeypatch.setenv("MEDIA_SERVER_TOKEN", TOKEN)
    provider = make_provider(Settings())
    assert isinstance(provider, PlexProvider) and provider.base_url == "http://plex:32400" and provider.library is None
