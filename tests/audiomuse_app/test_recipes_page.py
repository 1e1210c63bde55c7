"""The Recipes page and the tool pages' "Save as recipe", with AppTest against a real PostgreSQL."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from audiomuse.recipes.model import Recipe
from audiomuse.recipes.store import get_recipe, list_recipes, record_failure, record_refresh, save_recipe
from tests.audiomuse_app.apptest import APP, open_page


def _names(at: AppTest) -> list[str]:
    """Recipe names shown, from each recipe's heading line ("**name** · kind · owner ...")."""
    return [m.value.split("**")[1] for m in at.markdown if m.value.startswith("**")]


def _seed(db) -> dict[str, Recipe]:
    with db.connection() as conn:
        out = {
            "ann_calm": save_recipe(conn, Recipe("Calm mornings", "similar", {"track_id": "amb01"}, owner="ann",
                                                 refresh="daily", refresh_hour=7, size=30)),
            "ann_road": save_recipe(conn, Recipe("Road trip", "path", {"start_id": "roc01", "end_id": "amb01"},
                                                 owner="ann", refresh="manual")),
            "bob_mix": save_recipe(conn, Recipe("Bob rocks", "fingerprint", {"user": "bob"}, owner="bob",
                                                refresh="weekly", refresh_hour=22)),
        }
        record_refresh(conn, out["ann_calm"].id, ["amb01", "amb02", "amb03"], "pl-1")
        record_failure(conn, out["bob_mix"].id, "Navidrome said: user bob has no history")
    return out


def test_recipes_page_empty_says_how_to_make_one(app_db):
    at = open_page("recipes")
    assert any("No recipes yet" in i.value for i in at.info)


def test_recipes_page_lists_each_owner_with_state_and_filters(app_db):
    _seed(app_db)
    at = open_page("recipes")
    assert _names(at) == ["Calm mornings", "Road trip", "Bob rocks"]
    captions = "\n".join(c.value for c in at.caption)
    assert "Refresh: daily at 07:00 · size 30 · last refresh 20" in captions and "3 songs" in captions
    assert "Refresh: weekly at 22:00" in captions and "last refresh never · 0 songs" in captions
    assert [w.value for w in at.warning] == ["Last refresh failed: Navidrome said: user bob has no history"]
    assert at.selectbox(key="recipes_owner").options == ["All owners", "ann", "bob"]
    at.selectbox(key="recipes_owner").select("ann").run()
    assert _names(at) == ["Calm mornings", "Road trip"]
    at.selectbox(key="recipes_owner").select("bob").run()
    assert _names(at) == ["Bob rocks"]
    assert not at.exception


def test_editing_a_recipe_stores_it(app_db):
    rid = _seed(app_db)["ann_road"].id
    at = open_page("recipes")
    at.selectbox(key=f"recipe_policy_{rid}").select("daily")  # a form: sent on submit
    at.number_input(key=f"recipe_hour_{rid}").set_value(5)
    at.number_input(key=f"recipe_size_{rid}").set_value(40)
    at.text_input(key=f"recipe_name_{rid}").set_value("Road trip north")
    at.button(key=f"recipe_save_{rid}").click().run()
    assert not at.exception, at.exception
    with app_db.connection() as conn:
        stored = get_recipe(conn, rid)
    assert (stored.name, stored.refresh, stored.refresh_hour, stored.size) == ("Road trip north", "daily", 5, 40)
    assert stored.params == {"start_id": "roc01", "end_id": "amb01"} and stored.owner == "ann"
    assert "Road trip north" in _names(at)


def test_renaming_onto_another_recipe_of_the_owner_is_refused(app_db):
    rid = _seed(app_db)["ann_road"].id
    at = open_page("recipes")
    at.text_input(key=f"recipe_name_{rid}").set_value("Calm mornings")
    at.button(key=f"recipe_save_{rid}").click().run()
    assert not at.exception
    assert any("already has a recipe named “Calm mornings”" in e.value for e in at.error)
    with app_db.connection() as conn:
        assert get_recipe(conn, rid).name == "Road trip"


def test_deleting_a_recipe_removes_it(app_db):
    seeded = _seed(app_db)
    at = open_page("recipes")
    at.button(key=f"recipe_delete_{seeded['ann_calm'].id}").click().run()
    assert not at.exception
    with app_db.connection() as conn:
        assert get_recipe(conn, seeded["ann_calm"].id) is None
        assert [r.name for r in list_recipes(conn)] == ["Road trip", "Bob rocks"]
    assert _names(at) == ["Road trip", "Bob rocks"]


def test_refresh_now_without_dagster_shows_the_error(app_db, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("AUDIOMUSE_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    rid = _seed(app_db)["bob_mix"].id
    at = open_page("recipes")
    at.button(key=f"recipe_refresh_{rid}").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert errors[0].startswith("Refresh of “Bob rocks” not launched: Dagster webserver at")
    assert "unreachable" in errors[0] and f"partition {rid} of `recipe_playlists`" in errors[0]


def _recipes(db) -> list[Recipe]:
    with db.connection() as conn:
        return list_recipes(conn)


def test_save_as_recipe_on_similar_stores_the_seed(seeded_app_db, monkeypatch):
    from audiomuse.config import get_settings

    monkeypatch.setenv("MEDIA_SERVER_USER", "ann")  # the owner field's default
    get_settings.cache_clear()
    at = open_page("similar")
    at.text_input(key="similar_seed_q").set_value("Rockers Song 03").run()
    at.slider(key="similar_n").set_value(10).run()
    assert at.text_input(key="similar_recipe_owner").value == "ann"
    at.text_input(key="similar_recipe_name").set_value("Rock radio")
    at.selectbox(key="similar_recipe_refresh").select("weekly")
    at.number_input(key="similar_recipe_hour").set_value(21)
    at.button(key="similar_recipe_save").click().run()
    assert not at.exception, at.exception
    [recipe] = _recipes(seeded_app_db)
    assert (recipe.name, recipe.kind, dict(recipe.params), recipe.owner) == ("Rock radio", "similar",
                                                                            {"track_id": "roc03"}, "ann")
    assert (recipe.refresh, recipe.refresh_hour, recipe.size) == ("weekly", 21, 10)
    assert any("Saved recipe “Rock radio”" in s.value for s in at.success)
    at.button(key="similar_recipe_save").click().run()  # the same name again, same owner
    assert not at.exception
    assert any("ann already has a recipe named “Rock radio”" in e.value for e in at.error)
    assert len(_recipes(seeded_app_db)) == 1


def test_save_as_recipe_on_path_stores_both_ends(seeded_app_db):
    at = open_page("path")
    at.text_input(key="path_start_q").set_value("Rockers Song 01").run()
    at.text_input(key="path_end_q").set_value("Ambienteers Song 01").run()
    at.slider(key="path_len").set_value(8).run()
    assert at.text_input(key="path_recipe_name").value == "Rockers Song 01 to Ambienteers Song 01"
    at.button(key="path_recipe_save").click().run()
    assert not at.exception, at.exception
    [recipe] = _recipes(seeded_app_db)
    assert (recipe.kind, dict(recipe.params), recipe.size, recipe.owner, recipe.refresh) == (
        "path", {"start_id": "roc01", "end_id": "amb01"}, 8, None, "daily")
    assert recipe.name == "Rockers Song 01 to Ambienteers Song 01"


def test_save_as_recipe_on_instant_playlist_keeps_the_sql_that_ran(seeded_app_db):
    at = open_page("chat")
    at.text_area(key="chat_request").set_value("calm ambient music").run()
    at.button(key="chat_go").click().run()
    sql = at.code[0].value
    at.text_input(key="chat_recipe_name").set_value("Calm")
    at.button(key="chat_recipe_save").click().run()  # a rerun without the button: the answer stays
    assert not at.exception, at.exception
    assert at.code[0].value == sql and len(at.dataframe[0].value) > 0
    [recipe] = _recipes(seeded_app_db)
    assert (recipe.kind, dict(recipe.params)) == ("instant", {"sql": sql, "request": "calm ambient music"})


def test_save_as_recipe_on_alchemy_stores_the_sets_and_sliders(seeded_app_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["alchemy_add"] = "roc05,roc07"
    at.query_params["alchemy_sub"] = "roc11"
    at.switch_page("pages/alchemy.py")
    at.run()
    at.slider(key="alchemy_t").set_value(0.5).run()
    at.text_input(key="alchemy_recipe_name").set_value("Less of roc11")
    at.button(key="alchemy_recipe_save").click().run()
    assert not at.exception, at.exception
    [recipe] = _recipes(seeded_app_db)
    assert (recipe.kind, recipe.size) == ("alchemy", 100)
    assert dict(recipe.params) == {"add_ids": ["roc05", "roc07"], "subtract_ids": ["roc11"], "temperature": 0.5,
                                   "subtract_distance": 0.2}
