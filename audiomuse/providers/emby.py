"""Emby: catalog, downloads, playlists, play counts over Emby's REST API, spoken directly (the
``embypy`` client is unmaintained). The API it shares with Jellyfin is in
:mod:`audiomuse.providers.mediabrowser`; this module holds what is Emby's own:

* paths live under ``/emby/...`` (dev.emby.media: "The Emby Server API can be reached via
  http[s]://hostname:port/emby/{apipath}"); the prefix is added to ``MEDIA_SERVER_URL`` unless the
  URL already ends with it (most installs also answer without it, a reverse proxy may not);
* every request names the client in ``X-Emby-Authorization: Emby Client=..., Device=...,
  DeviceId=..., Version=...``, and carries the API key or access token in ``X-Emby-Token``;
  without an API key (``MEDIA_SERVER_TOKEN``), ``POST /Users/AuthenticateByName`` with
  ``Username``/``Pw`` answers the ``AccessToken`` and ``User.Id``;
* a playlist is created with query parameters, ``POST /Playlists?Name=&Ids=&UserId=&MediaType=Audio``
  (answering ``{"Id"}``); a long list goes in chunks, the rest added with ``POST /Playlists/{id}/Items``;
* the original file comes from ``GET /Items/{id}/Download``, or, for a user without the download
  permission, from ``GET /Audio/{id}/stream?static=true``;
* an Emby API key belongs to no user (there is no ``/Users/Me``): ``MEDIA_SERVER_USER`` names the
  user whose library, playlists and history are read; names are looked up with ``GET /Users/Query``
  (administrators only: an API key, or an administrator's login), or the plain ``GET /Users`` list
  of older servers that answer the query 404.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from audiomuse.providers.base import ProviderError
from audiomuse.providers.mediabrowser import ID_CHUNK, MediaBrowserProvider

API_PREFIX = "/emby"


class EmbyProvider(MediaBrowserProvider):
    kind = "emby"
    server_name = "Emby"

    @staticmethod
    def _api_url(url: str) -> str:
        url = (url or "").rstrip("/")
        if "://" in url and not urlsplit(url).path.lower().endswith(API_PREFIX):
            return url + API_PREFIX
        return url

    def _download_routes(self, item_id: str) -> list[tuple[str, dict]]:
        """``/Items/{id}/Download`` needs the user's download permission; where it is refused, the
        static stream (the original file, untranscoded) needs only playback permission."""
        return [*super()._download_routes(item_id), (f"/Audio/{item_id}/stream", {"static": "true"})]

    def _users(self) -> list[dict]:
        """``GET /Users/Query`` (a QueryResult, as Emby's current REST reference documents), or the plain
        ``GET /Users`` list of older servers, which answer 404 to the query."""
        try:
            found = self._get("/Users/Query")
        except ProviderError as exc:
            if not str(exc).endswith(": not found"):
                raise
            return super()._users()
        return (found.get("Items") or []) if isinstance(found, dict) else []

    def _apply_auth(self, token: str) -> None:
        headers = self.http.client.headers
        headers["X-Emby-Authorization"] = f"Emby {self._client_fields}"
        if token:
            headers["X-Emby-Token"] = token
        else:
            headers.pop("X-Emby-Token", None)

    def _create_playlist(self, name: str, ids: list[str], user_id: str) -> str:
        """Emby reads the new playlist's fields from the query string, so the first chunk of ids
        travels there and the rest is added afterwards, in order."""
        first, rest = ids[:ID_CHUNK], ids[ID_CHUNK:]
        params = {"Name": name, "UserId": user_id, "MediaType": "Audio"}
        if first:
            params["Ids"] = ",".join(first)
        created = self._json("POST", "/Playlists", params=params)
        if not isinstance(created, dict) or not created.get("Id"):
            raise ProviderError(self.http.label, f"creating playlist '{name}' answered no id")
        self._add_to_playlist(created["Id"], rest, user_id)
        return created["Id"]

    def _unnamed_user(self) -> str:
        raise ProviderError(self.http.label, "set MEDIA_SERVER_USER: an Emby API key belongs to no user")
