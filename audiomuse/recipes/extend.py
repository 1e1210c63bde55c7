"""The ``extend`` recipe: a server playlist, its own songs first, then songs that fit it.

``params["playlist_id"]`` names a playlist on the media server (read as the recipe's owner, where
the server has users). Its songs come first, in their order, exactly as the server holds them (a
song listed twice is kept once). Then up to ``recipe.size`` more: the nearest neighbours of the
centroid of its analysed songs (their embeddings in the similarity index), never one of its songs
or the same song under another id, and at most ``ctx.max_per_artist`` added songs per artist (the
:class:`~audiomuse.playlists.artist_cap.ArtistCap` rule; the playlist's own songs use no quota).
So the playlist grows with the library and follows the user's edits on every refresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from audiomuse.index.similar import similar_by_vector
from audiomuse.playlists.vectors import weighted_centroid
from audiomuse.recipes.model import Recipe, RecipeError

if TYPE_CHECKING:
    from audiomuse.index.voyager_index import SimilarityIndex
    from audiomuse.providers.base import MediaProvider


class ExtendContext(Protocol):
    """What :func:`build_extend` uses of the builders' ``RecipeContext``."""

    index: SimilarityIndex
    metadata: Mapping[str, Mapping[str, Any]]
    provider: MediaProvider
    max_per_artist: int


def build_extend(recipe: Recipe, ctx: ExtendContext) -> list[str]:
    """The playlist's track ids in order, then up to ``recipe.size`` songs nearest its centroid.

    Raises :class:`RecipeError` when the recipe names no playlist or the playlist has no analysed
    song; a playlist the server does not have is the provider's ``ProviderError``."""
    playlist_id = str((recipe.params or {}).get("playlist_id") or "").strip()
    if not playlist_id:
        raise RecipeError(recipe, "an extend recipe needs the server playlist (params.playlist_id)")
    originals = list(dict.fromkeys(ctx.provider.playlist_tracks(playlist_id, owner=recipe.owner)))
    analysed = [tid for tid in originals if tid in ctx.index]
    if not analysed:
        what = "is empty" if not originals else f"has none of its {len(originals)} songs analysed yet"
        raise RecipeError(recipe, f"playlist {playlist_id} {what}: nothing to extend it from")
    centroid = weighted_centroid(np.stack([ctx.index.vector(tid) for tid in analysed]))
    added = similar_by_vector(ctx.index, ctx.metadata, centroid, recipe.size, exclude=originals,
                              max_per_artist=ctx.max_per_artist)
    return originals + [tid for tid, _ in added]
