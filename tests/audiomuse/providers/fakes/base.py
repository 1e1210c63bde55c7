"""A tiny threaded HTTP server for contract fakes (real sockets, real HTTP, on 127.0.0.1), and the
small music library the fakes serve.

A contract fake implements the documented request/response shapes of one server's API - only the
parts AudioMuse uses - checks authentication the way the real server does, and keeps state
(playlists) in memory. ``fail_next = n`` makes the next ``n`` requests answer 503, to exercise the
providers' retries.
"""

from __future__ import annotations

import copy
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeServer:
    """Subclasses implement ``handle(method, path, query, headers, body) -> (status, payload)``;
    a bytes payload is sent as ``content_type`` (audio by default), anything else as JSON.
    A third tuple item overrides the content type."""

    content_type = "audio/flac"

    def __init__(self):
        fake = self
        self.requests: list[tuple[str, str, dict, dict]] = []
        self.fail_next = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

            def log_message(self, *args):
                pass

            def _serve(self, method):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with fake._lock:
                    fake.requests.append((method, parts.path, query, dict(self.headers)))
                    failing = fake.fail_next > 0
                    if failing:
                        fake.fail_next -= 1
                if failing:
                    status, payload, ctype = 503, {"error": "temporarily unavailable"}, None
                else:
                    answer = fake.handle(method, parts.path, query, self.headers, body)
                    status, payload = answer[0], answer[1]
                    ctype = answer[2] if len(answer) > 2 else None
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype or (fake.content_type if isinstance(payload, bytes) else "application/json"))
                self.send_header("Content-Length", str(len(data)))
                if status == 401 and fake.www_authenticate:
                    self.send_header("WWW-Authenticate", fake.www_authenticate)
                self.end_headers()
                if method != "HEAD":
                    self.wfile.write(data)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

            def do_DELETE(self):
                self._serve("DELETE")

        self.www_authenticate = ""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def handle(self, method, path, query, headers, body):  # pragma: no cover - abstract
        raise NotImplementedError


def one(query: dict, key: str, default=None):
    """First value of a query parameter, case-insensitively (ASP.NET and Perl servers ignore case)."""
    for k, v in query.items():
        if k.lower() == key.lower():
            return v[0]
    return default


def sample_library() -> dict[str, dict]:
    """Three albums (album id -> album) with tracks that carry bytes and play history.

    ``epoch`` is when the album was added; "al3" is the newest, "al1" the oldest. Track ``plays``
    and ``last`` feed the servers' play counts."""

    def tracks(prefix, artist, n, plays=()):
        out = []
        for i in range(1, n + 1):
            count = plays[i - 1] if i <= len(plays) else 0
            out.append({
                "id": f"{prefix}{i}", "title": f"{prefix.upper()} Song {i}", "artist": artist,
                "seconds": 180.5 + i, "bytes": f"audio-bytes-{prefix}{i}|".encode() * 300, "suffix": "flac",
                "plays": count, "last": 1_780_000_000 + 3600 * i * count if count else None,
            })
        return out

    return copy.deepcopy({
        "al1": {"name": "Older", "artist": "Band A", "year": 2019, "epoch": 1_735_689_600,
                "tracks": tracks("a", "Band A", 3, plays=(2, 4, 6))},
        "al2": {"name": "Middle", "artist": "Band B", "year": 2021, "epoch": 1_760_000_000,
                "tracks": tracks("b", "Band B", 2, plays=(0, 9))},
        "al3": {"name": "Newest", "artist": "Band C", "year": 2026, "epoch": 1_780_272_000,
                "tracks": tracks("c", "Band C", 2)},
    })
