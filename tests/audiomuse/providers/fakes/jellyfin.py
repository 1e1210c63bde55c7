"""Contract fake of the Jellyfin API parts AudioMuse uses (shapes from Jellyfin's OpenAPI document).

* every request but ``POST /Users/AuthenticateByName`` needs ``Authorization: MediaBrowser ...,
  Token="<token>"`` (401 otherwise); the header must also name Client, Device, DeviceId and
  Version, as Jellyfin requires of clients;
* ``POST /Users/AuthenticateByName`` with ``{"Username", "Pw"}`` answers ``{"User": {...},
  "AccessToken"}`` (401 on wrong credentials);
* ``/Users``, ``/Users/Me``, ``/Users/{id}/Items`` (albums, tracks of an album, playlists, play
  counts via ``SortBy=PlayCount``/``Filters=IsPlayed``, all paged with ``StartIndex``/``Limit``),
  ``/Items/{id}/Download``, ``POST /Playlists`` (JSON body ``Name``/``Ids``/``UserId``),
  ``GET|POST|DELETE /Playlists/{id}/Items`` (entries carry a ``PlaylistItemId``), ``DELETE /Items/{id}``;
* ``GET /Playlists/{id}/Items?UserId=&StartIndex=&Limit=`` answers the entries as items (``Id``,
  ``Name``, ..., ``PlaylistItemId``) in playlist order, paged; 404 for an unknown playlist, 403 when
  ``UserId`` is not the playlist's owner (Jellyfin 10.9+ checks the user's access);
* ``/Users`` lists the configured user and "bob"; playlists belong to the ``UserId`` they were
  created with, and ``/Users/{id}/Items?IncludeItemTypes=Playlist`` lists that user's only.

Query parameter names are matched case-insensitively, like ASP.NET does.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from datetime import datetime, timezone

from tests.audiomuse.providers.fakes.base import FakeServer, one

USER_ID = "5d1f3c0a9b8e4f2a8c7d6e5f4a3b2c1d"
OTHER_ID = "0a0b0c0d0e0f40418283848586878889"


def _net_date(epoch) -> str | None:
    """.NET's ISO format with 7 fractional digits."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.1234567Z") if epoch else None


class JellyfinFake(FakeServer):
    def __init__(self, token: str, albums: dict[str, dict], *, user: str = "alice", password: str = ""):
        super().__init__()
        self.tokens = {token} if token else set()
        self.albums = albums
        self.user, self.password = user, password
        self.playlists: dict[str, dict] = {}
        self._ids = itertools.count(1)

    def _tracks(self):
        for aid, a in self.albums.items():
            for n, t in enumerate(a["tracks"], 1):
                yield aid, a, n, t

    def _item(self, aid, a, n, t):
        return {"Id": t["id"], "Name": t["title"], "AlbumId": aid, "Album": a["name"], "Artists": [t["artist"]],
                "AlbumArtist": a["artist"], "RunTimeTicks": int(t["seconds"] * 10_000_000), "IndexNumber": n,
                "ParentIndexNumber": 1, "Container": "flac", "Type": "Audio",
                "Path": f"/music/{a['artist']}/{a['name']}/{n:02d} {t['title']}.{t['suffix']}",
                "UserData": {"PlayCount": t["plays"], "LastPlayedDate": _net_date(t["last"]),
                             "Played": bool(t["plays"])}}

    @staticmethod
    def _page(items, q):
        start, limit = int(one(q, "StartIndex", 0)), int(one(q, "Limit", 10**9))
        return {"Items": items[start : start + limit], "TotalRecordCount": len(items), "StartIndex": start}

    def handle(self, method, path, q, headers, body):
        auth = headers.get("Authorization", "")
        if path == "/Users/AuthenticateByName" and method == "POST":
            if not auth.startswith("MediaBrowser ") or "Client=" not in auth or "DeviceId=" not in auth:
                return 400, {"error": "missing client headers"}
            data = json.loads(body or b"{}")
            if data.get("Username") != self.user or not self.password or data.get("Pw") != self.password:
                return 401, {"error": "Invalid username or password entered."}
            token = secrets.token_hex(16)
            self.tokens.add(token)
            return 200, {"User": {"Id": USER_ID, "Name": self.user}, "AccessToken": token, "ServerId": "fake"}
        m = re.search(r'Token="([^"]*)"', auth)
        if not auth.startswith("MediaBrowser ") or not m or m.group(1) not in self.tokens:
            return 401, b"", "text/plain"
        if path == "/Users":
            return 200, [{"Id": USER_ID, "Name": self.user}, {"Id": OTHER_ID, "Name": "bob"}]
        if path == "/Users/Me":
            return 200, {"Id": USER_ID, "Name": self.user}
        m = re.fullmatch(r"/Users/([0-9a-f]{32})/Items", path)
        if m and method == "GET":
            if m.group(1) not in (USER_ID, OTHER_ID):
                return 404, {"error": "user not found"}
            kind = one(q, "IncludeItemTypes")
            if kind == "MusicAlbum":
                items = [{"Id": aid, "Name": a["name"], "AlbumArtist": a["artist"], "DateCreated": _net_date(a["epoch"]),
                          "ProductionYear": a["year"], "Type": "MusicAlbum"} for aid, a in self.albums.items()]
                items.sort(key=lambda i: i["DateCreated"], reverse=(one(q, "SortOrder") or "").startswith("Descending"))
                return 200, self._page(items, q)
            if kind == "Audio" and one(q, "ParentId"):
                if one(q, "ParentId") not in self.albums:
                    return 200, self._page([], q)
                return 200, self._page([self._item(*x) for x in self._tracks() if x[0] == one(q, "ParentId")], q)
            if kind == "Audio" and (one(q, "SortBy") or "").startswith("PlayCount"):
                items = [self._item(*x) for x in self._tracks()]
                if m.group(1) == OTHER_ID:  # bob has listened to nothing
                    items = [{**i, "UserData": {"PlayCount": 0, "Played": False}} for i in items]
                items.sort(key=lambda i: -i["UserData"]["PlayCount"])
                if one(q, "Filters") == "IsPlayed":
                    items = [i for i in items if i["UserData"]["Played"]]
                return 200, self._page(items, q)
            if kind == "Playlist":
                items = [{"Id": pid, "Name": p["Name"], "Type": "Playlist"} for pid, p in self.playlists.items()
                         if p["UserId"] == m.group(1)]
                return 200, self._page(items, q)
            return 400, {"error": f"unsupported query {q}"}
        m = re.fullmatch(r"/Items/([^/]+)/Download", path)
        if m and method == "GET":
            t = next((t for *_, t in self._tracks() if t["id"] == m.group(1)), None)
            return (200, t["bytes"]) if t else (404, {"error": "item not found"})
        if path == "/Playlists" and method == "POST":
            data = json.loads(body or b"{}")
            if not data.get("Name") or data.get("UserId") not in (USER_ID, OTHER_ID):
                return 400, {"error": "Name and UserId are required"}
            pid = f"{next(self._ids):032x}"
            self.playlists[pid] = {"Name": data["Name"], "UserId": data["UserId"],
                                   "Items": [(f"e{next(self._ids)}", i) for i in data.get("Ids") or []]}
            return 200, {"Id": pid}
        m = re.fullmatch(r"/Playlists/([^/]+)/Items", path)
        if m:
            pl = self.playlists.get(m.group(1))
            if pl is None:
                return 404, {"error": "playlist not found"}
            if method == "GET":
                user_id = one(q, "UserId")
                if user_id and user_id != pl["UserId"]:
                    return 403, {"error": "user may not access this playlist"}
                items = {t["id"]: self._item(*x) for x in self._tracks() for t in [x[3]]}
                entries = [{**items.get(i, {"Id": i}), "PlaylistItemId": e} for e, i in pl["Items"]]
                return 200, self._page(entries, q)
            if method == "DELETE":
                gone = set((one(q, "EntryIds") or "").split(","))
                pl["Items"] = [(e, i) for e, i in pl["Items"] if e not in gone]
                return 204, b""
            if method == "POST":
                pl["Items"] += [(f"e{next(self._ids)}", i) for i in (one(q, "Ids") or "").split(",") if i]
                return 204, b""
        m = re.fullmatch(r"/Items/([^/]+)", path)
        if m and method == "DELETE":
            if m.group(1) not in self.playlists:
                return 404, {"error": "item not found"}
            del self.playlists[m.group(1)]
            return 204, b""
        return 404, {"error": f"no route {method} {path}"}

    def playlist_tracks(self, name: str) -> list[str]:
        pl = next(p for p in self.playlists.values() if p["Name"] == name)
        return [i for _, i in pl["Items"]]
