"""HTTP for media servers: retries with backoff, then one clear error that names the server.

Secrets never leave this module in a message: errors name the server's scheme, host and port,
never a URL with its query string (Subsonic puts passwords and tokens there).
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import httpx

from audiomuse.config import redact_url
from audiomuse.providers.base import ProviderUnavailable

log = logging.getLogger(__name__)
RETRY_STATUS = {500, 502, 503, 504}


class RedactUrls(logging.Filter):
    """httpx logs every request URL at INFO, query string included, where Subsonic carries the
    password: mask secret parameters in those records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(
                redact_url(str(a)) if isinstance(a, httpx.URL) or (isinstance(a, str) and "://" in a) else a
                for a in record.args
            )
        return True


logging.getLogger("httpx").addFilter(RedactUrls())


def server_label(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


class HttpClient:
    def __init__(self, kind: str, base_url: str, *, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, headers: dict | None = None):
        self.kind = kind
        self.base_url = base_url.rstrip("/")
        self.label = f"{kind} server at {server_label(self.base_url)}"
        self.retries = max(1, retries)
        self.backoff = backoff
        self.client = httpx.Client(base_url=self.base_url, timeout=timeout, headers=headers or {},
                                   follow_redirects=True)

    def __repr__(self) -> str:
        return f"HttpClient({self.label!r})"

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Send, retrying connection errors, timeouts and 5xx answers with exponential backoff."""
        last = ""
        for attempt in range(1, self.retries + 1):
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = _transport_reason(exc)
            else:
                if response.status_code not in RETRY_STATUS:
                    return response
                last = f"HTTP {response.status_code}"
            if attempt < self.retries:
                log.warning("%s: %s (attempt %d/%d), retrying", self.label, last, attempt, self.retries)
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise ProviderUnavailable(self.label, f"unreachable after {self.retries} attempts: {last}")

    def stream_to(self, path: str, target, **kwargs) -> int:
        """Stream a response body into the open binary file ``target``; returns bytes written."""
        last = ""
        for attempt in range(1, self.retries + 1):
            try:
                with self.client.stream("GET", path, **kwargs) as response:
                    if response.status_code in RETRY_STATUS:
                        last = f"HTTP {response.status_code}"
                    else:
                        response.raise_for_status()
                        target.seek(0)
                        target.truncate()
                        written = 0
                        for chunk in response.iter_bytes(1 << 16):
                            target.write(chunk)
                            written += len(chunk)
                        return written
            except httpx.HTTPStatusError as exc:
                raise ProviderUnavailable(self.label, f"download refused: HTTP {exc.response.status_code}") from None
            except httpx.TimeoutException:
                last = "timed out"
            except httpx.TransportError as exc:
                last = _transport_reason(exc)
            if attempt < self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
        raise ProviderUnavailable(self.label, f"download failed after {self.retries} attempts: {last}")

    def close(self) -> None:
        self.client.close()


def _transport_reason(exc: Exception) -> str:
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    if "name or service" in text or "nodename" in text or "resolve" in text:
        return "unknown host"
    return type(exc).__name__
