"""One refresh of a recipe: its songs made again, the server playlist replaced in place, the last
good version kept when anything fails, and what changed reported."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audiomuse.providers.base import MediaProvider
from audiomuse.recipes.model import RECIPE_SUFFIX, Recipe
from audiomuse.recipes.store import record_failure, record_refresh
from audiomuse.store import Database


@dataclass(frozen=True)
class RefreshReport:
    playlist: str
    provider_id: str
    track_ids: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]


def server_playlist_name(recipe: Recipe) -> str:
    """The server playlist's name: the recipe's, with the suffix that marks AudioMuse's recipes."""
    name = " ".join(recipe.name.split())
    return name if name.endswith(RECIPE_SUFFIX) else name + RECIPE_SUFFIX


def changes(before: Sequence[str], after: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(added, removed) between two versions of a playlist, each in its version's order."""
    old, new = set(before), set(after)
    return tuple(t for t in after if t not in old), tuple(t for t in before if t not in new)


def publish_refresh(db: Database, provider: MediaProvider, recipe: Recipe, track_ids: Sequence[str]) -> RefreshReport:
    """Replace the recipe's server playlist with ``track_ids`` (as its owner) and store the new version.

    The server call comes first: when it fails, the stored version (and the server's playlist, which
    the provider replaces only in one call) stay as they were, and the error is recorded.
    """
    if recipe.id is None:
        raise ValueError("store the recipe before refreshing it")
    name = server_playlist_name(recipe)
    try:
        remote = provider.create_or_replace_playlist(name, list(track_ids), owner=recipe.owner)
    except Exception as exc:
        record_error(db, recipe, exc)
        raise
    with db.connection() as conn:
        record_refresh(conn, recipe.id, track_ids, remote.id)
    added, removed = changes(recipe.track_ids, track_ids)
    return RefreshReport(name, remote.id, tuple(track_ids), added, removed)


def record_error(db: Database, recipe: Recipe, exc: BaseException) -> None:
    """Keep why a refresh failed for the explorer (the message names no secret: providers ensure it)."""
    if recipe.id is not None:
        with db.connection() as conn:
            record_failure(conn, recipe.id, f"{type(exc).__name__}: {exc}")


def refresh_recipe(db: Database, provider: MediaProvider, recipe: Recipe, *, max_per_artist: int) -> RefreshReport:
    """Make the recipe's songs from the current library and publish them (see :func:`publish_refresh`).

    Raises :class:`~audiomuse.recipes.build.RecipeError` when the library cannot make it (nothing is
    published then), or the provider's error when the server refuses.
    """
    from audiomuse.recipes.build import RecipeContext, RecipeError, build_recipe

    try:
        ctx = RecipeContext.load(db, provider, max_per_artist=max_per_artist)
    except LookupError as exc:
        raise RecipeError(recipe, str(exc)) from None
    songs = build_recipe(recipe, ctx)
    return publish_refresh(db, provider, recipe, songs)


def ensure_daily_mixes(db: Database, provider: MediaProvider, users: Sequence[str | None], hour: int) -> list[str]:
    """A daily mix recipe for each of ``users`` that has listening history and none yet; their names."""
    from audiomuse.recipes.build import daily_mix_recipe
    from audiomuse.recipes.store import list_recipes, save_recipe

    with db.connection() as conn:
        have = {r.owner for r in list_recipes(conn) if r.kind == "daily_mix"}
    created = []
    for user in users:
        if user in have or not provider.top_played(1, user=user):
            continue
        with db.connection() as conn:
            created.append(save_recipe(conn, daily_mix_recipe(user, hour)).name)
    return created
