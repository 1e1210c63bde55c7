"""The tracker tempo parser (audiomuse_run/tracker_tempo.py): modules built here byte by byte with
speed and tempo changes, breaks, jumps and a loop, then the real modules of the sample library's
chiptune packages, whose walked duration must match what openmpt123 plays."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from audiomuse.config import get_settings
from audiomuse_run import samples
from audiomuse_run.tracker_tempo import ModuleError, beat_bpm, module_tempo, parse_module, tempo_truth, walk


def mod_bytes(patterns: list[dict[int, list[tuple[int, int]]]], orders: list[int]) -> bytes:
    """A 4-channel ProTracker M.K. module: ``patterns[p][row]`` lists (effect, param) cells, one
    per channel from channel 0; no samples."""
    header = bytearray(1084)
    header[:4] = b"test"
    header[950] = len(orders)
    header[952 : 952 + len(orders)] = bytes(orders)
    header[1080:1084] = b"M.K."
    body = bytearray()
    for pattern in patterns:
        cells = bytearray(64 * 4 * 4)
        for row, effects in pattern.items():
            for ch, (effect, param) in enumerate(effects):
                at = (row * 4 + ch) * 4
                cells[at + 2], cells[at + 3] = effect, param
        body += cells
    return bytes(header + body)


def it_bytes(patterns: list[dict[int, list[tuple[str, int]]]], orders: list[int], *, speed: int,
             tempo: int, highlight: int) -> bytes:
    """An Impulse Tracker module with no instruments or samples: ``patterns[p][row]`` lists
    (effect letter, value) cells, one per channel; 64 rows a pattern."""
    n_orders = len(orders)
    header = bytearray(0xC0)
    header[:4] = b"IMPM"
    header[0x1E] = highlight
    struct.pack_into("<4H", header, 0x20, n_orders, 0, 0, len(patterns))
    header[0x32], header[0x33] = speed, tempo
    table_end = 0xC0 + n_orders + 4 * len(patterns)
    blobs, offsets = bytearray(), []
    for pattern in patterns:
        packed = bytearray()
        for row in range(64):
            for ch, (letter, value) in enumerate(pattern.get(row, [])):
                packed += bytes([(ch + 1) | 0x80, 0x08, ord(letter) - ord("A") + 1, value])
            packed += b"\x00"
        offsets.append(table_end + len(blobs))
        blobs += struct.pack("<HH4x", len(packed), 64) + packed
    return bytes(header + bytes(orders) + b"".join(struct.pack("<I", o) for o in offsets) + blobs)


def test_mod_speed_and_tempo_changes_and_a_pattern_break():
    # speed 3 from row 0, tempo 120 from row 16, break at row 32 into row 10 of the next pattern
    data = mod_bytes([{0: [(0xF, 3)], 16: [(0xF, 120)], 32: [(0xD, 0x10)]}, {}], [0, 1])
    module = parse_module(data)
    assert (module.format, module.speed, module.tempo, module.rows_per_beat_source) == ("mod", 6, 125, "assumed")
    timeline = walk(module)
    assert timeline.rows == 33 + 54 and timeline.stop == "end"
    # 16 rows of 3 ticks at 125, then 17 + 54 rows of 3 ticks at 120; a tick is 2.5 / tempo s
    assert timeline.seconds == pytest.approx(16 * 3 * 2.5 / 125 + 71 * 3 * 2.5 / 120)
    assert [(s.speed, s.tempo) for s in timeline.segments] == [(3, 125), (3, 120)]
    truth = tempo_truth(module, timeline)
    assert truth["bpm"] == 240.0 and truth["bpm_seconds"]["250"] == pytest.approx(0.96)
    assert not truth["stated"]  # 240 BPM is 82 % of the time: under the 90 % a stated tempo needs
    assert truth["key"] is None


def test_mod_jump_back_is_the_song_loop_and_pattern_delay_counts():
    # row 8 is held 2 more rows (EE2); the last row of the second order jumps back to order 0
    data = mod_bytes([{8: [(0xE, 0xE2)]}, {63: [(0, 0), (0xB, 0)]}], [0, 1])
    timeline = walk(parse_module(data))
    assert timeline.stop == "loop" and timeline.rows == 128
    assert timeline.seconds == pytest.approx((128 + 2) * 6 * 2.5 / 125)
    truth = tempo_truth(parse_module(data), timeline)
    assert truth["stated"] and truth["bpm"] == beat_bpm(6, 125, 4) == 125.0


def xm_bytes(rows: dict[int, tuple[int, int]], *, speed: int, tempo: int) -> bytes:
    """A 2-channel FastTracker 2 module of one 64-row pattern played once: channel 0 plays a note
    on every row, channel 1 has ``rows[row]`` = (effect, param), both in XM's packed cells."""
    header = bytearray(b"Extended Module: " + bytes(20) + b"\x1a" + bytes(20)) + struct.pack("<HI", 0x104, 276)
    header += struct.pack("<8H", 1, 0, 2, 1, 0, 1, speed, tempo) + bytes(256)
    cells = bytearray()
    for row in range(64):
        effect = rows.get(row)
        cells += bytes([0x81, 49])  # a note only
        cells += bytes([0x98, *effect]) if effect else b"\x80"  # effect type and param, or empty
    return bytes(header + struct.pack("<IBHH", 9, 0, 64, len(cells)) + cells)


def test_xm_packed_cells_speed_and_tempo():
    data = xm_bytes({0: (0xF, 4), 32: (0xF, 150)}, speed=6, tempo=125)
    module = parse_module(data)
    assert (module.format, module.speed, module.tempo) == ("xm", 6, 125)
    timeline = walk(module)
    assert timeline.rows == 64
    assert timeline.seconds == pytest.approx(32 * 4 * 2.5 / 125 + 32 * 4 * 2.5 / 150)
    assert tempo_truth(module, timeline)["bpm_seconds"] == {"187.5": 2.56, "225": 2.13}  # 24 * tempo / (4 * 4)


def test_it_highlight_speed_tempo_and_break():
    # IT: 3 rows per beat from the highlight; A03 at row 0, T96 (150) at row 4, C00 at row 40
    # (IT's break row is plain hex), then the second pattern plays whole and the order ends (255)
    data = it_bytes([{0: [("A", 3)], 4: [("T", 0x96)], 40: [("C", 0)]}, {}], [0, 1, 255],
                    speed=6, tempo=125, highlight=3)
    module = parse_module(data)
    assert (module.format, module.rows_per_beat, module.rows_per_beat_source) == ("it", 3, "file")
    timeline = walk(module)
    assert timeline.rows == 41 + 64
    assert timeline.seconds == pytest.approx(4 * 3 * 2.5 / 125 + 101 * 3 * 2.5 / 150)
    truth = tempo_truth(module, timeline)
    assert truth["stated"] and truth["bpm"] == 24 * 150 / (3 * 3) == 400.0
    assert truth["rows_per_beat_source"] == "file" and truth["tempo_changes"] == 1


def test_it_without_highlight_assumes_four_rows_and_pattern_loop_repeats():
    # SB0 at row 0, SB2 at row 7 of the only pattern: rows 0-7 play three times, then the rest
    data = it_bytes([{0: [("S", 0xB0)], 7: [("S", 0xB2)]}], [0, 255], speed=4, tempo=100, highlight=0)
    module = parse_module(data)
    assert module.rows_per_beat_source == "assumed" and module.rows_per_beat == 4
    timeline = walk(module)
    assert timeline.rows == 8 * 3 + 56 and timeline.stop == "end"
    assert tempo_truth(module, timeline)["bpm"] == 24 * 100 / (4 * 4)


def test_not_a_module_is_one_clear_error():
    with pytest.raises(ModuleError, match="song.ogg: not a MOD, XM, S3M or IT module"):
        parse_module(b"OggS" + bytes(2000), "song.ogg")


def _tracker_debs() -> tuple[Path, list[samples.Package]]:
    debs = get_settings().download_cache / "debs"
    packages = [p for p in samples.PACKAGES if p.style == "chiptune"]
    if shutil.which("dpkg") is None or shutil.which("openmpt123") is None:
        pytest.skip("needs dpkg and openmpt123 (scripts/install_system_deps.sh)")
    debs.mkdir(parents=True, exist_ok=True)
    samples._download(packages, debs, lambda _: None)
    return debs, packages


def _openmpt_seconds(path: Path) -> float:
    out = subprocess.run(["openmpt123", "--info", str(path)], capture_output=True, text=True, timeout=60).stdout
    minutes, seconds = re.search(r"Duration\.+: (\d+):(\d+\.\d+)", out).groups()
    return int(minutes) * 60 + float(seconds)


@pytest.mark.slow  # downloads three Debian packages when the sample library has not cached them
def test_real_modules_walk_as_long_as_openmpt_plays_them(tmp_path):
    debs, packages = _tracker_debs()
    modules = []
    for pkg in packages:
        deb = sorted(debs.glob(f"{pkg.name}_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(tmp_path / pkg.name)], check=True)
        modules += [p for p in sorted((tmp_path / pkg.name).rglob("*"))
                    if p.suffix.lower() in samples.TRACKER_SUFFIXES]
    assert len(modules) >= 35 and {m.suffix for m in modules} == {".mod", ".it", ".s3m"}
    agreement = {m.name: module_tempo(m)["song_seconds"] / _openmpt_seconds(m) for m in modules}
    off = {name: round(a, 4) for name, a in agreement.items() if abs(a - 1) > 0.01}
    assert not off, f"walked / openmpt123 duration off by > 1 %: {off}"  # measured: all within 0.4 %
    truths = {m.name: module_tempo(m) for m in modules}
    assert truths["pingus-3.it"]["rows_per_beat"] == 6 and truths["pingus-3.it"]["rows_per_beat_source"] == "file"
    assert truths["hiscore.mod"]["stated"] and truths["hiscore.mod"]["bpm"] == 150.0
    assert truths["area1-game2.mod"]["format"] == "xm"  # read by its signature, not its name
    assert not truths["fridge-in-space_from_reg-zbb.mod"]["stated"]  # tempo changes all through
    assert sum(t["stated"] for t in truths.values()) >= 20


def test_a_tempo_key_set_without_its_tracker_part_is_rebuilt(tmp_path, monkeypatch):
    from audiomuse_run import tempo_key_set as tks

    dest = tmp_path / "set"
    dest.mkdir()
    songs = tks.plan(tks.SMALL_TRACKS)
    for s in songs:
        (dest / s.file).write_bytes(b"x")
    (dest / "trackers").mkdir()
    (dest / "trackers" / "m.flac").write_bytes(b"x")
    tracks = [{"file": s.file} for s in songs]
    old = {"version": 1, "seed": tks.SEED, "tracks": len(songs)}  # a set built before the tracker part
    current = {"version": tks.FORMAT_VERSION, "seed": tks.SEED, "tracks": len(songs),
               "trackers": {"version": tks.TRACKER_TRUTH_VERSION, "packages": list(tks.TRACKER_PACKAGES), "small": True}}
    monkeypatch.setattr(tks, "check_tools", lambda: (_ for _ in ()).throw(tks.TempoKeySetError("rebuild")))
    (dest / "truth.json").write_text(json.dumps({"params": old, "tracks": tracks}))
    with pytest.raises(tks.TempoKeySetError, match="rebuild"):
        tks.build_tempo_key_set(dest, small=True)
    (dest / "truth.json").write_text(json.dumps({"params": current, "tracks": tracks,
                                                 "trackers": [{"file": "trackers/m.flac", "stated": True}]}))
    assert tks.build_tempo_key_set(dest, small=True) == dest  # complete: reused without any work
    assert tks.load_tracker_truth(dest, stated_only=True) == [{"file": "trackers/m.flac", "stated": True}]
    (dest / "trackers" / "m.flac").unlink()  # a missing module means the set is not complete
    with pytest.raises(tks.TempoKeySetError, match="rebuild"):
        tks.build_tempo_key_set(dest, small=True)
