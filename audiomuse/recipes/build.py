"""Make a recipe's songs again from the *current* library, with the tools that made them first.

    ctx = RecipeContext.load(db, provider, max_per_artist=settings.max_songs_per_artist)
    track_ids = build_recipe(recipe, ctx)  # at most recipe.size, best first

:data:`BUILDERS` maps each kind to its builder (``(recipe, ctx) -> candidate track ids, best
first``); a kind built in another module (``extend``) is registered here with :func:`register_builder`.
:func:`build_recipe` then passes every kind's candidates through the one artist cap
(:mod:`audiomuse.playlists.artist_cap`: no song twice, at most ``ctx.max_per_artist`` per artist)
and cuts the list to ``recipe.size``. Whatever cannot be built (a seed gone from the library, no
play history, SQL that no longer validates, an empty result) raises :class:`RecipeError` naming
the recipe: a refresh that raises keeps the previous playlist, so nothing returns empty silently.

Randomness is seeded from the recipe (alchemy) and from the date as well (daily mix), so a refresh
of an unchanged library gives the same songs, and a daily mix changes from one day to the next.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from audiomuse.chat.execute import ChatQueryError, run_chat_query
from audiomuse.chat.offline import library_artists, parse_request
from audiomuse.chat.validate import UnsafeSql, validate_sql
from audiomuse.index.similar import similar_by_track, similar_by_vector
from audiomuse.index.voyager_index import SimilarityIndex
from audiomuse.media import PlayedTrack
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST, ArtistCap, track_identities
from audiomuse.playlists.fingerprint import HALF_LIFE_DAYS, sonic_fingerprint
from audiomuse.playlists.path import find_path
from audiomuse.playlists.vectors import weighted_centroid
from audiomuse.providers.base import MediaProvider
from audiomuse.recipes.extend import build_extend
from audiomuse.recipes.model import Recipe, RecipeError
from audiomuse.store import Database

HISTORY_LIMIT = 100  # most played tracks a fingerprint or daily mix reads from the media server
MAX_SEEDS = 20  # as sonic_fingerprint: the most played songs that open the list
FRESH_SHARE = 0.3  # default share of a daily mix that the user has not played recently
RECENT_DAYS = HALF_LIFE_DAYS  # a play within this many days is recent (the fingerprint's half-life)
FRESH_POOL = 4  # a daily mix draws its fresh songs from this many times as many near the fingerprint


class UnsupportedKind(RecipeError, NotImplementedError):
    """No builder is registered for the recipe's kind (yet)."""


@dataclass(frozen=True)
class RecipeContext:
    """What a build reads: the store, the loaded index and its track metadata, the media server
    (for play history; None when there is none), the artist cap, and the time it is built at
    (None = now; a daily mix is the same all day)."""

    db: Database
    index: SimilarityIndex
    metadata: dict[str, dict]
    provider: MediaProvider | None = None
    max_per_artist: int = MAX_SONGS_PER_ARTIST
    now: datetime | None = None

    @classmethod
    def load(cls, db: Database, provider: MediaProvider | None = None, *,
             max_per_artist: int = MAX_SONGS_PER_ARTIST, now: datetime | None = None) -> RecipeContext:
        """The context of the current library: its index (:func:`~audiomuse.index.persist.load_index`)
        and track metadata. Raises ``LookupError`` when no index has been built yet."""
        from audiomuse.index.persist import load_index
        from audiomuse.store.analysis import track_metadata

        index = load_index(db)
        if index is None:
            raise LookupError("no similarity index has been built yet: analyse the library first")
        with db.connection() as conn:
            metadata = track_metadata(conn)
        return cls(db, index, metadata, provider, max_per_artist, now)

    def moment(self) -> datetime:
        now = self.now or datetime.now(timezone.utc)
        return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


Builder = Callable[[Recipe, RecipeContext], list[str]]
#: kind -> builder of its candidate track ids, best first (build_recipe caps and cuts them)
BUILDERS: dict[str, Builder] = {}
#: kinds whose builder's list is final: an extended playlist keeps all its own songs first, whatever
#: the cap (the extend builder caps and de-duplicates the songs it adds)
KEEPS_ITS_SONGS = frozenset({"extend"})


def register_builder(kind: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register_builder("similar")`` makes the function the builder of that kind."""
    def register(builder: Builder) -> Builder:
        BUILDERS[kind] = builder
        return builder
    return register


def build_recipe(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    """The recipe's songs from the current library: at most ``recipe.size`` track ids, best first,
    no song twice, at most ``ctx.max_per_artist`` per artist. Raises :class:`RecipeError`."""
    builder = BUILDERS.get(recipe.kind)
    if builder is None:
        raise UnsupportedKind(recipe, f"no builder is registered for kind {recipe.kind!r} yet")
    if recipe.kind in KEEPS_ITS_SONGS:
        return builder(recipe, ctx)
    uncapped = _named_artists(recipe, ctx) if recipe.kind == "instant" else ()
    cap = ArtistCap(ctx.max_per_artist, uncapped_artists=uncapped)
    chosen = _admitted(builder(recipe, ctx), ctx, cap, recipe.size)
    if not chosen:
        raise RecipeError(recipe, "the current library gives no songs for it")
    return chosen


def daily_mix_recipe(user: str | None, hour: int = 6) -> Recipe:
    """The built-in daily mix of one media-server user, refreshed every day at ``hour``; a server
    without users (a local folder's listening log) has one, named "Daily mix"."""
    name = f"Daily mix for {user}" if user else "Daily mix"
    return Recipe(name, "daily_mix", {"user": user, "fresh_share": FRESH_SHARE}, owner=user,
                  refresh="daily", refresh_hour=hour)


def recipe_seed(recipe: Recipe, *extra: object) -> int:
    """A stable random seed for the recipe (its id, owner and name; plus ``extra``, e.g. a date)."""
    text = "|".join(str(part) for part in (recipe.id, recipe.owner, recipe.name, *extra))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


# --- the kinds ------------------------------------------------------------------------------------

register_builder("extend")(build_extend)  # in its own module: it reads server playlists


@register_builder("similar")
def _similar(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    seed = _param(recipe, "track_id")
    _in_index(recipe, ctx, [seed])
    return [t for t, _ in similar_by_track(ctx.index, ctx.metadata, seed, recipe.size,
                                           max_per_artist=ctx.max_per_artist)]


@register_builder("path")
def _path(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    start, end = _param(recipe, "start_id"), _param(recipe, "end_id")
    _in_index(recipe, ctx, [start, end])
    if recipe.size < 2:
        raise RecipeError(recipe, "a path has at least two songs (size is 1)")
    return find_path(ctx.index, ctx.metadata, start, end, recipe.size, max_per_artist=ctx.max_per_artist).track_ids


@register_builder("alchemy")
def _alchemy(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    add, subtract = list(recipe.params.get("add_ids") or []), list(recipe.params.get("subtract_ids") or [])
    if not add:
        raise RecipeError(recipe, "it adds no songs (params['add_ids'] is empty)")
    _in_index(recipe, ctx, [*add, *subtract])
    options = {k: float(recipe.params[k]) for k in ("temperature", "subtract_distance")
               if recipe.params.get(k) is not None}
    result = song_alchemy(ctx.index, ctx.metadata, add, subtract, recipe.size, max_per_artist=ctx.max_per_artist,
                          seed=recipe_seed(recipe), **options)
    return [t for t, _ in result.results]


@register_builder("fingerprint")
def _fingerprint(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    history = _history(recipe, ctx, recipe.params.get("user") or recipe.owner)
    # twice the songs: the most played seeds are not capped by the tool, the cap here may drop some
    ids, vector = sonic_fingerprint(ctx.index, ctx.metadata, history, 2 * recipe.size,
                                    max_seeds=min(MAX_SEEDS, recipe.size), max_per_artist=ctx.max_per_artist,
                                    now=ctx.moment())
    if vector is None:
        raise RecipeError(recipe, "none of the user's played songs is in the library's index")
    return ids


@register_builder("map_selection")
def _map_selection(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    selected = list(dict.fromkeys(recipe.params.get("track_ids") or []))
    present = [t for t in selected if t in ctx.index]
    if not present:
        raise RecipeError(recipe, f"none of its {len(selected)} selected songs is in the library's index")
    centroid = weighted_centroid(np.stack([ctx.index.vector(t) for t in present]))
    # more than needed: the selection uses its artists' quota, so some neighbours may be refused
    near = similar_by_vector(ctx.index, ctx.metadata, centroid, 2 * recipe.size, exclude=present,
                             max_per_artist=ctx.max_per_artist)
    return present + [t for t, _ in near]


@register_builder("instant")
def _instant(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    sql = _param(recipe, "sql")
    try:
        rows = run_chat_query(ctx.db, validate_sql(sql))
    except UnsafeSql as exc:
        raise RecipeError(recipe, f"its SQL no longer validates: {exc.reason}") from None
    except ChatQueryError as exc:
        raise RecipeError(recipe, f"its SQL failed: {exc}") from None
    return [r["item_id"] for r in rows]


@register_builder("daily_mix")
def _daily_mix(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    """Most of the list from the user's history (the fingerprint: most played, recency decayed, and
    their neighbours), a ``fresh_share`` of songs near the fingerprint not played recently drawn
    with the day's seed, the two interleaved."""
    user = recipe.params.get("user") or recipe.owner
    now = ctx.moment()
    day = now.date()
    morning = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)  # the same weights all day
    history = _history(recipe, ctx, user)
    share = min(1.0, max(0.0, float(recipe.params.get("fresh_share", FRESH_SHARE))))
    n_fresh = round(share * recipe.size)
    familiar, vector = sonic_fingerprint(ctx.index, ctx.metadata, history, 2 * recipe.size,
                                         max_seeds=min(MAX_SEEDS, recipe.size - n_fresh),
                                         max_per_artist=ctx.max_per_artist, now=morning)
    if vector is None:
        raise RecipeError(recipe, f"none of the songs {user!r} played is in the library's index")
    recent = recent_plays(history, morning)
    pool = [t for t, _ in similar_by_vector(ctx.index, ctx.metadata, vector, FRESH_POOL * max(n_fresh, 1),
                                            exclude=recent, max_per_artist=ctx.max_per_artist)]
    # the day's order of the fresh pool: the first ones the cap admits fill the fresh share
    order = np.random.default_rng(recipe_seed(recipe, day.isoformat())).permutation(len(pool))
    fresh = [pool[i] for i in order]
    cap = ArtistCap(ctx.max_per_artist)
    return interleave(familiar, fresh, recipe.size, n_fresh / recipe.size,
                      admit=lambda t: cap.admit_track(ctx.metadata, t))


def recent_plays(history: Iterable[PlayedTrack], now: datetime, days: float = RECENT_DAYS) -> set[str]:
    """Track ids played within ``days`` before ``now`` (or at an unknown time: not known to be fresh)."""
    since = now - timedelta(days=days)
    out = set()
    for p in history:
        last = p.last_played
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=timezone.utc)
        if last is None or last >= since:
            out.add(p.track_id)
    return out


def interleave(main: Sequence[str], extra: Sequence[str], n: int, share: float, *,
               admit: Callable[[str], bool] = lambda t: True) -> list[str]:
    """Up to ``n`` ids, ``share`` of them from ``extra`` spread evenly through ``main`` (each list in
    its order); an id ``admit`` refuses is skipped, and when one list runs out the other fills in."""
    main, extra = list(main), list(extra)
    out: list[str] = []
    taken_extra = 0
    while len(out) < n and (main or extra):
        want_extra = taken_extra < round(share * (len(out) + 1))
        queue = extra if (want_extra and extra) or not main else main
        tid = queue.pop(0)
        if admit(tid):
            out.append(tid)
            taken_extra += queue is extra
    return out


# --- shared steps ---------------------------------------------------------------------------------

def _admitted(candidates: Iterable[str], ctx: RecipeContext, cap: ArtistCap, n: int) -> list[str]:
    """The first ``n`` candidates the artist cap admits (no song twice: same id or same song)."""
    out: list[str] = []
    for tid in candidates:
        info = ctx.metadata.get(tid) or {}
        if cap.admit(info.get("artist"), track_identities(ctx.metadata, tid)):
            out.append(tid)
            if len(out) == n:
                break
    return out


def _named_artists(recipe: Recipe, ctx: RecipeContext) -> list[str]:
    """As ``chat_playlist``: the library artists an instant request names are not capped."""
    request = str(recipe.params.get("request") or "").strip()
    if not request:
        return []
    try:
        return parse_request(request, library_artists(ctx.db)).artists
    except ChatQueryError as exc:
        raise RecipeError(recipe, f"the chat sandbox is not available: {exc}") from None


def _history(recipe: Recipe, ctx: RecipeContext, user: str | None) -> list[PlayedTrack]:
    if ctx.provider is None:
        raise RecipeError(recipe, "it needs a media server's play history and none is configured")
    history = ctx.provider.top_played(HISTORY_LIMIT, user=user)
    if not history:
        raise RecipeError(recipe, f"the media server has no play history for {user or 'the configured user'!r}")
    return history


def _param(recipe: Recipe, key: str) -> str:
    value = recipe.params.get(key)
    if not value:
        raise RecipeError(recipe, f"params[{key!r}] is missing")
    return str(value)


def _in_index(recipe: Recipe, ctx: RecipeContext, track_ids: Iterable[str]) -> None:
    missing = [t for t in track_ids if t not in ctx.index]
    if missing:
        raise RecipeError(recipe, f"no longer in the library's index: {', '.join(missing)}")


__all__ = ["BUILDERS", "Builder", "RecipeContext", "RecipeError", "UnsupportedKind", "build_recipe",
           "daily_mix_recipe", "interleave", "recent_plays", "recipe_seed", "register_builder"]
