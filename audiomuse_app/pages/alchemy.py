"""Song alchemy: add the songs you want more of, subtract what you want less of."""

import plotly.graph_objects as go
import streamlit as st

from audiomuse.music_map import load_map
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse_app.state import database, guard, library
from audiomuse_app.widgets import create_on_server, results_table, song_multi_picker


def page():
    st.title("Song alchemy")
    lib = library()
    c1, c2 = st.columns(2)
    with c1:
        add = song_multi_picker("Add songs", "alchemy_add")
    with c2:
        sub = song_multi_picker("Subtract songs", "alchemy_sub")
    n = st.slider("Songs", 10, 200, 100, key="alchemy_n")
    temperature = st.slider("Temperature (0 = always the nearest)", 0.0, 3.0, 1.0, 0.1, key="alchemy_t")
    distance = st.slider("Subtract distance (cosine)", 0.05, 0.6, 0.2, 0.01, key="alchemy_d")
    if not add:
        st.caption("Add at least one song.")
        return
    result = song_alchemy(lib.index, lib.metadata, add, sub, n, subtract_distance=distance, temperature=temperature)
    st.subheader(f"{len(result.results)} songs; {len(result.filtered_out)} filtered out by the subtract set")
    _plot(result)
    ids = [t for t, _ in result.results]
    results_table(ids, {t: {"distance": d} for t, d in result.results})
    create_on_server(ids, "alchemy", "alchemy")


def _plot(result):
    """Results, filtered-out songs and seeds on the stored map (the projection every view shares)."""
    stored = load_map(database())
    if stored is None:
        st.caption("Materialise `music_map` to see these songs on the map.")
        return
    ids, coords, _ = stored
    pos = {t: coords[i] for i, t in enumerate(ids)}
    fig = go.Figure()
    for name, group, style in [
        ("results", [t for t, _ in result.results], dict(size=7, color="#1f77b4")),
        ("filtered out", [t for t, _ in result.filtered_out], dict(size=7, color="#bbbbbb", symbol="x")),
        ("added", result.add_ids, dict(size=14, color="#2ca02c", symbol="star")),
        ("subtracted", result.subtract_ids, dict(size=14, color="#d62728", symbol="star")),
    ]:
        pts = [pos[t] for t in group if t in pos]
        if pts:
            fig.add_trace(go.Scattergl(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="markers",
                                       name=name, marker=style))
    for name, members, color in [("add centroid", result.add_ids, "#2ca02c"),
                                 ("subtract centroid", result.subtract_ids, "#d62728")]:
        pts = [pos[t] for t in members if t in pos]
        if pts:
            fig.add_trace(go.Scattergl(x=[sum(p[0] for p in pts) / len(pts)], y=[sum(p[1] for p in pts) / len(pts)],
                                       mode="markers", name=name,
                                       marker=dict(size=18, color=color, symbol="diamond-open")))
    fig.update_layout(height=480, margin=dict(l=0, r=0, t=10, b=0))
    st.plotly_chart(fig, width="stretch")


guard(page)
