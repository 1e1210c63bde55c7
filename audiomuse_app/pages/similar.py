"""Similar songs: the nearest tracks to one seed song."""

import streamlit as st

from audiomuse.index.similar import similar_by_track
from audiomuse_app.state import guard, library, settings
from audiomuse_app.widgets import create_on_server, results_table, song_picker


def page():
    st.title("Similar songs")
    lib = library()
    seed = song_picker("Seed song", "similar_seed")
    n = st.slider("Number of songs", 5, 200, 25, key="similar_n")
    if not seed:
        return
    hits = similar_by_track(lib.index, lib.metadata, seed, n, max_per_artist=settings().max_songs_per_artist)
    st.subheader(f"{len(hits)} songs like “{lib.metadata[seed]['title']}”")
    results_table([t for t, _ in hits], {t: {"distance": d} for t, d in hits})
    create_on_server([t for t, _ in hits], "similar", "similar", default=lib.metadata[seed]["title"])


guard(page)
