"""Recipes in PostgreSQL: saved, listed per owner and policy, edited, refreshed, deleted."""

import psycopg
import pytest

from audiomuse.recipes.model import Recipe
from audiomuse.recipes.store import (
    delete_recipe,
    get_recipe,
    list_recipes,
    record_failure,
    record_refresh,
    save_recipe,
)


def test_save_list_edit_refresh_delete(db):
    with db.connection() as conn:
        ann = save_recipe(conn, Recipe("Calm mornings", "similar", {"track_id": "t1"}, owner="ann", refresh="daily"))
        bob = save_recipe(conn, Recipe("Road trip", "path", {"start_id": "a", "end_id": "b"}, owner="bob",
                                       refresh="new_music"))
        assert ann.id and ann.partition_key == str(ann.id) and ann.track_ids == ()
        assert [r.name for r in list_recipes(conn, owner="ann")] == ["Calm mornings"]
        assert [r.name for r in list_recipes(conn, refresh=["new_music"])] == ["Road trip"]
        edited = save_recipe(conn, Recipe("Calm mornings", "similar", {"track_id": "t2"}, owner="ann",
                                          refresh="weekly", size=40, id=ann.id))
        assert (edited.params, edited.refresh, edited.size) == ({"track_id": "t2"}, "weekly", 40)
        record_refresh(conn, ann.id, ["t5", "t6"], "pl-1")
        record_failure(conn, bob.id, "the server is down")
        stored = get_recipe(conn, ann.id)
        assert stored.track_ids == ("t5", "t6") and stored.provider_id == "pl-1" and stored.refreshed_at
        assert get_recipe(conn, bob.id).last_error == "the server is down"
        assert delete_recipe(conn, bob.id) and get_recipe(conn, bob.id) is None


def test_one_name_per_owner(db):
    with db.connection() as conn:
        save_recipe(conn, Recipe("Mix", "similar", {"track_id": "t1"}, owner="ann"))
        save_recipe(conn, Recipe("Mix", "similar", {"track_id": "t1"}, owner="bob"))  # another user's
    with pytest.raises(psycopg.errors.UniqueViolation), db.connection() as conn:
        save_recipe(conn, Recipe("Mix", "similar", {"track_id": "t9"}, owner="ann"))


def test_bad_recipes_are_refused_before_the_database():
    with pytest.raises(ValueError, match="kind"):
        Recipe("x", "shuffle")
    with pytest.raises(ValueError, match="refresh"):
        Recipe("x", "similar", refresh="hourly")
    with pytest.raises(ValueError, match="name"):
        Recipe("  ", "similar")
