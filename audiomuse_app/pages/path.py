"""Song path: a smooth walk from one song to another, listed and drawn on the music map."""

import plotly.graph_objects as go
import streamlit as st

from audiomuse.playlists.path import find_path
from audiomuse_app.state import guard, indexed_tracks, settings
from audiomuse_app.widgets import map_figure, publish_or_save, picker_pair, results_table, song_picker, stored_map


def page():
    st.title("Song path")
    tracks = indexed_tracks()
    start, end = picker_pair(song_picker, ("Start song", "path_start"), ("End song", "path_end"))
    length = st.slider("Songs in the path (start and end included)", 3, 100, 25, key="path_len")
    if not (start and end):
        return
    if start == end:
        st.warning("Pick two different songs.")
        return
    path = find_path(tracks.index, tracks.metadata, start, end, length,
                     max_per_artist=settings().max_songs_per_artist)
    if not path.complete:
        st.info(f"{len(path.track_ids)} songs instead of {length}: {path.reason}.")
    st.caption(f"Direct angle {path.direct_angle:.3f} rad; typical neighbour step {path.local_step:.3f} rad.")
    _plot(path.track_ids, tracks.metadata)
    results_table(path.track_ids, {t: {"step": i} for i, t in enumerate(path.track_ids)})
    publish_or_save(path.track_ids, "path", "path", "path", {"start_id": start, "end_id": end},
                    default=f"{tracks.metadata[start]['title']} to {tracks.metadata[end]['title']}", size=length)


def _plot(ids: list[str], metadata: dict[str, dict]) -> None:
    """The library faintly, the path's songs as a connected line in order, start and end marked."""
    positions = stored_map()
    if positions is None:
        return
    on_map = [t for t in ids if t in positions]
    fig = map_figure(positions)
    label = [f"{i}. {metadata.get(t, {}).get('artist', '')} — {metadata.get(t, {}).get('title', t)}"
             for i, t in enumerate(ids) if t in positions]
    fig.add_trace(go.Scatter(x=[positions[t][0] for t in on_map], y=[positions[t][1] for t in on_map],
                             mode="lines+markers", name="path", text=label, hovertemplate="%{text}<extra></extra>",
                             line=dict(color="#1f77b4", width=2), marker=dict(size=7, color="#1f77b4")))
    for name, tid, color in (("start", ids[0], "#2ca02c"), ("end", ids[-1], "#d62728")):
        if tid in positions:
            fig.add_trace(go.Scatter(x=[positions[tid][0]], y=[positions[tid][1]], mode="markers", name=name,
                                     hovertext=name, marker=dict(size=16, color=color, symbol="star")))
    st.plotly_chart(fig, width="stretch", key="path_map")
    if len(on_map) < len(ids):
        st.caption(f"{len(ids) - len(on_map)} song(s) of the path are not on the map yet (built before "
                   "they were analysed).")


guard(page)
