"""Widgets shared by the tool pages: song pickers, results table, map plots, create-on-server and
save-as-recipe forms."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import plotly.graph_objects as go
import psycopg
import streamlit as st

from audiomuse.music_map import MAP_ARTIFACT, map_positions
from audiomuse.playlists.publish import playlist_name, publish
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderError
from audiomuse.recipes.model import POLICIES, Recipe, RecipeKind
from audiomuse.recipes.store import save_recipe
from audiomuse.store.artifacts import artifact_info
from audiomuse.store.queries import search_tracks, tracks_by_ids
from audiomuse_app.state import database, settings


def song_picker(label: str, key: str) -> str | None:
    """Search artist, title or album (from the third letter) and pick one analysed track.

    ``?<key>=<track id>`` in the page URL pre-selects a track (links to a path, a seed...)."""
    linked = _linked_tracks(key) if f"{key}_pick" not in st.session_state else []  # only until picked
    if linked and f"{key}_q" not in st.session_state:
        st.session_state[f"{key}_q"] = f"{linked[0]['artist']} {linked[0]['title']}"
    query = st.text_input(label, key=f"{key}_q", placeholder="artist or title, 3+ letters")
    if len(query.strip()) < 3:
        return None
    with database().connection(dict_rows=True) as conn:
        hits = [h for h in search_tracks(conn, query.strip()) if h["analysed"]]
    if not hits:
        st.caption("No analysed track matches.")
        return None
    options = {h["id"]: f"{h['artist']} — {h['title']} ({h['album']})" for h in hits}
    ids = list(options)
    first = ids.index(linked[0]["id"]) if linked and linked[0]["id"] in options else 0
    return st.selectbox(f"{label}: match", ids, index=first, format_func=options.get, key=f"{key}_pick")


def song_multi_picker(label: str, key: str) -> list[str]:
    """Search and add tracks one by one; ``?<key>=<id>,<id>`` in the URL pre-fills the list."""
    if f"{key}_chosen" not in st.session_state:
        st.session_state[f"{key}_chosen"] = {t["id"]: f"{t['artist']} — {t['title']}" for t in _linked_tracks(key)}
    chosen = st.session_state[f"{key}_chosen"]
    query = st.text_input(label, key=f"{key}_q", placeholder="artist or title, 3+ letters")
    if len(query.strip()) >= 3:
        with database().connection(dict_rows=True) as conn:
            hits = [h for h in search_tracks(conn, query.strip()) if h["analysed"]]
        options = {h["id"]: f"{h['artist']} — {h['title']}" for h in hits}
        pick = st.selectbox("match", [None, *options], format_func=lambda i: "…" if i is None else options[i],
                            key=f"{key}_pick")
        if pick and st.button("Add", key=f"{key}_add"):
            chosen[pick] = options[pick]
    for tid, text in list(chosen.items()):
        c1, c2 = st.columns([6, 1])
        c1.write(text)
        if c2.button("✕", key=f"{key}_rm_{tid}"):
            chosen.pop(tid)
            st.rerun()
    return list(chosen)


def _linked_tracks(key: str) -> list[dict]:
    """Tracks named by the URL query parameter ``key`` (comma-separated ids), unknown ids dropped."""
    raw = st.query_params.get(key)
    ids = [t for t in (raw or "").split(",") if t]
    if not ids:
        return []
    with database().connection(dict_rows=True) as conn:
        return tracks_by_ids(conn, ids)


T = TypeVar("T")


def picker_pair(picker: Callable[[str, str], T], first: tuple[str, str], second: tuple[str, str]) -> tuple[T, T]:
    """Two pickers side by side, each given as (label, key): path's start/end, alchemy's add/subtract."""
    c1, c2 = st.columns(2)
    with c1:
        a = picker(*first)
    with c2:
        b = picker(*second)
    return a, b


def stored_map() -> dict[str, tuple[float, float]] | None:
    """Track id -> position on the stored music map, or None (with a hint) when there is no map.

    Loaded once per map version (checked by checksum on each run): 100k points are a few MB."""
    with database().connection() as conn:
        info = artifact_info(conn, MAP_ARTIFACT)
    positions = _positions_for(info[0], database()) if info and info[0] else None
    if positions is None:
        st.caption("Materialise `music_map` to see these songs on the map.")
    return positions


@st.cache_resource(show_spinner=False, max_entries=1)
def _positions_for(sha: str, _db) -> dict[str, tuple[float, float]] | None:
    return map_positions(_db)


def map_figure(background: dict[str, tuple[float, float]], height: int = 480) -> go.Figure:
    """A figure with the whole stored map drawn faintly, to put a tool's songs on."""
    fig = go.Figure()
    if background:
        xy = list(background.values())
        fig.add_trace(go.Scattergl(x=[p[0] for p in xy], y=[p[1] for p in xy], mode="markers", name="library",
                                   hoverinfo="skip", marker=dict(size=4, color="#c8c8c8", opacity=0.35)))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0))
    return fig


def results_table(ids: list[str], extra: dict[str, dict] | None = None) -> list[dict]:
    with database().connection(dict_rows=True) as conn:
        rows = tracks_by_ids(conn, ids)
    for row in rows:
        row.update((extra or {}).get(row["id"], {}))
    st.dataframe(
        rows, hide_index=True, width="stretch",
        column_config={"id": None, "tempo": st.column_config.NumberColumn("BPM", format="%.0f"),
                       "energy": st.column_config.NumberColumn(format="%.3f"),
                       "distance": st.column_config.NumberColumn(format="%.4f")},
    )
    return rows


def create_on_server(ids: list[str], tool: str, key: str, default: str = "") -> None:
    """Name field plus button; publishes with the tool's suffix to the configured provider."""
    if not ids:
        return
    with st.form(f"{key}_publish"):
        name = st.text_input("Playlist name", value=default)
        submitted = st.form_submit_button(f"Create on {settings().media_server_type}")
    if not submitted:
        return
    try:
        full = playlist_name(name, tool)
        with make_provider(settings()) as provider:
            playlist = publish(provider, full, tool, ids)
    except (ValueError, ProviderError) as exc:
        st.error(f"Playlist not created: {exc}")
    else:
        st.success(f"Created “{playlist.name}” with {len(ids)} songs.")


def save_as_recipe(kind: RecipeKind, params: Mapping[str, Any], key: str, default: str = "", size: int = 25) -> None:
    """Name, owner, refresh policy, hour and size; stores the tool's inputs as a living-playlist recipe.

    The owner defaults to the configured media-server user (empty = that user)."""
    if not params:
        return
    with st.form(f"{key}_recipe"):
        name = st.text_input("Recipe name", key=_following(f"{key}_recipe_name", default))
        owner = st.text_input("Owner (media-server user)", value=settings().media_server_user or "",
                              key=f"{key}_recipe_owner", placeholder="the configured user",
                              help="Empty: the configured media-server user.")
        c1, c2, c3 = st.columns(3)
        refresh = c1.selectbox("Refresh", POLICIES, key=f"{key}_recipe_refresh")
        hour = c2.number_input("Hour", 0, 23, 6, key=f"{key}_recipe_hour", help="For daily and weekly refreshes.")
        songs = c3.number_input("Songs", 1, 500, key=_following(f"{key}_recipe_size", max(1, min(size, 500))))
        submitted = st.form_submit_button("Save as recipe", key=f"{key}_recipe_save")
    if not submitted:
        return
    owner = owner.strip() or None
    try:
        recipe = Recipe(name.strip(), kind, dict(params), owner=owner, refresh=refresh, refresh_hour=int(hour),
                        size=int(songs))
        with database().connection() as conn:
            saved = save_recipe(conn, recipe)
    except ValueError as exc:
        st.error(f"Recipe not saved: {exc}")
    except psycopg.errors.UniqueViolation:
        st.error(f"Recipe not saved: {owner or 'the configured user'} already has a recipe named “{name.strip()}”. "
                 "Pick another name, or edit that recipe on the Recipes page.")
    else:
        st.success(f"Saved recipe “{saved.name}” ({saved.kind}, {saved.refresh}) for "
                   f"{saved.owner or 'the configured user'}.")


def _following(widget_key: str, default: Any) -> str:
    """A keyed input's key, its value reset to ``default`` whenever that changes (another seed, another
    length): a keyed widget otherwise keeps its first value whatever its default becomes."""
    marker = f"{widget_key}__default"
    if marker not in st.session_state or st.session_state[marker] != default:
        st.session_state[marker] = default
        st.session_state[widget_key] = default
    return widget_key


def publish_or_save(ids: list[str], tool: str, key: str, kind: RecipeKind, params: Mapping[str, Any],
                    default: str = "", size: int | None = None) -> None:
    """The result's two actions side by side: create it on the server now, or save it as a recipe
    (``size`` songs on each refresh; default this result's length)."""
    if not ids:
        return
    c1, c2 = st.columns(2)
    with c1:
        create_on_server(ids, tool, key, default=default)
    with c2:
        save_as_recipe(kind, params, key, default=default, size=size or len(ids))
