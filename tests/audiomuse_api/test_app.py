"""The Subsonic front against a real supysonic: ordinary calls pass through (Subsonic answers with the
OpenSubsonic envelope fields added, everything else untouched), the two sonic endpoints answer from
the real analysed library in the published shape, credentials are the upstream's."""

from __future__ import annotations

import hashlib
import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from audiomuse.subsonic_protocol import SERVER_VERSION
from tests.audiomuse.providers.conftest import PASSWORD, USER

pytestmark = pytest.mark.slow

NS = "{http://subsonic.org/restapi}"


def _json(response) -> dict:
    assert response.status_code == 200, response.text[:500]
    return response.json()["subsonic-response"]


def _xml(response) -> ET.Element:
    assert response.status_code == 200, response.text[:500]
    root = ET.fromstring(response.content)
    assert root.tag == NS + "subsonic-response"
    return root


def _opensubsonic(envelope) -> None:
    """A forwarded supysonic answer: its own version, AudioMuse's type and server version."""
    assert envelope["version"] == "1.12.0"  # supysonic's, kept
    assert envelope["type"] == "audiomuse" and envelope["serverVersion"] == SERVER_VERSION
    assert envelope["openSubsonic"] in (True, "true")


# Pass-through ------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/rest/ping", "/rest/ping.view"])
def test_ping_passes_through_in_json_and_xml_with_the_opensubsonic_envelope(sonic_front, http, auth, path):
    front, upstream = sonic_front
    body = _json(http.get(front + path, params={**auth, "f": "json"}))
    assert body == {"status": "ok", "version": "1.12.0", "type": "audiomuse", "serverVersion": SERVER_VERSION,
                    "openSubsonic": True}
    through, direct = http.get(front + path, params=auth), http.get(upstream + path, params=auth)
    root = _xml(through)
    assert root.get("status") == "ok" and root.get("openSubsonic") == "true"
    _opensubsonic(root.attrib)
    assert ET.fromstring(direct.content).get("openSubsonic") is None  # supysonic itself says nothing
    # the root tag gains the attributes, the document is supysonic's otherwise
    added = f' type="audiomuse" serverVersion="{SERVER_VERSION}" openSubsonic="true"'.encode()
    assert through.content == direct.content.replace(b" />", added + b" />", 1)
    assert through.headers["content-type"] == direct.headers["content-type"]
    assert int(through.headers["content-length"]) == len(through.content)


def test_ping_in_jsonp(sonic_front, http, auth):
    front, upstream = sonic_front
    params = {**auth, "f": "jsonp", "callback": "audiomuse_cb"}
    through, direct = http.get(front + "/rest/ping", params=params), http.get(upstream + "/rest/ping", params=params)
    assert through.status_code == 200 and through.headers["content-type"] == direct.headers["content-type"]
    assert through.content.startswith(b"audiomuse_cb(") and through.content.endswith(b")")
    body = json.loads(through.content[len("audiomuse_cb("):-1])["subsonic-response"]
    assert body["status"] == "ok"
    _opensubsonic(body)


def test_forwarded_errors_carry_the_envelope(sonic_front, http, auth):
    front, upstream = sonic_front
    wrong = {**auth, "p": "not-the-password"}
    for fmt in ("json", "xml"):
        through = http.get(front + "/rest/getAlbumList2", params={**wrong, "f": fmt, "type": "newest"})
        direct = http.get(upstream + "/rest/getAlbumList2", params={**wrong, "f": fmt, "type": "newest"})
        assert through.status_code == direct.status_code
        if fmt == "json":
            body = through.json()["subsonic-response"]
            assert body["status"] == "failed" and body["error"]["code"] == 40
            _opensubsonic(body)
        else:
            root = ET.fromstring(through.content)
            assert root.get("status") == "failed" and root.find(NS + "error").get("code") == "40"
            _opensubsonic(root.attrib)
    through = http.get(front + "/rest/noSuchMethod", params={**auth, "f": "json"})
    direct = http.get(upstream + "/rest/noSuchMethod", params={**auth, "f": "json"})
    assert through.status_code == direct.status_code == 404
    body = through.json()["subsonic-response"]
    assert body["status"] == "failed" and body["error"] == direct.json()["subsonic-response"]["error"]
    _opensubsonic(body)


def test_album_list_is_the_upstreams_answer_with_the_envelope(sonic_front, http, auth):
    front, upstream = sonic_front
    params = {**auth, "f": "json", "type": "alphabeticalByName", "size": 50}
    through = http.get(front + "/rest/getAlbumList2.view", params=params)
    direct = http.get(upstream + "/rest/getAlbumList2.view", params=params)
    body, original = _json(through), _json(direct)
    _opensubsonic(body)
    assert {k: v for k, v in body.items() if k not in ("type", "serverVersion", "openSubsonic")} == original
    order = [k for key in original for k in ([key, "type", "serverVersion", "openSubsonic"] if key == "version" else [key])]
    assert list(body) == order  # supysonic's order (its keys sorted), the new fields after the version
    assert len(body["albumList2"]["album"]) == 15


def test_post_form_is_forwarded(sonic_front, http, auth):
    front, _ = sonic_front
    body = _json(http.post(front + "/rest/getAlbumList2", data={**auth, "f": "json", "type": "newest", "size": 3}))
    assert body["status"] == "ok" and len(body["albumList2"]["album"]) == 3


def test_stream_is_byte_exact_and_streams(sonic_front, sonic_library, supysonic_sample, http, auth):
    front, upstream = sonic_front
    track_id = sonic_library[1][0]
    song = _json(http.get(upstream + "/rest/getSong", params={**auth, "f": "json", "id": track_id}))["song"]
    original = (supysonic_sample[1] / song["path"]).read_bytes()
    digest, size, chunks = hashlib.sha256(), 0, 0
    with http.stream("GET", front + "/rest/stream.view", params={**auth, "id": track_id}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("audio/")
        for chunk in response.iter_raw():
            digest.update(chunk)
            size += len(chunk)
            chunks += 1
    assert size == len(original) and digest.hexdigest() == hashlib.sha256(original).hexdigest()
    direct = http.get(upstream + "/rest/download", params={**auth, "id": track_id})
    through = http.get(front + "/rest/download", params={**auth, "id": track_id})
    assert through.content == direct.content == original
    drop = {"date", "server"}
    assert {k: v for k, v in through.headers.items() if k not in drop} == \
        {k: v for k, v in direct.headers.items() if k not in drop}


def test_range_request_passes_through(sonic_front, sonic_library, http, auth):
    front, upstream = sonic_front
    params = {**auth, "id": sonic_library[1][1]}
    headers = {"Range": "bytes=100-1099"}
    through = http.get(front + "/rest/download", params=params, headers=headers)
    direct = http.get(upstream + "/rest/download", params=params, headers=headers)
    assert through.status_code == direct.status_code
    assert through.content == direct.content
    assert through.headers.get("content-range") == direct.headers.get("content-range")


# Sonic endpoints ---------------------------------------------------------------------------------
def test_similar_tracks_json(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    seed = sonic_library[1][0]
    body = _json(http.get(front + "/rest/getSonicSimilarTracks", params={**auth, "f": "json", "id": seed, "count": 5}))
    assert body["status"] == "ok" and body["openSubsonic"] is True
    assert body["type"] == "audiomuse" and body["serverVersion"] == SERVER_VERSION and body["version"] == "1.12.0"
    matches = body["sonicMatch"]
    assert len(matches) == 5
    ids = [m["entry"]["id"] for m in matches]
    assert seed not in ids and set(ids) <= set(sonic_library[1])
    sims = [m["similarity"] for m in matches]
    assert all(0.0 <= s <= 1.0 for s in sims) and sims == sorted(sims, reverse=True)
    for m in matches:  # the upstream's own song objects
        assert m["entry"]["title"] and m["entry"]["isDir"] is False and m["entry"]["path"]


def test_similar_tracks_xml_and_default_count(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    seed = sonic_library[1][3]
    root = _xml(http.get(front + "/rest/getSonicSimilarTracks.view", params={**auth, "id": seed}))
    assert root.get("status") == "ok" and root.get("serverVersion") == SERVER_VERSION
    matches = root.findall(NS + "sonicMatch")
    assert len(matches) == 10
    for m in matches:
        entry = m.find(NS + "entry")
        assert entry is not None and entry.get("id") in sonic_library[1] and entry.get("title")
        assert 0.0 <= float(m.get("similarity")) <= 1.0


def test_similar_tracks_by_post(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    body = _json(http.post(front + "/rest/getSonicSimilarTracks",
                           data={**auth, "f": "json", "id": sonic_library[1][2], "count": 3}))
    assert body["status"] == "ok" and len(body["sonicMatch"]) == 3


def test_sonic_path_json_starts_and_ends_right(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    start, end = sonic_library[1][0], sonic_library[1][-1]
    body = _json(http.get(front + "/rest/findSonicPath",
                          params={**auth, "f": "json", "startSongId": start, "endSongId": end, "count": 6}))
    assert body["status"] == "ok"
    ids = [m["entry"]["id"] for m in body["sonicMatch"]]
    assert ids[0] == start and ids[-1] == end and 2 <= len(ids) <= 6 and len(set(ids)) == len(ids)
    assert body["sonicMatch"][0]["similarity"] == 1.0
    assert all(0.0 <= m["similarity"] <= 1.0 for m in body["sonicMatch"])


def test_sonic_path_xml(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    start, end = sonic_library[1][1], sonic_library[1][-2]
    root = _xml(http.get(front + "/rest/findSonicPath.view",
                         params={**auth, "startSongId": start, "endSongId": end}))
    ids = [m.find(NS + "entry").get("id") for m in root.findall(NS + "sonicMatch")]
    assert ids[0] == start and ids[-1] == end and len(ids) > 2


def test_not_analysed_track_is_a_subsonic_not_found(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    pending = sonic_library[2][0]
    response = http.get(front + "/rest/getSonicSimilarTracks", params={**auth, "f": "json", "id": pending})
    body = _json(response)
    assert body["status"] == "failed" and body["error"]["code"] == 70
    assert "not been analysed" in body["error"]["message"]
    root = _xml(http.get(front + "/rest/findSonicPath",
                         params={**auth, "startSongId": sonic_library[1][0], "endSongId": "no-such-song"}))
    assert root.get("status") == "failed" and root.find(NS + "error").get("code") == "70"


def test_missing_parameter_is_error_10(sonic_front, http, auth):
    front, _ = sonic_front
    body = _json(http.get(front + "/rest/findSonicPath", params={**auth, "f": "json", "startSongId": "x"}))
    assert body["status"] == "failed" and body["error"]["code"] == 10 and "endSongId" in body["error"]["message"]


def test_extensions_list_sonic_similarity(sonic_front, http, auth):
    front, _ = sonic_front
    body = _json(http.get(front + "/rest/getOpenSubsonicExtensions", params={**auth, "f": "json"}))
    assert body["status"] == "ok" and body["openSubsonic"] is True
    assert body["type"] == "audiomuse" and body["serverVersion"] == SERVER_VERSION
    assert {"name": "sonicSimilarity", "versions": [1]} in body["openSubsonicExtensions"]
    root = _xml(http.get(front + "/rest/getOpenSubsonicExtensions.view", params=auth))
    names = [e.get("name") for e in root.findall(NS + "openSubsonicExtensions")]
    assert "sonicSimilarity" in names
    assert [v.text for v in root.find(NS + "openSubsonicExtensions").findall(NS + "versions")] == ["1"]


# Credentials ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("method, extra", [
    ("getSonicSimilarTracks", {"id": "any"}),
    ("findSonicPath", {"startSongId": "a", "endSongId": "b"}),
    ("getAlbumList2", {"type": "newest"}),
    ("stream", {"id": "any"}),
])
def test_wrong_credentials_are_refused(sonic_front, sonic_library, http, auth, method, extra, caplog):
    front, _ = sonic_front
    if "id" in extra:
        extra = {**extra, "id": sonic_library[1][0]}
    wrong = {**auth, "p": "not-the-password"}
    with caplog.at_level(logging.DEBUG):
        response = http.get(f"{front}/rest/{method}", params={**wrong, "f": "json", **extra})
    body = response.json()["subsonic-response"]
    assert body["status"] == "failed" and body["error"]["code"] == 40
    assert "sonicMatch" not in body
    assert "not-the-password" not in caplog.text and PASSWORD not in caplog.text


def test_a_refused_login_is_not_remembered_as_a_good_one(sonic_front, sonic_library, http, auth):
    front, _ = sonic_front
    params = {"f": "json", "id": sonic_library[1][0]}
    assert _json(http.get(front + "/rest/getSonicSimilarTracks", params={**auth, **params}))["status"] == "ok"
    refused = _json(http.get(front + "/rest/getSonicSimilarTracks", params={**auth, "p": "wrong", **params}))
    assert refused["status"] == "failed" and refused["error"]["code"] == 40
    no_creds = _json(http.get(front + "/rest/getSonicSimilarTracks", params={"f": "json", "v": "1.12.0", "c": "t",
                                                                           "id": sonic_library[1][0]}))
    assert no_creds["status"] == "failed"


def test_catalog_song_objects_when_asked(supysonic_sample, sonic_library, tmp_path, http, auth):
    """AUDIOMUSE_SONIC_SONGS=catalog: the same matches, Child objects built from AudioMuse's catalog."""
    from audiomuse_api import create_app
    from tests.audiomuse_api.conftest import ServedApp, front_settings

    db, analysed, _ = sonic_library
    settings = front_settings(supysonic_sample[0], db, tmp_path).model_copy(update={"sonic_songs": "catalog"})
    with ServedApp(create_app(settings)) as served:
        body = _json(http.get(served.url + "/rest/getSonicSimilarTracks",
                              params={**auth, "f": "json", "id": analysed[0], "count": 4}))
    entries = [m["entry"] for m in body["sonicMatch"]]
    # the catalog's objects (supysonic, API 1.12, sends no mediaType), built from the server's stored fields
    assert len(entries) == 4 and all(e["mediaType"] == "song" for e in entries)
    keys = ("id", "parent", "albumId", "artistId", "coverArt", "contentType", "size", "suffix", "bitRate", "duration",
            "path", "track", "title", "album", "artist", "created")
    for entry in entries:
        song = _json(http.get(supysonic_sample[0] + "/rest/getSong", params={**auth, "f": "json", "id": entry["id"]}))
        assert "mediaType" not in song["song"]
        assert {k: entry.get(k) for k in keys} == {k: song["song"].get(k) for k in keys}
        assert {"parent", "artistId", "contentType", "size"} <= set(entry)
        # a client browses from it: the server knows the parent folder and lists the song there
        folder = _json(http.get(supysonic_sample[0] + "/rest/getMusicDirectory",
                                params={**auth, "f": "json", "id": entry["parent"]}))
        assert entry["id"] in [c["id"] for c in folder["directory"]["child"]]


# A third-party OpenSubsonic client -----------------------------------------------------------------
def test_an_opensubsonic_client_finds_sonic_similarity(sonic_front):
    """py-opensonic (libopensonic) over the front: ping, then the extension list (it speaks POST forms;
    supysonic refuses token auth, so the password goes hex-encoded)."""
    import libopensonic

    front, _ = sonic_front
    conn = libopensonic.Connection("http://127.0.0.1", USER, PASSWORD, port=urlsplit(front).port, legacy_auth=True)
    try:
        assert conn.ping() is True
        extensions = conn.get_open_subsonic_extensions()
    finally:
        conn.cleanup()
    assert [(e.name, e.versions) for e in extensions] == [("sonicSimilarity", [1])]
