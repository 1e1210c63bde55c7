"""The explorer's "Create on <server>" button with MEDIA_SERVER_TYPE=mpd, against a real MPD: the
similar page's result lands as an MPD stored playlist, in order, and a second click replaces it."""

from __future__ import annotations

import numpy as np
import pytest

from audiomuse.artifact_builds import build_similarity_index
from audiomuse.catalog import refresh_catalog
from audiomuse.config import get_settings
from audiomuse.providers.mpd import MPDProvider
from audiomuse.store import analysis as analysis_store
from tests.audiomuse.providers.conftest import generated_music  # noqa: F401 - a fixture, used by name
from tests.audiomuse.providers.mpd_server import mpd_client, mpd_server, requires_mpd
from tests.audiomuse_app.apptest import open_page

pytestmark = requires_mpd


@pytest.fixture
def mpd_app(app_db, generated_music, tmp_path, monkeypatch):  # noqa: F811 - the imported fixture
    """The app on a catalog read from a real MPD (track ids are MPD file URIs), with an index."""
    with mpd_server(generated_music, tmp_path / "mpd") as url:
        with MPDProvider(url, music_dir=generated_music, retries=1) as provider:
            refresh_catalog(provider, app_db)
            ids = [t.id for a in provider.newest_albums() for t in provider.album_tracks(a.id)]
        rng = np.random.default_rng(3)
        with app_db.connection() as conn:
            for i, track_id in enumerate(ids):
                analysis_store.save_track_analysis(
                    conn, track_id, embedding=rng.standard_normal(200).astype(np.float32), n_patches=3,
                    model="test", tempo=90 + i, key="C", scale="major", energy=0.2, mood_vector={"rock": 0.5},
                    other_features={}, signal_features={})
        build_similarity_index(app_db)
        monkeypatch.setenv("MEDIA_SERVER_TYPE", "mpd")
        monkeypatch.setenv("MEDIA_SERVER_URL", url)
        get_settings.cache_clear()
        yield url


def _create(at, name: str) -> None:
    form_name = next(t for t in at.text_input if t.label == "Playlist name")
    form_name.set_value(name)
    next(b for b in at.button if b.label == "Create on mpd").click().run()
    assert not at.exception, at.exception


def _titles(uris: list[str]) -> list[str]:
    return [uri.rsplit(" - ", 1)[-1].rsplit(".", 1)[0] for uri in uris]  # "Alpha Band/First Light/02 - Noon.flac"


def test_create_on_mpd_publishes_the_result_in_order_and_replaces_it(mpd_app):
    at = open_page("similar")
    at.text_input(key="similar_seed_q").set_value("Dawn").run()
    at.slider(key="similar_n").set_value(5).run()
    first = list(at.dataframe[0].value["title"])
    _create(at, "Morning")
    assert [s.value for s in at.success] == [f"Created “Morning_similar” with {len(first)} songs."]
    assert _titles(mpd_client(mpd_app).listplaylist("Morning_similar")) == first
    at.text_input(key="similar_seed_q").set_value("Tick").run()  # another result, same name: replaced
    second = list(at.dataframe[0].value["title"])
    assert second != first
    _create(at, "Morning")
    client = mpd_client(mpd_app)
    assert [p["playlist"] for p in client.listplaylists()] == ["Morning_similar"]
    assert _titles(client.listplaylist("Morning_similar")) == second
