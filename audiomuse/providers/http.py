"""HTTP for media servers: retries with backoff, then one clear error that names the server.

Every HTTP provider talks through :class:`HttpClient`:

* connection errors, timeouts and 5xx answers are retried with exponential backoff
  (``backoff * 2**attempt`` seconds), then :class:`ProviderUnavailable` is raised naming the
  server (``"Subsonic server at http://127.0.0.1:4040: unreachable after 3 attempts: connection
  refused"``);
* secrets never leave this module in a message or a log record: errors name the server's scheme,
  host and port, never a URL with its query string (Subsonic puts the password, token and salt
  there), and any text that does include a URL or an exception's words goes through
  :meth:`HttpClient.redact` first, which masks the secrets the client was given (and their hex
  form, as in Subsonic's ``p=enc:...``) plus every secret-looking query parameter;
* httpx logs each request URL at INFO: a logging filter masks secret query parameters in those
  records before any handler sees them.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from audiomuse.config import redact_url
from audiomuse.providers.base import ProviderError, ProviderUnavailable

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({500, 502, 503, 504})
MASK = "***"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_ENC_HEX = re.compile(r"enc:[0-9a-fA-F]+")
_AUTH_TOKEN = re.compile(r'(Token|Pw|Password)(\s*[=:]\s*)"?[^",\s]+"?', re.IGNORECASE)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL's secret query parameters and credentials masked, ``enc:`` hex
    passwords masked, and each of ``secrets`` (and its hex encoding) replaced by ``***``."""
    out = _URL.sub(lambda m: redact_url(m.group(0)), str(text))
    out = _ENC_HEX.sub("enc:" + MASK, out)
    out = _AUTH_TOKEN.sub(lambda m: f'{m.group(1)}{m.group(2)}"{MASK}"', out)
    for secret in secrets:
        if secret and len(secret) >= 3:
            out = out.replace(secret, MASK).replace(secret.encode().hex(), MASK)
    return out


def write_whole(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to ``target`` through ``target.part``, renamed only when every chunk is in:
    a transfer that fails midway never leaves a truncated file under the real name."""
    part = target.with_name(target.name + ".part")
    try:
        with open(part, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


class RedactUrls(logging.Filter):
    """Mask secret query parameters in httpx/httpcore log records (they log request URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(
                redact_text(str(a)) if isinstance(a, httpx.URL) or (isinstance(a, str) and "://" in a) else a
                for a in args
            )
        elif isinstance(record.msg, str) and "://" in record.msg:
            record.msg = redact_text(record.msg)
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(RedactUrls())


def server_label(base_url: str) -> str:
    """``https://user:pw@music.example:4533/sub?x=1`` -> ``https://music.example:4533``."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


class HttpClient:
    """One server's connection pool with retries; ``kind`` names it in messages ("Subsonic")."""

    def __init__(self, kind: str, base_url: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, headers: dict | None = None, auth: httpx.Auth | tuple | None = None,
                 secrets: Iterable[str] = ()):
        if not base_url or "://" not in base_url:
            raise ProviderError(kind, f"server URL must start with http:// or https://, got {redact_text(str(base_url))!r}")
        self.kind = kind
        self.base_url = base_url.rstrip("/")
        self.label = f"{kind} server at {server_label(self.base_url)}"
        self.retries = max(1, int(retries))
        self.backoff = max(0.0, float(backoff))
        self._secrets = [s for s in secrets if s]
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers or {}, auth=auth,
                                   follow_redirects=True)

    def __repr__(self) -> str:
        return f"HttpClient({self.label!r})"

    def add_secret(self, secret: str) -> None:
        """Register one more string that must never appear in a message (e.g. a fresh token)."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def redact(self, text: str) -> str:
        return redact_text(text, self._secrets)

    # Requests -----------------------------------------------------------------------------------
    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Send, retrying connection errors, timeouts and 5xx answers with exponential backoff.

        Any other answer (2xx, 3xx, 4xx) is returned for the provider to interpret."""
        return self._with_retries(lambda: self.client.request(method, path, **kwargs), method, path)

    def download(self, path: str, target: Path, *, method: str = "GET",
                 error_types: tuple[str, ...] = ("application/json", "text/xml", "application/xml", "text/html"),
                 **kwargs) -> httpx.Response:
        """Stream a response body into ``target`` (written as ``target.part`` then renamed, so a
        failed transfer never leaves a truncated file behind).

        A 2xx answer whose Content-Type is not one of ``error_types`` is written; anything else
        (an error status, or a server that answers a download with a JSON/XML error document)
        is read into memory and returned unwritten: check ``target.exists()``. Retries like
        :meth:`request`, including a connection that drops mid-body."""
        target = Path(target)

        def attempt() -> httpx.Response:
            with self.client.stream(method, path, **kwargs) as response:
                ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if response.status_code in RETRY_STATUS or not response.is_success or ctype in error_types:
                    response.read()
                    return response
                write_whole(target, response.iter_bytes(1 << 16))
                return response

        return self._with_retries(attempt, method, path)

    def _with_retries(self, send, method: str, path: str) -> httpx.Response:
        last = ""
        for attempt in range(1, self.retries + 1):
            try:
                response = send()
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = transport_reason(exc)
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                last = f"HTTP {response.status_code}"
            if attempt < self.retries:
                delay = self.backoff * 2 ** (attempt - 1)
                log.warning("%s: %s %s %s (attempt %d/%d), retrying in %.2fs", self.label, method,
                            _path_only(path), last, attempt, self.retries, delay)
                time.sleep(delay)
        raise ProviderUnavailable(self.label, f"unreachable after {self.retries} attempts: {self.redact(last)}")

    def close(self) -> None:
        self.client.close()


def _path_only(path: str) -> str:
    return urlsplit(str(path)).path


def transport_reason(exc: Exception) -> str:
    """A short, secret-free reason for a transport error (never the request URL)."""
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "resolve" in text or "getaddrinfo" in text:
        return "unknown host"
    if "reset" in text:
        return "connection reset"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "connection closed by the server"
    if "ssl" in text or "certificate" in text:
        return "TLS error"
    return type(exc).__name__
