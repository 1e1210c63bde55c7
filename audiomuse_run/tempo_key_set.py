"""Build the tempo/key ground-truth set: generated MIDI songs rendered with FluidSynth, plus the
sample library's tracker modules, whose files state their tempo.

Used by ``benchmarks/tempo_key.py`` (the full set, 96 tracks and 35 modules) and by the tests
(``--small``, 24 tracks and 6 modules). Every song is written by this module from a seed, so the
set is reproducible and nothing is downloaded but Debian packages (``fluidsynth`` and the FluidR3
General MIDI soundfont, ``fluid-soundfont-gm``, ``openmpt123``: ``scripts/install_system_deps.sh``
installs them; the three chiptune data packages, cached with the sample library's) and ``mido`` (PyPI).

A song is ~30 s in one key and one tempo: a chord progression in the key (I-IV-V-I in major,
i-iv-V-i in minor, V a major triad with the leading tone), a bass on the chord roots and a melody
from the key's scale that starts phrases on chord tones and ends them on the tonic, so the key is
unambiguous. The set covers the 24 keys (each tonic in major and minor), tempi 60-200 BPM, the
meters 4/4, 3/4, 6/8 and 12/8, straight and swung eighths (2:1, simple meters only), several
General MIDI instrument sets (piano, strings, guitar, organ, electric piano) and versions with
and without drums (GM channel 10: kick, snare and closed hats in a pattern per meter).

``bpm`` in the truth is the beat: the quarter note in 4/4 and 3/4, the dotted quarter in 6/8 and
12/8 (whose eighth-note pulse is 3x the beat, Acc2's x3). Compound meters use 60-140 BPM (their
eighths run at 180-420 per minute); simple meters use 60-200.

Each track is a 16-bit FLAC (44.1 kHz stereo) with a ``.json`` beside it; ``truth.json`` holds
all of them (file, bpm, meter, swing, tonic, mode, drums, program, instruments, seed). A finished
set is reused as it is; an interrupted build never leaves a set that looks complete (it is built
in a temporary folder and swapped into place).

The set also has a tracker part (``trackers/``, its truth under ``trackers`` in ``truth.json``):
every module of the sample library's chiptune albums (tecnoballz-data, pingus-data,
open-invaders-data, from the cached .debs; the library's MIN_SECONDS filter), rendered with
openmpt123 to FLAC as the library does, its truth from the module itself
(``audiomuse_run.tracker_tempo``: the speed/tempo timeline of the played order). Limits: a
module's speed and tempo give the row rate; rows per beat are stated only by IT files (their row
highlight) and assumed to be 4 elsewhere (``rows_per_beat_source``), so a beat read at half or
double tempo is as likely as in the MIDI part (Acc2 is the fair score). Only modules whose one
beat BPM covers >= 90 % of the played time are ``stated`` and scored; trackers have no key
signature, so their key is not scored. ``--small`` keeps the two shortest stated modules of each
package.

Usage: ``python -m audiomuse_run.tempo_key_set [--small] [--dest DIR]``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from audiomuse.config import get_settings
from audiomuse_run import samples
from audiomuse_run.atomic import swap_into_place
from audiomuse_run.tracker_tempo import TRUTH_VERSION as TRACKER_TRUTH_VERSION
from audiomuse_run.tracker_tempo import module_tempo

TRUTH = "truth.json"
FORMAT_VERSION = 2  # 2: the tracker part
TRACKER_DIR = "trackers"
TRACKER_PACKAGES = tuple(p.name for p in samples.PACKAGES if p.style == "chiptune")
SMALL_TRACKERS_PER_PACKAGE = 2
SEED = 20260
FULL_TRACKS = 96
SMALL_TRACKS = 24
SECONDS = 30.0
SAMPLE_RATE = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
INSTALL_HINT = "apt-get install fluidsynth fluid-soundfont-gm (Debian/Ubuntu; scripts/install_system_deps.sh)"
TONICS = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
METERS = ("4/4", "3/4", "6/8", "12/8")
TICKS = 480  # per quarter note
EIGHTH = TICKS // 2
# meter -> (eighths per bar, eighths per beat)
METER_SHAPE = {"4/4": (8, 2), "3/4": (6, 2), "6/8": (6, 3), "12/8": (12, 3)}
# name -> (chord program, melody program, bass program, chord style): "strum" strikes the chord
# on every beat, "arp" plays it as eighth-note arpeggios, "hold" sustains it for the bar.
INSTRUMENTS = {
    "piano": (0, 0, 32, "strum"),  # acoustic grand; acoustic bass
    "strings": (48, 40, 42, "hold"),  # string ensemble, violin, cello
    "guitar": (24, 25, 33, "arp"),  # nylon and steel guitars, finger bass
    "organ": (16, 19, 32, "hold"),  # drawbar organ, church organ
    "epiano": (4, 73, 33, "strum"),  # electric piano, flute, finger bass
}
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10)  # natural minor; the V chord raises the 7th
KICK, SNARE, HAT = 36, 38, 42


class TempoKeySetError(RuntimeError):
    pass


@dataclass(frozen=True)
class Song:
    file: str
    bpm: float
    meter: str
    swing: bool
    tonic: str
    mode: str
    drums: bool
    instruments: str
    program: int  # the GM program of the chords (the melody's and bass's are in INSTRUMENTS)
    seed: int


def plan(n: int, seed: int = SEED) -> list[Song]:
    """The ``n`` songs of a set: keys cycle through all 24, meters, drums, swing and instrument sets
    are balanced, tempi spread evenly over the meter's range; all from ``seed``."""
    rng = random.Random(seed)
    keys = [(t, m) for m in ("major", "minor") for t in range(12)]
    rng.shuffle(keys)
    inst_names = list(INSTRUMENTS)
    per_meter = {m: [i for i in range(n) if i % len(METERS) == METERS.index(m)] for m in METERS}
    bpm_of = {}
    for meter, idx in per_meter.items():
        lo, hi = (60.0, 200.0) if METER_SHAPE[meter][1] == 2 else (60.0, 140.0)
        tempi = [lo + (hi - lo) * (k + 0.5) / len(idx) for k in range(len(idx))]
        rng.shuffle(tempi)
        bpm_of.update({i: round(b) for i, b in zip(idx, tempi, strict=True)})
    songs = []
    for i in range(n):
        meter = METERS[i % len(METERS)]
        tonic, mode = keys[i % 24]
        drums = (i // len(METERS)) % 2 == 0
        swing = METER_SHAPE[meter][1] == 2 and (i // (2 * len(METERS))) % 2 == 1
        inst = inst_names[(i + i // 24) % len(inst_names)]
        name = f"{i + 1:03d}-{TONICS[tonic]}{'m' if mode == 'minor' else ''}-{meter.replace('/', '_')}-{bpm_of[i]}bpm"
        name += f"{'-swing' if swing else ''}{'-drums' if drums else ''}-{inst}.flac"
        songs.append(Song(name.replace("#", "s"), float(bpm_of[i]), meter, swing, TONICS[tonic], mode, drums,
                          inst, INSTRUMENTS[inst][0], seed * 1000 + i))
    return songs


def _slot_tick(slot: int, beat_eighths: int, swing: bool) -> int:
    """Tick of eighth-note ``slot`` from the bar start (swung: 2:1 long-short pairs)."""
    if swing and beat_eighths == 2:
        return (slot // 2) * TICKS + (0 if slot % 2 == 0 else 2 * TICKS // 3)
    return slot * EIGHTH


def _chord_bar(note, t0: int, voicing: list[int], style: str, bar_eighths: int, beat_eighths: int,
               swing: bool) -> None:
    """One bar of the chord part: held ("hold"), struck on every beat ("strum") or arpeggiated."""
    beats = bar_eighths // beat_eighths
    if style == "hold":
        for p in voicing:
            note(0, t0, bar_eighths * EIGHTH, p, 70)
    elif style == "strum":
        for b in range(beats):
            s = _slot_tick(b * beat_eighths, beat_eighths, swing)
            e = _slot_tick((b + 1) * beat_eighths, beat_eighths, swing)
            for p in voicing:
                note(0, t0 + s, e - s, p, 78 if b == 0 else 64)
    else:  # arp
        order = voicing + [voicing[1]]
        for slot in range(bar_eighths):
            s = _slot_tick(slot, beat_eighths, swing)
            e = _slot_tick(slot + 1, beat_eighths, swing)
            note(0, t0 + s, e - s, order[slot % len(order)], 80 if slot % beat_eighths == 0 else 62)


def _drums(note, song: Song, n_bars: int) -> None:
    """GM channel 10: closed hats on every eighth, kick and snare on the beats (per meter)."""
    bar_eighths, beat_eighths = METER_SHAPE[song.meter]
    for bar in range(n_bars):
        t0 = bar * bar_eighths * EIGHTH
        for slot in range(bar_eighths):
            s = t0 + _slot_tick(slot, beat_eighths, song.swing)
            note(9, s, EIGHTH // 2, HAT, 70 if slot % beat_eighths == 0 else 52)
            beat, off = divmod(slot, beat_eighths)
            if off:
                continue
            if song.meter == "3/4":  # kick on 1, snare on 2 and 3
                note(9, s, EIGHTH, KICK if beat == 0 else SNARE, 100 if beat == 0 else 80)
            elif beat % 2 == 0:
                note(9, s, EIGHTH, KICK, 100)
            else:
                note(9, s, EIGHTH, SNARE, 90)


def song_midi(song: Song):
    """The song as a ``mido.MidiFile`` (type 1: a tempo track, then chords, melody, bass, drums)."""
    rng = random.Random(song.seed)
    bar_eighths, beat_eighths = METER_SHAPE[song.meter]
    beats = bar_eighths // beat_eighths
    quarter_us = 60e6 / song.bpm / (1.5 if beat_eighths == 3 else 1.0)
    bar_ticks = bar_eighths * EIGHTH
    bar_seconds = bar_ticks / TICKS * quarter_us / 1e6
    n_bars = max(4, int(-(-SECONDS // bar_seconds)))
    n_bars += (-n_bars) % 4  # whole progressions: the song ends on the tonic chord
    tonic = TONICS.index(song.tonic)
    scale = MAJOR_SCALE if song.mode == "major" else MINOR_SCALE
    degrees = (0, 3, 4, 0)  # I-IV-V-I / i-iv-V-i
    chord_prog, melody_prog, bass_prog, style = INSTRUMENTS[song.instruments]

    events: dict[int, list] = {ch: [] for ch in (0, 1, 2, 9)}  # channel -> (tick, on/off, note, velocity)

    def note(ch, start, length, pitch, vel):
        events[ch].append((start, 1, pitch, vel))
        events[ch].append((start + max(length - 10, 10), 0, pitch, 0))

    def chord_tones(degree):
        tones = [scale[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        if song.mode == "minor" and degree == 4:
            tones[1] += 1  # harmonic minor: the leading tone makes V major
        return tones

    def scale_pitch(step, degree):
        pc = scale[step % 7] + 12 * (step // 7)
        if song.mode == "minor" and degree == 4 and step % 7 == 6:
            pc += 1
        return pc

    melody_base = 48 + tonic - (12 if tonic > 6 else 0)  # scale step 7 is the tonic at C4-F#4
    melody_step = 7 + rng.choice((0, 2, 4))
    for bar in range(n_bars):
        t0 = bar * bar_ticks
        degree = degrees[bar % 4]
        last = bar == n_bars - 1
        tones = chord_tones(degree)
        root = 48 + tonic + tones[0] - (12 if tonic + tones[0] >= 12 else 0)
        voicing = sorted(48 + (tonic + t) % 12 + (12 if (tonic + t) % 12 < 5 else 0) for t in tones)
        _chord_bar(note, t0, voicing, "hold" if last else style, bar_eighths, beat_eighths, song.swing)
        # bass: the root on every beat's downbeat of the bar's first and middle beat
        for b in range(beats):
            if b == 0 or (beats == 4 and b == 2):
                s = _slot_tick(b * beat_eighths, beat_eighths, song.swing)
                note(2, t0 + s, beat_eighths * EIGHTH * (2 if beats == 4 else 1), root - 12, 92)
        # melody: chord tones on beats, scale steps between; a long tonic at phrase ends
        if last or bar % 4 == 3:
            note(1, t0, bar_ticks, melody_base + 12, 84)
            melody_step = 7 + rng.choice((0, 2, 4))
            continue
        slot = 0
        while slot < bar_eighths:
            length = rng.choice((1, 1, 2, 2, beat_eighths)) if slot % beat_eighths == 0 else 1
            length = min(length, bar_eighths - slot)
            if slot % beat_eighths == 0:
                target = [(degree + t) for t in (0, 2, 4)]
                options = [d + 7 for d in target] + [d for d in target if d >= 5]
                melody_step = min(options, key=lambda d: abs(d - melody_step) + rng.random())
            else:
                melody_step += rng.choice((-1, 1))
                melody_step = max(5, min(16, melody_step))
            s = _slot_tick(slot, beat_eighths, song.swing)
            e = _slot_tick(slot + length, beat_eighths, song.swing)
            note(1, t0 + s, e - s, melody_base + scale_pitch(melody_step, degree),
                 90 if slot == 0 else 76)
            slot += length
    if song.drums:
        _drums(note, song, n_bars)
    return _midi_file(song, quarter_us, events, (chord_prog, melody_prog, bass_prog))


def _midi_file(song: Song, quarter_us: float, events: dict[int, list], programs: tuple[int, int, int]):
    """A type-1 ``mido.MidiFile``: the meter and tempo, then one track per channel with events."""
    import mido

    mid = mido.MidiFile(type=1, ticks_per_beat=TICKS)
    meta = mido.MidiTrack()
    num, den = (int(x) for x in song.meter.split("/"))
    meta.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    meta.append(mido.MetaMessage("set_tempo", tempo=int(round(quarter_us)), time=0))
    mid.tracks.append(meta)
    for ch, program in ((0, programs[0]), (1, programs[1]), (2, programs[2]), (9, None)):
        if not events[ch]:
            continue
        track = mido.MidiTrack()
        if program is not None:
            track.append(mido.Message("program_change", channel=ch, program=program, time=0))
        now = 0
        for tick, on, pitch, vel in sorted(events[ch], key=lambda e: (e[0], e[1])):
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, channel=ch, note=pitch, velocity=vel, time=tick - now))
            now = tick
        mid.tracks.append(track)
    return mid


def build_tempo_key_set(dest: Path | None = None, *, small: bool = False,
                        log: Callable[[str], None] = print) -> Path:
    """Build (or reuse) the set at ``dest`` and return its folder."""
    cache = get_settings().download_cache
    dest = Path(dest or cache / ("tempo-key-set-small" if small else "tempo-key-set")).expanduser()
    songs = plan(SMALL_TRACKS if small else FULL_TRACKS)
    params = {"version": FORMAT_VERSION, "seed": SEED, "tracks": len(songs),
              "trackers": {"version": TRACKER_TRUTH_VERSION, "packages": list(TRACKER_PACKAGES), "small": small}}
    if _complete(dest, params):
        return dest
    check_tools()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=dest.parent))
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            durations = list(pool.map(lambda s: _render(s, work), songs))
        truth = [{**asdict(s), "duration": round(d, 2)} for s, d in zip(songs, durations, strict=True)]
        trackers = build_tracker_part(work, cache / "debs", small=small, log=log)
        (work / TRUTH).write_text(json.dumps({"params": params, "tracks": truth, "trackers": trackers}, indent=1))
        swap_into_place(work, dest)  # an interrupted build never leaves a folder that looks complete
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"{dest}: {len(songs)} tracks, {len(trackers)} tracker modules")
    return dest


def load_truth(dest: Path) -> list[dict]:
    """The truth of every MIDI track (``file`` relative to ``dest``)."""
    return json.loads((Path(dest) / TRUTH).read_text())["tracks"]


def load_tracker_truth(dest: Path, *, stated_only: bool = False) -> list[dict]:
    """The truth of every tracker module (``file`` relative to ``dest``); ``stated_only``: those
    with a stated tempo, the ones that are scored."""
    trackers = json.loads((Path(dest) / TRUTH).read_text())["trackers"]
    return [t for t in trackers if t["stated"] or not stated_only]


def check_tools() -> None:
    if shutil.which("fluidsynth") is None or not SOUNDFONT.exists():
        raise TempoKeySetError(f"needs fluidsynth and {SOUNDFONT}: install with `{INSTALL_HINT}`")
    if shutil.which("openmpt123") is None or shutil.which("dpkg") is None:
        raise TempoKeySetError(f"needs openmpt123 and dpkg (the tracker part): install with `{samples.INSTALL_HINT}`")


def _complete(dest: Path, params: dict) -> bool:
    try:
        data = json.loads((dest / TRUTH).read_text())
    except (OSError, ValueError):
        return False
    files = [t["file"] for t in data.get("tracks", []) + data.get("trackers", [])]
    return data.get("params") == params and all((dest / f).exists() for f in files)


def _render(song: Song, out: Path) -> float:
    import numpy as np
    import soundfile as sf

    midi = out / (song.file[:-5] + ".mid")
    song_midi(song).save(str(midi))
    wav = midi.with_suffix(".wav")
    subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", str(SAMPLE_RATE), "-F", str(wav),
                    str(SOUNDFONT), str(midi)], check=True, capture_output=True, timeout=300)
    data, sr = sf.read(str(wav), dtype="float32")
    wav.unlink()
    midi.unlink()
    loud = np.flatnonzero(np.abs(data).max(axis=1) > 1e-3)  # drop FluidSynth's silent tail
    data = data[: min(len(data), (loud[-1] + 1 if len(loud) else 0) + sr // 2)]
    peak = float(np.abs(data).max())
    if peak > 0.98:
        data *= 0.98 / peak
    sf.write(str(out / song.file), data, sr, format="FLAC", subtype="PCM_16")
    (out / (song.file[:-5] + ".json")).write_text(json.dumps(asdict(song), indent=1))
    return len(data) / sr


def build_tracker_part(out: Path, debs: Path, *, small: bool, log: Callable[[str], None] = print) -> list[dict]:
    """Render the sample library's tracker modules into ``out/trackers/<package>/`` with their truth
    beside each (``<name>.json``); return the truths. Downloads the .debs when they are not cached."""
    debs.mkdir(parents=True, exist_ok=True)
    packages = [p for p in samples.PACKAGES if p.name in TRACKER_PACKAGES]
    try:
        samples._download(packages, debs, log)
    except samples.SampleLibraryError as exc:
        raise TempoKeySetError(str(exc)) from exc
    truths = []
    with tempfile.TemporaryDirectory(prefix="am-trackers-") as tmp:
        for pkg in packages:
            root = Path(tmp) / pkg.name
            deb = sorted(debs.glob(f"{pkg.name}_*.deb"))[-1]
            subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True, capture_output=True)
            modules = [(m, module_tempo(m)) for m in _tracker_sources(root)]
            if small:
                modules = _shortest_stated(modules, SMALL_TRACKERS_PER_PACKAGE)
            folder = out / TRACKER_DIR / pkg.name
            folder.mkdir(parents=True, exist_ok=True)
            with ThreadPoolExecutor(max_workers=2) as pool:
                rendered = list(pool.map(lambda mt: _render_module(mt[0], mt[1], pkg.name, folder, out), modules))
            truths += [t for t in rendered if t is not None]
    log(f"tracker part: {len(truths)} modules, {sum(t['stated'] for t in truths)} with a stated tempo")
    return truths


def _tracker_sources(root: Path) -> list[Path]:
    """The package's tracker modules, in the sample library's order."""
    return [p for p in samples._sources(root) if p.is_file() and p.suffix.lower() in samples.TRACKER_SUFFIXES]


def _shortest_stated(modules: list[tuple[Path, dict]], n: int) -> list[tuple[Path, dict]]:
    """The ``n`` shortest modules with a stated tempo that are long enough for the library."""
    fit = [mt for mt in modules if mt[1]["stated"] and mt[1]["song_seconds"] >= samples.MIN_SECONDS]
    return sorted(fit, key=lambda mt: (mt[1]["song_seconds"], mt[0].name))[:n]


def _render_module(module: Path, truth: dict, package: str, folder: Path, out: Path) -> dict | None:
    """Render ``module`` with openmpt123 as the sample library does (its whole order walk, every
    subsong) to FLAC and write its truth beside it; None when it is shorter than the library keeps."""
    import numpy as np
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="am-module-") as tmp:
        source = Path(tmp) / module.name
        shutil.copyfile(module, source)
        subprocess.run(["openmpt123", "--quiet", "--render", "--force", str(source)], check=True,
                       capture_output=True, timeout=300)
        data, sr = sf.read(str(source) + ".wav", dtype="float32")
    duration = len(data) / sr
    if duration < samples.MIN_SECONDS:
        return None
    flac = folder / f"{module.stem}.flac"
    sf.write(str(flac), np.clip(data, -1.0, 1.0), sr, format="FLAC", subtype="PCM_16")
    record = {"file": str(flac.relative_to(out)), "module": module.name, "package": package, **truth,
              "duration": round(duration, 2),
              "duration_agreement": round(truth["song_seconds"] / duration, 4)}  # parsed walk / rendered audio
    (folder / f"{module.stem}.json").write_text(json.dumps(record, indent=1))
    return record


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build AudioMuse's tempo/key ground-truth set (MIDI + FluidSynth, tracker modules).")
    ap.add_argument("--dest", type=Path, default=None)
    ap.add_argument("--small", action="store_true", help=f"{SMALL_TRACKS} tracks and {SMALL_TRACKERS_PER_PACKAGE} modules a package (the tests) "
                    f"instead of {FULL_TRACKS} and all")
    args = ap.parse_args(argv)
    try:
        path = build_tempo_key_set(args.dest, small=args.small)
    except TempoKeySetError as exc:
        print(f"error: {exc}")
        return 1
    trackers = load_tracker_truth(path)
    print(f"{path}: {len(load_truth(path))} MIDI tracks, {len(trackers)} tracker modules "
          f"({sum(t['stated'] for t in trackers)} with a stated tempo)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
