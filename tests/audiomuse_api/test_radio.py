"""Sonic radio through the Subsonic front, over a real supysonic, driven by real third-party clients:
py-sonic (``libsonic``) and py-opensonic (``libopensonic``) call ``getSimilarSongs`` and
``getSimilarSongs2`` and parse the answers; XML is checked with ElementTree (neither library
speaks XML)."""

from __future__ import annotations

import urllib.error
import xml.etree.ElementTree as ET
from collections import Counter
from urllib.parse import urlsplit

import libopensonic
import libsonic
import pytest

from tests.audiomuse.providers.conftest import PASSWORD, USER
from tests.audiomuse_api.conftest import ServedApp, front_settings

pytestmark = pytest.mark.slow

NS = "{http://subsonic.org/restapi}"


def _py_sonic(url: str, password: str = PASSWORD) -> libsonic.Connection:
    """supysonic knows no token auth: the clients send the password (hex-encoded) instead."""
    parts = urlsplit(url)
    return libsonic.Connection(f"http://{parts.hostname}", USER, password, port=parts.port, serverPath="/rest",
                               legacyAuth=True)


@pytest.fixture
def opensonic(sonic_front):
    parts = urlsplit(sonic_front[0])
    client = libopensonic.Connection(f"http://{parts.hostname}", USER, PASSWORD, port=parts.port, legacy_auth=True)
    yield client
    client.cleanup()


def _songs(answer: dict, key: str) -> list[dict]:
    return answer[key].get("song", [])


def _artist_of(db, track_id: str) -> str:
    with db.connection() as conn:
        return conn.execute("SELECT artist FROM tracks WHERE id = %s", (track_id,)).fetchone()[0]


def test_song_radio_from_the_sound_in_json(sonic_front, sonic_library):
    db, analysed, _ = sonic_library
    seed = analysed[0]
    answer = _py_sonic(sonic_front[0]).getSimilarSongs(seed, count=8)
    songs = _songs(answer, "similarSongs")
    assert len(songs) == 8 and seed not in {s["id"] for s in songs}  # as Navidrome: the seed is the client's
    assert {s["id"] for s in songs} <= set(analysed)
    assert all(s["title"] and s["isDir"] is False and s["duration"] > 0 for s in songs)
    assert max(Counter(s["artist"] for s in songs).values()) <= 3  # MAX_SONGS_PER_ARTIST
    assert answer["openSubsonic"] is True


def test_album_and_artist_radio_with_py_opensonic(sonic_front, sonic_library, opensonic, http, auth):
    db, analysed, _ = sonic_library
    song = http.get(sonic_front[1] + "/rest/getSong", params={**auth, "f": "json", "id": analysed[0]}).json()
    song = song["subsonic-response"]["song"]
    album_songs = opensonic.get_similar_songs(song["albumId"], count=10)
    assert album_songs and {s.id for s in album_songs} <= set(analysed)
    artist_songs = opensonic.get_similar_songs2(song["artistId"], count=10)
    artists = [s.artist for s in artist_songs]
    assert len(artist_songs) == 10 and any(a != song["artist"] for a in artists)  # the radio leaves the artist
    own = [i for i, a in enumerate(artists) if a == song["artist"]]
    assert own == list(range(len(artists) - len(own), len(artists)))  # other artists first


def test_radio_answers_in_xml(sonic_front, sonic_library, http, auth):
    seed = sonic_library[1][1]
    for method, element in (("getSimilarSongs", "similarSongs"), ("getSimilarSongs2", "similarSongs2")):
        response = http.get(f"{sonic_front[0]}/rest/{method}.view", params={**auth, "id": seed, "count": 5})
        assert response.status_code == 200
        root = ET.fromstring(response.content)
        assert root.tag == NS + "subsonic-response" and root.get("status") == "ok"
        (holder,) = list(root)
        assert holder.tag == NS + element
        songs = holder.findall(NS + "song")
        assert len(songs) == 5 and all(s.get("id") in sonic_library[1] and s.get("title") for s in songs)


def test_consecutive_radio_calls_return_new_songs(sonic_front, sonic_library):
    client = _py_sonic(sonic_front[0])
    seed = sonic_library[1][2]
    first = {s["id"] for s in _songs(client.getSimilarSongs2(seed, count=5), "similarSongs2")}
    second = {s["id"] for s in _songs(client.getSimilarSongs2(seed, count=5), "similarSongs2")}
    assert len(first) == len(second) == 5 and not first & second


def test_an_unanalysed_id_goes_to_the_server(sonic_front, sonic_library, http, auth):
    """supysonic has no getSimilarSongs: its own answer (HTTP 404, 'Unknown method') reaches the client."""
    pending = sonic_library[2][0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        _py_sonic(sonic_front[0]).getSimilarSongs(pending)
    assert refused.value.code == 404
    through = http.get(sonic_front[0] + "/rest/getSimilarSongs", params={**auth, "f": "json", "id": pending})
    direct = http.get(sonic_front[1] + "/rest/getSimilarSongs", params={**auth, "f": "json", "id": pending})
    assert through.status_code == direct.status_code == 404
    assert through.json()["subsonic-response"]["error"] == direct.json()["subsonic-response"]["error"]


def test_wrong_credentials_are_refused(sonic_front, sonic_library):
    with pytest.raises(libsonic.errors.CredentialError):
        _py_sonic(sonic_front[0], password="not-the-password").getSimilarSongs(sonic_library[1][0])


def test_sonic_radio_off_keeps_the_servers_answers(supysonic_sample, sonic_library, tmp_path):
    from audiomuse_api import create_app

    settings = front_settings(supysonic_sample[0], sonic_library[0], tmp_path).model_copy(update={"sonic_radio": False})
    with ServedApp(create_app(settings)) as served:
        with pytest.raises(urllib.error.HTTPError) as forwarded:
            _py_sonic(served.url).getSimilarSongs(sonic_library[1][0])
    assert forwarded.value.code == 404  # supysonic's own answer
