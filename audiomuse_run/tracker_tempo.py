"""A tracker module's tempo, read from the file itself: the ground truth of the chiptune tracks.

A module (.mod, .xm, .s3m, .it) plays its patterns in the order list, row by row; a row lasts
``speed`` ticks (ticks per row) of ``2.5 / tempo`` seconds. The header gives the initial speed and
tempo (MOD: always 6 and 125), effects in the patterns change them (MOD/XM ``Fxx``: below 0x20 the
speed, else the tempo; S3M/IT ``Axx`` speed, ``Txx`` tempo) and move the play position (``Bxx``
position jump, ``Cxx``/``Dxx`` pattern break, pattern delay and pattern loop). Walking that order
as a player does, until the song ends or first returns to a row it already played (the song's
loop, where openmpt123 also stops rendering), gives each row's duration, so a tempo timeline.
openmpt123 renders every subsong one after the other (games keep several tunes in one module,
each started where the previous left orders unplayed, at the header's speed and tempo), and so
does the walk: its song length matches the rendered file's.

The beat is ``rows_per_beat`` rows: IT files state it (the "PHiligt" row highlight), the other
formats do not, and 4 rows per beat (the trackers' default highlight) is then assumed. Beat BPM
is ``24 * tempo / (speed * rows_per_beat)``. A module has a stated tempo when one beat BPM covers
at least 90 % of its played time (``STATED_SHARE``); others are recorded, not scored.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TRUTH_VERSION = 1  # bump when the walk or the truth changes: the tempo/key set is rebuilt
STATED_SHARE = 0.9
ASSUMED_ROWS_PER_BEAT = 4
MAX_ROWS = 200_000  # a guard: no real song plays this many rows before it ends or loops
MOD_CHANNELS = {b"M.K.": 4, b"M!K!": 4, b"FLT4": 4, b"4CHN": 4, b"6CHN": 6, b"8CHN": 8, b"FLT8": 8,
                b"CD81": 8, b"OKTA": 8}
END, SKIP = -1, -2  # order-list markers (S3M/IT 255 and 254)


class ModuleError(ValueError):
    pass


@dataclass(frozen=True)
class Command:
    """One effect of a cell, reduced to what timing needs. ``kind``: speed, tempo, tempo_slide
    (signed per tick), jump (order), break (row), delay (extra rows), fine_delay (extra ticks),
    loop (0 = set the start, n = repeat n times)."""

    channel: int
    kind: str
    value: int


@dataclass
class Module:
    format: str
    speed: int
    tempo: int
    rows_per_beat: int
    rows_per_beat_source: str  # "file" | "assumed"
    orders: list[int]  # pattern numbers; END and SKIP markers
    patterns: dict[int, list[list[Command]]]  # pattern -> rows -> the row's timing commands
    restart: int = 0


@dataclass
class Segment:
    start: float
    seconds: float
    speed: int
    tempo: int


@dataclass
class Timeline:
    seconds: float
    rows: int
    segments: list[Segment] = field(default_factory=list)
    stop: str = "end"  # how the last subsong stopped: "end" (the order list ran out) or "loop"
    subsongs: int = 0


def read_module(path: Path) -> Module:
    """Parse ``path`` by its contents (the format's signature), not its suffix."""
    return parse_module(Path(path).read_bytes(), Path(path).name)


def parse_module(data: bytes, name: str = "module") -> Module:
    if data[:4] == b"IMPM":
        return _parse_it(data)
    if data[:17] == b"Extended Module: ":
        return _parse_xm(data)
    if data[0x2C:0x30] == b"SCRM":
        return _parse_s3m(data)
    if len(data) >= 1084 and (data[1080:1084] in MOD_CHANNELS or data[1082:1084] in (b"CH", b"CN")):
        return _parse_mod(data)
    raise ModuleError(f"{name}: not a MOD, XM, S3M or IT module (no known signature)")


def _u16(data: bytes, at: int) -> int:
    return struct.unpack_from("<H", data, at)[0]


def _u32(data: bytes, at: int) -> int:
    return struct.unpack_from("<I", data, at)[0]


def _bcd(param: int) -> int:
    return (param >> 4) * 10 + (param & 0x0F)


def _protracker_effect(channel: int, effect: int, param: int) -> list[Command]:
    """MOD and XM share ProTracker's effects: F speed/tempo, B jump, D break (decimal), E6x, EEx."""
    if effect == 0x0F and param:
        return [Command(channel, "speed" if param < 0x20 else "tempo", param)]
    if effect == 0x0B:
        return [Command(channel, "jump", param)]
    if effect == 0x0D:
        return [Command(channel, "break", _bcd(param))]
    if effect == 0x0E and param >> 4 == 0x6:
        return [Command(channel, "loop", param & 0x0F)]
    if effect == 0x0E and param >> 4 == 0xE:
        return [Command(channel, "delay", param & 0x0F)]
    return []


def _parse_mod(data: bytes) -> Module:
    sig = data[1080:1084]
    channels = MOD_CHANNELS.get(sig) or int(sig[:2].decode("latin-1").strip() or 0)
    if not 1 <= channels <= 32:
        raise ModuleError(f"MOD with an unreadable channel count {sig!r}")
    length = data[950]
    table = list(data[952:1080])
    n_patterns = max(table) + 1
    patterns = {}
    for p in range(n_patterns):
        base = 1084 + p * 64 * channels * 4
        rows = []
        for r in range(64):
            cmds = []
            for c in range(channels):
                at = base + (r * channels + c) * 4
                if at + 4 > len(data):
                    raise ModuleError(f"MOD pattern {p} is cut short")
                cmds += _protracker_effect(c, data[at + 2] & 0x0F, data[at + 3])
            rows.append(cmds)
        patterns[p] = rows
    return Module("mod", 6, 125, ASSUMED_ROWS_PER_BEAT, "assumed", table[:length], patterns,
                  restart=data[951] if data[951] < length else 0)


def _parse_xm(data: bytes) -> Module:
    header_size = _u32(data, 60)
    length, restart, channels, n_patterns = (_u16(data, 64 + 2 * k) for k in range(4))
    speed, tempo = _u16(data, 76), _u16(data, 78)
    orders = list(data[80 : 80 + length])
    at = 60 + header_size
    patterns = {}
    for p in range(n_patterns):
        head_len, n_rows, packed = _u32(data, at), _u16(data, at + 5), _u16(data, at + 7)
        pos, end = at + head_len, at + head_len + packed
        rows = [[] for _ in range(n_rows)]
        for r in range(n_rows if packed else 0):
            for c in range(channels):
                flags = data[pos]
                if flags & 0x80:  # packed: the flags say which of the five bytes follow
                    pos += 1
                    fields = []
                    for k in range(5):
                        fields.append(data[pos] if flags & (1 << k) else 0)
                        pos += 1 if flags & (1 << k) else 0
                else:
                    fields = list(data[pos : pos + 5])
                    pos += 5
                rows[r] += _protracker_effect(c, fields[3], fields[4])
        patterns[p] = rows or [[] for _ in range(64)]
        at = end
    return Module("xm", speed, tempo, ASSUMED_ROWS_PER_BEAT, "assumed", orders, patterns, restart)


def _order_list(raw: bytes) -> list[int]:
    return [END if o == 255 else SKIP if o == 254 else o for o in raw]


def _st3_effect(channel: int, command: int, param: int, it: bool) -> list[Command]:
    """S3M/IT effects by letter number (A = 1): A speed, B jump, C break, T tempo, SBx, SEx, S6x."""
    letter = chr(ord("A") - 1 + command) if 1 <= command <= 26 else ""
    if letter == "A" and param:
        return [Command(channel, "speed", param)]
    if letter == "B":
        return [Command(channel, "jump", param)]
    if letter == "C":
        return [Command(channel, "break", param if it else _bcd(param))]
    if letter == "T" and param >= 0x20:
        return [Command(channel, "tempo", param)]
    if letter == "T" and it and param:  # IT T0x / T1x: slide the tempo by x on every tick but the first
        return [Command(channel, "tempo_slide", (param & 0x0F) * (1 if param >> 4 else -1))]
    if letter == "S":
        kind = {0xB: "loop", 0xE: "delay", 0x6: "fine_delay"}.get(param >> 4)
        return [Command(channel, kind, param & 0x0F)] if kind else []
    return []


def _parse_s3m(data: bytes) -> Module:
    n_orders, n_ins, n_patterns = _u16(data, 0x20), _u16(data, 0x22), _u16(data, 0x24)
    orders = _order_list(data[0x60 : 0x60 + n_orders])
    table = 0x60 + n_orders + 2 * n_ins
    patterns = {}
    for p in range(n_patterns):
        offset = _u16(data, table + 2 * p) * 16
        rows = [[] for _ in range(64)]
        if offset:
            pos = offset + 2
            for r in range(64):
                while (what := data[pos]) != 0:
                    pos += 1
                    pos += 2 if what & 0x20 else 0
                    pos += 1 if what & 0x40 else 0
                    if what & 0x80:
                        rows[r] += _st3_effect(what & 0x1F, data[pos], data[pos + 1], it=False)
                        pos += 2
                pos += 1
        patterns[p] = rows
    return Module("s3m", data[0x31] or 6, data[0x32] or 125, ASSUMED_ROWS_PER_BEAT, "assumed", orders, patterns)


def _it_pattern(data: bytes, offset: int) -> list[list[Command]]:
    if not offset:
        return [[] for _ in range(64)]  # IT: a pattern that is not stored is 64 empty rows
    n_rows = _u16(data, offset + 2)
    pos = offset + 8
    masks: dict[int, int] = {}
    last_effect: dict[int, tuple[int, int]] = {}
    rows = [[] for _ in range(n_rows)]
    for r in range(n_rows):
        while (var := data[pos]) != 0:
            pos += 1
            ch = (var - 1) & 63
            if var & 0x80:
                masks[ch] = data[pos]
                pos += 1
            mask = masks.get(ch, 0)
            pos += (1 if mask & 1 else 0) + (1 if mask & 2 else 0) + (1 if mask & 4 else 0)
            if mask & 8:
                last_effect[ch] = (data[pos], data[pos + 1])
                pos += 2
            if mask & 0x88 and ch in last_effect:
                rows[r] += _st3_effect(ch, *last_effect[ch], it=True)
        pos += 1
    return rows


def _parse_it(data: bytes) -> Module:
    n_orders, n_ins, n_samples, n_patterns = (_u16(data, 0x20 + 2 * k) for k in range(4))
    orders = _order_list(data[0xC0 : 0xC0 + n_orders])
    table = 0xC0 + n_orders + 4 * n_ins + 4 * n_samples
    patterns = {p: _it_pattern(data, _u32(data, table + 4 * p)) for p in range(n_patterns)}
    highlight = data[0x1E]
    rows_per_beat, source = (highlight, "file") if highlight else (ASSUMED_ROWS_PER_BEAT, "assumed")
    return Module("it", data[0x32] or 6, data[0x33] or 125, rows_per_beat, source, orders, patterns)


def beat_bpm(speed: int, tempo: int, rows_per_beat: int) -> float:
    """Beats per minute when a row is ``speed`` ticks of 2.5/``tempo`` s and a beat ``rows_per_beat`` rows."""
    return 24.0 * tempo / (speed * rows_per_beat)


def _playable(module: Module, order: int, row: int, clamp: bool) -> tuple[int, int] | None:
    """The first row that plays from (order, row): order markers and missing patterns skipped; a row
    past the pattern's end is the next order's first (``clamp``: row 0 of this one, after a break)."""
    while 0 <= order < len(module.orders):
        pattern = module.patterns.get(module.orders[order])
        if module.orders[order] == END:
            return None
        if pattern is None or not pattern:
            order, row = order + 1, 0
            continue
        if row >= len(pattern):
            if clamp:
                return order, 0
            order, row = order + 1, 0
            continue
        return order, row
    return None


def _row_seconds(speed: int, tempo: int, ticks: int, slide: int) -> tuple[float, int]:
    """Seconds of a row of ``ticks`` ticks whose tempo slides by ``slide`` on each tick after the first."""
    seconds = 0.0
    for tick in range(ticks):
        if tick and slide:
            tempo = max(32, min(255, tempo + slide))
        seconds += 2.5 / tempo
    return seconds, tempo


def walk(module: Module) -> Timeline:
    """Play every subsong as openmpt123 renders them, one after the other: the song from the first
    order, then from each first order it left unplayed (games keep several tunes in one module)."""
    timeline = Timeline(0.0, 0)
    visited: set[tuple[int, int]] = set()
    start: int | None = 0
    while start is not None and timeline.rows < MAX_ROWS:
        timeline.subsongs += 1
        _play(module, start, visited, timeline)
        played = {order for order, _ in visited}
        start = next((o for o in range(len(module.orders)) if o not in played
                      and _playable(module, o, 0, clamp=False) not in (None, *visited)), None)
    return timeline


def _play(module: Module, start: int, visited: set[tuple[int, int]], timeline: Timeline) -> None:
    """Play from order ``start`` as a tracker does (speed, tempo, jumps, breaks, pattern delay and
    loop), adding to ``timeline``, up to the song's end or its first return to a played row."""
    speed, tempo = module.speed, module.tempo
    loop_start: dict[int, int] = defaultdict(int)
    loop_left: dict[int, int] = defaultdict(int)
    at = _playable(module, start, 0, clamp=False)
    while at is not None and timeline.rows < MAX_ROWS:
        order, row = at
        if at in visited:
            timeline.stop = "loop"
            break
        visited.add(at)
        jump = brk = loop_to = None
        delay = fine = slide = 0
        for cmd in module.patterns[module.orders[order]][row]:
            if cmd.kind == "speed":
                speed = cmd.value
            elif cmd.kind == "tempo":
                tempo = cmd.value
            elif cmd.kind == "tempo_slide":
                slide = cmd.value
            elif cmd.kind == "jump":
                jump = cmd.value
            elif cmd.kind == "break":
                brk = cmd.value
            elif cmd.kind == "delay":
                delay = delay or cmd.value  # the first pattern delay of a row counts
            elif cmd.kind == "fine_delay":
                fine += cmd.value
            elif cmd.kind == "loop":
                loop_to = _pattern_loop(cmd, row, loop_start, loop_left, loop_to)
        seconds, tempo = _row_seconds(speed, tempo, speed * (1 + delay) + fine, slide)
        _add(timeline, seconds, speed, tempo)
        if loop_to is not None:  # the loop's rows play again: they are not the song's loop
            visited -= {(order, r) for r in range(loop_to, row + 1)}
            at = (order, loop_to)
        elif jump is not None or brk is not None:
            target = jump if jump is not None else order + 1
            if target <= order and jump is not None and (target, brk or 0) in visited:
                timeline.stop = "loop"
                break
            loop_start.clear()
            at = _playable(module, target, brk or 0, clamp=True)
        else:
            at = _playable(module, order, row + 1, clamp=False)
            if at is not None and at[0] != order:
                loop_start.clear()


def _pattern_loop(cmd: Command, row: int, start: dict[int, int], left: dict[int, int], loop_to):
    """E6x / SBx on one channel: 0 marks the loop start; n plays the rows since it n more times."""
    if cmd.value == 0:
        start[cmd.channel] = row
        return loop_to
    if left[cmd.channel] == 0:
        left[cmd.channel] = cmd.value
        return start[cmd.channel]
    left[cmd.channel] -= 1
    if left[cmd.channel]:
        return start[cmd.channel]
    start[cmd.channel] = row + 1
    return loop_to


def _add(timeline: Timeline, seconds: float, speed: int, tempo: int) -> None:
    last = timeline.segments[-1] if timeline.segments else None
    if last and (last.speed, last.tempo) == (speed, tempo):
        last.seconds += seconds
    else:
        timeline.segments.append(Segment(timeline.seconds, seconds, speed, tempo))
    timeline.seconds += seconds
    timeline.rows += 1


def tempo_truth(module: Module, timeline: Timeline) -> dict:
    """The module's tempo as ground truth: the beat BPM that covers most of the played time, whether
    it is stated (covers >= 90 %), rows per beat and where they come from, the timeline's summary
    (seconds per beat BPM, the 8 largest; the first 40 [start s, seconds, speed, tempo] segments)."""
    rpb = module.rows_per_beat
    share: dict[float, float] = defaultdict(float)
    for seg in timeline.segments:
        share[round(beat_bpm(seg.speed, seg.tempo, rpb), 2)] += seg.seconds
    bpm, seconds = max(share.items(), key=lambda kv: kv[1]) if share else (0.0, 0.0)
    total = timeline.seconds or 1.0
    return {
        "format": module.format, "bpm": bpm, "stated": seconds >= STATED_SHARE * total,
        "bpm_share": round(seconds / total, 3), "rows_per_beat": rpb,
        "rows_per_beat_source": module.rows_per_beat_source,
        "initial_speed": module.speed, "initial_tempo": module.tempo,
        "song_seconds": round(timeline.seconds, 2), "rows": timeline.rows, "stop": timeline.stop,
        "subsongs": timeline.subsongs,
        "tempo_changes": max(0, len(timeline.segments) - 1),
        "bpm_seconds": {f"{b:g}": round(s, 2) for b, s in sorted(share.items(), key=lambda kv: -kv[1])[:8]},
        "timeline": [[round(s.start, 2), round(s.seconds, 2), s.speed, s.tempo] for s in timeline.segments[:40]],
        "key": None,
    }


def module_tempo(path: Path) -> dict:
    """``tempo_truth`` of the module at ``path``."""
    module = read_module(path)
    return tempo_truth(module, walk(module))
