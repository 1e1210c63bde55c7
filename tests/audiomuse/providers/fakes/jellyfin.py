"""Contract fake of the Jellyfin API parts AudioMuse uses (shapes from Jellyfin's API docs).

Checks the ``Authorization: MediaBrowser ... Token="..."`` header on every request (401 otherwise),
keeps playlists in memory, serves track bytes at ``/Items/{id}/Download``.
"""

from __future__ import annotations

import itertools
import json
import re

from tests.audiomuse.providers.fakes.base import FakeServer

USER_ID = "u-0001"


class JellyfinFake(FakeServer):
    def __init__(self, token: str, albums: dict[str, dict]):
        """``albums``: album id -> {"name", "artist", "created", "tracks": [{id, title, seconds, bytes, plays, last}]}"""
        super().__init__()
        self.token = token
        self.albums = albums
        self.playlists: dict[str, dict] = {}
        self._ids = itertools.count(1)

    def _tracks(self):
        for aid, a in self.albums.items():
            for n, t in enumerate(a["tracks"], 1):
                yield aid, a, n, t

    def _item(self, aid, a, n, t):
        return {"Id": t["id"], "Name": t["title"], "AlbumId": aid, "Album": a["name"], "Artists": [a["artist"]],
                "AlbumArtist": a["artist"], "RunTimeTicks": int(t["seconds"] * 10_000_000), "IndexNumber": n,
                "Container": "flac", "Type": "Audio",
                "UserData": {"PlayCount": t.get("plays", 0), "LastPlayedDate": t.get("last"), "Played": bool(t.get("plays"))}}

    def handle(self, method, path, q, headers, body):
        auth = headers.get("Authorization", "")
        m = re.search(r'Token="([^"]*)"', auth)
        if not auth.startswith("MediaBrowser") or not m or m.group(1) != self.token:
            return 401, {"error": "Unauthorized"}
        one = lambda k, d=None: q.get(k, [d])[0]  # noqa: E731
        if path == "/Users":
            return 200, [{"Id": USER_ID, "Name": "alice"}]
        if path == f"/Users/{USER_ID}/Items":
            kind = one("IncludeItemTypes")
            if kind == "MusicAlbum":
                items = [{"Id": aid, "Name": a["name"], "AlbumArtist": a["artist"], "DateCreated": a["created"],
                          "ProductionYear": 2020, "Type": "MusicAlbum"} for aid, a in self.albums.items()]
                items.sort(key=lambda i: i["DateCreated"], reverse=one("SortOrder") == "Descending")
                start, limit = int(one("StartIndex", 0)), int(one("Limit", 10**9))
                return 200, {"Items": items[start : start + limit], "TotalRecordCount": len(items)}
            if kind == "Audio" and one("ParentId"):
                items = [self._item(*x) for x in self._tracks() if x[0] == one("ParentId")]
                return 200, {"Items": items, "TotalRecordCount": len(items)}
            if kind == "Audio" and one("SortBy") == "PlayCount":
                items = sorted((self._item(*x) for x in self._tracks()), key=lambda i: -i["UserData"]["PlayCount"])
                if one("Filters") == "IsPlayed":
                    items = [i for i in items if i["UserData"]["Played"]]
                return 200, {"Items": items[: int(one("Limit", 10**9))]}
            if kind == "Playlist":
                return 200, {"Items": [{"Id": pid, "Name": p["Name"], "Type": "Playlist"} for pid, p in self.playlists.items()]}
        m = re.fullmatch(r"/Items/([^/]+)/Download", path)
        if m and method == "GET":
            t = next((t for *_, t in self._tracks() if t["id"] == m.group(1)), None)
            return (200, t["bytes"]) if t else (404, {})
        if path == "/Playlists" and method == "POST":
            data = json.loads(body)
            pid = f"pl-{next(self._ids)}"
            self.playlists[pid] = {"Name": data["Name"], "Items": [(f"e{next(self._ids)}", i) for i in data.get("Ids", [])]}
            return 200, {"Id": pid}
        m = re.fullmatch(r"/Playlists/([^/]+)/Items", path)
        if m and m.group(1) in self.playlists:
            pl = self.playlists[m.group(1)]
            if method == "GET":
                return 200, {"Items": [{"Id": i, "PlaylistItemId": e} for e, i in pl["Items"]]}
            if method == "DELETE":
                gone = set(one("EntryIds", "").split(","))
                pl["Items"] = [(e, i) for e, i in pl["Items"] if e not in gone]
                return 204, b""
            if method == "POST":
                pl["Items"] += [(f"e{next(self._ids)}", i) for i in one("Ids", "").split(",") if i]
                return 204, b""
        m = re.fullmatch(r"/Items/([^/]+)", path)
        if m and method == "DELETE" and m.group(1) in self.playlists:
            del self.playlists[m.group(1)]
            return 204, b""
        return 404, {"error": f"no route {method} {path}"}
