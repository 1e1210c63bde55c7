"""Contract fake of the Plex Media Server endpoints ``plexapi`` 4.18 calls for AudioMuse: real HTTP
on 127.0.0.1 answering the XML a real server sends, with every request logged in ``requests``.

Where each shape comes from (the attribute names are the ones plexapi's ``_loadData`` methods read,
so a missing or misspelt attribute shows up as a wrong value in the provider; plexapi's own tests run
against a real bootstrapped server, and what they assert of it is followed here: tests/test_audio.py
``test_audio_Track_attrs`` - ``originalTitle`` absent when it equals the album artist, integer
``ratingKey``/``parentRatingKey``, ``Media``/``Part`` with ``container``, ``file`` and a
``/library/parts/`` key; tests/test_playlist.py - playlist items come back in the order added):

* ``GET /`` - the server identity ``PlexServer()`` loads first (plexapi/server.py
  ``PlexServer._loadData``: ``machineIdentifier``, ``friendlyName``, ``myPlexUsername``, ``version``);
* ``GET /library``, ``GET /library/sections`` - ``Directory`` elements with ``key``, ``type``
  (``artist`` for music), ``title`` (plexapi/library.py ``Library._loadSections``,
  ``LibrarySection._loadData``; Plex API "Get Libraries");
* ``GET /library/sections/{id}/all?includeMeta=1...`` and ``.../collections?includeMeta=1...`` -
  the ``Meta``/``Type``/``Sort`` block plexapi reads to validate a sort field
  (library.py ``_loadFilters``, ``FilteringType``, ``FilteringSort``);
* ``GET /library/sections/{id}/all?type=9&sort=album.addedAt:desc`` - album ``Directory`` elements
  (audio.py ``Album._loadData``: ``ratingKey``, ``title``, ``parentTitle``, ``year``, ``addedAt``
  in epoch seconds), paged by the ``X-Plex-Container-Start``/``-Size`` headers plexapi sends,
  answered with ``size``, ``totalSize`` and ``offset`` (base.py ``fetchItems``);
* ``GET /library/metadata/{id}/children`` and ``GET /library/metadata/{id,id,...}`` - ``Track``
  elements with ``Media``/``Part`` children (audio.py ``Track._loadData``, media.py ``Media``,
  ``MediaPart``: ``Part key="/library/parts/{id}/{ts}/file.flac"``, ``file``, ``container``;
  ``duration`` in milliseconds);
* ``GET /library/parts/...?download=1`` - the file's bytes (base.py ``Playable.download``);
* ``GET /playlists?playlistType=audio``, ``POST /playlists?uri=server://{machine}/com.plexapp.plugins.
  library/library/metadata/{ids}&type=audio&title=&smart=0``, ``GET /playlists/{id}``,
  ``GET /playlists/{id}/items`` (entries carry ``playlistItemID``), ``PUT /playlists/{id}/items?uri=``,
  ``DELETE /playlists/{id}/items`` (Plex API "Clearing a playlist"), ``DELETE /playlists/{id}``
  (playlist.py ``Playlist._create``, ``addItems``, ``delete``; server.py ``playlists``);
* ``GET /status/sessions/history/all?sort=viewedAt:desc&accountID=&librarySectionID=`` - one
  ``Track`` per play with ``historyKey``, ``viewedAt``, ``accountID`` (server.py ``history``,
  base.py ``PlexHistory``); ``GET /accounts`` - ``Account`` elements (server.py ``SystemAccount``).

Authentication as on a real server: the ``X-Plex-Token`` header (or query parameter); anything
else is 401 with the small HTML page Plex answers. Each token is one account: playlists belong to
the account that created them and another account neither lists nor opens them (404).
``login_page = True`` makes every answer a reverse proxy's HTML login page (200, text/html).
"""

from __future__ import annotations

import itertools
import re
from urllib.parse import unquote
from xml.etree.ElementTree import Element, SubElement, tostring

from tests.audiomuse.providers.fakes.base import FakeServer, one

MACHINE = "4f3e2d1c0b9a8f7e6d5c4b3a29181706f5e4d3c2"
SECTION_ID = "3"
UNAUTHORIZED = b"<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"
LOGIN_PAGE = (b"<!DOCTYPE html><html><head><title>Sign in</title></head>"
              b"<body><form action='/login'></form></body></html>")
XML = "text/xml;charset=utf-8"


def rating_keys(albums: dict[str, dict]) -> dict[str, str]:
    """Sample ids -> Plex ratingKeys (integers, as on a real server): album ``alN`` -> ``N0``,
    its track ``i`` -> ``N0 + i``."""
    keys = {}
    for n, (aid, album) in enumerate(albums.items(), 1):
        keys[aid] = str(10 * n)
        for i, track in enumerate(album["tracks"], 1):
            keys[track["id"]] = str(10 * n + i)
    return keys


class PlexFake(FakeServer):
    def __init__(self, token: str, albums: dict[str, dict], *, user: str = "alice",
                 other_tokens: dict[str, str] | None = None, sections: list[tuple[str, str]] | None = None):
        """``token`` is the owner's (account 1, ``user``); ``other_tokens`` maps more account names
        (managed users, accounts 2...) to their tokens. ``sections`` are (title, type) pairs; the
        first music section gets id :data:`SECTION_ID` (the one with albums), the others 40, 41..."""
        super().__init__()
        self.httpd.RequestHandlerClass.do_PUT = lambda handler: handler._serve("PUT")  # addItems is a PUT
        self.albums, self.user = albums, user
        self.accounts = {1: user, **{n: name for n, name in enumerate(other_tokens or {}, 2)}}
        self.tokens = {token: 1, **{t: n for n, t in enumerate((other_tokens or {}).values(), 2)}}
        self.sections = sections or [("Movies", "movie"), ("Music", "artist")]
        self.key_of = rating_keys(albums)
        self.tracks = {self.key_of[t["id"]]: (aid, a, n, t) for aid, a in albums.items()
                       for n, t in enumerate(a["tracks"], 1)}
        self.playlists: dict[str, dict] = {}  # ratingKey -> {"title", "account", "items": [(itemID, key)]}
        self.plays: list[tuple[int, str, int]] = self._plays()  # (account, track key, viewedAt)
        self._ids = itertools.count(900)
        self.login_page = False

    def _plays(self):
        """The sample's play counts as single plays of the owner (the last one at ``last``); one play
        of the newest album's second track by the second account."""
        plays = [(1, self.key_of[t["id"]], t["last"] - 3600 * k) for *_, t in self.tracks.values()
                 for k in range(t["plays"])]
        if len(self.accounts) > 1:
            plays.append((2, next(reversed(self.tracks)), 1_781_000_000))
        return sorted(plays, key=lambda p: -p[2])

    # XML ----------------------------------------------------------------------------------------
    @staticmethod
    def _xml(children=(), **attrs) -> tuple[int, bytes, str]:
        root = Element("MediaContainer", {k: str(v) for k, v in attrs.items()})
        root.extend(children)
        return 200, b'<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(root), XML

    def _paged(self, elements: list, headers, **attrs):
        start = int(headers.get("X-Plex-Container-Start") or 0)
        size = int(headers.get("X-Plex-Container-Size") or 10**9)
        page = elements[start : start + size]
        return self._xml(page, size=len(page), totalSize=len(elements), offset=start, **attrs)

    def _album(self, aid: str, a: dict) -> Element:
        key = self.key_of[aid]
        return Element("Directory", {
            "ratingKey": key, "key": f"/library/metadata/{key}/children", "type": "album", "title": a["name"],
            "parentTitle": a["artist"], "parentRatingKey": str(int(key) // 10), "year": str(a["year"]),
            "addedAt": str(a["epoch"]), "librarySectionID": SECTION_ID, "leafCount": str(len(a["tracks"]))})

    def _track(self, key: str) -> Element:
        aid, a, n, t = self.tracks[key]
        element = Element("Track", {
            "ratingKey": key, "key": f"/library/metadata/{key}", "type": "track", "title": t["title"],
            "grandparentTitle": a["artist"], "parentTitle": a["name"], "parentRatingKey": self.key_of[aid],
            "index": str(n), "parentIndex": "1", "duration": str(int(t["seconds"] * 1000)),
            "librarySectionID": SECTION_ID, "addedAt": str(a["epoch"])})
        if t["artist"] != a["artist"]:
            element.set("originalTitle", t["artist"])
        media = SubElement(element, "Media", {"id": key, "duration": element.get("duration"),
                                              "audioCodec": t["suffix"], "container": t["suffix"]})
        SubElement(media, "Part", {"id": key, "key": f"/library/parts/{key}/1780000000/file.{t['suffix']}",
                                   "file": f"/music/{a['artist']}/{a['name']}/{n:02d} {t['title']}.{t['suffix']}",
                                   "size": str(len(t["bytes"])), "container": t["suffix"]})
        return element

    def _playlist(self, key: str) -> Element:
        p = self.playlists[key]
        return Element("Playlist", {"ratingKey": key, "key": f"/playlists/{key}/items", "type": "playlist",
                                    "title": p["title"], "playlistType": "audio", "smart": "0",
                                    "leafCount": str(len(p["items"])), "guid": f"com.plexapp.agents.none://{key}"})

    def _meta(self) -> Element:
        meta = Element("Meta")
        kind = SubElement(meta, "Type", {"key": f"/library/sections/{SECTION_ID}/albums", "type": "album",
                                         "title": "Albums", "active": "0"})
        for sort in ("addedAt", "titleSort", "year"):
            SubElement(kind, "Sort", {"key": sort, "title": sort, "defaultDirection": "desc",
                                      "descKey": f"{sort}:desc"})
        return meta

    # Routes -------------------------------------------------------------------------------------
    def handle(self, method, path, q, headers, body):
        if self.login_page:
            return 200, LOGIN_PAGE, "text/html; charset=utf-8"
        account = self.tokens.get(headers.get("X-Plex-Token") or one(q, "X-Plex-Token") or "")
        if account is None:
            return 401, UNAUTHORIZED, "text/html"
        for route in (self._server_routes, self._library_routes, self._playlist_routes):
            answer = route(account, method, path, q, headers)
            if answer is not None:
                return answer
        return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html"

    def _server_routes(self, account, method, path, q, headers):
        if path == "/" and method == "GET":
            return self._xml(friendlyName="fake-plex", machineIdentifier=MACHINE, myPlexUsername=self.user,
                             version="1.41.3.9314-a0bfb8370", platform="Linux", multiuser="1", myPlex="1")
        if path == "/accounts":
            return self._xml([Element("Account", {"id": str(n), "key": f"/accounts/{n}", "name": name})
                              for n, name in self.accounts.items()])
        if path == "/status/sessions/history/all":
            wanted = one(q, "accountID")
            plays = [p for p in self.plays if (account == 1 or p[0] == account)
                     and (wanted is None or str(p[0]) == wanted)]
            items = []
            for n, (who, key, at) in enumerate(plays, 1):
                item = self._track(key)
                item.attrib.update({"historyKey": f"/status/sessions/history/{n}", "viewedAt": str(at),
                                    "accountID": str(who), "deviceID": "1"})
                items.append(item)
            return self._paged(items, headers)
        return None

    def _library_routes(self, account, method, path, q, headers):
        if path == "/library":
            return self._xml(identifier="com.plexapp.plugins.library", title1="Plex Library")
        if path.rstrip("/") == "/library/sections":
            music = next((n for n, (_t, kind) in enumerate(self.sections) if kind == "artist"), None)
            return self._xml([Element("Directory", {"key": SECTION_ID if n == music else str(40 + n), "type": kind,
                                                    "title": title, "agent": "tv.plex.agents.music"})
                              for n, (title, kind) in enumerate(self.sections)])
        m = re.fullmatch(rf"/library/sections/{SECTION_ID}/(all|collections)", path)
        if m and one(q, "includeMeta") == "1":
            return self._xml([self._meta()] if m.group(1) == "all" else [], size=0)
        if m and m.group(1) == "all" and one(q, "type") == "9":
            newest_first = one(q, "sort", "").endswith(":desc")
            albums = sorted(self.albums.items(), key=lambda x: x[1]["epoch"], reverse=newest_first)
            return self._paged([self._album(aid, a) for aid, a in albums], headers, librarySectionID=SECTION_ID)
        m = re.fullmatch(r"/library/metadata/(\d+)/children", path)
        if m:
            return self._paged([self._track(k) for k, (aid, *_) in self.tracks.items()
                                if self.key_of[aid] == m.group(1)], headers)
        m = re.fullmatch(r"/library/metadata/([\d,]+)", path)
        if m:
            return self._paged([self._track(k) for k in m.group(1).split(",") if k in self.tracks], headers)
        m = re.fullmatch(r"/library/parts/(\d+)/\d+/file\.\w+", path)
        if m and m.group(1) in self.tracks and one(q, "download") == "1":
            return 200, self.tracks[m.group(1)][3]["bytes"], "audio/flac"
        return None

    def _playlist_routes(self, account, method, path, q, headers):
        mine = {k: p for k, p in self.playlists.items() if p["account"] == account}
        if path == "/playlists" and method == "GET":
            return self._paged([self._playlist(k) for k in mine if one(q, "playlistType") in (None, "audio")], headers)
        if path == "/playlists" and method == "POST":
            keys = self._uri_keys(one(q, "uri"))
            if not keys or one(q, "type") != "audio" or not one(q, "title") or one(q, "smart") != "0":
                return 400, b"<html><body><h1>400 Bad Request</h1></body></html>", "text/html"
            key = str(next(self._ids))
            self.playlists[key] = {"title": one(q, "title"), "account": account, "items": []}
            self._append(key, keys)
            return self._xml([self._playlist(key)], size=1)
        m = re.fullmatch(r"/playlists/(\d+)(/items)?", path)
        if not m:
            return None
        key = m.group(1)
        if key not in mine:
            return 404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html"
        if not m.group(2):
            if method == "DELETE":
                del self.playlists[key]
                return 200, b"", XML
            return self._xml([self._playlist(key)], size=1)
        if method == "GET":
            items = []
            for item_id, track in self.playlists[key]["items"]:
                element = self._track(track)
                element.set("playlistItemID", str(item_id))
                items.append(element)
            return self._paged(items, headers, ratingKey=key, title=self.playlists[key]["title"])
        if method == "DELETE":
            self.playlists[key]["items"] = []
            return self._xml([self._playlist(key)], size=1)
        if method == "PUT":
            added = self._append(key, self._uri_keys(one(q, "uri")))
            return self._xml([self._playlist(key)], size=1, leafCountAdded=added)
        return None

    def _uri_keys(self, uri: str | None) -> list[str]:
        prefix = f"server://{MACHINE}/com.plexapp.plugins.library/library/metadata/"
        uri = unquote(uri or "")
        return [k for k in uri[len(prefix):].split(",") if k in self.tracks] if uri.startswith(prefix) else []

    def _append(self, key: str, tracks: list[str]) -> int:
        self.playlists[key]["items"] += [(next(self._ids), t) for t in tracks]
        return len(tracks)

    # For tests -----------------------------------------------------------------------------------
    def playlist_tracks(self, name: str) -> list[str]:
        """The track ratingKeys of playlist ``name`` as stored (whoever owns it)."""
        p = next(p for p in self.playlists.values() if p["title"] == name)
        return [t for _, t in p["items"]]
