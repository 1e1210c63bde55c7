"""What a recipe is: a kind of tool result, its parameters, its owner and its refresh policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

RecipeKind = Literal["similar", "path", "alchemy", "fingerprint", "map_selection", "instant", "extend",
                     "daily_mix"]
RefreshPolicy = Literal["daily", "weekly", "new_music", "manual"]
KINDS: tuple[str, ...] = get_args(RecipeKind)
POLICIES: tuple[str, ...] = get_args(RefreshPolicy)
TIMED: tuple[str, ...] = ("daily", "weekly")  # refreshed by the schedule
RECIPE_SUFFIX = "_recipe"  # the server playlist's name ends with it (daily mixes: "_daily_mix")

# What each kind's ``params`` hold (ids are the catalog's, i.e. the server's own):
#   similar:       {"track_id"}
#   path:          {"start_id", "end_id"}
#   alchemy:       {"add_ids": [...], "subtract_ids": [...], "temperature", "subtract_distance"}
#   fingerprint:   {"user"} (a media-server user with play history; default the recipe's owner)
#   map_selection: {"track_ids": [...]} (the selected songs: their centroid, so it grows with the library)
#   instant:       {"sql", "request"} (the validated SQL, re-run read-only)
#   extend:        {"playlist_id"} (a server playlist: its songs first, then songs that fit it)
#   daily_mix:     {"user", "fresh_share"} (history with recency decay, plus songs not played recently)


class RecipeError(ValueError):
    """A recipe that cannot be built from the current library; the message names the recipe and
    says why, for the user."""

    def __init__(self, recipe: Recipe, reason: str):
        ident = f"#{recipe.id}, " if recipe.id is not None else ""
        super().__init__(f"recipe {recipe.name!r} ({ident}{recipe.kind}): {reason}")
        self.recipe = recipe
        self.reason = reason


@dataclass(frozen=True)
class Recipe:
    """One saved recipe. ``track_ids`` and ``provider_id`` are its last good version."""

    name: str
    kind: RecipeKind
    params: Mapping[str, Any] = field(default_factory=dict)
    owner: str | None = None
    refresh: RefreshPolicy = "manual"
    refresh_hour: int = 6
    size: int = 25
    id: int | None = None
    track_ids: tuple[str, ...] = ()
    provider_id: str | None = None
    refreshed_at: datetime | None = None
    last_error: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"recipe kind must be one of {KINDS}, not {self.kind!r}")
        if self.refresh not in POLICIES:
            raise ValueError(f"refresh must be one of {POLICIES}, not {self.refresh!r}")
        if not 0 <= self.refresh_hour <= 23 or not 1 <= self.size <= 500:
            raise ValueError("refresh_hour must be 0-23 and size 1-500")
        if not self.name.strip():
            raise ValueError("a recipe needs a name")

    @property
    def partition_key(self) -> str:
        """The recipe's partition of the ``recipe_playlists`` asset: its id."""
        if self.id is None:
            raise ValueError("a recipe has a partition once it is stored")
        return str(self.id)
