"""The tools on the analysed real test music (style labels from the sample library's manifest)."""

from collections import Counter

import pytest

from audiomuse.chat import chat_playlist
from audiomuse.clustering.params import ClusteringParams
from audiomuse.playlists import clustering as core
from audiomuse.playlists.artist_cap import NO_CAP

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("request_text,style", [
    ("calm ambient music", "ambient"),
    ("fast metal", "rock"),
    ("orchestral", "orchestral"),
])
def test_offline_chat_returns_mostly_the_matching_style(analysed_library, request_text, style):
    db, styles = analysed_library
    result = chat_playlist(db, None, request_text, max_per_artist=NO_CAP)  # the ranking, not the cap
    assert result.error is None and result.rows, result
    got = Counter(styles[r["item_id"]] for r in result.rows)
    top10 = Counter(styles[r["item_id"]] for r in result.rows[:10])
    print(request_text, "all:", dict(got), "top 10:", dict(top10))
    assert top10[style] >= 6, (request_text, got, top10, result.sql)  # rows come best first


def test_offline_like_artist_finds_the_same_style_by_other_artists(analysed_library):
    """"like Muldjord" (rock) through the similarity index: other artists' rock first."""
    from audiomuse.artifact_builds import build_similarity_index

    db, styles = analysed_library
    build_similarity_index(db)
    result = chat_playlist(db, None, "songs like Muldjord")
    assert result.ok and "similar tracks from the index" in result.note, result
    assert all(r["artist"] != "Muldjord" for r in result.rows)
    top10 = Counter(styles[r["item_id"]] for r in result.rows[:10])
    print("like Muldjord top 10:", dict(top10))
    assert top10["rock"] >= 6, (top10, result.sql[:300])


def test_clustering_on_real_music_gives_mood_coherent_playlists(analysed_library):
    db, _ = analysed_library
    lib = core.load_clustering_tracks(db)
    params = ClusteringParams(runs=300, k_min=4, k_max=12, min_playlist_size=5, top_playlists=6)
    result = core.search_playlists(lib, params, seed=7)
    assert len(result.playlists) >= 3
    for p in result.playlists:
        top = p.dominant_moods[0]
        col = core.MSD_TAGS.index(top)
        share = sum(1 for i in p.track_indices if lib.moods[i].argsort()[-3:].__contains__(col)) / len(p.track_indices)
        assert share >= 0.5, (p.name, top, share)
