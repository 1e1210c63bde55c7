"""Music map: the whole library in 2-D, coloured by top genre; select points to make a playlist."""

import hashlib

import plotly.graph_objects as go
import streamlit as st

from audiomuse.music_map import SAMPLE_PERCENTS, map_points
from audiomuse_app.state import database, guard
from audiomuse_app.widgets import publish_or_save, results_table

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd"]


def colour_for(label: str) -> str:
    """The same genre always gets the same colour, across sessions and libraries."""
    return PALETTE[int(hashlib.md5(label.encode()).hexdigest(), 16) % len(PALETTE)]


def page():
    st.title("Music map")
    percent = st.segmented_control("Show", SAMPLE_PERCENTS, default=100, format_func=lambda p: f"{p}%",
                                   key="map_percent") or 100
    points = map_points(database(), percent)
    if not points:
        st.info("No map yet. Materialise `music_map` in the Dagster UI after some analysis.")
        return
    by_genre: dict[str, list[dict]] = {}
    for p in points:
        by_genre.setdefault(p["top_mood"], []).append(p)
    fig = go.Figure()
    for genre in sorted(by_genre, key=lambda g: -len(by_genre[g])):
        pts = by_genre[genre]
        fig.add_trace(go.Scattergl(
            x=[p["x"] for p in pts], y=[p["y"] for p in pts], mode="markers", name=f"{genre} ({len(pts)})",
            customdata=[p["id"] for p in pts], text=[f"{p['artist']} — {p['title']}" for p in pts],
            hovertemplate="%{text}<extra></extra>", marker=dict(size=6, color=colour_for(genre)),
        ))
    fig.update_layout(height=620, dragmode="lasso", margin=dict(l=0, r=0, t=10, b=0))
    st.caption(f"{len(points)} songs. Click legend entries to hide genres; lasso or box-select to make a playlist.")
    event = st.plotly_chart(fig, width="stretch", on_select="rerun", selection_mode=("lasso", "box"),
                            key="map_chart")
    selected = [p["customdata"] for p in (event.selection.points if event and event.selection else [])
                if p.get("customdata")]
    if selected:
        st.subheader(f"{len(selected)} selected")
        results_table(selected)
        publish_or_save(selected, "map", "map", "map_selection", {"track_ids": selected})


guard(page)
