"""Every page, run with Streamlit's AppTest against a real (seeded) PostgreSQL."""

from streamlit.testing.v1 import AppTest

from tests.audiomuse_app.apptest import APP
from tests.audiomuse_app.apptest import open_page as _open


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.info] + [m.value for m in at.caption]
    parts += [t.value for t in at.title] + [s.value for s in at.subheader] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def test_catalog_page_on_empty_library_explains_what_to_do(app_db):
    at = _open()
    assert "No albums yet" in _text(at)


def test_catalog_page_lists_albums_and_sidebar_counts(seeded_app_db):
    at = _open()
    assert [m.value for m in at.metric][:3] == ["3", "90", "90 / 90"]
    df = at.dataframe[0].value
    assert sorted(df["name"]) == ["Ambienteers Album", "Orchestra Album", "Rockers Album"]
    assert at.sidebar.metric[0].value == "90 / 90"


def test_tool_pages_without_index_say_so(app_db):
    for page in ("similar", "path", "alchemy", "fingerprint"):
        at = _open(page)
        assert "No similarity index yet" in _text(at), page


def test_similar_page_finds_same_style(seeded_app_db):
    at = _open("similar")
    at.text_input(key="similar_seed_q").set_value("Rockers Song 03").run()
    assert at.selectbox(key="similar_seed_pick").value == "roc03"
    at.slider(key="similar_n").set_value(10).run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert len(rows) == 10
    assert "Rockers Song 03" not in list(rows["title"])
    assert set(rows["album"]) == {"Rockers Album"}
    assert rows["artist"].value_counts().max() <= 3  # MAX_SONGS_PER_ARTIST


def test_path_page_runs_from_start_to_end(seeded_app_db):
    at = _open("path")
    at.text_input(key="path_start_q").set_value("Rockers Song 01").run()
    at.text_input(key="path_end_q").set_value("Ambienteers Song 01").run()
    at.slider(key="path_len").set_value(8).run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert list(rows["title"])[0] == "Rockers Song 01" and list(rows["title"])[-1] == "Ambienteers Song 01"
    assert len(rows) == 8


def test_music_map_page_draws_every_genre(seeded_app_db):
    at = _open("music_map")
    assert "90 songs" in _text(at)


def test_alchemy_page_adds_songs_and_plots(seeded_app_db):
    at = _open("alchemy")
    at.text_input(key="alchemy_add_q").set_value("Rockers Song 05").run()
    at.selectbox(key="alchemy_add_pick").select("roc05").run()
    at.button(key="alchemy_add_add").click().run()
    at.slider(key="alchemy_t").set_value(0.0).run()
    at.slider(key="alchemy_n").set_value(10).run()
    assert not at.exception
    assert "songs;" in _text(at)
    rows = at.dataframe[0].value
    assert set(rows["album"]) == {"Rockers Album"}


def test_fingerprint_page_without_history_says_so(seeded_app_db):
    at = _open("fingerprint")
    at.button[0].click().run()
    assert not at.exception
    assert "No listening history" in _text(at)


def test_pipeline_page_without_dagster_explains(app_db, monkeypatch):
    from tests.servers import free_port

    monkeypatch.setenv("AUDIOMUSE_DAGSTER_URL", f"http://127.0.0.1:{free_port()}")
    at = _open("pipeline")
    assert any("Cannot reach Dagster" in w.value for w in at.warning)


def test_chat_page_offline_finds_the_style(seeded_app_db):
    at = _open("chat")
    at.text_area(key="chat_request").set_value("calm ambient music").run()
    at.button(key="chat_go").click().run()
    assert not at.exception
    assert any("chat_tracks" in c.value for c in at.code)
    rows = at.dataframe[0].value
    assert len(rows) > 0 and set(rows["album"]) == {"Ambienteers Album"}


def test_playlists_page_lists_stored_playlists(seeded_app_db):
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.playlists import clustering as core

    lib = core.load_clustering_tracks(seeded_app_db)
    result = core.search_playlists(lib, ClusteringParams(runs=20, k_min=2, k_max=4, min_playlist_size=5,
                                                         top_playlists=3, batch_size=10), seed=1)
    core.store_generation(seeded_app_db, "gen-1", result, [p.name for p in result.playlists])
    at = _open("playlists")
    labels = [e.label for e in at.expander]
    assert len(labels) == len(result.playlists) and all("_automatic" in label for label in labels)


def test_playlists_page_pins_and_unpins_a_playlist(seeded_app_db):
    from audiomuse.clustering.params import ClusteringParams
    from audiomuse.playlists import clustering as core

    lib = core.load_clustering_tracks(seeded_app_db)
    result = core.search_playlists(lib, ClusteringParams(runs=20, k_min=2, k_max=4, min_playlist_size=5,
                                                         top_playlists=3, batch_size=10), seed=1)
    core.store_generation(seeded_app_db, "gen-1", result, [p.name for p in result.playlists])
    target = core.current_playlists(seeded_app_db)[0]
    at = _open("playlists")
    assert not any(e.label.startswith("📌") for e in at.expander)
    at.checkbox(key=f"pin_{target['id']}").check().run()
    assert not at.exception, at.exception
    stored = {p["id"]: p["pinned"] for p in core.current_playlists(seeded_app_db)}
    assert stored[target["id"]] and sum(stored.values()) == 1
    marked = [e.label for e in at.expander if e.label.startswith("📌")]
    assert len(marked) == 1 and marked[0].startswith(f"📌 {target['name']} — ")
    assert "(1 pinned)" in _text(at)
    at.checkbox(key=f"pin_{target['id']}").uncheck().run()
    assert not any(p["pinned"] for p in core.current_playlists(seeded_app_db))


def _figure(at: AppTest, index: int = 0) -> dict:
    import json

    return json.loads(at.get("plotly_chart")[index].proto.spec)


def test_path_from_a_link_is_drawn_on_the_map_in_order(seeded_app_db):
    """?path_start=&path_end= pre-select the songs; the map shows the library faintly and the path."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["path_start"] = "roc01"
    at.query_params["path_end"] = "amb01"
    at.switch_page("pages/path.py")
    at.run()
    assert not at.exception, at.exception
    rows = at.dataframe[0].value
    assert list(rows["title"])[0] == "Rockers Song 01" and list(rows["title"])[-1] == "Ambienteers Song 01"
    traces = {t["name"]: t for t in _figure(at)["data"]}
    assert set(traces) == {"library", "path", "start", "end"}
    assert len(traces["library"]["x"]) == 90 and len(traces["path"]["x"]) == len(rows) == 25
    assert traces["path"]["mode"] == "lines+markers"
    assert (traces["start"]["x"][0], traces["end"]["x"][0]) == (traces["path"]["x"][0], traces["path"]["x"][-1])


def test_alchemy_from_a_link_plots_seeds_and_what_was_filtered(seeded_app_db):
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["alchemy_add"] = "roc05,roc07"
    at.query_params["alchemy_sub"] = "roc11,nope"  # an unknown id is dropped, not an error
    at.switch_page("pages/alchemy.py")
    at.run()
    assert not at.exception, at.exception
    traces = {t["name"]: t for t in _figure(at)["data"]}
    assert len(traces["added"]["x"]) == 2 and len(traces["subtracted"]["x"]) == 1
    assert len(traces["filtered out"]["x"]) > 0 and "subtract centroid" in traces
