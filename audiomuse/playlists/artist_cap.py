"""The one rule every tool that returns songs follows: at most N songs per artist, no song twice.

Similar songs, sonic fingerprint, song path, song alchemy, chat playlists and clustering playlists
admit their candidates, best first, through an :class:`ArtistCap`. N is the ``MAX_SONGS_PER_ARTIST``
setting (default :data:`MAX_SONGS_PER_ARTIST`; 0 = no cap), so one artist cannot flood a list.
Artists are compared ignoring case and spacing. Two tracks are the same song when they share an
identity: the canonical track id (duplicates point at their original) or the song key (normalised
artist + title, :func:`audiomuse.text.song_key`), so a remaster on a compilation does not return.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from audiomuse.text import song_key

MAX_SONGS_PER_ARTIST = 3
NO_CAP = 0
_NO_SONG_KEY = "|"  # song_key of an empty artist and title: identifies nothing


def normalised_artist(artist: str | None) -> str:
    """'  The  Cure ' and 'the cure' are one artist for the cap."""
    return " ".join((artist or "").split()).casefold()


def song_identities(track_id: str, key: str | None = None) -> frozenset[str]:
    """The identities of a track: its (canonical) id and, when it says anything, its song key."""
    ids = {"id:" + track_id}
    if key and key != _NO_SONG_KEY:
        ids.add("key:" + key)
    return frozenset(ids)


def track_identities(metadata: Mapping[str, Mapping], track_id: str) -> frozenset[str]:
    """:func:`song_identities` of a track of the index metadata (``canonical`` and ``song_key``)."""
    info = metadata.get(track_id) or {}
    return song_identities(info.get("canonical") or track_id, info.get("song_key"))


def row_identities(item_id: str, artist: str | None, title: str | None) -> frozenset[str]:
    """:func:`song_identities` of a track known by id, artist and title only (a chat result row)."""
    return song_identities(item_id, song_key(artist or "", title or ""))


class ArtistCap:
    """Admits songs one at a time, best first: a song is refused when it is the same song as one
    already admitted (or excluded), or when its artist already has ``per_artist`` songs in.

    ``uncapped_artists`` are exempt from the per-artist limit (not from the same-song rule): a
    request for songs *by* an artist must not stop at ``per_artist`` of them.
    """

    def __init__(self, per_artist: int = MAX_SONGS_PER_ARTIST, *, uncapped_artists: Iterable[str] = ()):
        self.per_artist = per_artist
        self._uncapped = {normalised_artist(a) for a in uncapped_artists}
        self._songs: set[str] = set()
        self._counts: Counter[str] = Counter()

    def admit(self, artist: str | None, identities: Iterable[str]) -> bool:
        """Take the song if the rule allows it; True when taken."""
        identities = frozenset(identities)
        who = normalised_artist(artist)
        if self._songs & identities or self._full(who):
            return False
        self._take(who, identities)
        return True

    def admit_track(self, metadata: Mapping[str, Mapping], track_id: str) -> bool:
        """:meth:`admit` for a track of the index metadata."""
        return self.admit((metadata.get(track_id) or {}).get("artist"), track_identities(metadata, track_id))

    def take_track(self, metadata: Mapping[str, Mapping], track_id: str) -> None:
        """Count a track that is in whatever the rule says (a path's endpoints): it uses its
        artist's quota and its song cannot come back."""
        artist = (metadata.get(track_id) or {}).get("artist")
        self._take(normalised_artist(artist), track_identities(metadata, track_id))

    def exclude(self, identities: Iterable[str]) -> None:
        """Songs that must not come back (the seeds of a search); they use no artist's quota."""
        self._songs.update(identities)

    def _full(self, who: str) -> bool:
        return self.per_artist > 0 and who not in self._uncapped and self._counts[who] >= self.per_artist

    def _take(self, who: str, identities: frozenset[str]) -> None:
        self._songs.update(identities)
        self._counts[who] += 1
