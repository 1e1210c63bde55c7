"""A Subsonic front for the configured server that adds the OpenSubsonic ``sonicSimilarity`` extension.

Clients talk to this service instead of their server. ``getSonicSimilarTracks`` and
``findSonicPath`` are answered from AudioMuse's similarity index (see :mod:`audiomuse.sonic` for
the spec they follow), ``getOpenSubsonicExtensions`` gets ``sonicSimilarity`` added, and every
other ``/rest/*`` request goes to the upstream server unchanged, its answer streamed back as it
arrives (audio is never buffered).

Authentication stays the upstream's: forwarded calls carry the client's credentials, and the sonic
endpoints answer only after the upstream accepted the same credentials with a ``ping`` (a success
is remembered for ``auth_ttl`` seconds, keyed by a hash of the credentials; they are never logged:
uvicorn's access log, which prints query strings, is off).

Song objects in the answers are the upstream's own (``getSong`` for each match, concurrently, with
the client's credentials): they carry what clients display and act on (cover art, artist ids,
bit rate, starred, the user's rating) and respect that user's view of the library; a match the
upstream no longer knows is dropped. If the upstream is not to be asked (``AUDIOMUSE_SONIC_SONGS=
catalog``, faster) or a call fails, the Child is built from AudioMuse's catalog.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

import anyio
import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

import audiomuse.providers.http  # noqa: F401  (masks secrets in httpx's log records)
from audiomuse import sonic
from audiomuse import subsonic_protocol as protocol
from audiomuse.config import Settings, get_settings
from audiomuse.sonic import SonicLibrary
from audiomuse.subsonic_protocol import (
    AUTH_ERRORS, CLIENT_PARAMS, CREDENTIAL_PARAMS, GENERIC, NOT_FOUND, ServerInfo, SubsonicError, error_of,
)

log = logging.getLogger("audiomuse.api")

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}
HOP_BY_HOP_RESPONSE = {h.encode() for h in HOP_BY_HOP - {"content-length"}}
SMALL_BODY = 64 * 1024  # upstream answers up to this size are relayed in one piece
SONG_FETCHES = 12  # concurrent getSong calls per sonic answer
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]


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


class SonicFront:
    """State of one app: the upstream client, the auth cache and the (lazily loaded) library."""

    def __init__(self, settings: Settings, library: SonicLibrary | None, songs: str, auth_ttl: float):
        if songs not in ("upstream", "catalog"):
            raise ValueError("songs must be 'upstream' or 'catalog'")
        self.settings = settings
        subsonic = settings.media_server_type in ("subsonic", "navidrome")
        self.upstream = (settings.media_server_url or "").rstrip("/") if subsonic else ""
        self.songs = songs
        self.auth = AuthCache(auth_ttl)
        self.client: httpx.AsyncClient | None = None
        self._library = library
        self._library_lock = asyncio.Lock()

    async def library(self) -> SonicLibrary:
        if self._library is None:
            async with self._library_lock:
                if self._library is None:
                    self._library = await run_in_threadpool(self._open_library)
        return self._library

    def _open_library(self) -> SonicLibrary:
        from audiomuse.store import Database, database_urls

        urls = database_urls(self.settings)
        return SonicLibrary(Database(urls.app), self.settings.cache_dir,
                            max_per_artist=self.settings.max_songs_per_artist)

    # Upstream calls ----------------------------------------------------------------------------
    async def call_json(self, method: str, params: dict[str, str], authorization: str | None) -> dict:
        """One upstream call answered in JSON: its ``subsonic-response``, or a SubsonicError."""
        headers = {"authorization": authorization} if authorization else {}
        try:
            response = await self.client.get(f"{self.upstream}/rest/{method}", params={**params, "f": "json"},
                                             headers=headers)
        except httpx.HTTPError as exc:
            raise SubsonicError(GENERIC, f"the Subsonic server is not reachable ({type(exc).__name__})") from None
        try:
            return protocol.parse_response(response.content)
        except ValueError:
            raise SubsonicError(GENERIC, f"the Subsonic server answered {method} with HTTP "
                                               f"{response.status_code}, not Subsonic JSON") from None

    async def authorise(self, params: dict[str, str], authorization: str | None) -> ServerInfo:
        """The upstream's ServerInfo once it accepted these credentials; SubsonicError otherwise."""
        key = AuthCache.key(params, authorization)
        cached = self.auth.get(key)
        if cached is not None:
            return cached
        creds = {k: params[k] for k in CREDENTIAL_PARAMS + CLIENT_PARAMS if k in params}
        body = await self.call_json("ping", creds, authorization)
        info = ServerInfo.from_response(body)
        if body.get("status") != "ok":
            code, message = error_of(body)
            raise _Refused(info, code, message)
        self.auth.put(key, info)
        return info

    async def song_objects(self, library: SonicLibrary, ids: list[str], params: dict[str, str],
                           authorization: str | None) -> dict[str, dict]:
        if self.songs == "catalog" or not ids:
            return await run_in_threadpool(library.catalog_songs, ids)
        creds = {k: params[k] for k in CREDENTIAL_PARAMS + CLIENT_PARAMS if k in params}

        limit = asyncio.Semaphore(SONG_FETCHES)  # leave the shared pool to the audio streams

        async def one(tid: str):
            try:
                async with limit:
                    body = await self.call_json("getSong", {**creds, "id": tid}, authorization)
            except SubsonicError:
                return tid, None
            if body.get("status") == "ok" and isinstance(body.get("song"), dict):
                return tid, body["song"]
            return tid, (False if error_of(body)[0] == NOT_FOUND else None)

        fetched = dict(await asyncio.gather(*(one(t) for t in ids)))
        songs = {tid: song for tid, song in fetched.items() if song}
        missing = [tid for tid, song in fetched.items() if song is None]
        if missing:
            songs.update(await run_in_threadpool(library.catalog_songs, missing))
        return songs


class _UpstreamStream(StreamingResponse):
    """Relays an upstream body chunk by chunk and always closes it, also when the client goes away:
    Starlette cancels a disconnected response without closing its body iterator, so a ``finally``
    in a generator would wait for garbage collection while the upstream connection stays open."""

    def __init__(self, upstream: httpx.Response, status_code: int):
        super().__init__(upstream.aiter_raw(), status_code=status_code)
        self.upstream = upstream

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()


class _Refused(SubsonicError):
    def __init__(self, info: ServerInfo, code: int, message: str):
        super().__init__(code, message)
        self.info = info


async def _params(request: Request) -> dict[str, str]:
    """Query and form parameters (GET and POST), first value of each name."""
    items = list(request.query_params.multi_items())
    if request.method == "POST" and "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        items += parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    params: dict[str, str] = {}
    for key, value in items:
        params.setdefault(key, value)
    return params


def _answer(body: dict, params: dict[str, str], status_code: int = 200) -> Response:
    content, media_type = protocol.render(body, params.get("f"), params.get("callback"))
    return Response(content, status_code=status_code, media_type=media_type)


def create_app(settings: Settings | None = None, *, library: SonicLibrary | None = None,
               songs: str | None = None, auth_ttl: float = 30.0) -> Starlette:
    """The ASGI app for ``settings`` (upstream = ``MEDIA_SERVER_URL``); ``library`` overrides the
    database-backed one, ``songs`` (default ``AUDIOMUSE_SONIC_SONGS``) where song objects come from."""
    settings = settings or get_settings()
    front = SonicFront(settings, library, songs or settings.sonic_songs, auth_ttl)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per forwarded call otherwise

    @asynccontextmanager
    async def lifespan(app):
        front.client = httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout, connect=min(10.0, settings.http_timeout)),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=100), follow_redirects=False)
        try:
            yield
        finally:
            await front.client.aclose()
            if front._library is not None:
                await run_in_threadpool(front._library.close)

    async def rest(request: Request) -> Response:
        method = protocol.method_name(request.path_params["method"])
        if not front.upstream:
            params = await _params(request)
            return _answer(protocol.error_body(ServerInfo(), GENERIC, "no Subsonic server configured: set "
                                            "MEDIA_SERVER_TYPE=subsonic and MEDIA_SERVER_URL"), params)
        if sonic.is_sonic_method(method):
            return await sonic_endpoint(request, method)
        if method.lower() == sonic.EXTENSIONS_METHOD.lower():
            return await extensions(request)
        return await forward(request)

    async def sonic_endpoint(request: Request, method: str) -> Response:
        params = await _params(request)
        authorization = request.headers.get("authorization")
        try:
            info = await front.authorise(params, authorization)
        except _Refused as refused:
            return _answer(protocol.error_body(refused.info, refused.code, refused.message), params)
        except SubsonicError as exc:
            return _answer(protocol.error_body(ServerInfo(), exc.code, exc.message), params, 502)
        try:
            library = await front.library()
            if method.lower() == sonic.SIMILAR_METHOD.lower():
                track_id = protocol.required(params, "id")
                count = protocol.parse_count(params.get("count"), sonic.SIMILAR_DEFAULT, 0, sonic.SIMILAR_MAX)
                matches = await run_in_threadpool(library.similar, track_id, count) if count else []
            else:
                start = protocol.required(params, "startSongId")
                end = protocol.required(params, "endSongId")
                count = protocol.parse_count(params.get("count"), sonic.PATH_DEFAULT, 2, sonic.PATH_MAX)
                matches = await run_in_threadpool(library.path, start, end, count)
            songs = await front.song_objects(library, [t for t, _ in matches], params, authorization)
            body = protocol.ok_body(info, {"sonicMatch": sonic.sonic_matches(matches, songs)})
        except SubsonicError as exc:
            body = protocol.error_body(info, exc.code, exc.message)
        except ConnectionError:
            body = protocol.error_body(info, GENERIC, "AudioMuse's database is not reachable")
        except Exception:  # noqa: BLE001 - a client gets a Subsonic error, never a bare 500
            log.exception("%s failed", method)
            body = protocol.error_body(info, GENERIC, f"{method} failed inside AudioMuse (see its log)")
        return _answer(body, params)

    async def extensions(request: Request) -> Response:
        params = await _params(request)
        try:
            body = await front.call_json(sonic.EXTENSIONS_METHOD, {k: v for k, v in params.items() if k != "f"},
                                         request.headers.get("authorization"))
        except SubsonicError:
            body = {}
        info = ServerInfo.from_response(body)
        if body.get("status") == "ok":
            return _answer(sonic.with_extension(body), params)
        code, message = error_of(body)
        if body and code in AUTH_ERRORS:
            return _answer(protocol.error_body(info, code, message), params)
        # an upstream without OpenSubsonic extensions: ours is the only one
        return _answer(protocol.ok_body(info, {"openSubsonicExtensions": [dict(sonic.EXTENSION)]}), params)

    async def forward(request: Request) -> Response:
        url = front.upstream + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        headers = [(k, v) for k, v in request.headers.raw if k.decode("latin-1").lower() not in HOP_BY_HOP]
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        body = await request.body() if has_body else b""
        upstream_request = front.client.build_request(request.method, url, headers=headers, content=body or None)
        try:
            upstream = await front.client.send(upstream_request, stream=True)
        except httpx.HTTPError as exc:
            params = await _params(request)
            return _answer(protocol.error_body(ServerInfo(), GENERIC,
                                            f"the Subsonic server is not reachable ({type(exc).__name__})"), params, 502)

        length = upstream.headers.get("content-length", "")
        if length.isdigit() and int(length) <= SMALL_BODY:  # API answers: one send, no streaming machinery
            try:
                content = b"".join([chunk async for chunk in upstream.aiter_raw()])
            finally:
                await upstream.aclose()
            response = Response(content, status_code=upstream.status_code)
        else:  # audio, covers, unknown length: relayed chunk by chunk as it arrives

            response = _UpstreamStream(upstream, status_code=upstream.status_code)
        response.raw_headers = [(k.lower(), v) for k, v in upstream.headers.raw if k.lower() not in HOP_BY_HOP_RESPONSE]
        return response

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [Route("/rest/{method}", rest, methods=METHODS), Route("/health", health, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.front = front
    return app
