"""refresh_album_features on real files: stale tracks only, embeddings untouched, no model."""

import mutagen
import numpy as np
import pytest

from audiomuse.analysis import features as feat
from audiomuse.analysis import musicnn, track
from audiomuse.analysis.album import analyse_album
from audiomuse.analysis.features_refresh import refresh_album_features
from audiomuse.analysis.track import TrackAnalyser
from audiomuse.catalog import refresh_catalog
from audiomuse.providers.local import LocalFolderProvider
from tests.signals import click_track, tone, write_wav

TITLES = ("Clicks", "Chord", "Slow")


@pytest.fixture(scope="module")
def analyser():
    return TrackAnalyser()


def _write(root, name, y, title, n):
    path = write_wav(root / name, y)
    tags = mutagen.File(path, easy=True)
    tags.update({"title": title, "artist": "Band", "albumartist": "Band", "album": "Pulse", "tracknumber": str(n)})
    tags.save()
    return path


@pytest.fixture
def analysed(db, tmp_path, analyser):
    """An album of three analysed tracks (clicks at 120 and 90 BPM, a chord) and one not analysed yet."""
    root = tmp_path / "music" / "Band" / "Pulse"
    _write(root, "01.flac", click_track(120, 10), "Clicks", 1)
    _write(root, "02.flac", tone((220, 330), 8), "Chord", 2)
    _write(root, "03.flac", click_track(90, 10), "Slow", 3)
    provider = LocalFolderProvider(tmp_path / "music")
    refresh_catalog(provider, db)
    album_id = provider.newest_albums()[0].id
    report = analyse_album(album_id, provider, db, analyser, progress=lambda m: None)
    assert report.analysed == 3 and report.failed == {}
    _write(root, "04.flac", tone((440,), 3), "Late", 4)  # catalogued, not analysed yet
    provider = LocalFolderProvider(tmp_path / "music")  # a new scan of the folder
    refresh_catalog(provider, db)
    assert len(provider.album_tracks(album_id)) == 4
    return provider, album_id, root


def _scores(db):
    with db.connection() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            """SELECT t.title, s.tempo, s.key, s.scale, s.energy, s.other_features, s.signal_features,
                      s.features_version, s.mood_vector
               FROM score s JOIN tracks t ON t.id = s.track_id""")}


def _embeddings(db):
    with db.connection() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            """SELECT t.title, e.embedding::text, e.n_patches, e.model, e.updated_at
               FROM embedding e JOIN tracks t ON t.id = e.track_id""")}


def _set_back(db, titles, version):
    with db.connection() as conn:
        conn.execute(
            """UPDATE score s SET features_version = %s, tempo = 1, key = 'X', energy = 0,
                      signal_features = '{}', other_features = '{}'
               FROM tracks t WHERE t.id = s.track_id AND t.title = ANY(%s)""", (version, list(titles)))


@pytest.fixture
def no_model(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the model must not load for a features refresh")

    monkeypatch.setattr(TrackAnalyser, "__init__", refuse)
    monkeypatch.setattr(musicnn.MusicnnModel, "__init__", refuse)


def test_analysis_stores_the_features_version(db, analysed):
    scores = _scores(db)
    assert set(scores) == set(TITLES)
    assert {s[6] for s in scores.values()} == {feat.FEATURES_VERSION}
    assert abs(scores["Clicks"][0] - 120) <= 2 and abs(scores["Slow"][0] - 90) <= 2


def test_refresh_recomputes_only_older_versions_and_keeps_embeddings(db, analysed, no_model):
    provider, album_id, _ = analysed
    original, embeddings = _scores(db), _embeddings(db)
    _set_back(db, ["Clicks"], None)  # before versions
    _set_back(db, ["Chord"], 0)  # an older version
    _set_back(db, ["Slow"], feat.FEATURES_VERSION)  # current: left as it is, even if wrong
    report = refresh_album_features(album_id, provider, db, progress=lambda m: None)
    assert (report.updated, report.skipped, report.unanalysed, report.failed) == (2, 1, 1, {})
    assert report.version == feat.FEATURES_VERSION and report.audio_seconds == pytest.approx(18, abs=0.5)
    scores = _scores(db)
    for title in ("Clicks", "Chord"):
        tempo, key, scale, energy, other, signal, version, moods = scores[title]
        o_tempo, o_key, o_scale, o_energy, o_other, o_signal, _, o_moods = original[title]
        assert version == feat.FEATURES_VERSION
        assert tempo == pytest.approx(o_tempo, rel=1e-5) and (key, scale) == (o_key, o_scale)
        assert energy == pytest.approx(o_energy, rel=1e-5)
        assert other == pytest.approx(o_other, abs=1e-5) and signal == pytest.approx(o_signal, abs=1e-4)
        assert moods == o_moods  # the MusiCNN tags stay
    assert scores["Slow"][:3] == (1.0, "X", original["Slow"][2]) and scores["Slow"][5] == {}
    assert _embeddings(db) == embeddings  # bytes, patches, model and updated_at
    again = refresh_album_features(album_id, provider, db, progress=lambda m: None)
    assert (again.updated, again.skipped) == (0, 3)
    forced = refresh_album_features(album_id, provider, db, force=True, progress=lambda m: None)
    assert (forced.updated, forced.skipped) == (3, 0)
    assert abs(_scores(db)["Slow"][0] - 90) <= 2


def test_a_corrupt_file_is_recorded_and_the_album_goes_on(db, analysed, no_model):
    provider, album_id, root = analysed
    embeddings = _embeddings(db)
    _set_back(db, TITLES, None)
    (root / "02.flac").write_text("not audio any more\n" * 100)
    report = refresh_album_features(album_id, provider, db, progress=lambda m: None)
    assert (report.updated, report.skipped) == (2, 0)
    assert list(report.failed) == ["Chord"] and "DecodeError" in report.failed["Chord"]
    scores = _scores(db)
    assert scores["Chord"][6] is None and scores["Clicks"][6] == scores["Slow"][6] == feat.FEATURES_VERSION
    with db.connection() as conn:
        errors = dict(conn.execute("SELECT title, analysis_error FROM tracks WHERE analysis_error IS NOT NULL"))
    assert "DecodeError" in errors["Chord"]
    assert _embeddings(db) == embeddings


def test_score_columns_split_like_an_analysis():
    signal = feat.signal_features(np.zeros(16000, np.float32))
    columns = track.score_columns(signal, {"rock": 0.9})
    assert set(columns) == {"tempo", "key", "scale", "energy", "other_features", "signal_features"}
    assert not set(columns["signal_features"]) & {"tempo", "key", "scale", "energy"}
