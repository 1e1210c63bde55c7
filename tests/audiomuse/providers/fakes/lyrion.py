"""Contract fake of Lyrion Music Server's JSON-RPC (``POST /jsonrpc.js``, ``slim.request``) and
``/music/{id}/download``, following the server's CLI documentation and its query code:

* ``albums <start> <n> [sort:new] tags:...`` -> ``albums_loop`` of ``{id, album, artist, year}``
  and ``count``; ``sort:new`` is capped at the server's ``browseagelimit`` preference (100 by
  default; set lower here), as the real server does;
* ``titles <start> <n> [album_id:|track_id:] [sort:tracknum] tags:...`` -> ``titles_loop`` with
  ``id, title`` plus tagged fields (a artist, d duration, e album_id, l album, o type, t tracknum,
  u url, D addedTime);
* ``playlists <start> <n>`` -> ``playlists_loop`` of ``{id, playlist}``; ``playlists new name:`` ->
  ``playlist_id`` (or ``overwritten_playlist_id`` when the name exists); ``playlists tracks <start>
  <n> playlist_id: tags:`` -> ``playlisttracks_loop`` of ``{playlist index, id, title}`` plus tagged
  fields (``u`` url), in playlist order (an unknown playlist id answers nothing, like the server);
  ``playlists edit cmd:add url:`` (a track's file URL; skipped when already in the list) and
  ``cmd:delete index:``; ``playlists delete playlist_id:``.

With ``user``/``password`` set the server is "password protected": HTTP Basic auth or 401.
"""

from __future__ import annotations

import base64
import itertools
import json
from urllib.parse import quote

from tests.audiomuse.providers.fakes.base import FakeServer


class LyrionFake(FakeServer):
    def __init__(self, albums: dict[str, dict], *, user: str = "", password: str = "", browseagelimit: int = 100):
        super().__init__()
        self.albums = albums
        self.user, self.password = user, password
        self.browseagelimit = browseagelimit
        self.playlists: dict[str, dict] = {}
        self._ids = itertools.count(100)
        if user:
            self.www_authenticate = 'Basic realm="Lyrion Music Server"'
        # album ids are numbers that grow as albums are scanned in
        self.numeric = {aid: str(i) for i, aid in enumerate(sorted(albums, key=lambda a: albums[a]["epoch"]), 1)}

    def url_of(self, aid, n, t) -> str:
        a = self.albums[aid]
        return "file:///music/" + quote(f"{a['artist']}/{a['name']}/{n:02d} {t['title']}.{t['suffix']}")

    def _tracks(self):
        for aid, a in self.albums.items():
            for n, t in enumerate(a["tracks"], 1):
                yield aid, a, n, t

    def _authorized(self, headers) -> bool:
        if not self.user:
            return True
        auth = headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        return base64.b64decode(auth[6:]).decode() == f"{self.user}:{self.password}"

    def handle(self, method, path, q, headers, body):
        if not self._authorized(headers):
            return 401, b"Authorization required", "text/html"
        if path.startswith("/music/") and path.endswith("/download"):
            tid = path.split("/")[2]
            t = next((t for *_, t in self._tracks() if t["id"] == tid), None)
            return (200, t["bytes"]) if t else (404, b"not found", "text/html")
        if path != "/jsonrpc.js" or method != "POST":
            return 404, b"not found", "text/html"
        req = json.loads(body)
        params = req.get("params")
        if req.get("method") != "slim.request" or not isinstance(params, list) or len(params) != 2:
            return 200, {"id": req.get("id"), "error": {"code": -32602, "message": "Invalid params"}}
        cmd = params[1]
        if not all(isinstance(c, str) for c in cmd):
            return 200, {"id": req.get("id"), "error": "bad command"}
        args = {c.split(":", 1)[0]: c.split(":", 1)[1] for c in cmd if ":" in c}
        return 200, {"id": req["id"], "method": "slim.request", "params": params, "result": self.command(cmd, args)}

    @staticmethod
    def _window(cmd, items, cap=None):
        start, n = int(cmd[1]), int(cmd[2])
        count = len(items) if cap is None else min(cap, len(items))
        if cap is not None:
            n = min(n, cap)
        return items[start : min(start + n, count)], count

    def _title(self, aid, a, n, t, tags):
        out = {"id": t["id"], "title": t["title"]}
        fields = {"a": ("artist", t["artist"]), "d": ("duration", t["seconds"]), "e": ("album_id", self.numeric[aid]),
                  "l": ("album", a["name"]), "o": ("type", "flc"), "t": ("tracknum", str(n)),
                  "u": ("url", self.url_of(aid, n, t)), "D": ("addedTime", a["epoch"] + n)}
        for letter, (key, value) in fields.items():
            if letter in tags:
                out[key] = value
        return out

    def command(self, cmd, args):
        by_number = {v: k for k, v in self.numeric.items()}
        if cmd[0] == "albums":
            items = sorted(self.albums, key=lambda aid: self.albums[aid]["name"])
            cap = None
            if args.get("sort") == "new":
                items = sorted(self.albums, key=lambda aid: -self.albums[aid]["epoch"])
                cap = self.browseagelimit
            loop, count = self._window(cmd, items, cap)
            return {"albums_loop": [{"id": self.numeric[aid], "album": self.albums[aid]["name"],
                                     "artist": self.albums[aid]["artist"], "year": self.albums[aid]["year"]}
                                    for aid in loop], "count": count}
        if cmd[0] == "titles":
            tags = args.get("tags", "")
            rows = list(self._tracks())
            if "album_id" in args:
                rows = [r for r in rows if r[0] == by_number.get(args["album_id"])]
            if "track_id" in args:
                rows = [r for r in rows if r[3]["id"] == args["track_id"]]
            if args.get("sort") == "tracknum":
                rows.sort(key=lambda r: r[2])
            loop, count = self._window(cmd, rows)
            return {"titles_loop": [self._title(*r, tags) for r in loop], "count": count}
        if cmd[0] == "playlists" and cmd[1:2] == ["new"]:
            name = self.cleanup_filename(args["name"])
            existing = next((pid for pid, p in self.playlists.items() if p["name"] == name), None)
            if existing:
                return {"overwritten_playlist_id": existing}
            pid = str(next(self._ids))
            self.playlists[pid] = {"name": name, "urls": []}
            return {"playlist_id": pid}
        if cmd[0] == "playlists" and cmd[1:2] == ["tracks"]:
            pl = self.playlists.get(args.get("playlist_id"))
            if pl is None:
                return {}
            tags = args.get("tags", "")
            by_url = {self.url_of(aid, n, t): (aid, a, n, t) for aid, a, n, t in self._tracks()}
            start = int(cmd[2])
            loop, count = self._window(["", cmd[2], cmd[3]], pl["urls"])
            entries = [{"playlist index": start + i, **self._title(*by_url[u], tags)} for i, u in enumerate(loop)]
            return {"playlisttracks_loop": entries, "count": count}
        if cmd[0] == "playlists" and cmd[1:2] == ["edit"]:
            pl = self.playlists.get(args.get("playlist_id"))
            if pl is None:
                return {}
            if args.get("cmd") == "add" and args.get("url") not in pl["urls"]:
                pl["urls"].append(args["url"])
            elif args.get("cmd") == "delete":
                del pl["urls"][int(args["index"])]
            return {}
        if cmd[0] == "playlists" and cmd[1:2] == ["delete"]:
            self.playlists.pop(args.get("playlist_id"), None)
            return {}
        if cmd[0] == "playlists":
            loop, count = self._window(cmd, list(self.playlists))
            return {"playlists_loop": [{"id": pid, "playlist": self.playlists[pid]["name"]} for pid in loop],
                    "count": count}
        return {}

    @staticmethod
    def cleanup_filename(name: str) -> str:
        """The server names a playlist after its .m3u file: characters a file name cannot hold go."""
        return "".join("_" if c in '/\\:*?"<>|' else c for c in name)

    def playlist_tracks(self, name: str) -> list[str]:
        """Track ids of playlist ``name``, from the stored file URLs."""
        urls = next(p for p in self.playlists.values() if p["name"] == self.cleanup_filename(name))["urls"]
        by_url = {self.url_of(aid, n, t): t["id"] for aid, _, n, t in self._tracks()}
        return [by_url[u] for u in urls]
