"""Media-server providers behind one interface, chosen by ``MEDIA_SERVER_TYPE``."""

from __future__ import annotations

from pathlib import Path

from audiomuse.config import Settings
from audiomuse.providers.base import (
    Album,
    MediaProvider,
    PlayedTrack,
    Playlist,
    ProviderAuthError,
    ProviderError,
    ProviderUnavailable,
    Track,
)

__all__ = [
    "Album", "MediaProvider", "PlayedTrack", "Playlist", "ProviderAuthError", "ProviderError",
    "ProviderUnavailable", "Track", "make_provider",
]


def default_music_dir() -> Path:
    from audiomuse.samples import DEFAULT_CACHE

    return DEFAULT_CACHE / "sample-library-small"


def make_provider(settings: Settings) -> MediaProvider:
    kind = settings.media_server_type
    if kind == "local":
        from audiomuse.providers.local import LocalFolderProvider

        return LocalFolderProvider(settings.music_dir or default_music_dir())
    if not settings.media_server_url:
        raise ProviderError(kind, "MEDIA_SERVER_URL is not set")
    common = dict(url=settings.media_server_url, timeout=settings.http_timeout, retries=settings.http_retries)
    if kind in ("subsonic", "navidrome"):
        from audiomuse.providers.subsonic import SubsonicProvider

        return SubsonicProvider(user=settings.media_server_user or "", password=_secret(settings.media_server_password),
                                **common)
    if kind == "jellyfin":
        from audiomuse.providers.jellyfin import JellyfinProvider

        return JellyfinProvider(user=settings.media_server_user or "", token=_secret(settings.media_server_token),
                                **common)
    if kind == "lyrion":
        from audiomuse.providers.lyrion import LyrionProvider

        return LyrionProvider(**common)
    raise ProviderError(kind, f"unknown media server type {kind!r}")


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""
