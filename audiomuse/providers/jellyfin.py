"""Jellyfin: catalog, downloads, playlists, play counts (the API it shares with Emby is in
:mod:`audiomuse.providers.mediabrowser`; this module holds what is Jellyfin's own).

Auth is the ``Authorization: MediaBrowser Client=..., Token="..."`` header. Either an API key /
access token is configured (``MEDIA_SERVER_TOKEN``), or a user name and password, exchanged once for
an access token with ``POST /Users/AuthenticateByName``. The user is given by id (32 hex digits,
used as is) or by name (resolved through ``/Users``); with a user token and no user configured,
``/Users/Me`` names it. Playlists are created with ``POST /Playlists`` and a JSON body (``Name``,
``Ids``, ``UserId``, ``MediaType``). Paths are at the server's root (Jellyfin's OpenAPI document).
(An API key may act for any user; a user's own token only for itself.)
"""

from __future__ import annotations

from audiomuse.providers.base import ProviderError
from audiomuse.providers.mediabrowser import _format  # noqa: F401 - part of this module's interface
from audiomuse.providers.mediabrowser import MediaBrowserProvider


class JellyfinProvider(MediaBrowserProvider):
    kind = "jellyfin"
    server_name = "Jellyfin"

    def _apply_auth(self, token: str) -> None:
        fields = f"MediaBrowser {self._client_fields}"
        self.http.client.headers["Authorization"] = f'{fields}, Token="{token}"' if token else fields

    def _create_playlist(self, name: str, ids: list[str], user_id: str) -> str:
        created = self._json("POST", "/Playlists", json={"Name": name, "Ids": ids, "UserId": user_id,
                                                         "MediaType": "Audio"})
        if not created.get("Id"):
            raise ProviderError(self.http.label, f"creating playlist '{name}' answered no id")
        return created["Id"]

    def _unnamed_user(self) -> str:
        me = self._get("/Users/Me")
        if not me.get("Id"):
            raise ProviderError(self.http.label, "set MEDIA_SERVER_USER: an API key belongs to no user")
        return me["Id"]
