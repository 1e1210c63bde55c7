import json
from collections import Counter

import mutagen
import pytest
import soundfile as sf

from audiomuse_run import samples
from audiomuse_run.samples import licence_name, load_manifest, read_song_ini, safe_name, title_from_filename


def test_song_ini_title_and_artist(tmp_path):
    ini = tmp_path / "song.ini"
    ini.write_text("[song]\nname = Chaos God\nartist = Muldjord - www.muldjord.com\ndelay = 0\n")
    assert read_song_ini(ini) == ("Chaos God", "Muldjord")


def test_licence_short_name_from_copyright():
    dep5 = ("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
            "Files: *\nCopyright: 2010 Someone\nLicense: GPL-3+\n\n"
            "Files: data/music/*\nCopyright: 2011 Composer\nLicense: CC-BY-SA-3.0\n\n"
            "Files: debian/*\nLicense: GPL-2+\n")
    assert licence_name(dep5) == "CC-BY-SA-3.0"  # the music's stanza, not the game's
    free_text = "Copyright Kenta Cho. All rights reserved. Redistribution and use in source and binary forms, " \
                "with or without modification, are permitted provided that ..."
    assert licence_name(free_text) == "BSD-2-Clause"  # 'permitted' is not 'MIT'

    assert licence_name("This work is licensed under a Creative Commons licence") == "Creative Commons"


def test_titles_and_safe_names():
    assert title_from_filename("07_-_Vermocsar") == "Vermocsar"
    assert title_from_filename("legends_of_the_north") == "Legends Of The North"
    assert safe_name('AC/DC: "Live"?') == "AC_DC_ _Live__"
    assert len(safe_name("x" * 300)) == 80


def test_complete_library_is_reused_without_any_work(tmp_path, monkeypatch):
    dest = tmp_path / "lib"
    (dest / "A").mkdir(parents=True)
    (dest / "A" / "01 - x.ogg").write_bytes(b"x")
    params = {"version": samples.FORMAT_VERSION, "max_tracks_per_album": 0, "packages": [p.name for p in samples.PACKAGES]}
    (dest / "manifest.json").write_text(json.dumps({"params": params, "tracks": [{"path": "A/01 - x.ogg"}]}))
    monkeypatch.setattr(samples, "_download", lambda *a: pytest.fail("must not download"))
    assert samples.build_sample_library(dest) == dest
    (dest / "A" / "01 - x.ogg").unlink()  # a missing file means the library is not complete
    monkeypatch.setattr(samples, "_check_tools", lambda: (_ for _ in ()).throw(samples.SampleLibraryError("rebuild")))
    with pytest.raises(samples.SampleLibraryError):
        samples.build_sample_library(dest)


@pytest.mark.slow
def test_real_library_has_five_styles_of_tagged_decodable_music(sample_library, monkeypatch):
    tracks = load_manifest(sample_library)
    styles = Counter(t["style"] for t in tracks)
    assert len(tracks) >= 120
    assert set(styles) == {"orchestral", "rock", "ambient", "electronic", "chiptune"}
    assert min(styles.values()) >= 10
    assert {t["path"].rsplit(".", 1)[1] for t in tracks} >= {"ogg", "flac"}
    for t in tracks[::5]:
        path = sample_library / t["path"]
        assert sf.info(str(path)).duration >= 30
        y, _ = sf.read(str(path), frames=48000 * 60, dtype="float32")
        assert float((y**2).mean()) ** 0.5 > 0.01, f"{t['path']} is (nearly) silent"
        tags = mutagen.File(str(path), easy=True)
        assert tags["title"] == [t["title"]] and tags["album"] == [t["album"]] and tags["genre"] == [t["style"]]
        assert (sample_library / "LICENSES" / f"{t['package']}.copyright").exists()
    monkeypatch.setattr(samples, "_download", lambda *a: pytest.fail("a built library must not download"))
    assert samples.build_sample_library(sample_library) == sample_library
