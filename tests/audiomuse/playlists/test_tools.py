from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from audiomuse.index import SimilarityIndex
from audiomuse.media import PlayedTrack
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse.playlists.fingerprint import recency_weight, sonic_fingerprint
from audiomuse.playlists.path import find_path
from audiomuse.playlists.vectors import angle, cosine_distance, slerp


@pytest.fixture(scope="module")
def library():
    """Three styles on a ring-like layout: A and C far apart, B in between."""
    rng = np.random.default_rng(7)
    a, c = rng.standard_normal(200), rng.standard_normal(200)
    b = (a + c) / 2
    groups = {"A": a, "B": b, "C": c}
    ids, vecs, meta = [], [], {}
    for name, centre in groups.items():
        for i in range(60):
            tid = f"{name}{i:02d}"
            ids.append(tid)
            vecs.append(centre * 3 + rng.standard_normal(200))
            meta[tid] = {"title": tid, "artist": f"{name}-artist-{i % 15}", "album": name,
                         "song_key": f"{name.lower()}|{tid}", "canonical": tid, "duration": 200.0}
    return SimilarityIndex.build(ids, np.array(vecs, np.float32)), meta


def test_slerp_endpoints_and_constant_steps():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(10), rng.standard_normal(10)
    pts = slerp(a, b, 5)
    assert np.allclose(pts[0], a / np.linalg.norm(a), atol=1e-6)
    assert np.allclose(pts[-1], b / np.linalg.norm(b), atol=1e-6)
    steps = [angle(pts[i], pts[i + 1]) for i in range(4)]
    assert np.allclose(steps, steps[0], atol=1e-5)


def test_path_goes_from_start_to_end_through_the_middle(library):
    index, meta = library
    path = find_path(index, meta, "A00", "C00", 12)
    ids = path.track_ids
    assert path.complete and ids[0] == "A00" and ids[-1] == "C00"
    assert len(set(ids)) == len(ids)
    assert any(t.startswith("B") for t in ids)  # passes the in-between style
    # the walk moves away from A monotonically on average
    da = [cosine_distance(index.vector(t), index.vector("A00")) for t in ids]
    assert np.corrcoef(np.arange(len(da)), da)[0, 1] > 0.8


def test_path_never_repeats_a_song_under_another_id(library):
    index, meta = library
    meta = {k: dict(v) for k, v in meta.items()}
    for tid in meta:  # every B track is "the same song"
        if tid.startswith("B"):
            meta[tid]["song_key"] = "b|same"
    ids = find_path(index, meta, "A00", "C00", 12).track_ids
    assert sum(t.startswith("B") for t in ids) <= 1


def test_path_unknown_track_is_a_clear_error(library):
    index, meta = library
    with pytest.raises(KeyError, match="not analysed"):
        find_path(index, meta, "A00", "nope", 5)


def test_alchemy_add_and_subtract(library):
    index, meta = library
    result = song_alchemy(index, meta, ["A01", "C01"], ["C02"], n=80, subtract_distance=0.2, temperature=0)
    got = [t for t, _ in result.results]
    assert len(got) == 80 and not {"A01", "C01", "C02"} & set(got)
    assert result.filtered_out and all(d_sub < 0.2 for _, d_sub in result.filtered_out)
    assert not {t for t, _ in result.filtered_out} & set(got)
    plain = [t for t, _ in song_alchemy(index, meta, ["A01", "C01"], n=80, temperature=0).results]
    assert sum(t.startswith("C") for t in plain) > 0
    assert sum(t.startswith("C") for t in got) == 0  # every C song sits within 0.2 of C02


def test_alchemy_temperature_samples_reproducibly(library):
    index, meta = library
    r1 = song_alchemy(index, meta, ["A01"], n=10, temperature=1.0, seed=3).results
    r2 = song_alchemy(index, meta, ["A01"], n=10, temperature=1.0, seed=3).results
    det = song_alchemy(index, meta, ["A01"], n=10, temperature=0).results
    assert r1 == r2 and len(r1) == 10
    assert all(t.startswith("A") for t, _ in r1)
    assert len(det) == 10
    dists = [d for _, d in r1]
    assert dists == sorted(dists)


def test_recency_halves_every_30_days():
    now = datetime(2026, 1, 31, tzinfo=timezone.utc)
    recent = recency_weight(PlayedTrack("x", 4, now), now)
    month = recency_weight(PlayedTrack("x", 4, now - timedelta(days=30)), now)
    assert recent == pytest.approx(4.0) and month == pytest.approx(2.0)
    assert recency_weight(PlayedTrack("x", 4, None), now) == pytest.approx(0.4)


def test_fingerprint_follows_recent_listening(library):
    index, meta = library
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    history = [PlayedTrack(f"C{i:02d}", 5, now - timedelta(days=1)) for i in range(5)]
    history += [PlayedTrack(f"A{i:02d}", 5, now - timedelta(days=300)) for i in range(5)]
    history.append(PlayedTrack("unknown-track", 99, now))
    playlist, vec = sonic_fingerprint(index, meta, history, n=30, now=now, max_per_artist=0)
    assert len(playlist) == 30 and len(set(playlist)) == 30
    assert playlist[:5] == [f"C{i:02d}" for i in range(5)]  # most weighted seeds first
    added = playlist[10:]
    assert sum(t.startswith("C") for t in added) / len(added) > 0.8
    assert sonic_fingerprint(index, meta, [], n=10) == ([], None)
