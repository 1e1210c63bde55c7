"""Living playlists in Dagster on a PostgreSQL-backed instance: a recipe's partition refreshes its
server playlist in place and reports what changed; a failing server keeps the previous version;
the schedule refreshes only the recipes whose hour it is; the sensor builds new recipes once and
adds daily mixes for listeners with history; the automation condition refreshes 'new music' recipes
(not timed ones) after the similarity index changes."""

from __future__ import annotations

from datetime import datetime, timezone

import dagster as dg
import pytest

from audiomuse.media import PlayedTrack, Playlist
from audiomuse.providers.base import ProviderUnavailable
from audiomuse.recipes.model import Recipe
from audiomuse.recipes.store import get_recipe, list_recipes, save_recipe
from audiomuse_pipelines.defs.recipes import (DAILY_MIX_CHECK_S, on_new_music, recipe_playlists, recipe_schedule,
                                              recipes_partitions, recipes_sensor)
from audiomuse_pipelines.defs.resources import MediaServerResource, RecipesResource
from tests.seed import seed_library
from tests.stub_provider import EmptyProvider


class ServerPlaylists(EmptyProvider):
    """A media server that keeps playlists in memory (shared by every provider the resource makes)."""

    kind = "memory"
    playlists: dict[tuple[str | None, str], tuple[str, list[str]]] = {}
    down = False
    history: dict[str | None, list[PlayedTrack]] = {}

    def list_playlists(self, owner=None):
        return [Playlist(pid, name) for (who, name), (pid, _) in self.playlists.items() if who == owner]

    def create_or_replace_playlist(self, name, track_ids, owner=None):
        if ServerPlaylists.down:
            raise ProviderUnavailable("Test server at http://127.0.0.1:9", "unreachable after 3 attempts")
        pid = self.playlists.get((owner, name), (f"pl{len(self.playlists) + 1}", []))[0]
        self.playlists[(owner, name)] = (pid, list(track_ids))
        return Playlist(pid, name)

    def playlist_tracks(self, playlist_id, owner=None):
        return next(tracks for (who, _), (pid, tracks) in self.playlists.items() if pid == playlist_id)

    def top_played(self, limit=100, user=None):
        return self.history.get(user, [])[:limit]


class MemoryServer(MediaServerResource):
    def provider(self):
        return ServerPlaylists()


@pytest.fixture
def library(db, resources):
    ServerPlaylists.playlists, ServerPlaylists.history, ServerPlaylists.down = {}, {}, False
    styles = seed_library(db)
    return styles, {**resources, "media_server": MemoryServer(), "recipes": RecipesResource(max_songs_per_artist=3)}


def _saved(db, instance, recipe: Recipe) -> Recipe:
    with db.connection() as conn:
        stored = save_recipe(conn, recipe)
    instance.add_dynamic_partitions(recipes_partitions.name, [stored.partition_key])
    return stored


def _refresh(instance, resources, recipe: Recipe, **kw):
    return dg.materialize([recipe_playlists], partition_key=recipe.partition_key, resources=resources,
                          instance=instance, **kw)


def test_a_refresh_replaces_the_playlist_in_place_and_reports_what_changed(db, dagster_instance, library):
    styles, resources = library
    recipe = _saved(db, dagster_instance, Recipe("Rock on", "similar", {"track_id": styles["rock"][0]}, size=10,
                                                 owner="ann"))
    first = _refresh(dagster_instance, resources, recipe)
    meta = first.asset_materializations_for_node("recipe_playlists")[0].metadata
    pid, songs = ServerPlaylists.playlists[("ann", "Rock on_recipe")]
    assert meta["songs"].value == 10 and meta["added"].value == songs and meta["removed"].value == []
    assert set(songs) <= set(styles["rock"]) and styles["rock"][0] not in songs
    with db.connection() as conn:
        save_recipe(conn, Recipe("Rock on", "similar", {"track_id": styles["rock"][5]}, size=10, owner="ann",
                                 id=recipe.id))
        recipe = get_recipe(conn, recipe.id)
    second = _refresh(dagster_instance, resources, recipe)
    meta = second.asset_materializations_for_node("recipe_playlists")[0].metadata
    new_pid, new_songs = ServerPlaylists.playlists[("ann", "Rock on_recipe")]
    assert new_pid == pid and meta["provider_id"].value == pid  # replaced in place
    assert set(meta["added"].value) == set(new_songs) - set(songs) and meta["added"].value
    assert set(meta["removed"].value) == set(songs) - set(new_songs)
    with db.connection() as conn:
        assert get_recipe(conn, recipe.id).track_ids == tuple(new_songs)


def test_a_failing_server_keeps_the_previous_playlist(db, dagster_instance, library):
    styles, resources = library
    recipe = _saved(db, dagster_instance, Recipe("Calm", "similar", {"track_id": styles["ambient"][0]}, size=8))
    assert _refresh(dagster_instance, resources, recipe).success
    before = dict(ServerPlaylists.playlists)
    with db.connection() as conn:
        good = get_recipe(conn, recipe.id)
    ServerPlaylists.down = True
    result = _refresh(dagster_instance, resources, good, raise_on_error=False)
    assert not result.success
    assert ServerPlaylists.playlists == before
    with db.connection() as conn:
        after = get_recipe(conn, recipe.id)
    assert after.track_ids == good.track_ids and after.provider_id == good.provider_id
    assert "unreachable" in after.last_error


def test_a_recipe_the_library_cannot_make_fails_clearly(db, dagster_instance, library):
    _, resources = library
    recipe = _saved(db, dagster_instance, Recipe("Gone", "similar", {"track_id": "no-such-track"}))
    result = _refresh(dagster_instance, resources, recipe, raise_on_error=False)
    assert not result.success and ServerPlaylists.playlists == {}
    with db.connection() as conn:
        assert "no-such-track" in get_recipe(conn, recipe.id).last_error


def test_the_schedule_refreshes_the_recipes_whose_hour_it_is(db, dagster_instance, library):
    styles, resources = library
    seed = styles["rock"][0]
    daily = _saved(db, dagster_instance, Recipe("Morning", "similar", {"track_id": seed}, refresh="daily",
                                                refresh_hour=7))
    weekly = _saved(db, dagster_instance, Recipe("Weekly", "similar", {"track_id": seed}, refresh="weekly",
                                                 refresh_hour=7))
    _saved(db, dagster_instance, Recipe("Evening", "similar", {"track_id": seed}, refresh="daily", refresh_hour=19))
    _saved(db, dagster_instance, Recipe("New", "similar", {"track_id": seed}, refresh="new_music", refresh_hour=7))

    def tick(when):
        context = dg.build_schedule_context(instance=dagster_instance, resources=resources,
                                            scheduled_execution_time=when)
        return sorted(int(r.partition_key) for r in recipe_schedule(context))

    assert tick(datetime(2026, 12, 7, 7, tzinfo=timezone.utc)) == sorted([daily.id, weekly.id])  # a Monday
    assert tick(datetime(2026, 12, 8, 7, tzinfo=timezone.utc)) == [daily.id]
    assert tick(datetime(2026, 12, 8, 8, tzinfo=timezone.utc)) == []


def recipes_automation_tick(instance, resources, cursor=None):
    """One evaluation of recipe_playlists' automation condition, reading recipes from the resources' database."""
    asset = recipe_playlists.map_asset_specs(
        lambda spec: spec.replace_attributes(automation_condition=on_new_music(resources["database"])))
    return dg.evaluate_automation_conditions(dg.Definitions(assets=[asset], resources=resources), instance,
                                             cursor=cursor)


def test_the_sensor_builds_new_recipes_once(db, dagster_instance, library):
    styles, resources = library
    seed = styles["rock"][0]
    timed = _saved(db, dagster_instance, Recipe("Timed", "similar", {"track_id": seed}, refresh="daily"))
    fresh = _saved(db, dagster_instance, Recipe("Fresh", "similar", {"track_id": seed}, refresh="new_music"))

    def tick():
        return recipes_sensor(dg.build_sensor_context(instance=dagster_instance, resources=resources))

    first = tick()
    assert sorted(r.run_key for r in first.run_requests) == sorted([f"{timed.id}@first", f"{fresh.id}@first"])
    for recipe in (timed, fresh):
        assert _refresh(dagster_instance, resources, recipe).success
    assert tick().run_requests == []


def test_a_new_index_refreshes_new_music_recipes_by_their_automation_condition(db, dagster_instance, library):
    styles, resources = library
    seed = styles["rock"][0]
    saved = [_saved(db, dagster_instance, Recipe(name, "similar", {"track_id": seed}, refresh=policy))
               for name, policy in [("Timed", "daily"), ("Fresh", "new_music"), ("Hand", "manual")]]
    for recipe in saved:
        assert _refresh(dagster_instance, resources, recipe).success
    quiet = recipes_automation_tick(dagster_instance, resources)
    assert quiet.total_requested == 0
    dagster_instance.report_runless_asset_event(dg.AssetMaterialization("similarity_index"))  # new music
    after = recipes_automation_tick(dagster_instance, resources, quiet.cursor)
    requested = after.get_requested_partitions(recipe_playlists.key)
    assert requested == {saved[1].partition_key}
    with db.connection() as conn:  # the user switches a timed recipe to "on new music" (the index is newer than it)
        save_recipe(conn, Recipe("Timed", "similar", {"track_id": seed}, refresh="new_music", id=saved[0].id))
    assert _refresh(dagster_instance, resources, saved[1]).success  # the requested refresh ran
    calm = recipes_automation_tick(dagster_instance, resources, after.cursor)
    assert calm.get_requested_partitions(recipe_playlists.key) == {saved[0].partition_key}


def test_the_sensor_adds_a_daily_mix_for_a_listener_with_history(db, dagster_instance, library):
    styles, resources = library
    ServerPlaylists.history = {"ann": [PlayedTrack(t, 5) for t in styles["ambient"][:5]]}
    resources = {**resources, "recipes": RecipesResource(daily_mix_users=["ann", "bob"], daily_mix_hour=5)}
    context = dg.build_sensor_context(instance=dagster_instance, resources=resources)
    result = recipes_sensor(context)
    with db.connection() as conn:
        mixes = [r for r in list_recipes(conn) if r.kind == "daily_mix"]
    assert [(m.owner, m.refresh, m.refresh_hour) for m in mixes] == [("ann", "daily", 5)]  # bob has no history
    added = [k for req in result.dynamic_partitions_requests if isinstance(req, dg.AddDynamicPartitionsRequest)
             for k in req.partition_keys]
    assert mixes[0].partition_key in added
    ServerPlaylists.history["bob"] = [PlayedTrack(t, 2) for t in styles["rock"][:3]]  # bob starts listening

    def daily_mix_owners(cursor: str) -> list[str]:
        recipes_sensor(dg.build_sensor_context(instance=dagster_instance, resources=resources, cursor=cursor))
        with db.connection() as conn:
            return sorted(r.owner for r in list_recipes(conn) if r.kind == "daily_mix")

    assert daily_mix_owners(result.cursor) == ["ann"]  # histories are asked for at most hourly
    assert daily_mix_owners(str(float(result.cursor) - DAILY_MIX_CHECK_S)) == ["ann", "bob"]
    edited = recipes_sensor(dg.build_sensor_context(instance=dagster_instance, resources=resources,
                                                    cursor="edited by hand"))
    assert float(edited.cursor) >= float(result.cursor)  # a cursor that is no time: it checked again, now


def test_a_newly_analysed_album_refreshes_new_music_recipes_and_not_timed_ones(db, resources, dagster_instance,
                                                                            music_dir):
    """The whole chain: catalog and analysis of real files, library_automation asks for a new index,
    the index is built, and recipes_automation then refreshes the 'new music' recipe only."""
    from audiomuse_pipelines.defs.analysis import track_analysis
    from audiomuse_pipelines.defs.catalog import catalog
    from audiomuse_pipelines.defs.partitions import albums_partitions
    from audiomuse_pipelines.defs.similarity import similarity_index
    from tests.audiomuse_pipelines.conftest import write_album
    from tests.audiomuse_pipelines.test_backfill import library_automation_tick

    def analyse_all():
        assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
        for album in dagster_instance.get_dynamic_partitions(albums_partitions.name):
            assert dg.materialize([track_analysis], partition_key=album, resources=resources,
                                  instance=dagster_instance).success

    analyse_all()
    assert dg.materialize([similarity_index], resources=resources, instance=dagster_instance).success
    with db.connection() as conn:
        seed = conn.execute("SELECT track_id FROM embedding ORDER BY track_id LIMIT 1").fetchone()[0]
    fresh = _saved(db, dagster_instance, Recipe("Fresh", "similar", {"track_id": seed}, refresh="new_music", size=2))
    timed = _saved(db, dagster_instance, Recipe("Timed", "similar", {"track_id": seed}, refresh="daily", size=2))
    recipes = {**resources, "recipes": RecipesResource(max_songs_per_artist=3)}
    for recipe in (fresh, timed):
        assert dg.materialize([recipe_playlists], partition_key=recipe.partition_key, resources=recipes,
                              instance=dagster_instance).success
    quiet = recipes_automation_tick(dagster_instance, recipes)
    automation = library_automation_tick(dagster_instance)
    automation = library_automation_tick(dagster_instance, automation.cursor)
    assert automation.get_num_requested(similarity_index.key) == 0  # up to date

    write_album(music_dir, "Gamma", "Third Time", ["Spark", "Glow"])  # the user adds an album
    analyse_all()
    automation = library_automation_tick(dagster_instance, automation.cursor)
    assert automation.get_num_requested(similarity_index.key) == 1  # the new analyses ask for a new index
    assert dg.materialize([similarity_index], resources=resources, instance=dagster_instance).success
    after = recipes_automation_tick(dagster_instance, recipes, quiet.cursor)
    assert after.get_requested_partitions(recipe_playlists.key) == {fresh.partition_key}
