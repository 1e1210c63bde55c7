"""Contract fake of Lyrion Music Server's JSON-RPC (``POST /jsonrpc.js``, ``slim.request``) and
``/music/{id}/download``, following the CLI command shapes AudioMuse sends."""

from __future__ import annotations

import itertools
import json

from tests.audiomuse.providers.fakes.base import FakeServer


class LyrionFake(FakeServer):
    def __init__(self, albums: dict[str, dict]):
        super().__init__()
        self.albums = albums
        self.playlists: dict[str, dict] = {}
        self._ids = itertools.count(100)

    def handle(self, method, path, q, headers, body):
        if path.startswith("/music/") and path.endswith("/download"):
            tid = path.split("/")[2]
            for a in self.albums.values():
                for t in a["tracks"]:
                    if t["id"] == tid:
                        return 200, t["bytes"]
            return 404, {}
        if path != "/jsonrpc.js" or method != "POST":
            return 404, {}
        req = json.loads(body)
        if req.get("method") != "slim.request" or len(req.get("params", [])) != 2:
            return 200, {"id": req.get("id"), "error": "bad request"}
        cmd = req["params"][1]
        args = {a.split(":", 1)[0]: a.split(":", 1)[1] for a in cmd if isinstance(a, str) and ":" in a}
        result = self.command(cmd, args)
        return 200, {"id": req["id"], "method": "slim.request", "params": req["params"], "result": result}

    def command(self, cmd, args):
        if cmd[0] == "albums":
            start, n = int(cmd[1]), int(cmd[2])
            items = sorted(self.albums.items(), key=lambda kv: kv[1]["created"], reverse=args.get("sort") == "new")
            loop = [{"id": aid, "album": a["name"], "artist": a["artist"], "year": 2020, "added_time": a["epoch"]}
                    for aid, a in items][start : start + n]
            return {"albums_loop": loop, "count": len(items)}
        if cmd[0] == "titles":
            a = self.albums[args["album_id"]]
            loop = [{"id": t["id"], "title": t["title"], "artist": a["artist"], "album": a["name"],
                     "album_id": args["album_id"], "duration": t["seconds"], "tracknum": n, "type": "flc"}
                    for n, t in enumerate(a["tracks"], 1)]
            return {"titles_loop": loop, "count": len(loop)}
        if cmd[0] == "playlists" and cmd[1:2] == ["new"]:
            pid = str(next(self._ids))
            self.playlists[pid] = {"name": args["name"], "tracks": []}
            return {"playlist_id": pid}
        if cmd[0] == "playlists" and cmd[1:2] == ["edit"]:
            self.playlists[args["playlist_id"]]["tracks"].append(args["url"].split("=", 1)[1])
            return {}
        if cmd[0] == "playlists" and cmd[1:2] == ["delete"]:
            self.playlists.pop(args["playlist_id"], None)
            return {}
        if cmd[0] == "playlists":
            return {"playlists_loop": [{"id": pid, "playlist": p["name"]} for pid, p in self.playlists.items()]}
        return {}
