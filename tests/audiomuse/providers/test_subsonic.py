"""The Subsonic adapter against a real supysonic server, on generated tagged FLAC/WAV files and on
the real small sample library (skipped when it is not built)."""

import logging
from collections import defaultdict
from urllib.parse import parse_qs, urlsplit

import pytest

from audiomuse.providers.base import ProviderAuthError, ProviderError, ProviderUnavailable
from audiomuse.providers.subsonic import SubsonicProvider
from tests.audiomuse.providers.conftest import (
    AGE_DAYS, BOB, BOB_PASSWORD, GENERATED, PASSWORD, USER, supysonic_server, tags_of, write_tagged,
)
from tests.servers import free_port
from tests.seed import store_generation

pytestmark = pytest.mark.slow

AUDIO = {".flac", ".ogg", ".wav", ".mp3", ".opus", ".m4a"}


@pytest.fixture(params=["generated", "sample"])
def server(request):
    """(url, music root) of a running supysonic."""
    return request.getfixturevalue(f"supysonic_{request.param}")


@pytest.fixture
def provider(supysonic_url):
    """The sample-library server (kept for tests written against it)."""
    p = SubsonicProvider(supysonic_url, USER, PASSWORD, retries=2, backoff=0.01)
    yield p
    p.close()


@pytest.fixture
def sub(server):
    p = SubsonicProvider(server[0], USER, PASSWORD, retries=2, backoff=0.01, page_size=4)  # page_size: force paging
    yield p
    p.close()


def _files_by_album(root):
    """album tag -> [(path, tags)] for every tagged audio file under root."""
    albums = defaultdict(list)
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in AUDIO and path.is_file():
            try:
                tags = tags_of(path)
            except Exception:  # noqa: BLE001 - the broken file of the generated library
                continue
            albums[tags["album"]].append((path, tags))
    return albums


def _song_paths(p, album_id):
    """track id -> path relative to the music folder, from supysonic's own answer."""
    return {s["id"]: s["path"] for s in p.call("getAlbum", {"id": album_id})["album"]["song"]}


def test_newest_albums_all_and_limited(sub, server):
    _, root = server
    files = _files_by_album(root)
    albums = sub.newest_albums()
    assert sorted(a.name for a in albums) == sorted(files)
    oldest_file = {a: min(int(p.stat().st_mtime) for p, _ in items) for a, items in files.items()}
    assert [oldest_file[a.name] for a in albums] == sorted(oldest_file.values(), reverse=True)
    if root.name.startswith("generated"):
        assert [a.name for a in albums] == sorted(AGE_DAYS, key=AGE_DAYS.get)
    assert [a.id for a in sub.newest_albums(1)] == [albums[0].id]
    assert [a.id for a in sub.newest_albums(5)] == [a.id for a in albums[:5]]
    assert all(a.added is not None for a in albums)


def test_album_tracks_match_the_files_tags(sub, server):
    _, root = server
    files = _files_by_album(root)
    for album in sub.newest_albums():
        tracks = sub.album_tracks(album.id)
        paths = _song_paths(sub, album.id)
        expected = {str(p.relative_to(root)): tags for p, tags in files[album.name]}
        assert sorted(paths.values()) == sorted(expected)
        for t in tracks:
            tags = expected[paths[t.id]]
            assert (t.title, t.artist, t.album, t.track_number) == (
                tags["title"], tags["artist"], tags["album"], tags["tracknumber"])
            assert t.file_format == paths[t.id].rsplit(".", 1)[1].lower()
            assert t.duration and t.duration >= 1


def test_generated_library_exact_listing(supysonic_generated):
    url, _ = supysonic_generated
    p = SubsonicProvider(url, USER, PASSWORD, retries=1)
    second = next(a for a in p.newest_albums() if a.name == "Second Wind")
    assert second.artist == "Beta Group"
    tracks = sorted(p.album_tracks(second.id), key=lambda t: t.track_number)
    expected = [g for g in GENERATED if g[3] == "Second Wind"]
    assert [(t.title, t.track_number, t.file_format) for t in tracks] == [
        (title, n, rel.rsplit(".", 1)[1]) for rel, title, _a, _al, n, _s in expected]
    assert [t.duration for t in tracks] == [int(s) for *_, s in expected]


def test_download_is_byte_identical(sub, server, tmp_path):
    _, root = server
    for album in sub.newest_albums()[:3]:
        paths = _song_paths(sub, album.id)
        track = sub.album_tracks(album.id)[0]
        path = sub.download(track, tmp_path)
        assert path.parent == tmp_path and path.suffix == "." + track.file_format
        assert path.read_bytes() == (root / paths[track.id]).read_bytes()


def test_token_to_password_fallback_happens_once_and_is_remembered(server):
    p = SubsonicProvider(server[0], USER, PASSWORD, retries=1)
    sent = []
    p.http.client.event_hooks["request"].append(
        lambda request: sent.append((urlsplit(str(request.url)).path.rsplit("/", 1)[1], parse_qs(request.url.query.decode()))))
    assert p.token_auth
    albums = p.newest_albums()
    for album in albums[:2]:
        p.album_tracks(album.id)
    assert not p.token_auth and p.auth_mode == "password"  # supysonic answered the token with error 10
    assert [m for m, _ in sent] == ["ping", "ping", "getAlbumList2", "getAlbum", "getAlbum"]
    assert {"t", "s"} <= set(sent[0][1]) and "p" not in sent[0][1]
    assert all(q["p"] == ["enc:" + PASSWORD.encode().hex()] and "t" not in q for _, q in sent[1:])


def test_playlist_create_replace_in_place_and_delete_by_suffix(sub):
    ids = [t.id for a in sub.newest_albums() for t in sub.album_tracks(a.id)]
    first = sub.create_or_replace_playlist("Night Drive_automatic", ids[:3])
    mine = sub.create_or_replace_playlist("Mine", ids[:1])
    again = sub.create_or_replace_playlist("Night Drive_automatic", ids[3:5])
    assert again.id == first.id
    entries = sub.call("getPlaylist", {"id": first.id})["playlist"]["entry"]
    assert [s["id"] for s in entries] == ids[3:5]
    assert sorted(p.name for p in sub.list_playlists()) == ["Mine", "Night Drive_automatic"]
    assert sub.delete_playlists_by_suffix("_automatic") == ["Night Drive_automatic"]
    assert [(p.id, p.name) for p in sub.list_playlists()] == [(mine.id, "Mine")]
    sub.delete_playlist(mine.id)
    assert sub.list_playlists() == []


def test_wrong_password_is_an_auth_error_without_the_password(server, caplog):
    bad = SubsonicProvider(server[0], USER, "not-the-password-9", retries=1)
    sent = []
    bad.http.client.event_hooks["request"].append(lambda r: sent.append(parse_qs(r.url.query.decode())))
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderAuthError) as err:
        bad.newest_albums()
    assert str(err.value) == f"Subsonic server at {server[0]}: rejected the credentials for user 'alice'"
    text = str(err.value) + repr(bad) + caplog.text
    secrets = ["not-the-password-9", "not-the-password-9".encode().hex()]
    secrets += [v for q in sent for k in ("t", "s") for v in q.get(k, [])]
    assert len(secrets) == 4  # the token try (t, s) was made, then the password
    for secret in secrets:
        assert secret not in text


def test_server_down_retries_then_names_the_host(caplog):
    port = free_port()
    down = SubsonicProvider(f"http://127.0.0.1:{port}", USER, "pw-secret-77", retries=3, backoff=0.01)
    with caplog.at_level(logging.WARNING), pytest.raises(ProviderUnavailable) as err:
        down.newest_albums()
    message = str(err.value)
    assert message == (f"Subsonic server at http://127.0.0.1:{port}: unreachable after 3 attempts: "
                       "connection refused")
    assert "pw-secret-77" not in message + caplog.text
    assert caplog.text.count("retrying") == 2


def test_supysonic_counts_plays_but_does_not_report_them(supysonic_generated, caplog):
    """supysonic (API 1.12) counts streams and orders type=frequent by them, but its songs carry
    no playCount: top_played has nothing to read and says so."""
    url, _ = supysonic_generated
    p = SubsonicProvider(url, USER, PASSWORD, retries=1)
    oldest = p.newest_albums()[-1]
    track = p.album_tracks(oldest.id)[0]
    for _ in range(3):
        p.http.request("GET", "/rest/stream", params=p._params({"id": track.id, "format": "raw"}))
    assert p._album_list("frequent", 1)[0]["id"] == oldest.id
    with caplog.at_level(logging.INFO):
        assert p.top_played() == []
    assert "does not report play counts" in caplog.text


def test_publishing_clustering_playlists_replaces_them_in_place(provider, db):
    """published_playlists' core against the real server: new first, then stale ones deleted."""

    from audiomuse.playlists.clustering import publish_generation

    ids = [t.id for a in provider.newest_albums() for t in provider.album_tracks(a.id)]
    stale = provider.create_or_replace_playlist("Old Mood_automatic", ids[:2])
    kept = provider.create_or_replace_playlist("Night Drive_automatic", ids[:1])

    store_generation(db, "g1", [("Night Drive_automatic", ids[2:5]), ("Calm_automatic", ids[5:7])])
    report = publish_generation(db, provider)
    remote = {p.name: p.id for p in provider.list_playlists()}
    assert report["deleted"] == ["Old Mood_automatic"] and stale.id not in remote.values()
    assert remote["Night Drive_automatic"] == kept.id  # replaced in place, same playlist id
    entries = provider.call("getPlaylist", {"id": kept.id})["playlist"]["entry"]
    assert [e["id"] for e in entries] == ids[2:5]
    provider.delete_playlists_by_suffix("_automatic")


# The server's own song fields ------------------------------------------------------------------
# what the catalog keeps and a client needs, compared with the server's getSong
COMPARED = ("id", "parent", "albumId", "artistId", "coverArt", "contentType", "size", "suffix", "bitRate",
            "duration", "path", "track", "discNumber", "year", "genre", "title", "album", "artist", "isDir", "type",
            "created")
NEEDED = {"id", "parent", "albumId", "artistId", "contentType", "size", "suffix", "duration", "path"}


def _png(size: int = 8) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (size, size), (200, 40, 40)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(scope="module")
def supysonic_covered(tmp_path_factory):
    """(url, music root) of supysonic on two albums with cover art: a folder image, and a picture
    embedded in the FLAC files (the generated and sample libraries have none)."""
    from mutagen.flac import FLAC, Picture

    root = tmp_path_factory.mktemp("covered-music")
    for n, title in enumerate(("One", "Two"), 1):
        write_tagged(root / f"Cover Band/Framed/0{n} - {title}.flac", title, "Cover Band", "Framed", n, 2.0, n)
    (root / "Cover Band/Framed/cover.png").write_bytes(_png())
    inside = write_tagged(root / "Cover Band/Embedded/01 - Inside.flac", "Inside", "Cover Band", "Embedded", 1, 2.0)
    audio, picture = FLAC(inside), Picture()
    picture.type, picture.mime, picture.data, picture.width, picture.height, picture.depth = (
        3, "image/png", _png(), 8, 8, 24)
    audio.add_picture(picture)
    audio.save()
    with supysonic_server(root, tmp_path_factory.mktemp("supysonic-covered")) as url:
        yield url, root


@pytest.fixture(params=["generated", "sample", "covered"])
def any_server(request):
    return request.getfixturevalue(f"supysonic_{request.param}")


def _get_song(p: SubsonicProvider, track_id: str) -> dict:
    return p.call("getSong", {"id": track_id})["song"]


def _only(fields: dict, keys=COMPARED) -> dict:
    return {k: fields[k] for k in keys if k in fields}


def test_tracks_carry_the_servers_own_song_fields(any_server):
    p = SubsonicProvider(any_server[0], USER, PASSWORD, retries=1)
    try:
        tracks = [t for a in p.newest_albums() for t in p.album_tracks(a.id)]
        assert tracks
        for t in tracks:
            fields = dict(t.server_song)
            song = _get_song(p, t.id)
            assert NEEDED <= set(fields) and fields["id"] == t.id
            assert _only(fields) == _only(song)
            assert fields.get("coverArt") == song.get("coverArt")
            assert all(isinstance(v, (str, int, float, bool)) for v in fields.values())
            assert not {"starred", "userRating", "averageRating", "playCount", "transcodedSuffix"} & set(fields)
        # parent is the folder (getMusicDirectory lists the song there), not the ID3 album id
        fields = dict(tracks[0].server_song)
        directory = p.call("getMusicDirectory", {"id": fields["parent"]})["directory"]
        assert tracks[0].id in [c["id"] for c in directory["child"]]
        assert fields["parent"] != fields["albumId"]
        with pytest.raises(ProviderError):  # supysonic: error 0, its folder ids are numbers
            p.call("getMusicDirectory", {"id": fields["albumId"]})
        if any_server[1].name.startswith("covered"):
            assert all("coverArt" in dict(t.server_song) for t in tracks)
            for cover in {dict(t.server_song)["coverArt"] for t in tracks}:
                image = p.http.request("GET", "/rest/getCoverArt", params=p._params({"id": cover}))
                assert image.status_code == 200 and image.headers["content-type"].startswith("image/")
    finally:
        p.close()


@pytest.mark.parametrize("library", ["generated", "covered"])
def test_the_catalog_stores_and_refills_the_server_fields(request, library, db):
    """refresh_catalog keeps each song's server fields; catalog song objects equal getSong on them
    (and get no parent while stored without them); a server artist's tracks come from the catalog."""
    from audiomuse.catalog import refresh_catalog
    from audiomuse.sonic import SonicLibrary
    from audiomuse.store import catalog as catalog_store

    url, _ = request.getfixturevalue(f"supysonic_{library}")
    p = SubsonicProvider(url, USER, PASSWORD, retries=1)
    sonic = SonicLibrary(db)
    try:
        refresh_catalog(p, db)
        with db.connection() as conn:
            ids = [r[0] for r in conn.execute("SELECT id FROM tracks ORDER BY id")]
            conn.execute("UPDATE tracks SET server_song = NULL")  # as stored before migration 0004
        before = sonic.catalog_songs(ids)
        assert all("parent" not in song and "contentType" not in song for song in before.values())
        refresh_catalog(p, db)
        songs = sonic.catalog_songs(ids)
        assert sorted(songs) == ids
        for tid, song in songs.items():
            upstream = _get_song(p, tid)
            assert _only(song) == _only(upstream)
            assert NEEDED <= set(song) and song.get("coverArt") == upstream.get("coverArt")
        with db.connection() as conn:
            artists = p.call("getArtists")["artists"]["index"]
            for artist in (a for index in artists for a in index["artist"]):
                albums = p.call("getArtist", {"id": artist["id"]})["artist"]["album"]
                expected = {s["id"] for a in albums for s in p.call("getAlbum", {"id": a["id"]})["album"]["song"]}
                found = catalog_store.tracks_of_server_artist(conn, artist["id"])
                assert len(found) == len(set(found)) and set(found) == expected, artist["name"]
                for a in albums:
                    assert set(catalog_store.tracks_of_album(conn, a["id"])) == {
                        s["id"] for s in p.call("getAlbum", {"id": a["id"]})["album"]["song"]}
    finally:
        sonic.close()
        p.close()


# Per-user playlists ------------------------------------------------------------------------------
@pytest.fixture
def two_users(supysonic_generated):
    """alice's provider that may act as bob (his password configured), and the generated track ids;
    every "_recipe" playlist of either user is removed afterwards."""
    url, _ = supysonic_generated
    p = SubsonicProvider(url, USER, PASSWORD, retries=1, user_passwords={BOB: BOB_PASSWORD})
    ids = [t.id for a in p.newest_albums() for t in p.album_tracks(a.id)]
    yield p, ids
    for owner in (USER, BOB):
        p.delete_playlists_by_suffix("_recipe", owner=owner)
    p.close()


def test_playlists_of_two_users_with_the_same_name_stay_apart(two_users):
    p, ids = two_users
    ann = p.create_or_replace_playlist("Mix_recipe", ids[:2], owner=USER)
    bob = p.create_or_replace_playlist("Mix_recipe", ids[2:4], owner=BOB)
    assert ann.id != bob.id
    # bob's is public: alice's plain listing shows it (supysonic names it "[bob] Mix_recipe"), her
    # owner-scoped listing does not
    p.as_user(BOB).call("updatePlaylist", {"playlistId": bob.id, "public": "true"})
    assert {ann.id, bob.id} <= {pl.id for pl in p.list_playlists()}
    assert [pl.id for pl in p.list_playlists(owner=USER) if pl.name == "Mix_recipe"] == [ann.id]
    assert [pl.id for pl in p.list_playlists(owner=BOB) if pl.name == "Mix_recipe"] == [bob.id]
    # replacing alice's keeps bob's
    assert p.create_or_replace_playlist("Mix_recipe", ids[4:5], owner=USER).id == ann.id
    assert p.playlist_tracks(ann.id, owner=USER) == ids[4:5]
    assert p.playlist_tracks(bob.id, owner=BOB) == ids[2:4]
    # so does the configured user's own call without an owner (alice is the configured user)
    assert p.create_or_replace_playlist("Mix_recipe", ids[:1]).id == ann.id
    assert p.playlist_tracks(bob.id, owner=BOB) == ids[2:4]
    # deleting by suffix as alice leaves bob's
    p.create_or_replace_playlist("Keep_recipe", ids[:1], owner=BOB)
    assert p.delete_playlists_by_suffix("_recipe", owner=USER) == ["Mix_recipe"]
    assert sorted(pl.name for pl in p.list_playlists(owner=BOB)) == ["Keep_recipe", "Mix_recipe"]
    assert p.list_playlists(owner=USER) == []
    assert p.delete_playlists_by_suffix("_recipe", keep=["Keep_recipe"], owner=BOB) == ["Mix_recipe"]
    assert [pl.name for pl in p.list_playlists(owner=BOB)] == ["Keep_recipe"]


def test_acting_as_a_user_without_credentials_is_a_clear_error(two_users, caplog):
    p, ids = two_users
    lone = SubsonicProvider(p.http.base_url, USER, PASSWORD, retries=1)  # no other user's password
    bob = p.create_or_replace_playlist("Bobs_recipe", ids[:2], owner=BOB)
    calls = [lambda: lone.create_or_replace_playlist("X_recipe", ids[:1], owner=BOB),
             lambda: lone.list_playlists(owner=BOB), lambda: lone.playlist_tracks(bob.id, owner=BOB),
             lambda: lone.delete_playlists_by_suffix("_recipe", owner=BOB), lambda: lone.delete_playlist(bob.id, owner=BOB)]
    with caplog.at_level(logging.DEBUG):
        for call in calls:
            with pytest.raises(ProviderError, match="acting as user 'bob' needs that user's password") as err:
                call()
            assert "MEDIA_SERVER_USER_PASSWORDS" in str(err.value) and str(err.value).startswith("Subsonic server at")
    assert BOB_PASSWORD not in caplog.text + str(err.value)
    # nothing happened under alice's account instead, and bob's playlist is untouched
    assert not [pl for pl in lone.list_playlists() if pl.name == "X_recipe"]
    assert p.playlist_tracks(bob.id, owner=BOB) == ids[:2]
    # with a wrong password for bob: an auth error naming bob, never alice's account
    wrong = SubsonicProvider(p.http.base_url, USER, PASSWORD, retries=1, user_passwords={BOB: "not-his"})
    with pytest.raises(ProviderAuthError, match="for user 'bob'"):
        wrong.create_or_replace_playlist("X_recipe", ids[:1], owner=BOB)
    assert not [pl for pl in lone.list_playlists() if pl.name == "X_recipe"]


def test_two_users_recipes_stay_apart(two_users, db):
    """Living playlists: a recipe of alice and one of bob with the same name each refresh their
    owner's playlist on supysonic; refreshing alice's again never touches bob's."""
    from audiomuse.recipes.model import Recipe
    from audiomuse.recipes.refresh import publish_refresh
    from audiomuse.recipes.store import get_recipe, save_recipe

    p, ids = two_users
    with db.connection() as conn:
        alice = save_recipe(conn, Recipe("Mix", "similar", {"track_id": ids[0]}, owner=USER))
        bob = save_recipe(conn, Recipe("Mix", "similar", {"track_id": ids[0]}, owner=BOB))
    first = publish_refresh(db, p, alice, ids[:2])
    theirs = publish_refresh(db, p, bob, ids[2:4])
    assert first.provider_id != theirs.provider_id
    with db.connection() as conn:
        alice = get_recipe(conn, alice.id)
    again = publish_refresh(db, p, alice, ids[4:6])
    assert again.provider_id == first.provider_id and again.added == tuple(ids[4:6])  # replaced in place
    assert again.removed == tuple(ids[:2])
    assert p.playlist_tracks(first.provider_id, owner=USER) == ids[4:6]
    assert p.playlist_tracks(theirs.provider_id, owner=BOB) == ids[2:4]  # bob's untouched
    assert [pl.name for pl in p.list_playlists(owner=BOB)] == ["Mix_recipe"]
