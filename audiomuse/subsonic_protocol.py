"""The Subsonic API's wire protocol, shared by AudioMuse's client (:mod:`audiomuse.providers.subsonic`)
and its Subsonic front (:mod:`audiomuse.sonic`, :mod:`audiomuse_api`): error codes, request
parameters, and the ``subsonic-response`` envelope read from and written as JSON, JSONP or XML.

Framework-free: no HTTP client or server here, only what the protocol itself defines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

API_VERSION = "1.16.1"  # the version AudioMuse speaks as a client and answers with by default
XML_NAMESPACE = "http://subsonic.org/restapi"

# Error codes (subsonic.org API; 42-44 added by OpenSubsonic)
GENERIC = 0
MISSING_PARAMETER = 10
WRONG_CREDENTIALS = 40
TOKEN_AUTH_UNSUPPORTED = 41
AUTH_MECHANISM_UNSUPPORTED = 42
CONFLICTING_AUTH = 43
INVALID_API_KEY = 44
NOT_AUTHORIZED = 50
NOT_FOUND = 70
#: the codes that refuse the caller rather than the request
AUTH_ERRORS = frozenset({WRONG_CREDENTIALS, TOKEN_AUTH_UNSUPPORTED, AUTH_MECHANISM_UNSUPPORTED, CONFLICTING_AUTH,
                         INVALID_API_KEY, NOT_AUTHORIZED})

#: request parameters that carry the caller's credentials, and those that name its client
CREDENTIAL_PARAMS = ("u", "p", "t", "s", "apiKey")
CLIENT_PARAMS = ("v", "c")


class SubsonicError(Exception):
    """An answer with ``status="failed"``; ``code`` is a Subsonic error code."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def method_name(segment: str) -> str:
    """``ping.view`` -> ``ping``: Subsonic clients send both forms."""
    return segment[:-5] if segment.endswith(".view") else segment


# Reading answers ---------------------------------------------------------------------------------
def parse_response(content: bytes) -> dict:
    """The ``subsonic-response`` object of a JSON answer; ValueError when ``content`` is not one."""
    try:
        return json.loads(content)["subsonic-response"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a Subsonic JSON answer") from None


def error_of(body: Mapping) -> tuple[int, str]:
    """(code, message) of a failed ``subsonic-response`` body (code 0 when it names none)."""
    error = body.get("error") or {}
    try:
        code = int(error.get("code", 0))
    except (TypeError, ValueError):
        code = 0
    return code, str(error.get("message") or "unknown error")


# Writing answers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerInfo:
    """What the upstream server says about itself; our answers carry the same envelope."""

    version: str = API_VERSION
    type: str = "audiomuse"
    server_version: str | None = None

    @classmethod
    def from_response(cls, body: Mapping) -> ServerInfo:
        return cls(str(body.get("version") or API_VERSION), str(body.get("type") or "audiomuse"),
                   str(body["serverVersion"]) if body.get("serverVersion") else None)

    def envelope(self, status: str) -> dict:
        out = {"status": status, "version": self.version, "type": self.type}
        if self.server_version:
            out["serverVersion"] = self.server_version
        out["openSubsonic"] = True
        return out


def ok_body(info: ServerInfo, payload: Mapping | None = None) -> dict:
    return {**info.envelope("ok"), **(payload or {})}


def error_body(info: ServerInfo, code: int, message: str) -> dict:
    return {**info.envelope("failed"), "error": {"code": int(code), "message": message}}


def render(body: Mapping, fmt: str | None, callback: str | None = None) -> tuple[bytes, str]:
    """(bytes, content type) of a ``subsonic-response`` in the client's format: ``json``,
    ``jsonp`` (with ``callback``) or XML (the Subsonic default)."""
    fmt = (fmt or "xml").lower()
    if callback is not None and not _CALLBACK.fullmatch(callback):  # never echo script into a page
        callback = None
    if fmt == "json" or (fmt == "jsonp" and not callback):
        return json.dumps({"subsonic-response": body}, ensure_ascii=False).encode(), "application/json"
    if fmt == "jsonp":
        text = f"{callback}({json.dumps({'subsonic-response': body}, ensure_ascii=False)});"
        return text.encode(), "text/javascript"
    return to_xml(body), "application/xml"


def to_xml(body: Mapping) -> bytes:
    """A ``subsonic-response`` dict as Subsonic XML (scalars -> attributes, dicts -> elements,
    arrays -> repeated elements, arrays of scalars -> repeated elements with text)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>']
    _element(parts, "subsonic-response", {"xmlns": XML_NAMESPACE, **body})
    return "".join(parts).encode()


_CALLBACK = re.compile(r"[A-Za-z_$][\w$.]{0,63}")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _scalar(value) -> str:
    """Text for XML: characters XML 1.0 cannot carry (junk bytes in tags) become U+FFFD."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(parts: list[str], name: str, value) -> None:
    if not isinstance(value, Mapping):
        parts.append(f"<{name}>{escape(_scalar(value))}</{name}>")
        return
    attrs, children = [], []
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, Mapping):
            children.append((key, item))
        elif isinstance(item, (list, tuple)):
            children.extend((key, element) for element in item)
        else:
            attrs.append(f" {key}={quoteattr(_scalar(item))}")
    if not children:
        parts.append(f"<{name}{''.join(attrs)}/>")
        return
    parts.append(f"<{name}{''.join(attrs)}>")
    for key, item in children:
        _element(parts, key, item)
    parts.append(f"</{name}>")


# Request parameters ------------------------------------------------------------------------------
def parse_count(value: str | None, default: int, low: int, high: int, name: str = "count") -> int:
    if value in (None, ""):
        return default
    try:
        count = int(value)
    except ValueError:
        raise SubsonicError(GENERIC, f"parameter {name} must be a whole number") from None
    if count < low:
        raise SubsonicError(GENERIC, f"parameter {name} must be at least {low}")
    return min(count, high)


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise SubsonicError(MISSING_PARAMETER, f"Required parameter is missing: {name}")
    return value
