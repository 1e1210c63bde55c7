from __future__ import annotations

import pytest

from audiomuse.config import get_settings
from tests.seed import seed_library


@pytest.fixture
def app_db(db, monkeypatch, tmp_path):
    """The app pointed at a fresh database (seed it per test as needed)."""
    monkeypatch.setenv("AUDIOMUSE_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("DATABASE_URL", db.url)
    monkeypatch.setenv("AUDIOMUSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEDIA_SERVER_TYPE", "local")
    music = tmp_path / "music"
    music.mkdir()
    monkeypatch.setenv("MUSIC_DIR", str(music))
    get_settings.cache_clear()
    import streamlit as st

    st.cache_resource.clear()
    yield db
    get_settings.cache_clear()
    st.cache_resource.clear()


@pytest.fixture
def seeded_app_db(app_db):
    seed_library(app_db)
    return app_db
