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
from importlib import metadata
from xml.sax.saxutils import escape, quoteattr, unescape


def _package_version() -> str:
    try:
        return metadata.version("audiomuse")
    except metadata.PackageNotFoundError:
        return "0.1.0"


API_VERSION = "1.16.1"  # the version AudioMuse speaks as a client and answers with by default
XML_NAMESPACE = "http://subsonic.org/restapi"
#: the OpenSubsonic ``type`` and ``serverVersion`` of answers whose upstream names none
SERVER_TYPE = "audiomuse"
SERVER_VERSION = _package_version()
#: the content types a Subsonic answer comes in: JSON, XML, JSONP
ANSWER_MEDIA_TYPES = frozenset({"application/json", "text/xml", "application/xml", "text/javascript",
                                "application/javascript"})

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
    """What the upstream server says about itself; our answers carry the same envelope (AudioMuse's
    ``type`` and ``serverVersion`` where the upstream names none)."""

    version: str = API_VERSION
    type: str = SERVER_TYPE
    server_version: str = SERVER_VERSION

    @classmethod
    def from_response(cls, body: Mapping) -> ServerInfo:
        return cls(str(body.get("version") or API_VERSION), str(body.get("type") or SERVER_TYPE),
                   str(body.get("serverVersion") or SERVER_VERSION))

    def envelope(self, status: str) -> dict:
        return {"status": status, "version": self.version, "type": self.type, "serverVersion": self.server_version,
                "openSubsonic": True}


def ok_body(info: ServerInfo, payload: Mapping | None = None) -> dict:
    return {**info.envelope("ok"), **(payload or {})}


def error_body(info: ServerInfo, code: int, message: str) -> dict:
    return {**info.envelope("failed"), "error": {"code": int(code), "message": message}}


def envelope_additions(body: Mapping) -> dict:
    """The OpenSubsonic envelope fields a ``subsonic-response`` lacks: ``type`` and ``serverVersion``
    (AudioMuse's, each only where the answer names none) and ``openSubsonic: true`` (also where it
    says otherwise: through the front the server is an OpenSubsonic one). Values read from XML are
    strings, so ``"true"`` counts as true."""
    out: dict = {}
    if body.get("type") in (None, ""):
        out["type"] = SERVER_TYPE
    if body.get("serverVersion") in (None, ""):
        out["serverVersion"] = SERVER_VERSION
    if body.get("openSubsonic") not in (True, "true"):
        out["openSubsonic"] = True
    return out


def with_envelope(body: Mapping) -> dict:
    """``body`` with the OpenSubsonic envelope fields: present ones changed in place, missing ones
    right after ``version`` (at the end when there is none); every other key kept, in its order."""
    additions = envelope_additions(body)
    pending = {k: v for k, v in additions.items() if k not in body}
    out: dict = {}
    for key, value in body.items():
        out[key] = additions.get(key, value)
        if key == "version":
            out.update(pending)
            pending = {}
    out.update(pending)
    return out


def add_envelope(content: bytes, charset: str | None = None) -> bytes | None:
    """A Subsonic answer (JSON, JSONP or XML, found by its shape) with the OpenSubsonic envelope
    fields added; None when ``content`` is not a ``subsonic-response`` or does not parse.

    JSON is parsed and dumped again (other keys and their order kept); XML gets the attributes
    added to its root start tag, the rest of the document left byte for byte as it was."""
    first = _FIRST_CHARACTER.search(content)
    if first is None:
        return None
    if first.group() == b"<":
        return _xml_with_envelope(content)
    charset = charset or "utf-8"
    try:
        text = content.decode("utf-8-sig" if charset.lower() in ("utf-8", "utf8") else charset)
    except (LookupError, UnicodeDecodeError):
        return None
    if first.group() == b"{":
        prefix, inner, suffix = "", text, ""
    else:  # JSONP: callback({...});
        opening, closing = text.find("("), text.rfind(")")
        if opening < 0 or closing < opening or not _CALLBACK.fullmatch(text[:opening].strip()) \
                or text[closing + 1:].strip() not in ("", ";"):
            return None
        prefix, inner, suffix = text[:opening + 1], text[opening + 1:closing], text[closing:]
    try:
        document = json.loads(inner)
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("subsonic-response"), dict):
        return None
    document["subsonic-response"] = with_envelope(document["subsonic-response"])
    try:
        return (prefix + json.dumps(document, ensure_ascii=False) + suffix).encode(charset)
    except UnicodeEncodeError:  # a charset narrower than the text: escapes instead
        return (prefix + json.dumps(document) + suffix).encode(charset)


_FIRST_CHARACTER = re.compile(rb"[^\xef\xbb\xbf \t\r\n]")
# The XML prolog (BOM, declaration, comments, processing instructions, a DOCTYPE without an internal
# subset) and the root's start tag, attribute by attribute
_XML_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*>)*", re.S)
_XML_TAG_OPEN = re.compile(rb"<([^\s/>=\"'<]+)")
_XML_ATTRIBUTE = re.compile(rb"""\s+([^\s/>=\"'<]+)\s*=\s*("[^"<]*"|'[^'<]*')""")
_XML_TAG_CLOSE = re.compile(rb"\s*/?>")


def _xml_with_envelope(content: bytes) -> bytes | None:
    """Subsonic XML with the envelope attributes added to (or corrected in) the root start tag."""
    if b"\x00" in content[:256]:  # UTF-16 or UTF-32: ASCII attributes cannot go in as bytes
        return None
    tag = _XML_TAG_OPEN.match(content, _XML_PROLOG.match(content).end())
    if tag is None or tag.group(1).rsplit(b":", 1)[-1] != b"subsonic-response":
        return None
    values: dict[str, tuple[int, int, str]] = {}  # name -> (start, end, value) of each quoted value
    end = tag.end()
    while attribute := _XML_ATTRIBUTE.match(content, end):
        raw = attribute.group(2)[1:-1].decode("latin-1")
        values[attribute.group(1).decode("latin-1")] = (attribute.start(2), attribute.end(2), unescape(raw).strip())
        end = attribute.end()
    if not _XML_TAG_CLOSE.match(content, end):
        return None
    additions = envelope_additions({name: value for name, (_, _, value) in values.items()})
    edits = [(values[name][0], values[name][1], _xml_attribute_value(value))
             for name, value in additions.items() if name in values]
    inserted = b"".join(b" " + name.encode() + b"=" + _xml_attribute_value(value)
                        for name, value in additions.items() if name not in values)
    edits.append((end, end, inserted))
    parts, done = [], 0
    for start, stop, replacement in sorted(edits):
        parts += [content[done:start], replacement]
        done = stop
    parts.append(content[done:])
    return b"".join(parts)


def _xml_attribute_value(value) -> bytes:
    """A quoted, escaped XML attribute value in ASCII (character references beyond it)."""
    text = escape(_scalar(value), {'"': "&quot;", "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})
    return b'"' + text.encode("ascii", "xmlcharrefreplace") + b'"'


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
