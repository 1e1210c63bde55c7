"""Contract fake of a Subsonic API 1.16.1 server shaped like Navidrome (the parts AudioMuse uses).

The real-server tests run against supysonic, which speaks API 1.12: no token auth and no per-song
``playCount``/``played``. This fake covers what supysonic cannot: token auth (``t = md5(password +
salt)`` checked against the salt ``s``), error 41 for servers that refuse tokens, play counts for
``top_played``, and a user whose downloads are disabled (error 50 on ``download``, while
``stream?format=raw`` still serves the original file).

Every answer is HTTP 200 with ``{"subsonic-response": {...}}``, as the Subsonic spec requires.
"""

from __future__ import annotations

import binascii
import hashlib
import itertools
from datetime import datetime, timezone

from tests.audiomuse.providers.fakes.base import FakeServer, one


def _iso(epoch) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z") if epoch else None


class SubsonicFake(FakeServer):
    def __init__(self, user: str, password: str, albums: dict[str, dict], *, token_auth: bool = True,
                 downloads: bool = True):
        super().__init__()
        self.user, self.password, self.albums = user, password, albums
        self.token_auth, self.downloads = token_auth, downloads
        self.playlists: dict[str, dict] = {}
        self._ids = itertools.count(1)

    # Protocol ---------------------------------------------------------------------------------
    def _ok(self, **payload):
        return 200, {"subsonic-response": {"status": "ok", "version": "1.16.1", "type": "fake", **payload}}

    def _fail(self, code: int, message: str):
        return 200, {"subsonic-response": {"status": "failed", "version": "1.16.1",
                                           "error": {"code": code, "message": message}}}

    def _authenticate(self, q):
        """None when authenticated, else the error answer."""
        for key in ("u", "v", "c"):
            if one(q, key) is None:
                return self._fail(10, f"required parameter '{key}' is missing")
        token, salt, password = one(q, "t"), one(q, "s"), one(q, "p")
        if token is not None:
            if not self.token_auth:
                return self._fail(41, "Token authentication not supported for LDAP users.")
            if salt is None:
                return self._fail(10, "required parameter 's' is missing")
            ok = hashlib.md5((self.password + salt).encode()).hexdigest() == token
        elif password is not None:
            if password.startswith("enc:"):
                try:
                    password = binascii.unhexlify(password[4:]).decode()
                except (ValueError, UnicodeDecodeError):
                    return self._fail(40, "Wrong username or password")
            ok = password == self.password
        else:
            return self._fail(10, "required parameter 'p' or 't' is missing")
        if not ok or one(q, "u") != self.user:
            return self._fail(40, "Wrong username or password")
        return None

    # Data ---------------------------------------------------------------------------------------
    def _tracks(self):
        for aid, a in self.albums.items():
            for n, t in enumerate(a["tracks"], 1):
                yield aid, a, n, t

    def _song(self, aid, a, n, t):
        song = {"id": t["id"], "parent": aid, "isDir": False, "title": t["title"], "album": a["name"],
                "artist": t["artist"], "track": n, "year": a["year"], "suffix": t["suffix"],
                "contentType": "audio/flac", "duration": int(t["seconds"]), "size": len(t["bytes"]),
                "path": f"{a['artist']}/{a['name']}/{n:02d} - {t['title']}.{t['suffix']}",
                "albumId": aid, "type": "music", "created": _iso(a["epoch"]), "playCount": t["plays"]}
        if t["last"]:
            song["played"] = _iso(t["last"])
        return song

    def _album(self, aid, with_songs=False):
        a = self.albums[aid]
        album = {"id": aid, "name": a["name"], "artist": a["artist"], "year": a["year"], "created": _iso(a["epoch"]),
                 "songCount": len(a["tracks"]), "playCount": sum(t["plays"] for t in a["tracks"])}
        if with_songs:
            album["song"] = [self._song(aid, a, n, t) for n, t in enumerate(a["tracks"], 1)]
        return album

    def _find(self, track_id):
        return next(((aid, a, n, t) for aid, a, n, t in self._tracks() if t["id"] == track_id), None)

    def _playlist(self, pid, with_entries=False):
        p = self.playlists[pid]
        out = {"id": pid, "name": p["name"], "owner": p["owner"], "public": p.get("public", False),
               "songCount": len(p["songs"])}
        if with_entries:
            out["entry"] = [self._song(*self._find(s)) for s in p["songs"]]
        return out

    # Routes -------------------------------------------------------------------------------------
    def handle(self, method, path, q, headers, body):
        if not path.startswith("/rest/"):
            return 404, b"not found", "text/plain"
        name = path[len("/rest/"):].removesuffix(".view")
        denied = self._authenticate(q)
        if denied:
            return denied
        if name == "ping":
            return self._ok()
        if name == "getAlbumList2":
            kind, size, offset = one(q, "type"), int(one(q, "size", 10)), int(one(q, "offset", 0))
            if size > 500:
                return self._fail(0, "size must be at most 500")
            ids = list(self.albums)
            plays = {aid: sum(t["plays"] for t in self.albums[aid]["tracks"]) for aid in ids}
            last = {aid: max((t["last"] or 0) for t in self.albums[aid]["tracks"]) for aid in ids}
            if kind == "newest":
                ids.sort(key=lambda aid: -self.albums[aid]["epoch"])
            elif kind == "frequent":
                ids = sorted((aid for aid in ids if plays[aid]), key=lambda aid: -plays[aid])
            elif kind == "recent":
                ids = sorted((aid for aid in ids if last[aid]), key=lambda aid: -last[aid])
            else:
                return self._fail(0, f"unsupported list type {kind}")
            return self._ok(albumList2={"album": [self._album(aid) for aid in ids[offset : offset + size]]})
        if name == "getAlbum":
            aid = one(q, "id")
            if aid not in self.albums:
                return self._fail(70, "Album not found")
            return self._ok(album=self._album(aid, with_songs=True))
        if name in ("download", "stream"):
            found = self._find(one(q, "id"))
            if found is None:
                return self._fail(70, "Song not found")
            if name == "download" and not self.downloads:
                return self._fail(50, "User not authorized to download")
            if name == "stream" and one(q, "format") not in ("raw", None):
                return 200, b"transcoded-" + found[3]["bytes"][:100], "audio/mpeg"
            return 200, found[3]["bytes"]
        if name == "getPlaylists":
            return self._ok(playlists={"playlist": [self._playlist(pid) for pid in self.playlists]})
        if name == "getPlaylist":
            pid = one(q, "id")
            if pid not in self.playlists:
                return self._fail(70, "Playlist not found")
            return self._ok(playlist=self._playlist(pid, with_entries=True))
        if name == "createPlaylist":
            songs = q.get("songId", [])
            if any(self._find(s) is None for s in songs):
                return self._fail(70, "Song not found")
            pid = one(q, "playlistId")
            if pid is not None:
                if pid not in self.playlists:
                    return self._fail(70, "Playlist not found")
                if self.playlists[pid]["owner"] != one(q, "u"):
                    return self._fail(50, "not the owner")
                self.playlists[pid]["songs"] = list(songs)
            elif one(q, "name"):
                pid = f"pl{next(self._ids)}"
                self.playlists[pid] = {"name": one(q, "name"), "owner": one(q, "u"), "songs": list(songs)}
            else:
                return self._fail(10, "required parameter 'name' or 'playlistId' is missing")
            return self._ok(playlist=self._playlist(pid, with_entries=True))
        if name == "deletePlaylist":
            pid = one(q, "id")
            if pid not in self.playlists:
                return self._fail(70, "Playlist not found")
            if self.playlists[pid]["owner"] != one(q, "u"):
                return self._fail(50, "not the owner")
            del self.playlists[pid]
            return self._ok()
        return self._fail(0, f"unknown method {name}")
