"""Widgets shared by the tool pages: song picker, results table, create-on-server form."""

from __future__ import annotations

import streamlit as st

from audiomuse.playlists.publish import playlist_name, publish
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderError
from audiomuse.store.queries import search_tracks, tracks_by_ids
from audiomuse_app.state import database, settings


def song_picker(label: str, key: str) -> str | None:
    """Search artist, title or album (from the third letter) and pick one analysed track."""
    query = st.text_input(label, key=f"{key}_q", placeholder="artist or title, 3+ letters")
    if len(query.strip()) < 3:
        return None
    with database().connection(dict_rows=True) as conn:
        hits = [h for h in search_tracks(conn, query.strip()) if h["analysed"]]
    if not hits:
        st.caption("No analysed track matches.")
        return None
    options = {h["id"]: f"{h['artist']} — {h['title']} ({h['album']})" for h in hits}
    return st.selectbox(f"{label}: match", list(options), format_func=options.get, key=f"{key}_pick")


def song_multi_picker(label: str, key: str) -> list[str]:
    query = st.text_input(label, key=f"{key}_q", placeholder="artist or title, 3+ letters")
    chosen = st.session_state.setdefault(f"{key}_chosen", {})
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
