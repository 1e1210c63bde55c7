"""The similarity transform is part of the index artifact: fitted at build time on the raw
embeddings, stored in the blob, and the space every tool queries in (they take their vectors from
the index), so a query through each tool's path gives the transformed neighbours."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pytest

from audiomuse.artifact_builds import build_similarity_index
from audiomuse.index import SimilarityIndex
from audiomuse.index.persist import INDEX_ARTIFACT, load_index
from audiomuse.index.similar import similar_by_track
from audiomuse.index.transform import fit_similarity_transform, unit
from audiomuse.media import PlayedTrack
from audiomuse.playlists.alchemy import song_alchemy
from audiomuse.playlists.fingerprint import sonic_fingerprint
from audiomuse.playlists.path import find_path
from audiomuse.radio import candidates, group_seed, song_seed
from audiomuse.store.analysis import load_embeddings
from audiomuse.store.artifacts import artifact_info
from tests.seed import seed_library


@pytest.fixture(scope="module")
def library():
    """Raw embeddings with a large shared component (as MusiCNN's are) over four loose styles: the
    raw cosine is dominated by the shared part, the centred one by the styles."""
    rng = np.random.default_rng(3)
    shared = 8.0 * np.abs(rng.standard_normal(200))
    styles = rng.standard_normal((4, 200))
    ids, rows, meta = [], [], {}
    for s, centre in enumerate(styles):
        for i in range(40):
            tid = f"s{s}t{i:02d}"
            scale = rng.uniform(0.5, 2.0)  # loudness-like scale along the shared direction
            ids.append(tid)
            rows.append(scale * shared + centre + 1.5 * rng.standard_normal(200))
            meta[tid] = {"title": tid, "artist": f"artist-{s}-{i % 10}", "album": f"album-{s}",
                         "song_key": tid, "canonical": tid, "duration": 180.0}
    return ids, np.array(rows, np.float32), meta


def _indexes(library):
    ids, raw, _ = library
    transform = fit_similarity_transform("centred", raw)
    transformed = SimilarityIndex.build(ids, raw, transform=transform)
    reference = SimilarityIndex.build(ids, transform.apply(raw))  # built by hand in the centred space
    return SimilarityIndex.build(ids, raw), transformed, reference


def _every_tool(index, meta) -> dict:
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    history = [PlayedTrack(f"s1t{i:02d}", 10 - i, now) for i in range(5)]
    return {
        "similar": [t for t, _ in similar_by_track(index, meta, "s0t00", 20, max_per_artist=0)],
        "path": find_path(index, meta, "s0t01", "s2t01", 10).track_ids,
        "alchemy": [t for t, _ in song_alchemy(index, meta, ["s0t02", "s3t02"], ["s2t03"], n=20,
                                               temperature=0, max_per_artist=0).results],
        "fingerprint": sonic_fingerprint(index, meta, history, n=20, now=now, max_per_artist=0)[0],
        "radio (song)": candidates(index, meta, song_seed("s3t04"), 20, max_per_artist=0),
        "radio (album)": candidates(index, meta, group_seed("album", "album-2", [f"s2t{i:02d}" for i in range(40)],
                                                            meta), 20, max_per_artist=0),
    }


def test_every_tool_queries_in_the_index_transform_space(library):
    meta = library[2]
    raw, transformed, reference = _indexes(library)
    through_transform, by_hand, untransformed = (_every_tool(i, meta) for i in (transformed, reference, raw))
    assert through_transform == by_hand
    # the transform matters here: a tool that skipped it would give other songs
    assert through_transform["similar"] != untransformed["similar"]
    assert through_transform["alchemy"] != untransformed["alchemy"]


def test_the_transform_travels_in_the_artifact_and_old_artifacts_still_load(library):
    ids, raw_vectors, meta = library
    raw, transformed, _ = _indexes(library)
    loaded = SimilarityIndex.from_bytes(transformed.to_bytes())
    assert loaded.transform_name == "centred"
    np.testing.assert_array_equal(loaded.transform.mean, transformed.transform.mean)
    np.testing.assert_allclose(loaded.embed(raw_vectors[:3]), transformed.embed(raw_vectors[:3]))
    assert _every_tool(loaded, meta) == _every_tool(transformed, meta)
    assert SimilarityIndex.from_bytes(raw.to_bytes()).transform is None
    old = raw.to_bytes().replace(b"AMVX2", b"AMVX1", 1)  # the first format: the id list, then the index
    header_len = int.from_bytes(old[5:13], "little")
    v1 = b"AMVX1" + len(_ids_json(ids)).to_bytes(8, "little") + _ids_json(ids) + old[13 + header_len:]
    assert SimilarityIndex.from_bytes(v1).query(raw.vector("s0t00"), 3) == raw.query(raw.vector("s0t00"), 3)


def _ids_json(ids) -> bytes:
    return json.dumps(ids).encode()


def test_the_index_build_fits_the_configured_transform_on_the_stored_embeddings(db):
    seed_library(db)
    with db.connection() as conn:
        ids, stored = load_embeddings(conn)
    report = build_similarity_index(db, transform="centred")
    assert report.detail["transform"] == "centred"
    with db.connection() as conn:
        assert artifact_info(conn, INDEX_ARTIFACT)[1]["transform"] == "centred"
        np.testing.assert_array_equal(load_embeddings(conn)[1], stored)  # the store keeps the raw output
    index = load_index(db)
    assert index.transform_name == "centred"
    np.testing.assert_allclose(index.transform.mean, stored.mean(axis=0), atol=1e-5)
    expected = unit(stored[:5] - stored.mean(axis=0))
    np.testing.assert_allclose(unit(np.stack([index.vector(t) for t in ids[:5]])), expected, atol=1e-5)
    build_similarity_index(db)  # back to the default: no transform
    assert load_index(db).transform is None


def test_an_unknown_transform_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown similarity transform 'whiten'.*none, centred, standardised"):
        fit_similarity_transform("whiten", np.ones((3, 4)))
