"""A Subsonic front for the configured server that adds the OpenSubsonic ``sonicSimilarity`` extension.

Clients talk to this service instead of their server. ``getSonicSimilarTracks`` and
``findSonicPath`` are answered from AudioMuse's similarity index (see :mod:`audiomuse.sonic` for
the spec they follow), ``getOpenSubsonicExtensions`` gets ``sonicSimilarity`` added, and every
other ``/rest/*`` request goes to the upstream server unchanged, its answer streamed back as it
arrives (audio is never buffered).

Every answer, forwarded or the front's own, carries the OpenSubsonic envelope (``openSubsonic:
true``, ``type``, ``serverVersion``: the upstream's where it names them, AudioMuse's where it does
not), so a client that checks the flag goes on to ask for the extensions. A forwarded Subsonic
answer (by its content type and its body) is read whole, decoded and given the missing fields;
audio, covers, downloads, anything else and an answer that does not parse (or is bigger than
``MAX_ANSWER``) are relayed byte for byte.

Authentication stays the upstream's: forwarded calls carry the client's credentials, and the sonic
endpoints answer only after the upstream accepted the same credentials with a ``ping`` (a success
is remembered for ``auth_ttl`` seconds, keyed by a hash of the credentials; they are never logged:
uvicorn's access log, which prints query strings, is off).

Song objects in the answers are the upstream's own (``getSong`` for each match, concurrently, with
the client's credentials): they carry what clients display and act on (cover art, artist ids,
bit rate, starred, the user's rating) and respect that user's view of the library; a match the
upstream no longer knows is dropped. If the upstream is not to be asked (``AUDIOMUSE_SONIC_SONGS=
catalog``, faster) or a call fails, the Child is built from AudioMuse's catalog.

The app's state lives on ``app.state`` (set by :func:`create_app`, the HTTP client by the
lifespan), and the endpoints are plain functions over it: ``settings``, ``upstream`` (base URL, or
"" when no Subsonic server is configured), ``songs``, ``auth`` (the credential cache), ``client``,
and ``library`` (opened on first use under ``library_lock``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qsl

import anyio
import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

import audiomuse.providers.http  # noqa: F401  (masks secrets in httpx's log records)
from audiomuse import sonic
from audiomuse.config import Settings, get_settings
from audiomuse.sonic import SonicLibrary
from audiomuse.subsonic_protocol import (
    ANSWER_MEDIA_TYPES, AUTH_ERRORS, CLIENT_PARAMS, CREDENTIAL_PARAMS, GENERIC, NOT_FOUND, ServerInfo, SubsonicError,
    add_envelope, error_body, error_of, method_name, ok_body, parse_count, parse_response, render, required,
    with_envelope,
)

log = logging.getLogger("audiomuse.api")

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
HOP_BY_HOP_RESPONSE = {h.encode() for h in HOP_BY_HOP - {"content-length"}}
SMALL_BODY = 64 * 1024  # upstream answers up to this size are relayed in one piece
MAX_ANSWER = 64 * 1024 * 1024  # Subsonic answers up to this size (sent and decoded) get the envelope fields
SONG_FETCHES = 12  # concurrent getSong calls per sonic answer
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]
SONG_SOURCES = ("upstream", "catalog")
NO_UPSTREAM = "no Subsonic server configured: set MEDIA_SERVER_TYPE=subsonic and MEDIA_SERVER_URL"
# Answered from the sound (SONIC_RADIO): the method (lower case) -> the answer's element.
RADIO_ANSWERS = {"getsimilarsongs": "similarSongs", "getsimilarsongs2": "similarSongs2"}
RADIO_DEFAULT, RADIO_MAX = 50, 500  # Navidrome's default and cap


class AuthCache:
    """Credential hashes the upstream accepted, with what it said about itself, for ``ttl`` s."""

    def __init__(self, ttl: float, max_entries: int = 4096):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, ServerInfo]] = {}

    @staticmethod
    def key(params: dict[str, str], authorization: str | None) -> str:
        creds = [(k, params[k]) for k in CREDENTIAL_PARAMS if k in params] + [("authorization", authorization or "")]
        return hashlib.sha256(json.dumps(creds).encode()).hexdigest()

    def get(self, key: str) -> ServerInfo | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return hit[1]

    def put(self, key: str, info: ServerInfo) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        self._entries[key] = (time.monotonic() + self.ttl, info)


class _Refused(SubsonicError):
    """The upstream refused the credentials: the client gets its error in its envelope."""

    def __init__(self, info: ServerInfo, code: int, message: str):
        super().__init__(code, message)
        self.info = info


class _UpstreamStream(StreamingResponse):
    """Relays an upstream body chunk by chunk and always closes it, also when the client goes away:
    Starlette cancels a disconnected response without closing its body iterator, so a ``finally``
    in a generator would wait for garbage collection while the upstream connection stays open."""

    def __init__(self, upstream: httpx.Response, status_code: int, content=None):
        super().__init__(upstream.aiter_raw() if content is None else content, status_code=status_code)
        self.upstream = upstream

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()


# Requests and answers ----------------------------------------------------------------------------
async def _params(request: Request) -> dict[str, str]:
    """Query and form parameters (GET and POST), first value of each name."""
    items = list(request.query_params.multi_items())
    if request.method == "POST" and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        items += parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in items:
        params.setdefault(key, value)
    return params


def _credentials(params: dict[str, str]) -> dict[str, str]:
    """The parameters an upstream call on the client's behalf carries: its credentials and client."""
    return {k: params[k] for k in CREDENTIAL_PARAMS + CLIENT_PARAMS if k in params}


def _answer(body: dict, params: dict[str, str], status_code: int = 200) -> Response:
    content, media_type = render(with_envelope(body), params.get("f"), params.get("callback"))
    return Response(content, status_code=status_code, media_type=media_type)


def _unreachable(exc: httpx.HTTPError) -> str:
    return f"the Subsonic server is not reachable ({type(exc).__name__})"


# Upstream calls ----------------------------------------------------------------------------------
async def _call_json(state: State, method: str, params: dict[str, str], authorization: str | None) -> dict:
    """One upstream call answered in JSON: its ``subsonic-response``, or a SubsonicError."""
    headers = {"authorization": authorization} if authorization else {}
    try:
        response = await state.client.get(f"{state.upstream}/rest/{method}", params={**params, "f": "json"},
                                          headers=headers)
    except httpx.HTTPError as exc:
        raise SubsonicError(GENERIC, _unreachable(exc)) from None
    try:
        return parse_response(response.content)
    except ValueError:
        raise SubsonicError(GENERIC, f"the Subsonic server answered {method} with HTTP "
                                     f"{response.status_code}, not Subsonic JSON") from None


async def _authorise(state: State, params: dict[str, str], authorization: str | None) -> ServerInfo:
    """The upstream's ServerInfo once it accepted these credentials (a ``ping``, remembered for the
    cache's ttl); _Refused when it did not, SubsonicError when it could not be asked."""
    key = AuthCache.key(params, authorization)
    cached = state.auth.get(key)
    if cached is not None:
        return cached
    body = await _call_json(state, "ping", _credentials(params), authorization)
    info = ServerInfo.from_response(body)
    if body.get("status") != "ok":
        code, message = error_of(body)
        raise _Refused(info, code, message)
    state.auth.put(key, info)
    return info


@dataclass
class _Caller:
    """A client's request as the sonic endpoints see it, once the upstream judged its credentials."""

    params: dict[str, str]
    authorization: str | None
    info: ServerInfo | None = None  # the upstream's, when it accepted the credentials
    refusal: Response | None = None  # its refusal, in the client's envelope
    problem: SubsonicError | None = None  # it could not be asked


async def _caller(request: Request) -> _Caller:
    params = await _params(request)
    caller = _Caller(params, request.headers.get("authorization"))
    try:
        caller.info = await _authorise(request.app.state, params, caller.authorization)
    except _Refused as refused:
        caller.refusal = _answer(error_body(refused.info, refused.code, refused.message), params)
    except SubsonicError as exc:
        caller.problem = exc
    return caller


async def _upstream_song(state: State, track_id: str, creds: dict[str, str], authorization: str | None,
                         limit: asyncio.Semaphore) -> dict | bool | None:
    """The upstream's song object; False when it does not know the song, None when it could not say."""
    try:
        async with limit:
            body = await _call_json(state, "getSong", {**creds, "id": track_id}, authorization)
    except SubsonicError:
        return None
    if body.get("status") == "ok" and isinstance(body.get("song"), dict):
        return body["song"]
    return False if error_of(body)[0] == NOT_FOUND else None


async def _song_objects(state: State, library: SonicLibrary, ids: list[str], params: dict[str, str],
                        authorization: str | None) -> dict[str, dict]:
    """Track id -> Child: the upstream's own, else the catalog's; songs the upstream lost are left out."""
    if state.songs == "catalog" or not ids:
        return await run_in_threadpool(library.catalog_songs, ids)
    creds = _credentials(params)
    limit = asyncio.Semaphore(SONG_FETCHES)  # leave the shared pool to the audio streams
    found = await asyncio.gather(*(_upstream_song(state, t, creds, authorization, limit) for t in ids))
    fetched = dict(zip(ids, found))
    songs = {tid: song for tid, song in fetched.items() if song}
    missing = [tid for tid, song in fetched.items() if song is None]
    if missing:
        songs.update(await run_in_threadpool(library.catalog_songs, missing))
    return songs


# The library ---------------------------------------------------------------------------------
async def _library(state: State) -> SonicLibrary:
    """The app's SonicLibrary, opened on first use (the database may start after the front)."""
    if state.library is None:
        async with state.library_lock:
            if state.library is None:
                state.library = await run_in_threadpool(_open_library, state.settings)
    return state.library


def _open_library(settings: Settings) -> SonicLibrary:
    from audiomuse.store import Database, database_urls

    urls = database_urls(settings)
    return SonicLibrary(Database(urls.app), settings.cache_dir, max_per_artist=settings.max_songs_per_artist)


async def _matches(library: SonicLibrary, method: str, params: dict[str, str]) -> list[tuple[str, float]]:
    """(track id, similarity) answering ``getSonicSimilarTracks`` or ``findSonicPath``."""
    if method.lower() == sonic.SIMILAR_METHOD.lower():
        track_id = required(params, "id")
        count = parse_count(params.get("count"), sonic.SIMILAR_DEFAULT, 0, sonic.SIMILAR_MAX)
        return await run_in_threadpool(library.similar, track_id, count) if count else []
    start = required(params, "startSongId")
    end = required(params, "endSongId")
    count = parse_count(params.get("count"), sonic.PATH_DEFAULT, 2, sonic.PATH_MAX)
    return await run_in_threadpool(library.path, start, end, count)


# Endpoints ---------------------------------------------------------------------------------------
async def rest(request: Request) -> Response:
    """Every ``/rest/<method>``: the sonic methods and the extension list answered here, the rest forwarded."""
    method = method_name(request.path_params["method"])
    if not request.app.state.upstream:
        return _answer(error_body(ServerInfo(), GENERIC, NO_UPSTREAM), await _params(request))
    if sonic.is_sonic_method(method):
        return await sonic_answer(request, method)
    if method.lower() in RADIO_ANSWERS and request.app.state.settings.sonic_radio:
        return await radio_answer(request, method)
    if method.lower() == sonic.EXTENSIONS_METHOD.lower():
        return await extensions(request)
    return await forward(request)


async def sonic_answer(request: Request, method: str) -> Response:
    """A sonic method for credentials the upstream accepts; every failure is a Subsonic error."""
    state = request.app.state
    caller = await _caller(request)
    if caller.refusal is not None:
        return caller.refusal
    if caller.problem is not None:
        return _answer(error_body(ServerInfo(), caller.problem.code, caller.problem.message), caller.params, 502)
    params, authorization, info = caller.params, caller.authorization, caller.info
    try:
        library = await _library(state)
        matches = await _matches(library, method, params)
        songs = await _song_objects(state, library, [t for t, _ in matches], params, authorization)
        body = ok_body(info, {"sonicMatch": sonic.sonic_matches(matches, songs)})
    except SubsonicError as exc:
        body = error_body(info, exc.code, exc.message)
    except ConnectionError:
        body = error_body(info, GENERIC, "AudioMuse's database is not reachable")
    except Exception:  # noqa: BLE001 - a client gets a Subsonic error, never a bare 500
        log.exception("%s failed", method)
        body = error_body(info, GENERIC, f"{method} failed inside AudioMuse (see its log)")
    return _answer(body, params)


async def radio_answer(request: Request, method: str) -> Response:
    """``getSimilarSongs`` / ``getSimilarSongs2`` from the sound, for credentials the upstream
    accepts; an id AudioMuse cannot answer for (not analysed, no index yet, its database down)
    goes to the upstream, whose answer the client gets unchanged."""
    state = request.app.state
    caller = await _caller(request)
    if caller.refusal is not None:
        return caller.refusal
    if caller.problem is not None:
        return await forward(request)  # the upstream's own answer (or its being down) reaches the client
    params, authorization, info = caller.params, caller.authorization, caller.info
    try:
        seed_id = required(params, "id")
        count = parse_count(params.get("count"), RADIO_DEFAULT, 0, RADIO_MAX)
    except SubsonicError as exc:
        return _answer(error_body(info, exc.code, exc.message), params)
    songs = await _radio_songs(state, seed_id, count, _listener(params, authorization), params, authorization)
    if songs is None:
        return await forward(request)
    key = RADIO_ANSWERS[method.lower()]
    return _answer(ok_body(info, {key: {"song": songs} if songs else {}}), params)


async def _radio_songs(state: State, seed_id: str, count: int, listener: str, params: dict[str, str],
                       authorization: str | None) -> list[dict] | None:
    """The radio's Child objects in order, or None when the upstream should answer instead."""
    try:
        library = await _library(state)
        seed = await run_in_threadpool(library.radio_seed, seed_id)
        if seed is None:
            return None
        ids = await run_in_threadpool(library.radio, seed, count, listener) if count else []
        found = await _song_objects(state, library, ids, params, authorization)
    except (SubsonicError, ConnectionError):  # no index yet, the database is down
        return None
    except Exception:  # noqa: BLE001 - the upstream still has an answer
        log.exception("radio for %s failed; forwarded", seed_id)
        return None
    return [found[t] for t in ids if t in found]


def _listener(params: dict[str, str], authorization: str | None) -> str:
    """Whose listening session a radio call belongs to: the user name, else a hash of the credentials."""
    return params.get("u") or AuthCache.key(params, authorization)


async def extensions(request: Request) -> Response:
    """The upstream's ``getOpenSubsonicExtensions`` with ``sonicSimilarity`` added (or ours alone)."""
    params = await _params(request)
    try:
        body = await _call_json(request.app.state, sonic.EXTENSIONS_METHOD,
                                {k: v for k, v in params.items() if k != "f"}, request.headers.get("authorization"))
    except SubsonicError:
        body = {}
    info = ServerInfo.from_response(body)
    if body.get("status") == "ok":
        return _answer(sonic.with_extension(body), params)
    code, message = error_of(body)
    if body and code in AUTH_ERRORS:
        return _answer(error_body(info, code, message), params)
    # an upstream without OpenSubsonic extensions: ours is the only one
    return _answer(ok_body(info, {"openSubsonicExtensions": [dict(sonic.EXTENSION)]}), params)


async def forward(request: Request) -> Response:
    """Any other call, sent to the upstream as the client made it (hop-by-hop headers aside)."""
    state = request.app.state
    url = state.upstream + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
    has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
    body = await request.body() if has_body else b""
    upstream_request = state.client.build_request(request.method, url, headers=headers, content=body or None)
    try:
        upstream = await state.client.send(upstream_request, stream=True)
        return await _relay(upstream)  # bodies read whole are read here: their failures answered too
    except httpx.HTTPError as exc:
        return _answer(error_body(ServerInfo(), GENERIC, _unreachable(exc)), await _params(request), 502)


async def _relay(upstream: httpx.Response) -> Response:
    """The upstream's answer for the client: Subsonic answers with the OpenSubsonic envelope (see
    _relay_answer), other small bodies in one piece, audio, covers and bodies of unknown length
    chunk by chunk as they arrive."""
    length = upstream.headers.get("content-length", "")
    if _is_answer_type(upstream) and not (length.isdigit() and int(length) > MAX_ANSWER):
        return await _relay_answer(upstream)
    if length.isdigit() and int(length) <= SMALL_BODY:  # one send, no streaming machinery
        try:
            content = b"".join([chunk async for chunk in upstream.aiter_raw()])
        finally:
            await upstream.aclose()
        response = Response(content, status_code=upstream.status_code)
    else:
        response = _UpstreamStream(upstream, status_code=upstream.status_code)
    response.raw_headers = _relayed_headers(upstream)
    return response


def _is_answer_type(upstream: httpx.Response) -> bool:
    """Whether the upstream's content type is one a Subsonic answer comes in (JSON, XML, JSONP)."""
    return upstream.headers.get("content-type", "").split(";")[0].strip().lower() in ANSWER_MEDIA_TYPES


def _relayed_headers(upstream: httpx.Response, drop: frozenset[bytes] = frozenset()) -> list[tuple[bytes, bytes]]:
    return [(k.lower(), v) for k, v in upstream.headers.raw if k.lower() not in HOP_BY_HOP_RESPONSE | drop]


async def _relay_answer(upstream: httpx.Response) -> Response:
    """What may be a Subsonic answer, read whole (up to MAX_ANSWER as sent) and relayed decoded with
    the OpenSubsonic envelope fields added, under the upstream's status and other headers. One that
    is not a ``subsonic-response``, does not parse or decode, or is bigger goes on unchanged."""
    chunks, size, streaming = [], 0, False
    body = upstream.aiter_raw()
    try:
        async for chunk in body:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_ANSWER:  # too big to buffer: what was read, then the rest as it comes
                streaming = True
                response = _UpstreamStream(upstream, upstream.status_code, _chain(chunks, body))
                response.raw_headers = _relayed_headers(upstream)
                return response
    finally:
        if not streaming:
            await upstream.aclose()
    decode = functools.partial(_decoded_with_envelope, upstream.headers, chunks, upstream.charset_encoding)
    content = decode() if size <= SMALL_BODY else await run_in_threadpool(decode)
    if content is None:
        response = Response(b"".join(chunks), status_code=upstream.status_code)
        response.raw_headers = _relayed_headers(upstream)
    else:
        response = Response(content, status_code=upstream.status_code)
        response.raw_headers = _relayed_headers(upstream, frozenset({b"content-length", b"content-encoding"})) + [
            (b"content-length", str(len(content)).encode())]
    return response


async def _chain(head: list[bytes], rest):
    for chunk in head:
        yield chunk
    async for chunk in rest:
        yield chunk


def _decoded_with_envelope(headers: httpx.Headers, chunks: list[bytes], charset: str | None) -> bytes | None:
    """The answer's body as sent (``chunks``, in the upstream's content encoding) decoded, with the
    envelope fields added; None when it does not decode, decodes to more than MAX_ANSWER, or is not
    a Subsonic answer."""
    encoded = httpx.Response(200, headers=[(k, v) for k, v in headers.multi_items() if k == "content-encoding"],
                             content=iter(chunks))
    decoded, size = [], 0
    try:
        for piece in encoded.iter_bytes():
            size += len(piece)
            if size > MAX_ANSWER:
                return None
            decoded.append(piece)
    except httpx.DecodingError:
        return None
    return add_envelope(b"".join(decoded), charset)


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


# The app -----------------------------------------------------------------------------------------
@asynccontextmanager
async def _lifespan(app: Starlette):
    """One pooled upstream client for the app's life; the library closed with it."""
    state = app.state
    timeout = state.settings.http_timeout
    state.client = httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(10.0, timeout)),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=100), follow_redirects=False)
    try:
        yield
    finally:
        await state.client.aclose()
        if state.library is not None:
            await run_in_threadpool(state.library.close)


ROUTES = [Route("/rest/{method}", rest, methods=METHODS), Route("/health", health, methods=["GET"])]


def _upstream_url(settings: Settings) -> str:
    """The Subsonic server to front, or "" when the configured server is not a Subsonic one."""
    subsonic = settings.media_server_type in ("subsonic", "navidrome")
    return (settings.media_server_url or "").rstrip("/") if subsonic else ""


def create_app(settings: Settings | None = None, *, library: SonicLibrary | None = None,
               songs: str | None = None, auth_ttl: float = 30.0) -> Starlette:
    """The ASGI app for ``settings`` (upstream = ``MEDIA_SERVER_URL``); ``library`` overrides the
    database-backed one, ``songs`` (default ``AUDIOMUSE_SONIC_SONGS``) where song objects come from."""
    settings = settings or get_settings()
    songs = songs or settings.sonic_songs
    if songs not in SONG_SOURCES:
        raise ValueError("songs must be 'upstream' or 'catalog'")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per forwarded call otherwise
    app = Starlette(routes=ROUTES, lifespan=_lifespan)
    app.state.settings = settings
    app.state.upstream = _upstream_url(settings)
    app.state.songs = songs
    app.state.auth = AuthCache(auth_ttl)
    app.state.client = None
    app.state.library = library
    app.state.library_lock = asyncio.Lock()
    return app
