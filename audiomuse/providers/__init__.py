"""Media-server providers behind one interface, chosen by ``MEDIA_SERVER_TYPE``."""

from __future__ import annotations

from audiomuse.config import Settings, parse_user_passwords
from audiomuse.providers.base import MediaProvider, ProviderAuthError, ProviderError, ProviderUnavailable

__all__ = ["MediaProvider", "ProviderAuthError", "ProviderError", "ProviderUnavailable", "make_provider"]


def make_provider(settings: Settings) -> MediaProvider:
    """The provider ``settings.media_server_type`` names ("navidrome" is the Subsonic API).

    ``local`` reads ``music_dir`` (default: the small sample library). Server kinds need
    ``media_server_url``; Subsonic needs user + password, Jellyfin a token (or user + password),
    Lyrion a user + password only when the server is password protected, MPD (``mpd://host:6600``)
    its password if it has one and ``mpd_music_dir`` to download. Subsonic also takes other
    users' passwords (``media_server_user_passwords``) for playlists published as those users.
    Plex needs the owner's token (``media_server_token``); ``plex_library`` names the music section.
    Emby takes an API key (with the user whose library it reads) or a user + password."""
    kind = settings.media_server_type
    if kind == "local":
        from audiomuse.providers.local import LocalFolderProvider

        return LocalFolderProvider(settings.music_dir or settings.sample_library_small)
    if not settings.media_server_url:
        raise ProviderError(kind, "MEDIA_SERVER_URL is not set")
    common = dict(url=settings.media_server_url, timeout=settings.http_timeout, retries=settings.http_retries)
    user = settings.media_server_user or ""
    password = _secret(settings.media_server_password)
    if kind in ("subsonic", "navidrome"):
        from audiomuse.providers.subsonic import SubsonicProvider

        if not user:
            raise ProviderError(kind, "MEDIA_SERVER_USER is not set")
        try:
            others = parse_user_passwords(settings.media_server_user_passwords)
        except ValueError as exc:
            raise ProviderError(kind, str(exc)) from None
        return SubsonicProvider(user=user, password=password, user_passwords=others, **common)
    if kind == "jellyfin":
        from audiomuse.providers.jellyfin import JellyfinProvider

        return JellyfinProvider(user=user, token=_secret(settings.media_server_token), password=password, **common)
    if kind == "emby":
        from audiomuse.providers.emby import EmbyProvider

        return EmbyProvider(user=user, token=_secret(settings.media_server_token), password=password, **common)
    if kind == "lyrion":
        from audiomuse.providers.lyrion import LyrionProvider

        return LyrionProvider(user=user, password=password, **common)
    if kind == "plex":
        from audiomuse.providers.plex import PlexProvider, parse_user_tokens

        try:
            tokens = parse_user_tokens(settings.plex_user_tokens)
        except ValueError as exc:
            raise ProviderError(kind, str(exc)) from None
        return PlexProvider(user=user, token=_secret(settings.media_server_token), library=settings.plex_library,
                            user_tokens=tokens, **common)
    if kind == "mpd":
        from audiomuse.providers.mpd import MPDProvider

        return MPDProvider(password=password, music_dir=settings.mpd_music_dir, **common)
    raise ProviderError(kind, f"unknown media server type {kind!r}")


def _secret(value) -> str:
    return value.get_secret_value() if value is not None else ""
