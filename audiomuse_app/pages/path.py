"""Song path: a smooth walk from one song to another."""

import streamlit as st

from audiomuse.playlists.path import find_path
from audiomuse_app.state import guard, library
from audiomuse_app.widgets import create_on_server, results_table, song_picker


def page():
    st.title("Song path")
    lib = library()
    c1, c2 = st.columns(2)
    with c1:
        start = song_picker("Start song", "path_start")
    with c2:
        end = song_picker("End song", "path_end")
    length = st.slider("Songs in the path (start and end included)", 3, 100, 25, key="path_len")
    if not (start and end):
        return
    if start == end:
        st.warning("Pick two different songs.")
        return
    path = find_path(lib.index, lib.metadata, start, end, length)
    if not path.complete:
        st.info(f"The library had only {len(path.track_ids)} distinct songs along this path "
                f"(asked for {length}).")
    st.caption(f"Direct angle {path.direct_angle:.3f} rad; typical neighbour step {path.local_step:.3f} rad.")
    results_table(path.track_ids, {t: {"step": i} for i, t in enumerate(path.track_ids)})
    create_on_server(path.track_ids, "path", "path",
                     default=f"{lib.metadata[start]['title']} to {lib.metadata[end]['title']}")


guard(page)
