"""Emby specifics against its contract fake (the shared behaviours are in test_contract.py): the
``/emby`` prefix and X-Emby headers, login, playlists created from query parameters and emptied by
entry id, per-user playlists, and bad input (wrong credentials, no server, an unknown user, a proxy's
HTML login page) failing with one clear error that leaves the catalog as it was."""

from __future__ import annotations

import logging

import pytest

from audiomuse.catalog import refresh_catalog
from audiomuse.config import Settings
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.emby import EmbyProvider
from audiomuse.providers.jellyfin import JellyfinProvider
from tests.audiomuse.providers.fakes.base import sample_library
from tests.audiomuse.providers.fakes.emby import OTHER_ID, USER_ID, EmbyFake
from tests.audiomuse.providers.owners import check_playlists_per_owner_stay_apart
from tests.servers import free_port
from tests.seed import store_generation

TOKEN = "emby-api-key-7c41d2"
PASSWORD = "pw-Emby-31"


def _requests(fake, method=None, path=None):
    return [(m, p, q, h) for m, p, q, h in fake.requests if (method is None or m == method)
            and (path is None or p == path)]


def _provider(fake, **kw) -> EmbyProvider:
    return EmbyProvider(fake.url, "alice", TOKEN, retries=1, backoff=0.001, **kw)


# Protocol -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", ["", "/", "/emby", "/emby/"])
def test_every_request_is_under_emby_with_the_emby_headers(suffix, tmp_path):
    with EmbyFake(TOKEN, sample_library()) as fake:
        p = EmbyProvider(fake.url + suffix, "Alice", TOKEN, retries=1)  # names match case-insensitively
        track = p.album_tracks(p.newest_albums()[0].id)[0]
        p.download(track, tmp_path)
        p.create_or_replace_playlist("Mix", ["a1"])
        assert fake.requests and all(path.startswith("/emby/") and not path.startswith("/emby/emby")
                                     for _m, path, _q, _h in fake.requests)
        for _m, _p, _q, headers in fake.requests:
            assert headers["X-Emby-Token"] == TOKEN and "Authorization" not in headers
            auth = headers["X-Emby-Authorization"]
            assert auth.startswith('Emby Client="AudioMuse"') and all(f in auth for f in ("Device=", "DeviceId=",
                                                                                             "Version="))
            assert TOKEN not in auth
        assert len(_requests(fake, "GET", "/emby/Users/Query")) == 1  # the user is resolved once
        assert TOKEN not in repr(p)


def test_login_with_a_password_then_the_session_token(caplog, tmp_path):
    with EmbyFake("", sample_library(), password=PASSWORD) as fake:
        p = EmbyProvider(fake.url, "alice", password=PASSWORD, retries=1)
        with caplog.at_level(logging.DEBUG):
            assert [a.name for a in p.newest_albums()] == ["Newest", "Middle", "Older"]
            track = p.album_tracks(p.newest_albums()[0].id)[0]
            assert p.download(track, tmp_path).read_bytes() == b"audio-bytes-c1|" * 300
        (login, *rest) = fake.requests
        assert login[:2] == ("POST", "/emby/Users/AuthenticateByName") and "X-Emby-Token" not in login[3]
        assert login[3]["X-Emby-Authorization"].startswith("Emby Client=")
        assert not _requests(fake, path="/emby/Users/Query")  # the login answered the user id
        (session,) = fake.tokens
        assert all(h["X-Emby-Token"] == session for *_, h in rest)
        assert session not in caplog.text + repr(p) and PASSWORD not in caplog.text
        with pytest.raises(ProviderAuthError, match="rejected the credentials for user 'alice'") as err:
            EmbyProvider(fake.url, "alice", password="wrong-pw-22", retries=1).list_playlists()
        assert "wrong-pw-22" not in str(err.value) and "Emby server at http://127.0.0.1" in str(err.value)


def test_an_api_key_needs_a_user_and_credentials_are_required():
    with EmbyFake(TOKEN, sample_library()) as fake:
        with pytest.raises(ProviderError, match="set MEDIA_SERVER_USER: an Emby API key belongs to no user"):
            EmbyProvider(fake.url, "", TOKEN, retries=1).newest_albums()
        assert not _requests(fake, path="/emby/Users/Me")  # Emby has no /Users/Me
        assert len(EmbyProvider(fake.url, USER_ID, TOKEN, retries=1).newest_albums()) == 3  # an id as is
    with pytest.raises(ProviderAuthError, match="needs an API token"):
        EmbyProvider("http://127.0.0.1:1", "alice", "")


def test_user_names_are_found_on_older_servers_too_and_need_an_administrator():
    with EmbyFake(TOKEN, sample_library(), password=PASSWORD) as fake:
        fake.legacy_users = True  # a plain GET /Users list, no /Users/Query
        assert len(_provider(fake).newest_albums()) == 3
        assert [p for _m, p, _q, _h in fake.requests[:2]] == ["/emby/Users/Query", "/emby/Users"]
        fake.legacy_users = False
        login = EmbyProvider(fake.url, "alice", password=PASSWORD, retries=1)  # alice is no administrator
        assert login.list_playlists() == []  # her own: the login named her id
        with pytest.raises(ProviderError, match="GET /Users/Query: user 'alice' is not allowed to do this"):
            login.create_or_replace_playlist("Mix_recipe", ["a1"], owner="bob")
        assert fake.playlists == {}
        fake.login_is_admin = True
        admin = EmbyProvider(fake.url, "alice", password=PASSWORD, retries=1)
        made = admin.create_or_replace_playlist("Mix_recipe", ["a1"], owner="bob")
        assert fake.playlists[made.id]["UserId"] == OTHER_ID


def test_make_provider_builds_emby_from_the_settings():
    settings = Settings(media_server_type="emby", media_server_url="http://h:8096", media_server_user="alice",
                        media_server_token="tok-emby-9", http_retries=4)
    p = make_provider(settings)
    assert isinstance(p, EmbyProvider) and p.kind == "emby" and p.http.retries == 4
    assert str(p.http.client.base_url) == "http://h:8096/emby/" and "tok-emby-9" not in repr(p)
    assert not isinstance(p, JellyfinProvider)  # siblings over a shared base, not one a variant of the other


# Playlists ----------------------------------------------------------------------------------------
def test_a_playlist_is_created_from_query_parameters_in_chunks_in_order(monkeypatch):
    monkeypatch.setattr("audiomuse.providers.emby.ID_CHUNK", 2)
    monkeypatch.setattr("audiomuse.providers.mediabrowser.ID_CHUNK", 2)
    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        order = ["c2", "a1", "b2", "a3", "c1"]
        made = p.create_or_replace_playlist("Long", order)
        (create,) = _requests(fake, "POST", "/emby/Playlists")
        q = create[2]
        assert (q["Name"], q["Ids"], q["UserId"], q["MediaType"]) == (["Long"], ["c2,a1"], [USER_ID], ["Audio"])
        adds = [q["Ids"][0] for _m, _p, q, _h in _requests(fake, "POST", f"/emby/Playlists/{made.id}/Items")]
        assert adds == ["b2,a3", "c1"]
        assert fake.playlist_tracks("Long") == order and p.playlist_tracks(made.id) == order
        empty = p.create_or_replace_playlist("Empty", [])
        assert p.playlist_tracks(empty.id) == [] and "Ids" not in _requests(fake, "POST", "/emby/Playlists")[-1][2]


def test_the_fake_reads_a_new_playlist_from_the_query_string_only():
    """What the provider must not do: a Jellyfin-style JSON body is not read by Emby."""
    with EmbyFake(TOKEN, sample_library()) as fake:
        jellyfin_style = fake.handle("POST", "/emby/Playlists", {}, {"X-Emby-Token": TOKEN},
                                     b'{"Name": "Mix", "Ids": ["a1"], "UserId": "%s"}' % USER_ID.encode())
        assert jellyfin_style[0] == 400 and fake.playlists == {}


def test_replacing_removes_entries_by_playlist_item_id_keeping_the_id():
    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        first = p.create_or_replace_playlist("Calm_automatic", ["a1", "b2", "c1"])
        entry_ids = [e for e, _i in fake.playlists[first.id]["Items"]]
        assert not set(entry_ids) & {"a1", "b2", "c1"}  # entry ids are not item ids
        # removing by item id matches no entry, as on the real server: a provider doing so would fail below
        fake.handle("DELETE", f"/emby/Playlists/{first.id}/Items", {"EntryIds": ["a1,b2,c1"]}, {"X-Emby-Token": TOKEN}, b"")
        assert fake.playlist_tracks("Calm_automatic") == ["a1", "b2", "c1"]
        again = p.create_or_replace_playlist("Calm_automatic", ["c2", "a3"])
        assert again.id == first.id and list(fake.playlists) == [first.id]
        assert fake.playlist_tracks("Calm_automatic") == ["c2", "a3"]
        (delete,) = _requests(fake, "DELETE", f"/emby/Playlists/{first.id}/Items")
        assert delete[2]["EntryIds"] == [",".join(entry_ids)]


def test_playlists_per_owner_stay_apart():
    with EmbyFake(TOKEN, sample_library()) as fake:
        check_playlists_per_owner_stay_apart(fake, _provider(fake), USER_ID, OTHER_ID)


def test_publishing_clustering_playlists_twice_replaces_them_in_place(db):
    """publish_generation twice with the same names: one playlist each on the server, same id,
    the second generation's songs; the stale one is deleted."""
    from audiomuse.playlists.clustering import publish_generation

    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        store_generation(db, "g1", [("Night Drive_automatic", ["a1", "a2"]), ("Old Mood_automatic", ["b1"])])
        publish_generation(db, p)
        first = {pl.name: pl.id for pl in p.list_playlists()}
        store_generation(db, "g2", [("Night Drive_automatic", ["c2", "b2", "a3"])])
        report = publish_generation(db, p)
        assert report["deleted"] == ["Old Mood_automatic"]
        assert [(pl.id, pl.name) for pl in p.list_playlists()] == [(first["Night Drive_automatic"],
                                                                    "Night Drive_automatic")]
        assert fake.playlist_tracks("Night Drive_automatic") == ["c2", "b2", "a3"]


def test_two_users_recipes_stay_apart(db):
    """Living playlists: alice's and bob's recipes of the same name each refresh their owner's Emby
    playlist (created with the owner's UserId); refreshing alice's again never touches bob's."""
    from audiomuse.recipes.model import Recipe
    from audiomuse.recipes.refresh import publish_refresh
    from audiomuse.recipes.store import get_recipe, save_recipe

    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        with db.connection() as conn:
            alice = save_recipe(conn, Recipe("Mix", "similar", {"track_id": "a1"}, owner="alice"))
            bob = save_recipe(conn, Recipe("Mix", "similar", {"track_id": "a1"}, owner="bob"))
        first = publish_refresh(db, p, alice, ["a1", "a2"])
        theirs = publish_refresh(db, p, bob, ["b1", "b2"])
        assert first.provider_id != theirs.provider_id
        assert fake.playlists[theirs.provider_id]["UserId"] == OTHER_ID
        with db.connection() as conn:
            alice = get_recipe(conn, alice.id)
        again = publish_refresh(db, p, alice, ["c1", "c2"])
        assert again.provider_id == first.provider_id and again.removed == ("a1", "a2")  # replaced in place
        assert p.playlist_tracks(first.provider_id, owner="alice") == ["c1", "c2"]
        assert p.playlist_tracks(theirs.provider_id, owner="bob") == ["b1", "b2"]  # bob's untouched
        assert len(fake.playlists) == 2


# History ------------------------------------------------------------------------------------------
def test_history_comes_from_user_data_per_user():
    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        assert [(t.track_id, t.play_count) for t in p.top_played(10)] == [("b2", 9), ("a3", 6), ("a2", 4), ("a1", 2)]
        assert p.top_played(user="bob") == []
        (query,) = [q for _m, _p, q, _h in _requests(fake, "GET", f"/emby/Users/{USER_ID}/Items")]
        assert query["Filters"] == ["IsPlayed"] and query["SortBy"][0].startswith("PlayCount")


# Bad input ----------------------------------------------------------------------------------------
def _catalog(db):
    with db.connection() as conn:
        return (conn.execute("SELECT id, name, artist, track_count, last_seen FROM albums ORDER BY id").fetchall(),
                conn.execute("SELECT id, album_id, title, last_seen FROM tracks ORDER BY id").fetchall())


@pytest.mark.parametrize("fault", ["wrong token", "wrong password", "server down", "unknown user",
                                   "proxy login page"])
def test_a_failed_catalog_run_is_one_clear_error_and_changes_nothing(fault, db, caplog):
    with EmbyFake(TOKEN, sample_library(), password=PASSWORD) as fake:
        refresh_catalog(_provider(fake), db)
        before = _catalog(db)
        assert len(before[0]) == 3 and len(before[1]) == 7
        url, user, token, password = fake.url, "alice", TOKEN, ""
        if fault == "wrong token":
            token = "wrong-emby-key-55"
        elif fault == "wrong password":
            token, password = "", "wrong-emby-pw-55"
        elif fault == "server down":
            url = f"http://127.0.0.1:{free_port()}"
        elif fault == "unknown user":
            user = "carol"
        else:
            fake.proxy_login_page = True
        bad = EmbyProvider(url, user, token, password=password, retries=2, backoff=0.001)
        with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as err:
            refresh_catalog(bad, db)
    message = str(err.value)
    assert message.startswith(f"Emby server at {url}: ")
    expected = {"wrong token": "rejected the credentials for user 'alice'",
                "wrong password": "rejected the credentials for user 'alice'",
                "server down": "unreachable after 2 attempts: connection refused",
                "unknown user": "no user named 'carol'",
                "proxy login page": "did not answer JSON: is this the Emby server's URL?"}[fault]
    assert expected in message
    assert isinstance(err.value, ProviderUnavailable) == (fault == "server down")
    for secret in (TOKEN, PASSWORD, "wrong-emby-key-55", "wrong-emby-pw-55"):
        assert secret not in message + caplog.text + repr(bad)
    assert _catalog(db) == before


def test_downloads_refused_or_answered_with_html_are_clear_errors(tmp_path):
    with EmbyFake(TOKEN, sample_library()) as fake:
        p = _provider(fake)
        track = p.album_tracks("al1")[0]
        fake.downloads_allowed = False  # the static stream still serves the original file
        assert p.download(track, tmp_path).read_bytes() == b"audio-bytes-a1|" * 300
        assert [(path, q) for _m, path, q, _h in fake.requests[-2:]] == [
            ("/emby/Items/a1/Download", {}), ("/emby/Audio/a1/stream", {"static": ["true"]})]
        (tmp_path / "a1.flac").unlink()
        fake.playback_allowed = False
        with pytest.raises(ProviderError, match="user 'alice' may not download 'A Song 1' "
                                                r"\(enable downloads for this user in Emby\)"):
            p.download(track, tmp_path)
        fake.downloads_allowed, fake.playback_allowed, fake.proxy_login_page = True, True, True
        with pytest.raises(ProviderError, match="answered text/html; charset=utf-8, not audio"):
            p.download(track, tmp_path)
        assert list(tmp_path.iterdir()) == []  # no login page saved as a .flac


def test_the_compose_override_makes_every_audiomuse_service_an_emby_client(monkeypatch):
    """docker/compose.emby.yaml names only services of compose.yaml (every one built from the
    AudioMuse image) and, merged over their environment, gives settings that build an EmbyProvider."""
    import os
    import re
    from pathlib import Path

    import yaml

    docker = Path(__file__).resolve().parents[3] / "docker"
    base = yaml.safe_load((docker / "compose.yaml").read_text())
    override = yaml.safe_load((docker / "compose.emby.yaml").read_text())
    ours = {name for name, svc in base["services"].items() if "build" in svc}
    assert set(override["services"]) == ours
    for name in ours:
        env = {**base["services"][name]["environment"], **override["services"][name]["environment"]}
        for key in [k for k in os.environ if k.startswith(("MEDIA_SERVER_", "AUDIOMUSE_"))]:
            monkeypatch.delenv(key)
        monkeypatch.setenv("MEDIA_SERVER_TOKEN", "compose-key-1")
        for key, value in env.items():
            value = re.sub(r"\$\{MEDIA_SERVER_USER:\?[^}]*\}", "alice", str(value))
            value = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
            if key != "MEDIA_SERVER_TOKEN":
                monkeypatch.setenv(key, value)
        provider = make_provider(Settings())
        assert isinstance(provider, EmbyProvider) and provider.user == "alice", name
        assert str(provider.http.client.base_url) == "http://emby:8096/emby/"
