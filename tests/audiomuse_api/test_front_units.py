"""Pieces of the Subsonic front that need no real server: the credential cache, the unconfigured
answer, and the OpenSubsonic envelope on forwarded answers (against a small fake upstream)."""

from __future__ import annotations

import gzip
import json
import xml.etree.ElementTree as ET

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from audiomuse.config import Settings
from audiomuse.subsonic_protocol import SERVER_VERSION, ServerInfo
from audiomuse_api import create_app
from audiomuse_api.app import AuthCache
from tests.audiomuse_api.conftest import ServedApp


def test_cache_key_hashes_credentials_and_tells_them_apart():
    a = AuthCache.key({"u": "alice", "p": "secret-pw", "id": "1"}, None)
    assert "secret-pw" not in a and "alice" not in a and len(a) == 64
    assert a == AuthCache.key({"u": "alice", "p": "secret-pw", "id": "2"}, None)  # other params do not matter
    assert a != AuthCache.key({"u": "alice", "p": "other"}, None)
    assert a != AuthCache.key({"u": "alice", "t": "secret-pw"}, None)
    assert a != AuthCache.key({"u": "alice", "p": "secret-pw"}, "Bearer k")


def test_cache_remembers_for_its_ttl_only():
    cache = AuthCache(ttl=60)
    cache.put("k", ServerInfo(version="1.16.1"))
    assert cache.get("k").version == "1.16.1" and cache.get("other") is None
    off = AuthCache(ttl=0)
    off.put("k", ServerInfo())
    assert off.get("k") is None
    full = AuthCache(ttl=60, max_entries=2)
    for key in "abc":
        full.put(key, ServerInfo())
    assert full.get("c") is not None and len(full._entries) <= 2


def test_without_a_subsonic_server_every_call_says_what_to_set(tmp_path):
    app = create_app(Settings(media_server_type="local", data_dir=tmp_path))
    with ServedApp(app) as served, httpx.Client(base_url=served.url) as client:
        root = ET.fromstring(client.get("/rest/ping.view").content)
        assert root.get("status") == "failed" and "MEDIA_SERVER_URL" in root[0].get("message")
        body = client.post("/rest/getSonicSimilarTracks", data={"f": "json", "id": "1"}).json()["subsonic-response"]
        assert body["status"] == "failed" and body["error"]["code"] == 0
        assert client.get("/health").text == "ok"


# The OpenSubsonic envelope on forwarded answers, against a fake upstream -----------------------------
NAVIDROME = {"status": "ok", "version": "1.16.1", "type": "navidrome", "serverVersion": "0.61.2", "openSubsonic": True}
PNG = bytes(range(256)) * 64  # binary, no Subsonic answer in it
XML_ANSWER = ('<?xml version="1.0" encoding="UTF-8"?>\n<!-- a comment -->\n'
              "<subsonic-response xmlns='http://subsonic.org/restapi' status=\"ok\"\n version=\"1.12.0\">"
              '<song id="1" title="Caf\u00e9 &quot;&gt; x" album="a &amp; b"/></subsonic-response>\n').encode()


def _json_bytes(body: dict) -> bytes:
    return json.dumps({"subsonic-response": body}).encode()


def _fake_upstream():
    """A Subsonic-like upstream: each method answers with fixed bytes, headers and status."""
    answers = {
        "ping": (_json_bytes(NAVIDROME), "application/json", {}, 200),
        "pingXml": (b'<subsonic-response xmlns="http://subsonic.org/restapi" status="ok" version="1.16.1" '
                    b'type="navidrome" serverVersion="0.61.2" openSubsonic="true"/>', "text/xml", {}, 200),
        "getOpenSubsonicExtensions": (_json_bytes({**NAVIDROME, "openSubsonicExtensions": [
            {"name": "formPost", "versions": [1]}]}), "application/json", {}, 200),
        "gzipped": (gzip.compress(_json_bytes({"status": "ok", "version": "1.12.0", "albumList2": {"album": [
            {"id": "1", "name": "Caf\u00e9"}]}, "zLast": 1})), "application/json; charset=utf-8",
            {"content-encoding": "gzip", "x-upstream": "kept"}, 200),
        "xml": (XML_ANSWER, "text/xml; charset=utf-8", {}, 200),
        "jsonp": (b'cb({"subsonic-response": {"status": "failed", "version": "1.12.0", "error": {"code": 70, '
                  b'"message": "gone"}}})', "application/javascript", {}, 404),
        "notSubsonic": (b'{"error": "proxy says no"}', "application/json", {}, 502),
        "brokenGzip": (b"not gzip at all", "application/json", {"content-encoding": "gzip"}, 200),
        "getCoverArt": (PNG, "image/png", {"cache-control": "max-age=3600"}, 200),
        # audio that happens to look like an answer: by its content type it is not one
        "stream": (gzip.compress(_json_bytes({"status": "ok", "version": "1.12.0"})), "audio/mpeg",
                   {"content-encoding": "gzip", "accept-ranges": "bytes"}, 200),
        "big": (_json_bytes({"status": "ok", "version": "1.12.0", "padding": "x" * 5000}), "application/json", {},
                200),
    }

    async def app(request: Request) -> Response:
        method = request.path_params["method"].removesuffix(".view")
        if method == "chunkedBig":  # no content-length: the size shows while reading
            async def pieces():
                for _ in range(10):
                    yield b" " * 1000
                yield _json_bytes({"status": "ok", "version": "1.12.0"})
            return StreamingResponse(pieces(), media_type="application/json")
        content, media_type, headers, status = answers[method]
        return Response(content, status_code=status, media_type=media_type, headers=headers)

    return Starlette(routes=[Route("/rest/{method}", app)])


@pytest.fixture(scope="module")
def fake_front(tmp_path_factory):
    """(front URL, fake upstream URL)."""
    with ServedApp(_fake_upstream()) as upstream:
        settings = Settings(media_server_type="subsonic", media_server_url=upstream.url,
                            data_dir=tmp_path_factory.mktemp("fake-front"))
        with ServedApp(create_app(settings, songs="catalog")) as front:
            yield front.url, upstream.url


def _raw(url: str) -> tuple[httpx.Headers, bytes, int]:
    """Headers, the body exactly as sent (no decoding) and the status of a GET."""
    with httpx.Client() as client, client.stream("GET", url, headers={"accept-encoding": "gzip"}) as response:
        return response.headers, b"".join(response.iter_raw()), response.status_code


def _headers(headers: httpx.Headers) -> dict:
    return {k: v for k, v in headers.items() if k not in ("date", "server")}


def test_an_upstreams_own_type_and_server_version_are_kept(fake_front):
    front, upstream = fake_front
    for method in ("ping", "pingXml"):
        through, direct = _raw(f"{front}/rest/{method}"), _raw(f"{upstream}/rest/{method}")
        assert through[1] == direct[1]  # nothing to add
    body = httpx.get(f"{front}/rest/getOpenSubsonicExtensions", params={"f": "json"}).json()["subsonic-response"]
    assert {k: body[k] for k in NAVIDROME} == NAVIDROME
    assert [e["name"] for e in body["openSubsonicExtensions"]] == ["formPost", "sonicSimilarity"]


def test_a_gzipped_answer_is_decoded_and_given_the_envelope(fake_front):
    front, upstream = fake_front
    headers, content, status = _raw(f"{front}/rest/gzipped")
    assert status == 200 and "content-encoding" not in headers
    assert int(headers["content-length"]) == len(content)
    assert headers["x-upstream"] == "kept" and headers["content-type"] == "application/json; charset=utf-8"
    document = json.loads(content)
    assert list(document) == ["subsonic-response"]
    body = document["subsonic-response"]
    assert list(body) == ["status", "version", "type", "serverVersion", "openSubsonic", "albumList2", "zLast"]
    assert body["version"] == "1.12.0" and body["type"] == "audiomuse" and body["openSubsonic"] is True
    assert body["serverVersion"] == SERVER_VERSION and body["albumList2"]["album"][0]["name"] == "Caf\u00e9"


def test_xml_gets_the_attributes_on_its_root_tag_only(fake_front):
    front, upstream = fake_front
    headers, content, status = _raw(f"{front}/rest/xml")
    added = f' type="audiomuse" serverVersion="{SERVER_VERSION}" openSubsonic="true"'.encode()
    assert content == XML_ANSWER.replace(b'version="1.12.0">', b'version="1.12.0"' + added + b">", 1)
    root = ET.fromstring(content)
    assert root.tag == "{http://subsonic.org/restapi}subsonic-response" and root.get("version") == "1.12.0"
    assert root[0].get("title") == 'Caf\u00e9 "> x'


def test_jsonp_and_an_error_status_are_kept(fake_front):
    front, _ = fake_front
    headers, content, status = _raw(f"{front}/rest/jsonp")
    assert status == 404 and headers["content-type"] == "application/javascript"
    assert content.startswith(b"cb(") and content.endswith(b"})")
    body = json.loads(content[3:-1])["subsonic-response"]
    assert body["error"] == {"code": 70, "message": "gone"} and body["openSubsonic"] is True
    assert body["type"] == "audiomuse" and body["serverVersion"] == SERVER_VERSION


@pytest.mark.parametrize("method", ["notSubsonic", "brokenGzip", "getCoverArt", "stream"])
def test_other_answers_are_relayed_byte_for_byte(fake_front, method):
    front, upstream = fake_front
    through, direct = _raw(f"{front}/rest/{method}"), _raw(f"{upstream}/rest/{method}")
    assert through[1] == direct[1] and through[2] == direct[2]
    assert _headers(through[0]) == _headers(direct[0])
    if method == "getCoverArt":
        assert through[1] == PNG


def test_answers_bigger_than_the_limit_go_through_unchanged(fake_front, monkeypatch):
    from audiomuse_api import app as front_app

    front, upstream = fake_front
    monkeypatch.setattr(front_app, "MAX_ANSWER", 4000)
    for method in ("big", "chunkedBig"):
        through, direct = _raw(f"{front}/rest/{method}"), _raw(f"{upstream}/rest/{method}")
        assert through[1] == direct[1] and b"openSubsonic" not in through[1]
    monkeypatch.setattr(front_app, "MAX_ANSWER", 64 * 1024 * 1024)
    assert json.loads(_raw(f"{front}/rest/chunkedBig")[1])["subsonic-response"]["openSubsonic"] is True
