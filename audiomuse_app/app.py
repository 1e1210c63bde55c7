"""Entry point: `streamlit run audiomuse_app/app.py`. Routes to one thin module per tool."""

from pathlib import Path

import streamlit as st

from audiomuse.store.queries import library_status
from audiomuse_app.state import database, settings

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="AudioMuse", page_icon=":material/graphic_eq:", layout="wide")


def sidebar() -> None:
    with st.sidebar:
        st.markdown("### AudioMuse")
        try:
            with database().connection(dict_rows=True) as conn:
                s = library_status(conn)
        except ConnectionError as exc:
            st.error(f"Database unreachable: {exc}")
            return
        st.metric("Analysed tracks", f"{s['analysed']} / {s['tracks']}")
        if s["failed"]:
            st.caption(f"{s['failed']} track(s) failed analysis")
        for name, label in (("similarity_index", "Index"), ("music_map", "Map")):
            art = s[name]
            st.caption(f"{label}: " + (f"{art['meta'].get('tracks', 0)} tracks, "
                                       f"{art['created_at']:%Y-%m-%d %H:%M}" if art else "not built yet"))
        st.caption(f"Provider: {settings().media_server_type}")


sidebar()
page = st.navigation(
    {
        "Library": [
            st.Page(PAGES / "catalog.py", title="Catalog", icon=":material/library_music:", default=True),
            st.Page(PAGES / "playlists.py", title="Clustering playlists", icon=":material/queue_music:"),
            st.Page(PAGES / "recipes.py", title="Recipes", icon=":material/autorenew:"),
            st.Page(PAGES / "pipeline.py", title="Pipeline", icon=":material/account_tree:"),
            st.Page(PAGES / "sync.py", title="Collection sync", icon=":material/sync:"),
        ],
        "Explore": [
            st.Page(PAGES / "similar.py", title="Similar songs", icon=":material/join_inner:"),
            st.Page(PAGES / "path.py", title="Song path", icon=":material/route:"),
            st.Page(PAGES / "alchemy.py", title="Song alchemy", icon=":material/science:"),
            st.Page(PAGES / "music_map.py", title="Music map", icon=":material/scatter_plot:"),
            st.Page(PAGES / "fingerprint.py", title="Sonic fingerprint", icon=":material/fingerprint:"),
            st.Page(PAGES / "chat.py", title="Instant playlist", icon=":material/chat:"),
        ],
    }
)
page.run()
