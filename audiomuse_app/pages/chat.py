"""Instant playlist: a sentence becomes SQL (LLM or the offline parser), validated, run read-only."""

import streamlit as st

from audiomuse.chat import chat_playlist
from audiomuse_app.state import database, guard, settings
from audiomuse_app.widgets import publish_or_save, results_table

PROVIDERS = ["none", "ollama", "openai", "gemini", "mistral"]


def page():
    st.title("Instant playlist")
    cfg = settings()
    with st.expander("Model", expanded=cfg.ai_model_provider == "none"):
        provider = st.selectbox("Provider", PROVIDERS, index=PROVIDERS.index(cfg.ai_model_provider), key="chat_provider",
                                help="'none' uses the built-in offline parser: moods, genres, tempo, energy, artists.")
        url = st.text_input("Server URL", value=cfg.ai_model_url or "", key="chat_url")
        model = st.text_input("Model", value=cfg.ai_model_name or "", key="chat_model")
        key = st.text_input("API key", type="password", key="chat_key",
                            help="Used for this request only; never stored or logged.")
    request = st.text_area("What kind of music are you in the mood for?", key="chat_request",
                           placeholder="calm ambient music for reading")
    if st.button("Get playlist idea", type="primary", key="chat_go") and request.strip():
        overrides = {"ai_model_provider": provider, "ai_model_url": url or None, "ai_model_name": model or None}
        if key:
            overrides["ai_api_key"] = key
        run_settings = cfg.model_copy(update=overrides) if provider != "none" else None
        with st.spinner("Thinking…"):
            result = chat_playlist(database(), run_settings, request, max_per_artist=cfg.max_songs_per_artist)
        st.session_state["chat_result"] = (request, result)  # kept for the reruns of the forms below
    if "chat_result" in st.session_state:
        _show(*st.session_state["chat_result"])


def _show(request: str, result) -> None:
    """The last answer: its SQL, its songs and what to do with them (the recipe re-runs that SQL)."""
    if result.note:
        st.caption(result.note)
    if result.sql:
        st.code(result.sql, language="sql")
    if result.error:
        st.error(result.error)
    if not result.rows:
        st.info("No songs matched.")
        return
    ids = [r["item_id"] for r in result.rows]
    results_table(ids)
    publish_or_save(ids, "instant", "chat", "instant", {"sql": result.sql, "request": request} if result.sql else {},
                    default=request[:40])


guard(page)
