"""Sonic fingerprint: a playlist in the direction of what you actually listen to."""

import streamlit as st

from audiomuse.playlists.fingerprint import sonic_fingerprint
from audiomuse.providers import make_provider
from audiomuse.providers.base import ProviderError
from audiomuse_app.state import guard, indexed_tracks, settings
from audiomuse_app.widgets import publish_or_save, results_table


def page():
    st.title("Sonic fingerprint")
    tracks = indexed_tracks()
    cfg = settings()
    needs_user = cfg.media_server_type in ("subsonic", "navidrome", "jellyfin", "emby", "plex")
    user = st.text_input("User", value=cfg.media_server_user or "", disabled=not needs_user,
                         help=None if needs_user else "This provider has no per-user history login.")
    n = st.slider("Songs", 40, 200, 100, key="fp_n")
    if st.button("Make my fingerprint playlist", type="primary"):
        try:
            with make_provider(cfg) as provider:
                history = provider.top_played(limit=100, user=user or None)
        except ProviderError as exc:
            st.session_state.pop("fp_result", None)
            st.error(f"Could not read the listening history: {exc}")
            return
        playlist, _ = sonic_fingerprint(tracks.index, tracks.metadata, history, n,
                                        max_per_artist=cfg.max_songs_per_artist)
        # kept for the reruns of the create and save forms below
        st.session_state["fp_result"] = (user, playlist, {p.track_id for p in history})
    if "fp_result" not in st.session_state:
        return
    made_for, playlist, seeds = st.session_state["fp_result"]
    if not playlist:
        st.info("No listening history with analysed songs yet: play some music, then try again.")
        return
    results_table(playlist, {t: {"seed": t in seeds} for t in playlist})
    publish_or_save(playlist, "fingerprint", "fingerprint", "fingerprint", {"user": made_for or None},
                    default="My fingerprint", size=n)


guard(page)
