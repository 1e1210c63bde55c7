"""track_analysis with features_only: a backfill that recomputes tempo/key/energy, never the model."""

import dagster as dg
import mutagen
import pytest

from audiomuse.analysis import features as feat
from audiomuse.analysis.track import TrackAnalyser
from audiomuse_pipelines.defs import resources as resources_module
from audiomuse_pipelines.defs.analysis import track_analysis
from audiomuse_pipelines.defs.catalog import catalog
from tests.signals import click_track, write_wav

FEATURES_ONLY = {"ops": {"track_analysis": {"config": {"features_only": True}}}}


def _write_click_album(root):
    for n, bpm in enumerate((100, 140), 1):
        path = write_wav(root / "Gamma" / "Pulse" / f"{n:02d}.flac", click_track(bpm, 8))
        tags = mutagen.File(path, easy=True)
        tags.update({"artist": "Gamma", "albumartist": "Gamma", "album": "Pulse", "title": f"{bpm} BPM",
                     "tracknumber": str(n)})
        tags.save()


def _rows(db, album):
    with db.connection() as conn:
        return {r[0]: r[1:] for r in conn.execute(
            """SELECT t.title, s.tempo, s.features_version, e.embedding::text, e.model, e.updated_at
               FROM tracks t JOIN score s ON s.track_id = t.id JOIN embedding e ON e.track_id = t.id
               WHERE t.album_id = %s""", (album,))}


def test_features_only_backfill_recomputes_stale_tracks_without_the_model(
        db, resources, dagster_instance, music_dir, monkeypatch):
    _write_click_album(music_dir)
    assert dg.materialize([catalog], resources=resources, instance=dagster_instance).success
    with db.connection() as conn:
        album = conn.execute("SELECT id FROM albums WHERE artist = 'Gamma'").fetchone()[0]
    assert dg.materialize([track_analysis], partition_key=album, resources=resources,
                          instance=dagster_instance).success
    before = _rows(db, album)
    assert {r[1] for r in before.values()} == {feat.FEATURES_VERSION}
    assert abs(before["100 BPM"][0] - 100) <= 2 and abs(before["140 BPM"][0] - 140) <= 2
    with db.connection() as conn:  # one track's features from before versions, and wrong
        conn.execute("""UPDATE score SET features_version = NULL, tempo = 1
                        FROM tracks t WHERE t.id = score.track_id AND t.title = '100 BPM'""")

    def refuse(*args, **kwargs):
        raise RuntimeError("model loaded")

    resources_module._analyser.cache_clear()  # the process's cached session from the run above
    monkeypatch.setattr(TrackAnalyser, "__init__", refuse)
    normal = dg.materialize([track_analysis], partition_key=album, resources=resources,
                            instance=dagster_instance, raise_on_error=False,
                            run_config={"ops": {"track_analysis": {"config": {"force": True}}}})
    assert not normal.success  # the patch bites a run that needs the model
    result = dg.materialize([track_analysis], partition_key=album, resources=resources,
                            instance=dagster_instance, run_config=FEATURES_ONLY)
    assert result.success
    meta = {k: v.value for k, v in result.asset_materializations_for_node("track_analysis")[0].metadata.items()}
    assert meta["features_only"] is True and meta["features_version"] == feat.FEATURES_VERSION
    assert (meta["features_updated"], meta["features_current"], meta["tracks_failed"]) == (1, 1, 0)
    assert (meta["artist"], meta["album"]) == ("Gamma", "Pulse")
    after = _rows(db, album)
    assert after["100 BPM"][0] == pytest.approx(before["100 BPM"][0], rel=1e-5)
    assert {r[1] for r in after.values()} == {feat.FEATURES_VERSION}
    assert {t: r[2:] for t, r in after.items()} == {t: r[2:] for t, r in before.items()}  # embeddings
