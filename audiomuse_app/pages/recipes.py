"""Recipes: the saved living playlists per owner; edit, delete, or refresh one now through Dagster."""

from __future__ import annotations

import psycopg
import streamlit as st

from audiomuse.recipes.model import POLICIES, TIMED, Recipe
from audiomuse.recipes.store import delete_recipe, list_recipes, save_recipe
from audiomuse_app.dagster_client import DagsterClient, DagsterClientError
from audiomuse_app.state import database, guard, settings

ASSET = "recipe_playlists"
EVERYONE = "All owners"
CONFIGURED = ""  # the owner selector's value for recipes of the configured user (owner NULL)


def page():
    st.title("Recipes")
    st.caption("Saved tool results (“Save as recipe” on the tool pages), refreshed on their policy by the "
               f"`{ASSET}` asset.")
    with database().connection() as conn:
        recipes = list_recipes(conn)
    if not recipes:
        st.info("No recipes yet. Make a result on a tool page (similar songs, path, alchemy, map, fingerprint, "
                "instant playlist) and use “Save as recipe”.")
        return
    owners = sorted({r.owner or CONFIGURED for r in recipes})
    who = st.selectbox("Owner", [EVERYONE, *owners], key="recipes_owner", format_func=_owner_label)
    shown = recipes if who == EVERYONE else [r for r in recipes if (r.owner or CONFIGURED) == who]
    st.caption(f"{len(shown)} recipe(s)")
    for recipe in shown:
        _recipe(recipe)


def _owner_label(owner: str) -> str:
    if owner == EVERYONE:
        return owner
    return owner or f"(configured user{': ' + settings().media_server_user if settings().media_server_user else ''})"


def _recipe(recipe: Recipe) -> None:
    """One recipe: what it is and how it last went, its edit form, delete and refresh now."""
    rid = recipe.id
    when = f"at {recipe.refresh_hour:02d}:00" if recipe.refresh in TIMED else ""
    with st.container(border=True, key=f"recipe_{rid}"):
        st.markdown(f"**{recipe.name}** · {recipe.kind} · owner {_owner_label(recipe.owner or CONFIGURED)}")
        refreshed = f"{recipe.refreshed_at:%Y-%m-%d %H:%M}" if recipe.refreshed_at else "never"
        st.caption(f"Refresh: {recipe.refresh} {when} · size {recipe.size} · last refresh {refreshed} · "
                   f"{len(recipe.track_ids)} songs")
        if recipe.last_error:
            st.warning(f"Last refresh failed: {recipe.last_error}")
        with st.expander("Edit"):
            _edit_form(recipe)
        c1, c2 = st.columns(2)
        if c1.button("Refresh now", key=f"recipe_refresh_{rid}"):
            _refresh_now(recipe)
        if c2.button("Delete", key=f"recipe_delete_{rid}"):
            with database().connection() as conn:
                delete_recipe(conn, rid)
            st.rerun()


def _edit_form(recipe: Recipe) -> None:
    rid = recipe.id
    with st.form(f"recipe_edit_{rid}"):
        name = st.text_input("Name", value=recipe.name, key=f"recipe_name_{rid}")
        c1, c2, c3 = st.columns(3)
        refresh = c1.selectbox("Refresh", POLICIES, index=POLICIES.index(recipe.refresh), key=f"recipe_policy_{rid}")
        hour = c2.number_input("Hour", 0, 23, recipe.refresh_hour, key=f"recipe_hour_{rid}")
        size = c3.number_input("Songs", 1, 500, recipe.size, key=f"recipe_size_{rid}")
        if not st.form_submit_button("Save changes", key=f"recipe_save_{rid}"):
            return
    try:
        edited = Recipe(name.strip(), recipe.kind, recipe.params, owner=recipe.owner, refresh=refresh,
                        refresh_hour=int(hour), size=int(size), id=rid)
        with database().connection() as conn:
            save_recipe(conn, edited)
    except ValueError as exc:
        st.error(f"Not saved: {exc}")
        return
    except psycopg.errors.UniqueViolation:
        st.error(f"Not saved: this owner already has a recipe named “{name.strip()}”.")
        return
    st.rerun()


def _refresh_now(recipe: Recipe) -> None:
    client = DagsterClient(settings().dagster_url)
    try:
        run_id = client.launch_assets([ASSET], partition=recipe.partition_key)
    except DagsterClientError as exc:
        st.error(f"Refresh of “{recipe.name}” not launched: {exc}. Is Dagster running (`make run`), and has the "
                 f"recipes sensor registered partition {recipe.partition_key} of `{ASSET}` yet?")
    else:
        st.success(f"Refresh launched: [{run_id[:8]}]({client.run_url(run_id)})")


guard(page)
