"""Catalog: what AudioMuse knows of the library, and how far analysis has got."""

import streamlit as st

from audiomuse.store.queries import album_overview
from audiomuse_app.state import database

st.title("Catalog")
try:
    db = database()
    with db.connection(dict_rows=True) as conn:
        albums = album_overview(conn)
except ConnectionError as exc:
    st.error(f"The database is not reachable: {exc}")
    st.stop()

if not albums:
    st.info("No albums yet. Materialise the `catalog` asset in the Dagster UI (http://localhost:3000).")
    st.stop()

tracks = sum(a["tracks"] for a in albums)
analysed = sum(a["analysed"] for a in albums)
c1, c2, c3 = st.columns(3)
c1.metric("Albums", len(albums))
c2.metric("Tracks", tracks)
c3.metric("Analysed", f"{analysed} / {tracks}")
st.dataframe(
    albums,
    column_config={
        "id": None,
        "name": "Album",
        "artist": "Artist",
        "tracks": st.column_config.NumberColumn("Tracks"),
        "analysed": st.column_config.ProgressColumn("Analysed", min_value=0, max_value=max(1, max(a["tracks"] for a in albums))),
        "minutes": st.column_config.NumberColumn("Minutes", format="%.1f"),
        "added_at": st.column_config.DatetimeColumn("Added"),
    },
    hide_index=True,
    width="stretch",
)
