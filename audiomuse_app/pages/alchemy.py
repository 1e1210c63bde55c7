"""Song alchemy: add the songs you want more of, subtract what you want less of."""

import plotly.graph_objects as go
import streamlit as st

from audiomuse.playlists.alchemy import alchemy_view, song_alchemy
from audiomuse_app.state import guard, indexed_tracks, settings
from audiomuse_app.widgets import (map_figure, picker_pair, publish_or_save, results_table, song_multi_picker,
                                   stored_map)


def page():
    st.title("Song alchemy")
    tracks = indexed_tracks()
    add, sub = picker_pair(song_multi_picker, ("Add songs", "alchemy_add"), ("Subtract songs", "alchemy_sub"))
    add, sub = [t for t in add if t in tracks.index], [t for t in sub if t in tracks.index]  # linked ids may be stale
    n = st.slider("Songs", 10, 200, 100, key="alchemy_n")
    temperature = st.slider("Temperature (0 = always the nearest)", 0.0, 3.0, 1.0, 0.1, key="alchemy_t")
    distance = st.slider("Subtract distance (cosine)", 0.05, 0.6, 0.2, 0.01, key="alchemy_d")
    if not add:
        st.caption("Add at least one song.")
        return
    result = song_alchemy(tracks.index, tracks.metadata, add, sub, n, subtract_distance=distance,
                          temperature=temperature, max_per_artist=settings().max_songs_per_artist)
    st.subheader(f"{len(result.results)} songs; {len(result.filtered_out)} filtered out by the subtract set")
    _plot(tracks, result)
    ids = [t for t, _ in result.results]
    results_table(ids, {t: {"distance": d} for t, d in result.results})
    publish_or_save(ids, "alchemy", "alchemy", "alchemy",
                    {"add_ids": add, "subtract_ids": sub, "temperature": temperature, "subtract_distance": distance},
                    size=n)


def _plot(tracks, result):
    """Results, filtered-out songs, seeds and centroids on the stored map; songs the map lacks are
    placed by alchemy's own projection (see audiomuse.playlists.alchemy.alchemy_view)."""
    positions = stored_map() or {}
    view = alchemy_view(tracks.index, result, positions)
    fig = map_figure(positions)
    for name, group, style in [
        ("results", [t for t, _ in result.results], dict(size=7, color="#1f77b4")),
        ("filtered out", [t for t, _ in result.filtered_out], dict(size=7, color="#999999", symbol="x")),
        ("added", result.add_ids, dict(size=14, color="#2ca02c", symbol="star")),
        ("subtracted", result.subtract_ids, dict(size=14, color="#d62728", symbol="star")),
    ]:
        pts = [view.coords[t] for t in group if t in view.coords]
        if pts:
            fig.add_trace(go.Scattergl(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers",
                                       name=name, marker=style))
    for name, point, color in [("add centroid", view.add_centroid, "#2ca02c"),
                               ("subtract centroid", view.subtract_centroid, "#d62728")]:
        if point is not None:
            fig.add_trace(go.Scattergl(x=[point[0]], y=[point[1]], mode="markers", name=name,
                                       marker=dict(size=18, color=color, symbol="diamond-open")))
    st.plotly_chart(fig, width="stretch", key="alchemy_map")
    if view.missing_from_map:
        st.caption(f"{view.missing_from_map} song(s) not on the stored map, placed by a local "
                   f"{view.method.removeprefix('stored+')} projection.")


guard(page)
