"""The per-owner playlist checks that Jellyfin and Emby (one MediaBrowser lineage) share."""

from __future__ import annotations

import pytest

from audiomuse.providers.base import ProviderError


def check_playlists_per_owner_stay_apart(fake, provider, user_id: str, other_id: str) -> None:
    """``provider`` logs in as alice (``user_id``); bob is ``other_id`` on ``fake``. An owner's
    playlist is created with that user's UserId, listed, read and replaced as that user; alice may
    not read bob's; delete-by-suffix as one user leaves the other's; an unknown owner is refused."""
    p = provider
    mine = p.create_or_replace_playlist("Mix_recipe", ["a1", "b2"])
    bobs = p.create_or_replace_playlist("Mix_recipe", ["c1", "a3", "b1"], owner="bob")
    assert mine.id != bobs.id
    assert fake.playlists[bobs.id]["UserId"] == other_id and fake.playlists[mine.id]["UserId"] == user_id
    assert [pl.id for pl in p.list_playlists()] == [mine.id]
    assert [pl.id for pl in p.list_playlists(owner="bob")] == [bobs.id]
    assert p.playlist_tracks(bobs.id, owner="bob") == ["c1", "a3", "b1"]
    with pytest.raises(ProviderError, match="not allowed"):
        p.playlist_tracks(bobs.id)
    assert p.create_or_replace_playlist("Mix_recipe", ["b1"], owner="alice").id == mine.id
    assert p.playlist_tracks(mine.id) == ["b1"] and p.playlist_tracks(bobs.id, owner="bob") == ["c1", "a3", "b1"]
    assert p.delete_playlists_by_suffix("_recipe", owner="alice") == ["Mix_recipe"]
    assert list(fake.playlists) == [bobs.id]
    with pytest.raises(ProviderError, match="no user named 'carol'"):
        p.create_or_replace_playlist("Mix_recipe", ["a1"], owner="carol")
    assert list(fake.playlists) == [bobs.id]
