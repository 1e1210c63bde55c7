"""Recipes built again from the current library: every kind on the seeded library with its real index."""

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from audiomuse.index.similar import similar_by_track
from audiomuse.media import PlayedTrack
from audiomuse.playlists.artist_cap import normalised_artist
from audiomuse.recipes.build import (
    BUILDERS,
    RecipeContext,
    RecipeError,
    UnsupportedKind,
    build_recipe,
    daily_mix_recipe,
    interleave,
    recent_plays,
    register_builder,
)
from audiomuse.recipes.model import Recipe
from audiomuse.store import Database
from audiomuse.store.server import with_database
from tests.conftest import create_database, drop_database
from tests.seed import seed_library
from tests.stub_provider import EmptyProvider

CAP = 2  # five songs per seeded artist: a cap of two shows
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


class HistoryProvider(EmptyProvider):
    """A media server that only knows play histories (user -> [PlayedTrack])."""

    def __init__(self, histories: dict[str, list[PlayedTrack]]):
        self.histories = histories
        self.asked: list[tuple[int, str | None]] = []

    def top_played(self, limit=100, user=None):
        self.asked.append((limit, user))
        return list(self.histories.get(user, []))[:limit]


def _plays(ids, days_ago, start=20):
    return [PlayedTrack(t, start - i, NOW - timedelta(days=days_ago)) for i, t in enumerate(ids)]


@pytest.fixture(scope="module")
def library(pg_admin_url, migrated_template):
    """(context, style -> ids) over a seeded library; users ann (ambient), bob (rock), eve (nothing)."""
    name = create_database(pg_admin_url, template=migrated_template)
    db = Database(with_database(pg_admin_url, name))
    styles = seed_library(db)
    histories = {
        "ann": _plays(styles["ambient"][:6], days_ago=2),
        "bob": _plays(styles["rock"][:8], days_ago=1) + _plays(styles["rock"][8:10], days_ago=200, start=3),
        "gone": [PlayedTrack("not-in-the-library", 9, NOW)],
    }
    ctx = RecipeContext.load(db, HistoryProvider(histories), max_per_artist=CAP, now=NOW)
    yield ctx, styles
    drop_database(pg_admin_url, name)


def _style(styles, tid):
    return next(s for s, ids in styles.items() if tid in ids)


def _recipes(styles):
    rock, amb, ins = styles["rock"], styles["ambient"], styles["instrumental"]
    return {
        "similar": Recipe("Like rock 0", "similar", {"track_id": rock[0]}, size=10),
        "path": Recipe("Rock to ambient", "path", {"start_id": rock[0], "end_id": amb[0]}, size=8),
        "alchemy": Recipe("Rock not ambient", "alchemy", {"add_ids": rock[:2], "subtract_ids": [amb[0]],
                                                         "temperature": 1.0, "subtract_distance": 0.3}, size=10),
        "fingerprint": Recipe("Ann's sound", "fingerprint", {}, owner="ann", size=10),
        "map_selection": Recipe("Orchestra corner", "map_selection", {"track_ids": [ins[0], ins[1], "gone"]},
                                size=10),
        "instant": Recipe("Calm", "instant", {"sql": "SELECT item_id, title, artist FROM chat_tracks "
                                                     "ORDER BY energy, title", "request": "calm"}, size=10),
        "daily_mix": Recipe("Daily mix for bob", "daily_mix", {"user": "bob", "fresh_share": 0.3}, owner="bob",
                            size=10),
    }


@pytest.mark.parametrize("kind", ["similar", "path", "alchemy", "fingerprint", "map_selection", "instant",
                                  "daily_mix"])
def test_every_kind_keeps_the_artist_cap_and_no_song_twice(library, kind):
    ctx, styles = library
    recipe = _recipes(styles)[kind]
    ids = build_recipe(recipe, ctx)
    assert 0 < len(ids) <= recipe.size and len(set(ids)) == len(ids)
    assert all(t in ctx.metadata for t in ids)
    keys = [ctx.metadata[t]["song_key"] for t in ids]
    assert len(set(keys)) == len(keys)
    artists = Counter(normalised_artist(ctx.metadata[t]["artist"]) for t in ids)
    assert max(artists.values()) <= CAP, artists
    assert build_recipe(recipe, ctx) == ids  # an unchanged library gives the same songs


def test_similar_songs_are_the_seeds_neighbours(library):
    ctx, styles = library
    seed = styles["rock"][0]
    ids = build_recipe(_recipes(styles)["similar"], ctx)
    assert ids == [t for t, _ in similar_by_track(ctx.index, ctx.metadata, seed, 10, max_per_artist=CAP)]
    assert seed not in ids and all(_style(styles, t) == "rock" for t in ids)


def test_path_starts_and_ends_at_its_songs(library):
    ctx, styles = library
    ids = build_recipe(_recipes(styles)["path"], ctx)
    assert ids[0] == styles["rock"][0] and ids[-1] == styles["ambient"][0] and len(ids) == 8


def test_alchemy_is_deterministic_and_keeps_away_from_the_subtracted(library):
    ctx, styles = library
    recipe = _recipes(styles)["alchemy"]
    ids = build_recipe(recipe, ctx)
    assert len(ids) == 10 and not set(ids) & {*styles["rock"][:2], styles["ambient"][0]}
    assert not any(_style(styles, t) == "ambient" for t in ids)
    assert sum(_style(styles, t) == "rock" for t in ids) >= 6


def test_fingerprint_uses_the_owners_history(library):
    ctx, styles = library
    ids = build_recipe(_recipes(styles)["fingerprint"], ctx)
    assert ctx.provider.asked[-1][1] == "ann"
    assert ids[0] == styles["ambient"][0]  # the most played first
    assert sum(_style(styles, t) == "ambient" for t in ids) >= 8
    explicit = Recipe("Bob's sound", "fingerprint", {"user": "bob"}, owner="ann", size=10)
    assert sum(_style(styles, t) == "rock" for t in build_recipe(explicit, ctx)) >= 8


def test_map_selection_starts_with_the_selection_and_grows_around_it(library):
    ctx, styles = library
    ids = build_recipe(_recipes(styles)["map_selection"], ctx)
    assert ids[:2] == styles["instrumental"][:2] and "gone" not in ids and len(ids) == 10
    assert all(_style(styles, t) == "instrumental" for t in ids)


def _artist_ids(ctx, artist):
    return sorted(t for t, m in ctx.metadata.items() if m["artist"] == artist)


def test_instant_reruns_the_sql_with_the_chat_cap(library):
    ctx, styles = library
    sql = "SELECT item_id, title, artist FROM chat_tracks WHERE artist = 'Ambienteers 1' ORDER BY item_id"
    everything = _artist_ids(ctx, "Ambienteers 1")
    assert len(everything) == 5
    by_name = Recipe("By Ambienteers 1", "instant", {"sql": sql, "request": "songs by Ambienteers 1"}, size=25)
    assert build_recipe(by_name, ctx) == everything  # the artist the request names is not capped
    plain = Recipe("Some ambient", "instant", {"sql": sql, "request": "calm"}, size=25)
    assert build_recipe(plain, ctx) == everything[:CAP]
    calm = build_recipe(_recipes(styles)["instant"], ctx)
    assert all(_style(styles, t) == "rock" for t in calm)  # lowest energy first: the seeded rock


@pytest.mark.parametrize("sql", [
    "DELETE FROM tracks",
    "SELECT id FROM tracks",
    "SELECT item_id FROM chat_tracks; DROP TABLE tracks",
    "SELECT pg_read_file('/etc/passwd') AS item_id FROM chat_tracks",
])
def test_instant_refuses_sql_that_does_not_validate(library, sql):
    ctx, _ = library
    recipe = Recipe("Hostile", "instant", {"sql": sql, "request": "x"})
    with pytest.raises(RecipeError, match="'Hostile'.*no longer validates"):
        build_recipe(recipe, ctx)
    with ctx.db.connection() as conn:
        assert conn.execute("SELECT count(*) FROM tracks").fetchone()[0] == 90


def test_daily_mix_has_fresh_songs_and_changes_with_the_day(library):
    ctx, styles = library
    recipe = _recipes(styles)["daily_mix"]
    history = ctx.provider.histories["bob"]
    recent = recent_plays(history, NOW)
    assert recent == set(styles["rock"][:8])  # the two plays of 200 days ago are not recent
    ids = build_recipe(recipe, ctx)
    assert len(ids) == 10 and ctx.provider.asked[-1][1] == "bob"
    fresh = [t for t in ids if t not in recent]
    assert len(fresh) >= 3 and len(ids) - len(fresh) >= 5  # mostly the history, a share of unplayed songs
    assert ids[0] in recent and any(t not in recent for t in ids[:4])  # interleaved, not appended
    later = RecipeContext(ctx.db, ctx.index, ctx.metadata, ctx.provider, CAP, NOW + timedelta(hours=12))
    assert build_recipe(recipe, later) == ids  # the same all day
    days = [build_recipe(recipe, RecipeContext(ctx.db, ctx.index, ctx.metadata, ctx.provider, CAP,
                                               NOW + timedelta(days=d))) for d in (1, 2, 3)]
    assert any(d != ids for d in days)
    assert days[0] != ids


def test_daily_mix_recipe_is_the_users_daily_refresh():
    r = daily_mix_recipe("ann", hour=7)
    assert (r.name, r.kind, r.owner, r.refresh, r.refresh_hour) == ("Daily mix for ann", "daily_mix", "ann",
                                                                    "daily", 7)
    assert r.params["user"] == "ann" and 0 < r.params["fresh_share"] < 1


def test_the_daily_mix_of_a_server_without_users_is_named_for_no_one():
    r = daily_mix_recipe(None)
    assert (r.name, r.owner, r.params["user"]) == ("Daily mix", None, None)


def test_interleave_spreads_the_share():
    out = interleave([f"m{i}" for i in range(10)], ["x0", "x1", "x2", "x3"], 10, 0.3)
    assert len(out) == 10 and [t for t in out if t.startswith("x")] == ["x0", "x1", "x2"]
    assert out[0] == "m0" and out[-1].startswith("m")


@pytest.mark.parametrize("recipe, match", [
    (Recipe("Lost seed", "similar", {"track_id": "gone"}), "'Lost seed'.*no longer in the library.*gone"),
    (Recipe("No seed", "similar", {}), "'No seed'.*track_id"),
    (Recipe("Lost end", "path", {"start_id": "roc00", "end_id": "gone"}), "'Lost end'.*gone"),
    (Recipe("Lost add", "alchemy", {"add_ids": ["gone"]}), "'Lost add'.*gone"),
    (Recipe("Nothing added", "alchemy", {"add_ids": []}), "'Nothing added'.*adds no songs"),
    (Recipe("Lost corner", "map_selection", {"track_ids": ["gone", "gone2"]}), "'Lost corner'.*none of its 2"),
    (Recipe("Eve sound", "fingerprint", {}, owner="eve"), "'Eve sound'.*no play history for 'eve'"),
    (Recipe("Gone sound", "fingerprint", {"user": "gone"}), "'Gone sound'.*index"),
    (Recipe("Eve mix", "daily_mix", {"user": "eve"}), "'Eve mix'.*no play history"),
    (Recipe("Gone mix", "daily_mix", {"user": "gone"}), "'Gone mix'.*index"),
    (Recipe("Renamed column", "instant", {"sql": "SELECT item_id FROM chat_tracks WHERE bpm > 100"}),
     "'Renamed column'.*no longer validates.*bpm"),
    (Recipe("Nobody", "instant", {"sql": "SELECT item_id FROM chat_tracks WHERE artist = 'Nobody'"}),
     "'Nobody'.*no songs"),
])
def test_what_cannot_be_built_raises_a_recipe_error(library, recipe, match):
    ctx, _ = library
    with pytest.raises(RecipeError, match=match):
        build_recipe(recipe, ctx)


def test_history_needs_a_media_server(library):
    ctx, _ = library
    bare = RecipeContext(ctx.db, ctx.index, ctx.metadata, None, CAP, NOW)
    with pytest.raises(RecipeError, match="'Mine'.*media server"):
        build_recipe(Recipe("Mine", "fingerprint", {}, owner="ann"), bare)


def test_a_kind_without_a_builder_and_a_builder_whose_list_is_final(library, monkeypatch):
    ctx, styles = library
    recipe = Recipe("More of my list", "extend", {"playlist_id": "p1"}, size=5)
    monkeypatch.delitem(BUILDERS, "extend")
    with pytest.raises(UnsupportedKind, match="'More of my list'.*extend") as caught:
        build_recipe(recipe, ctx)
    assert isinstance(caught.value, NotImplementedError) and isinstance(caught.value, RecipeError)
    # extend's own list is final: an extended playlist keeps all its songs, whatever the cap
    register_builder("extend")(lambda r, c: styles["rock"][:8])
    assert build_recipe(recipe, ctx) == styles["rock"][:8]
    # any other kind's builder output is capped and cut to size
    monkeypatch.setitem(BUILDERS, "similar", lambda r, c: styles["rock"] * 2)
    ids = build_recipe(Recipe("Flood", "similar", {"track_id": styles["rock"][0]}, size=5), ctx)
    artists = Counter(ctx.metadata[t]["artist"] for t in ids)
    assert len(ids) == 5 and len(set(ids)) == 5 and max(artists.values()) <= CAP
