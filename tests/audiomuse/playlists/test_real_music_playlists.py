"""Path, alchemy, fingerprint and map sampling on the analysed real test music (136 tracks, 5 styles)."""

import math
from collections import Counter
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from audiomuse.artifact_builds import build_music_map
from audiomuse.index import SimilarityIndex
from audiomuse.media import PlayedTrack
from audiomuse.music_map import MAP_ARTIFACT, SAMPLE_PERCENTS, map_points
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse.playlists.fingerprint import recency_weight, sonic_fingerprint
from audiomuse.playlists.artist_cap import NO_CAP, ArtistCap
from audiomuse.playlists.path import find_path
from audiomuse.playlists.vectors import angle, cosine_distance, unit
from audiomuse.store.analysis import load_embeddings, track_metadata
from audiomuse.store.artifacts import artifact_info

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real(analysed_library):
    """(index, metadata, {id: style}, {style: ids}) built in memory, leaving the shared database alone."""
    db, styles = analysed_library
    with db.connection() as conn:
        ids, vectors = load_embeddings(conn)
        meta = track_metadata(conn)
    by_style: dict[str, list[str]] = {}
    for tid in ids:
        by_style.setdefault(styles[tid], []).append(tid)
    return SimilarityIndex.build(ids, vectors), meta, styles, by_style


@pytest.mark.parametrize("length", [10, 25])
def test_path_keeps_its_endpoints_never_repeats_and_walks_towards_the_end(real, length):
    index, meta, styles, by_style = real
    start, end = by_style["orchestral"][0], by_style["rock"][0]
    path = find_path(index, meta, start, end, length)
    ids = path.track_ids
    assert ids[0] == start and ids[-1] == end
    assert len(set(ids)) == len(ids)
    songs = ArtistCap(NO_CAP)
    assert all(songs.admit_track(meta, t) for t in ids)  # no song twice, even from another album
    assert len(ids) == length or (len(ids) < length and path.reason), (len(ids), path.reason)
    a, b = index.vector(start), index.vector(end)
    third = max(1, (len(ids) - 2) // 3)
    early, late = ids[1:1 + third], ids[-1 - third:-1]
    # the first songs after the start sound more like the start than the last songs before the end do
    assert np.mean([angle(index.vector(t), a) for t in early]) < np.mean([angle(index.vector(t), a) for t in late])
    assert np.mean([angle(index.vector(t), b) for t in late]) < np.mean([angle(index.vector(t), b) for t in early])
    print(length, [styles[t] for t in ids])


def test_path_longer_than_the_library_stops_short_and_says_why(real):
    index, meta, _, by_style = real
    path = find_path(index, meta, by_style["ambient"][0], by_style["electronic"][0], 200)
    assert not path.complete and len(path.track_ids) <= len(index) < 200
    assert len(set(path.track_ids)) == len(path.track_ids)
    assert "distinct songs" in path.reason and "asked for 200" in path.reason


def test_alchemy_subtract_removes_what_is_near_the_subtract_centroid(real):
    index, meta, styles, by_style = real
    rock, orchestral = by_style["rock"], by_style["orchestral"]
    add, sub = [rock[0], orchestral[0]], [orchestral[1], orchestral[2]]
    plain = song_alchemy(index, meta, add, [], n=40, temperature=0)
    result = song_alchemy(index, meta, add, sub, n=40, subtract_distance=0.2, temperature=0)
    assert result.filtered_out, "nothing near the subtract centroid: the test would prove nothing"
    for tid, _ in result.results:
        assert cosine_distance(index.vector(tid), result.subtract_centroid) >= 0.2
    for tid, d in result.filtered_out:
        assert d < 0.2 and math.isclose(d, cosine_distance(index.vector(tid), result.subtract_centroid), abs_tol=1e-5)
    kept = {t for t, _ in result.results}
    near = [t for t, _ in plain.results if cosine_distance(index.vector(t), result.subtract_centroid) < 0.2]
    assert near and not kept & set(near)  # what plain alchemy gave near the subtract centroid is gone
    before = Counter(styles[t] for t, _ in plain.results)["orchestral"]
    after = Counter(styles[t] for t, _ in result.results)["orchestral"]
    print("orchestral before/after subtract:", before, after)
    assert after < before


def test_alchemy_at_temperature_zero_is_deterministic_and_nearest_first(real):
    index, meta, _, by_style = real
    add = [by_style["electronic"][0], by_style["electronic"][1]]
    runs = [song_alchemy(index, meta, add, [], n=30, temperature=0, seed=s, max_per_artist=NO_CAP).results
            for s in (1, 2, 3)]  # the few sample artists would cap the list short of 30
    assert runs[0] == runs[1] == runs[2]
    dists = [d for _, d in runs[0]]
    assert dists == sorted(dists) and len(runs[0]) == 30
    warm = [tuple(t for t, _ in song_alchemy(index, meta, add, [], n=30, temperature=2.0, seed=s,
                                             max_per_artist=NO_CAP).results)
            for s in (1, 2)]
    assert warm[0] != warm[1]  # with a temperature the seed matters; at 0 it does not


def test_fingerprint_weights_halve_every_30_days(real):
    index, meta, _, by_style = real
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    tid = by_style["rock"][0]
    for days in (0, 7, 30, 60, 90, 365):
        w = recency_weight(PlayedTrack(tid, 3, now - timedelta(days=days)), now)
        assert w == pytest.approx(3 * math.exp(-math.log(2) / 30 * days), rel=1e-9)
    assert recency_weight(PlayedTrack(tid, 3, now - timedelta(days=30)), now) == pytest.approx(1.5)


def test_fingerprint_follows_recent_listening(real):
    """Recent rock plays outweigh many old ambient plays: the fingerprint is rock, as its weights say."""
    index, meta, styles, by_style = real
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    recent = [PlayedTrack(t, 2, now - timedelta(days=i)) for i, t in enumerate(by_style["rock"][:5])]
    old = [PlayedTrack(t, 10, now - timedelta(days=300 + i)) for i, t in enumerate(by_style["ambient"][:5])]
    playlist, vec = sonic_fingerprint(index, meta, old + recent, n=30, max_per_artist=0, now=now)
    weights = np.array([recency_weight(p, now) for p in old + recent])
    want = unit((unit(np.stack([index.vector(p.track_id) for p in old + recent])) * weights[:, None]).sum(0))
    assert float(np.dot(vec, want)) == pytest.approx(1.0, abs=1e-5)
    seeds = [p.track_id for p in sorted(old + recent, key=lambda p: -recency_weight(p, now))]
    assert playlist[:10] == seeds  # seeds first, heaviest first
    assert len(playlist) == len(set(playlist)) == 30
    found = Counter(styles[t] for t in playlist[10:])
    print(dict(found))
    assert found["rock"] >= 0.6 * sum(found.values())


@pytest.fixture(scope="module")
def real_map(analysed_library):
    """The real library's stored map (UMAP); removed afterwards if this module made it."""
    db, styles = analysed_library
    with db.connection() as conn:
        existed = artifact_info(conn, MAP_ARTIFACT) is not None
    if not existed:
        build_music_map(db)
    yield db, styles
    if not existed:
        with db.connection() as conn:
            conn.execute("DELETE FROM artifacts WHERE name = %s", (MAP_ARTIFACT,))


def test_map_samples_are_deterministic_and_nested(real_map):
    db, styles = real_map
    samples = {p: map_points(db, p) for p in SAMPLE_PERCENTS}
    assert {p: map_points(db, p) for p in SAMPLE_PERCENTS} == samples  # same request, same points
    total = len(samples[100])
    assert total == len(styles)
    ids = {p: {pt["id"] for pt in pts} for p, pts in samples.items()}
    for small, big in zip(SAMPLE_PERCENTS, SAMPLE_PERCENTS[1:]):
        assert ids[small] < ids[big], (small, big)
    for p in SAMPLE_PERCENTS:
        assert abs(len(ids[p]) - total * p / 100) <= 1, (p, len(ids[p]))
    where = {pt["id"]: (pt["x"], pt["y"]) for pt in samples[100]}
    assert all(where[pt["id"]] == (pt["x"], pt["y"]) for p in SAMPLE_PERCENTS for pt in samples[p])
