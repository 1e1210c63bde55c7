"""A media server with nothing in it, for tests whose stand-in overrides only what it needs."""

from __future__ import annotations

from audiomuse.providers.base import MediaProvider


class EmptyProvider(MediaProvider):
    """No albums, playlists or history; what would change the server raises."""

    kind = "fake"

    def newest_albums(self, limit=0):
        return []

    def album_tracks(self, album_id):
        return []

    def download(self, track, dest_dir):
        raise NotImplementedError

    def list_playlists(self, owner=None):
        return []

    def create_or_replace_playlist(self, name, track_ids, owner=None):
        raise NotImplementedError

    def playlist_tracks(self, playlist_id, owner=None):
        raise NotImplementedError

    def delete_playlist(self, playlist_id, owner=None):
        raise NotImplementedError

    def top_played(self, limit=100, user=None):
        return []
