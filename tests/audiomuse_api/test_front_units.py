"""Pieces of the Subsonic front that need no server: the credential cache and the unconfigured answer."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from audiomuse.config import Settings
from audiomuse.subsonic_protocol import ServerInfo
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
