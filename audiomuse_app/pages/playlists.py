"""Clustering playlists: what the last clustering run made, with scores and moods; re-publish."""

import streamlit as st

from audiomuse.playlists.clustering import current_playlists, publish_generation
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderError
from audiomuse_app.state import database, guard, settings
from audiomuse_app.widgets import results_table


def page():
    st.title("Clustering playlists")
    playlists = current_playlists(database())
    if not playlists:
        st.info("No clustering playlists yet. Materialise `clustering_playlists` in the Dagster UI.")
        return
    first = playlists[0]["details"]
    st.caption(f"{len(playlists)} playlists from run {playlists[0]['generation'][:8]}, "
               f"score {first.get('score', 0):.3f}, {first.get('params', {})}")
    for p in playlists:
        d = p["details"]
        moods = ", ".join(d.get("dominant_moods", [])[:3])
        with st.expander(f"{p['name']} — {len(p['track_ids'])} songs — {moods}"):
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
