"""The one small interface every media server (or a plain folder) implements.

Everything downstream (catalog, analysis, publishing, fingerprint) talks to this interface only, so
a new server is one module plus its tests.
"""

from __future__ import annotations

import abc
import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from audiomuse.media import Album, PlayedTrack, Playlist, Track


class ProviderError(RuntimeError):
    """A media server failed. The message names the server, never a secret."""

    def __init__(self, server: str, message: str):
        super().__init__(f"{server}: {message}")
        self.server = server


class ProviderUnavailable(ProviderError):
    """The server could not be reached (after retries)."""


class ProviderAuthError(ProviderError):
    """The server refused the credentials."""


class MediaProvider(abc.ABC):
    """A music library: a media server or a local folder."""

    #: short kind name, e.g. "local", "subsonic", "jellyfin", "lyrion"
    kind: str = "abstract"

    @abc.abstractmethod
    def newest_albums(self, limit: int = 0) -> list[Album]:
        """Albums, most recently added first; ``limit`` 0 means all."""

    @abc.abstractmethod
    def album_tracks(self, album_id: str) -> list[Track]:
        """The audio tracks of one album."""

    @abc.abstractmethod
    def download(self, track: Track, dest_dir: Path) -> Path:
        """Write the original file of ``track`` into ``dest_dir`` and return its path."""

    # Playlists. ``owner`` is a media-server user name: where the server has users (Jellyfin,
    # Subsonic) the call acts on that user's playlists only, never another user's; ``None`` means
    # the configured user. Servers without users (a local folder, Lyrion) ignore it.
    @abc.abstractmethod
    def list_playlists(self, owner: str | None = None) -> list[Playlist]:
        """Playlists visible to the configured user; with ``owner``, that user's own playlists only."""

    @abc.abstractmethod
    def playlist_tracks(self, playlist_id: str, owner: str | None = None) -> list[str]:
        """The track ids of one playlist, in its order (read as ``owner`` where the server has users).
        A playlist that does not exist is a :class:`ProviderError` naming the server."""

    @abc.abstractmethod
    def create_or_replace_playlist(self, name: str, track_ids: Sequence[str], owner: str | None = None) -> Playlist:
        """Create playlist ``name`` with exactly ``track_ids``; replace its songs if it exists.
        With ``owner``, the playlist is ``owner``'s (created as or for that user)."""

    @abc.abstractmethod
    def delete_playlist(self, playlist_id: str, owner: str | None = None) -> None:
        """Delete one playlist (as ``owner`` where the server has users)."""

    @abc.abstractmethod
    def top_played(self, limit: int = 100, user: str | None = None) -> list[PlayedTrack]:
        """A user's most played tracks with their last-played time, most played first."""

    def delete_playlists_by_suffix(self, suffix: str, keep: Sequence[str] = (),
                                   owner: str | None = None) -> list[str]:
        """Delete every playlist whose name ends with ``suffix`` except names in ``keep``; with
        ``owner``, only among that user's own playlists (another user's are never touched)."""
        deleted = []
        for playlist in self.list_playlists(owner=owner):
            if playlist.name.endswith(suffix) and playlist.name not in keep:
                self.delete_playlist(playlist.id, owner=owner)
                deleted.append(playlist.name)
        return deleted

    @contextlib.contextmanager
    def downloaded(self, track: Track) -> Iterator[Path]:
        """Download ``track`` to a private temp dir that is removed afterwards, whatever happens."""
        tmp = Path(tempfile.mkdtemp(prefix="audiomuse-"))
        try:
            yield self.download(track, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def close(self) -> None:
        """Release connections; safe to call twice."""

    def __enter__(self) -> MediaProvider:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
