"""Clustering playlists: what the last clustering run made, with scores and moods, and the pinned
ones the runs keep; pin or unpin; re-publish."""

import streamlit as st

from audiomuse.playlists.clustering import current_playlists, pin_playlist, publish_generation
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderError
from audiomuse_app.state import database, guard, settings
from audiomuse_app.widgets import results_table


def _pin(playlist_id: int, key: str) -> None:
    pin_playlist(database(), playlist_id, st.session_state[key])


def page():
    st.title("Clustering playlists")
    playlists = current_playlists(database())
    if not playlists:
        st.info("No clustering playlists yet. Materialise `clustering_playlists` in the Dagster UI.")
        return
    # the last run's playlists have the highest ids; pinned ones of earlier runs come before them
    latest = next(p for p in playlists if p["generation"] == playlists[-1]["generation"])
    first = latest["details"]
    pinned = sum(p["pinned"] for p in playlists)
    st.caption(f"{len(playlists)} playlists ({pinned} pinned) from run {latest['generation'][:8]}, "
               f"score {first.get('score', 0):.3f}, {first.get('params', {})}")
    for p in playlists:
        d = p["details"]
        moods = ", ".join(d.get("dominant_moods", [])[:3])
        mark = "📌 " if p["pinned"] else ""
        with st.expander(f"{mark}{p['name']} — {len(p['track_ids'])} songs — {moods}"):
            key = f"pin_{p['id']}"
            st.checkbox("Pinned: the next clustering runs keep it", value=p["pinned"], key=key,
                        on_change=_pin, args=(p["id"], key))
            st.write({k: round(v, 3) for k, v in list(d.get("profile", {}).items())[:5]})
            results_table(p["track_ids"])
    if st.button(f"Publish to {settings().media_server_type}", key="publish_clustering"):
        try:
            with make_provider(settings()) as provider:
                report = publish_generation(database(), provider)
        except (ValueError, ProviderError) as exc:
            st.error(f"Not published: {exc}")
        else:
            st.success(f"Published {report['published']} playlists; removed {len(report['deleted'])} stale ones.")


guard(page)
