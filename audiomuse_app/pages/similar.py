"""Similar songs: the nearest tracks to one seed song."""

import streamlit as st

from audiomuse.index.similar import similar_by_track
from audiomuse_app.state import guard, indexed_tracks, settings
from audiomuse_app.widgets import publish_or_save, results_table, song_picker


def page():
    st.title("Similar songs")
    tracks = indexed_tracks()
    seed = song_picker("Seed song", "similar_seed")
    n = st.slider("Number of songs", 5, 200, 25, key="similar_n")
    if not seed:
        return
    hits = similar_by_track(tracks.index, tracks.metadata, seed, n, max_per_artist=settings().max_songs_per_artist)
    st.subheader(f"{len(hits)} songs like “{tracks.metadata[seed]['title']}”")
    results_table([t for t, _ in hits], {t: {"distance": d} for t, d in hits})
    publish_or_save([t for t, _ in hits], "similar", "similar", "similar", {"track_id": seed},
                    default=tracks.metadata[seed]["title"], size=n)


guard(page)
