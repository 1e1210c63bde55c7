"""The shared HTTP layer: redaction of secrets, retries with backoff, atomic downloads."""

from __future__ import annotations

import logging
import socket
import threading

import httpx
import pytest

from audiomuse.providers.base import ProviderError, ProviderUnavailable
from audiomuse.providers.http import HttpClient, redact_text, server_label


def test_redact_text_masks_query_secrets_userinfo_hex_and_given_secrets():
    text = ("GET http://bob:hunter2@h:4040/rest/ping?u=bob&t=0cc175b9c0f1b6a831c399e269772661&s=abc123&p=enc:6869"
            "&v=1.16.1 failed; password=hunter2 hex=68756e74657232 Token=\"tok-123\"")
    out = redact_text(text, secrets=["hunter2"])
    for secret in ("hunter2", "0cc175b9c0f1b6a831c399e269772661", "abc123", "enc:6869", "68756e74657232", "tok-123"):
        assert secret not in out
    assert "u=bob" in out and "v=1.16.1" in out and "h:4040/rest/ping" in out


@pytest.mark.parametrize("url,label", [
    ("http://127.0.0.1:4040", "http://127.0.0.1:4040"),
    ("https://bob:pw@music.example/sub/?t=x", "https://music.example"),
    ("http://[::1]:8096/", "http://[::1]:8096"),
])
def test_server_label_is_scheme_host_port_only(url, label):
    assert server_label(url) == label


def test_bad_url_is_a_provider_error_without_the_secret():
    with pytest.raises(ProviderError, match="must start with http") as err:
        HttpClient("Subsonic", "127.0.0.1:4040/?p=enc:7365637265742121")
    assert "7365637265742121" not in str(err.value)


def test_httpx_request_logs_are_redacted(caplog):
    from tests.audiomuse.providers.fakes.base import FakeServer

    class Ok(FakeServer):
        def handle(self, method, path, query, headers, body):
            return 200, {"ok": True}

    with Ok() as fake, caplog.at_level(logging.INFO, logger="httpx"):
        client = HttpClient("Test", fake.url, retries=1)
        client.request("GET", "/rest/ping", params={"u": "bob", "p": "enc:70617373776f7264", "t": "tok9", "s": "salt7"})
    assert "HTTP Request" in caplog.text and "u=bob" in caplog.text
    for secret in ("70617373776f7264", "tok9", "salt7"):
        assert secret not in caplog.text


def test_backoff_doubles_between_attempts(monkeypatch):
    sleeps = []
    monkeypatch.setattr("audiomuse.providers.http.time.sleep", sleeps.append)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HttpClient("Lyrion", f"http://127.0.0.1:{port}", retries=4, backoff=0.5)
    with pytest.raises(ProviderUnavailable, match=r"Lyrion server at http://127.0.0.1:\d+: unreachable after 4 attempts"):
        client.request("GET", "/")
    assert sleeps == [0.5, 1.0, 2.0]


def test_timeout_is_retried_and_reported(monkeypatch):
    """A server that accepts the connection but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        client = HttpClient("Jellyfin", f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.2, retries=2, backoff=0.01)
        with pytest.raises(ProviderUnavailable, match="unreachable after 2 attempts: timed out"):
            client.request("GET", "/Users")
    finally:
        stop.set()
        thread.join(2)
        for conn in accepted:
            conn.close()
        server.close()


def test_download_cut_mid_body_is_retried_and_leaves_no_partial_file(tmp_path):
    """The first answer promises 100 kB and hangs up after 10 kB; the second is complete."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    body = bytes(range(256)) * 400

    def serve():
        for attempt in range(2):
            conn, _ = server.accept()
            conn.recv(65536)
            head = f"HTTP/1.1 200 OK\r\nContent-Type: audio/flac\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            conn.sendall(head.encode() + (body[:10_000] if attempt == 0 else body))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = HttpClient("Lyrion", f"http://127.0.0.1:{server.getsockname()[1]}", retries=2, backoff=0.01)
    target = tmp_path / "x.flac"
    response = client.download("/music/1/download", target)
    thread.join(5)
    server.close()
    assert response.status_code == 200 and target.read_bytes() == body
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.flac"]


def test_download_error_document_is_not_written(tmp_path):
    from tests.audiomuse.providers.fakes.base import FakeServer

    class Refuses(FakeServer):
        def handle(self, method, path, query, headers, body):
            return 200, {"subsonic-response": {"status": "failed", "error": {"code": 50, "message": "no"}}}

    with Refuses() as fake:
        response = HttpClient("Subsonic", fake.url, retries=1).download("/rest/download", tmp_path / "a.flac")
    assert not (tmp_path / "a.flac").exists() and list(tmp_path.iterdir()) == []
    assert response.json()["subsonic-response"]["error"]["code"] == 50
    assert isinstance(response, httpx.Response)
