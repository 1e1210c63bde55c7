"""A minimal, fast Subsonic server for benchmarks: ping, getAlbumList2, getSong (any id), stream.

Raw ASGI (no framework) so that what it costs is as little as possible next to what is measured.
Usage: python benchmarks/_subsonic_stub.py PORT   (user ``bench``, password ``pw``)
"""

from __future__ import annotations

import json
import sys
from urllib.parse import parse_qsl

import uvicorn

STREAM_BYTES = bytes(range(256)) * 4096  # 1 MiB
CHUNK = 64 * 1024
ALBUMS = [{"id": f"al{i}", "name": f"Album {i}", "artist": f"Artist {i}", "songCount": 10} for i in range(20)]


def _json(payload: dict) -> bytes:
    return json.dumps({"subsonic-response": {"status": "ok", "version": "1.16.1", "type": "stub",
                                             "openSubsonic": True, **payload}}).encode()


def _song(tid: str) -> dict:
    return {"id": tid, "parent": "al1", "isDir": False, "title": f"Song {tid}", "album": "Album", "artist": "Artist",
            "track": 1, "year": 2020, "genre": "Test", "coverArt": tid, "size": 4_000_000, "contentType": "audio/flac",
            "suffix": "flac", "duration": 200, "bitRate": 900, "path": f"a/{tid}.flac", "type": "music",
            "albumId": "al1", "artistId": "ar1", "isVideo": False}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    params = dict(parse_qsl(scope["query_string"].decode()))
    method = scope["path"].rsplit("/", 1)[-1].removesuffix(".view")
    if params.get("u") != "bench" or params.get("p") != "pw":
        body = json.dumps({"subsonic-response": {"status": "failed", "version": "1.16.1", "error": {
            "code": 40, "message": "Wrong username or password"}}}).encode()
    elif method == "stream":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"audio/flac"), (b"content-length", str(len(STREAM_BYTES)).encode())]})
        for i in range(0, len(STREAM_BYTES), CHUNK):
            await send({"type": "http.response.body", "body": STREAM_BYTES[i:i + CHUNK],
                        "more_body": i + CHUNK < len(STREAM_BYTES)})
        return
    elif method == "ping":
        body = _json({})
    elif method == "getSong":
        body = _json({"song": _song(params.get("id", "?"))})
    elif method == "getAlbumList2":
        body = _json({"albumList2": {"album": ALBUMS}})
    else:
        body = json.dumps({"subsonic-response": {"status": "failed", "version": "1.16.1", "error": {
            "code": 0, "message": "Unknown method"}}}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=False, log_level="warning")
