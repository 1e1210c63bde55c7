"""Contract fake of the Emby REST API parts AudioMuse uses, from Emby's own documentation
(dev.emby.media REST API reference and the MediaBrowser/Emby developer wiki: "User Authentication",
"API Key Authentication", "Playlists", "Browsing the Library").

* the API answers under ``/emby/...`` and, as most installs do, at the root too;
* every request but the login needs a known token in ``X-Emby-Token`` (or the ``api_key`` query
  parameter, or ``Token="..."`` inside ``X-Emby-Authorization``): 401 ``Access token is invalid or
  expired.`` otherwise;
* ``POST /Users/AuthenticateByName`` needs ``X-Emby-Authorization`` (or ``Authorization``) of the form
  ``Emby Client="...", Device="...", DeviceId="...", Version="..."`` and a JSON ``{"Username", "Pw"}``;
  it answers ``{"User": {"Id", "Name"}, "AccessToken", "SessionInfo", "ServerId"}``, 401 on wrong
  credentials;
* ``GET /Users/Query`` answers the users (the configured one and "bob") as a QueryResult
  (``Items``, ``TotalRecordCount``), to administrators only: API keys are, a login session is not
  unless ``login_is_admin``; 403 otherwise. ``legacy_users = True`` plays an older server: a plain
  ``GET /Users`` list, and 404 for ``/Users/Query``. There is no ``/Users/Me`` (Jellyfin added
  that): 404;
* ``GET /Users/{id}/Items`` with ``IncludeItemTypes`` MusicAlbum (``SortBy=DateCreated``), Audio with a
  ``ParentId``, Audio sorted by ``PlayCount``/``DatePlayed`` with ``Filters=IsPlayed`` (``UserData``:
  ``PlayCount``, ``LastPlayedDate``, ``Played``), Playlist (the user's own only); paged with
  ``StartIndex``/``Limit``;
* ``GET /Items/{id}/Download`` answers the file (403 when downloads are not allowed to the user);
  ``GET /Audio/{id}/stream?static=true`` answers it too (403 when playback is not allowed); without
  ``static=true`` it would transcode: 400 here, the fake does not transcode;
* ``POST /Playlists`` reads ``Name``, ``Ids``, ``UserId`` and ``MediaType`` from the QUERY string
  (a JSON body is not read: without a query ``Name`` it is a 400); ``Ids`` or ``MediaType`` is
  required; it answers ``{"Id", "Name", "ItemAddedCount"}``;
* ``GET /Playlists/{id}/Items?UserId=`` answers the entries in order, each item with its
  ``PlaylistItemId`` (an entry id, numbered apart from the item ids); 404 for an unknown playlist,
  403 when ``UserId`` is not its owner's; ``POST /Playlists/{id}/Items?Ids=&UserId=`` appends;
  ``DELETE /Playlists/{id}/Items?EntryIds=`` removes the entries with those PlaylistItemIds: an item
  id given as an entry id matches no entry and removes nothing, as on the real server;
* ``DELETE /Items/{id}`` deletes a playlist (404 unknown).

Item, user and date shapes follow Emby's ``BaseItemDto``/``UserDto``: 32-hex user ids, numeric
playlist and entry ids, .NET dates with seven fractional digits. Query names match
case-insensitively. ``proxy_login_page = True`` makes every answer a reverse proxy's HTML login page.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from datetime import datetime, timezone

from tests.audiomuse.providers.fakes.base import FakeServer, one

USER_ID = "e8837bc1ad67520e8cd2f629e3155721"
OTHER_ID = "3f1e2d4c5b6a40798897a6b5c4d3e2f1"
LOGIN_PAGE = b"<!doctype html><html><body><form action='/login'>Sign in</form></body></html>"
_CLIENT_FIELDS = ("Client=", "Device=", "DeviceId=", "Version=")


def _net_date(epoch) -> str | None:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000Z") if epoch else None


class EmbyFake(FakeServer):
    def __init__(self, token: str, albums: dict[str, dict], *, user: str = "alice", password: str = ""):
        super().__init__()
        self.tokens = {token} if token else set()
        self.admin_tokens = set(self.tokens)  # API keys act as an administrator
        self.login_is_admin = False
        self.legacy_users = False
        self.albums = albums
        self.user, self.password = user, password
        self.users = {USER_ID: user, OTHER_ID: "bob"}
        self.playlists: dict[str, dict] = {}
        self.downloads_allowed = True
        self.playback_allowed = True
        self.proxy_login_page = False
        self._ids = itertools.count(4001)

    # Library shapes -------------------------------------------------------------------------------
    def _tracks(self):
        for aid, a in self.albums.items():
            for n, t in enumerate(a["tracks"], 1):
                yield aid, a, n, t

    def _item(self, aid, a, n, t, user_id=USER_ID):
        plays = t["plays"] if user_id == USER_ID else 0  # bob has listened to nothing
        return {"Id": t["id"], "Name": t["title"], "Type": "Audio", "MediaType": "Audio", "AlbumId": aid,
                "Album": a["name"], "Artists": [t["artist"]], "ArtistItems": [{"Name": t["artist"]}],
                "AlbumArtist": a["artist"], "RunTimeTicks": int(t["seconds"] * 10_000_000), "IndexNumber": n,
                "ParentIndexNumber": 1, "Container": "flac",
                "Path": f"/mnt/music/{a['artist']}/{a['name']}/{n:02d} {t['title']}.{t['suffix']}",
                "UserData": {"PlayCount": plays, "Played": bool(plays), "IsFavorite": False,
                             "PlaybackPositionTicks": 0, **({"LastPlayedDate": _net_date(t["last"])} if plays else {})}}

    def _album(self, aid, a):
        return {"Id": aid, "Name": a["name"], "Type": "MusicAlbum", "AlbumArtist": a["artist"],
                "AlbumArtists": [{"Name": a["artist"]}], "DateCreated": _net_date(a["epoch"]),
                "ProductionYear": a["year"]}

    @staticmethod
    def _page(items, q):
        start, limit = int(one(q, "StartIndex", 0)), int(one(q, "Limit", 10**9))
        return {"Items": items[start : start + limit], "TotalRecordCount": len(items)}

    # Requests -----------------------------------------------------------------------------------
    def handle(self, method, path, q, headers, body):
        if self.proxy_login_page:
            return 200, LOGIN_PAGE, "text/html; charset=utf-8"
        path = path[len("/emby"):] if path.lower().startswith("/emby/") else path
        if path == "/Users/AuthenticateByName" and method == "POST":
            return self._login(headers, body)
        if self._token(headers, q) not in self.tokens:
            return 401, b"Access token is invalid or expired.", "text/plain"
        if path in ("/Users", "/Users/Query") and method == "GET":
            return self._user_list(path, self._token(headers, q) in self.admin_tokens)
        m = re.fullmatch(r"/Users/([0-9a-f]{32})/Items", path)
        if m and method == "GET":
            return self._user_items(m.group(1), q)
        m = re.fullmatch(r"/Items/([^/]+)/Download", path)
        if m and method == "GET":
            return self._download(m.group(1), self.downloads_allowed)
        m = re.fullmatch(r"/Audio/([^/]+)/stream", path)
        if m and method == "GET":
            if (one(q, "static") or "").lower() != "true":
                return 400, b"transcoding is not part of this fake", "text/plain"
            return self._download(m.group(1), self.playback_allowed)
        if path == "/Playlists" and method == "POST":
            return self._create(q)
        m = re.fullmatch(r"/Playlists/([^/]+)/Items", path)
        if m:
            return self._playlist_items(method, m.group(1), q)
        m = re.fullmatch(r"/Items/([^/]+)", path)
        if m and method == "DELETE":
            if self.playlists.pop(m.group(1), None) is None:
                return 404, b"Item not found", "text/plain"
            return 204, b""
        return 404, b"Not found", "text/plain"

    @staticmethod
    def _token(headers, q) -> str | None:
        if headers.get("X-Emby-Token"):
            return headers["X-Emby-Token"]
        if one(q, "api_key"):
            return one(q, "api_key")
        m = re.search(r'Token="([^"]*)"', headers.get("X-Emby-Authorization") or headers.get("Authorization") or "")
        return m.group(1) if m else None

    def _login(self, headers, body):
        auth = headers.get("X-Emby-Authorization") or headers.get("Authorization") or ""
        if not re.match(r"(Emby|MediaBrowser) ", auth) or not all(f in auth for f in _CLIENT_FIELDS):
            return 400, b"Client, Device, DeviceId and Version are required", "text/plain"
        data = json.loads(body or b"{}")
        if data.get("Username") != self.user or not self.password or data.get("Pw") != self.password:
            return 401, b"Invalid username or password entered.", "text/plain"
        token = secrets.token_hex(16)
        self.tokens.add(token)
        if self.login_is_admin:
            self.admin_tokens.add(token)
        return 200, {"User": {"Id": USER_ID, "Name": self.user}, "AccessToken": token,
                     "SessionInfo": {"UserId": USER_ID, "Client": "AudioMuse"}, "ServerId": "fake-emby"}

    def _user_list(self, path, admin: bool):
        if (path == "/Users") != self.legacy_users:
            return 404, b"Not found", "text/plain"
        if not admin:
            return 403, b"Access denied", "text/plain"
        users = [{"Id": uid, "Name": name, "HasPassword": True} for uid, name in self.users.items()]
        return 200, users if self.legacy_users else {"Items": users, "TotalRecordCount": len(users)}

    def _user_items(self, user_id, q):
        if user_id not in self.users:
            return 404, b"User not found", "text/plain"
        kind, sort = one(q, "IncludeItemTypes"), one(q, "SortBy") or ""
        if kind == "MusicAlbum":
            items = [self._album(aid, a) for aid, a in self.albums.items()]
            items.sort(key=lambda i: i["DateCreated"], reverse=(one(q, "SortOrder") or "").startswith("Descending"))
            return 200, self._page(items, q)
        if kind == "Audio" and one(q, "ParentId"):
            return 200, self._page([self._item(*x, user_id) for x in self._tracks() if x[0] == one(q, "ParentId")], q)
        if kind == "Audio" and sort.split(",")[0] in ("PlayCount", "DatePlayed"):
            items = [self._item(*x, user_id) for x in self._tracks()]
            if "IsPlayed" in (one(q, "Filters") or "").split(","):
                items = [i for i in items if i["UserData"]["Played"]]
            key = "PlayCount" if sort.startswith("PlayCount") else "LastPlayedDate"
            items.sort(key=lambda i: i["UserData"].get(key) or 0, reverse=True)
            return 200, self._page(items, q)
        if kind == "Playlist":
            items = [{"Id": pid, "Name": p["Name"], "Type": "Playlist", "MediaType": p["MediaType"]}
                     for pid, p in self.playlists.items() if p["UserId"] == user_id]
            return 200, self._page(sorted(items, key=lambda i: i["Name"]), q)
        return 400, b"unsupported query", "text/plain"

    def _download(self, item_id, allowed: bool):
        t = next((t for *_, t in self._tracks() if t["id"] == item_id), None)
        if t is None:
            return 404, b"Item not found", "text/plain"
        if not allowed:
            return 403, b"Access denied", "text/plain"
        return 200, t["bytes"]

    def _create(self, q):
        name, user_id, ids = one(q, "Name"), one(q, "UserId"), [i for i in (one(q, "Ids") or "").split(",") if i]
        if not name or user_id not in self.users or not (ids or one(q, "MediaType")):
            return 400, b"Name, UserId and Ids or MediaType are required (query string)", "text/plain"
        pid = str(next(self._ids))
        self.playlists[pid] = {"Name": name, "UserId": user_id, "MediaType": one(q, "MediaType") or "Audio",
                               "Items": [(str(next(self._ids)), i) for i in ids]}
        return 200, {"Id": pid, "Name": name, "ItemAddedCount": len(ids)}

    def _playlist_items(self, method, pid, q):
        pl = self.playlists.get(pid)
        if pl is None:
            return 404, b"Playlist not found", "text/plain"
        if method == "GET":
            if one(q, "UserId") and one(q, "UserId") != pl["UserId"]:
                return 403, b"Access denied", "text/plain"
            items = {x[3]["id"]: self._item(*x) for x in self._tracks()}
            entries = [{**items.get(i, {"Id": i}), "PlaylistItemId": e} for e, i in pl["Items"]]
            return 200, self._page(entries, q)
        if method == "POST":
            pl["Items"] += [(str(next(self._ids)), i) for i in (one(q, "Ids") or "").split(",") if i]
            return 204, b""
        if method == "DELETE":
            gone = set((one(q, "EntryIds") or "").split(","))
            pl["Items"] = [(e, i) for e, i in pl["Items"] if e not in gone]
            return 204, b""
        return 405, b"Method not allowed", "text/plain"

    def playlist_tracks(self, name: str) -> list[str]:
        pl = next(p for p in self.playlists.values() if p["Name"] == name)
        return [i for _, i in pl["Items"]]
