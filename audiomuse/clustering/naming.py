"""Playlist names: automatic ones from the profile, and the rules an AI-made name must satisfy.

Automatic: ``Mood1_Mood2_Tempo[_Other]_automatic``, e.g. ``Rock_Metal_Fast_Aggressive_automatic``:
the two strongest moods of the profile, the tempo band of the normalised mean tempo (Slow < 0.33 <=
Medium < 0.66 <= Fast), and the strongest "other" feature when it reaches 0.5. Names are made unique
within a run by a counter placed *before* the suffix (``..._Fast_2_automatic``), so that every
clustering playlist still ends with ``_automatic`` (the media-server clean-up deletes by suffix).

AI names: :func:`ai_naming_prompt` asks for the name only; :func:`clean_ai_name` takes whatever came
back and returns a name that obeys the rules (standard ASCII, 15-35 characters) or ``None``, in which
case the caller keeps the automatic name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

AUTOMATIC_SUFFIX = "_automatic"
SLOW_BELOW = 0.33
FAST_FROM = 0.66
OTHER_FEATURE_NAME_THRESHOLD = 0.5
AI_NAME_MIN_CHARS = 15
AI_NAME_MAX_CHARS = 35
# The characters the naming prompt allows (the reference's list): letters, digits, space, - & ' ! . , ? ( ) [ ]
_ALLOWED = re.compile(r"[A-Za-z0-9 \-&'!.,?()\[\]]")


def format_label(label: str) -> str:
    """'female vocalists' -> 'Female Vocalists', '00s' -> '00s', 'Hip-Hop' -> 'Hip-Hop'."""
    return " ".join(w[:1].upper() + w[1:] for w in str(label).replace("_", " ").split())


def tempo_band(tempo: float | None) -> str | None:
    """'Slow', 'Medium' or 'Fast' for a tempo normalised to 0..1; ``None`` when unknown."""
    if tempo is None or tempo != tempo:  # None or NaN
        return None
    return "Slow" if tempo < SLOW_BELOW else "Medium" if tempo < FAST_FROM else "Fast"


def automatic_name(
    profile: Mapping[str, float],
    tempo_mean: float | None = None,
    other_means: Mapping[str, float] | None = None,
    top_moods: int = 2,
) -> str:
    """``Mood1_Mood2_Tempo[_Other]_automatic`` from a playlist's profile."""
    moods = [m for m, s in sorted(profile.items(), key=lambda kv: -kv[1])[:top_moods] if s > 0]
    parts = [format_label(m) for m in moods] or ["Mixed"]
    band = tempo_band(tempo_mean)
    if band:
        parts.append(band)
    if other_means:
        label, score = max(other_means.items(), key=lambda kv: kv[1])
        if score >= OTHER_FEATURE_NAME_THRESHOLD:
            parts.append(format_label(label))
    return "_".join(parts) + AUTOMATIC_SUFFIX


def unique_names(names: Iterable[str], suffix: str = AUTOMATIC_SUFFIX) -> list[str]:
    """Make names unique in order: the 2nd 'X_automatic' becomes 'X_2_automatic', then 'X_3_...'."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem = name[: -len(suffix)] if suffix and name.endswith(suffix) else name
        tail = suffix if suffix and name.endswith(suffix) else ""
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem}_{n}{tail}"
        seen.add(candidate)
        out.append(candidate)
    return out


def name_playlists(playlists: Sequence[Any], top_moods: int = 2) -> list[str]:
    """Unique automatic names for objects with ``profile``, ``tempo_mean`` and ``other_means``."""
    return unique_names(
        automatic_name(p.profile, p.tempo_mean, p.other_means, top_moods=top_moods) for p in playlists
    )


# --- AI naming --------------------------------------------------------------------------------

_THINK = re.compile(r"<think(?:ing)?>.*?(?:</think(?:ing)?>|$)", re.S | re.I)
_LIST_MARKER = re.compile(r"^\s*(?:[#>*+\-]+|\d+[.)])\s+")
_PREFIX = re.compile(
    r"^(?:(?:sure|okay|ok)[,!.]?\s+)?(?:here(?:'s| is)\s+)?(?:(?:a|an|the|my|your)\s+)?"
    r"(?:suggested\s+|creative\s+|new\s+)?(?:playlist\s+)?(?:name|title)?\s*(?:is)?\s*[:=\-]\s*",
    re.I,
)
_REFUSAL = re.compile(r"^(?:i'?m sorry|sorry|i cannot|i can't|i am unable|as an ai|error\b)", re.I)
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e"
_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
    "\u2026": "...", "\u00a0": " ", "_": " ", "/": " ",
})


def _to_ascii(text: str) -> str | None:
    """Accents folded (e -> e), symbols/emoji dropped; ``None`` if a non-Latin letter or digit remains."""
    out = []
    for ch in unicodedata.normalize("NFKD", text.translate(_TYPOGRAPHY)):
        if ord(ch) < 128:
            out.append(ch)
        elif unicodedata.category(ch) == "Mn":  # combining accent left by NFKD
            continue
        elif unicodedata.category(ch)[0] in "LN":  # e.g. CJK or Cyrillic: cannot be represented
            return None
        # other symbols (emoji, dingbats, ...) are dropped
    return "".join(out)


def clean_ai_name(text: str | None) -> str | None:
    """The AI's answer as a valid playlist name, or ``None`` if it cannot be made valid.

    Keeps the first non-empty line (after dropping ``<think>`` blocks), strips markdown, list markers,
    prefixes such as ``Playlist name:`` and surrounding quotes, folds accents to ASCII, drops emoji,
    collapses spaces, then requires 15-35 characters from the allowed set and mostly letters.
    """
    if not isinstance(text, str):
        return None
    text = _THINK.sub("", text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    for _ in range(3):  # markers, prefixes and quotes can nest: **"Name"**, 1. Name: "x"
        before = line
        line = _LIST_MARKER.sub("", line)
        line = line.replace("**", "").replace("__", "").strip().strip("*_`#").strip()
        line = _PREFIX.sub("", line).strip()
        line = line.strip(_QUOTES).strip()
        if line == before:
            break
    if not line or _REFUSAL.match(line):
        return None
    ascii_line = _to_ascii(line)
    if ascii_line is None:
        return None
    name = " ".join("".join(c if _ALLOWED.fullmatch(c) else " " for c in ascii_line).split())
    name = name.rstrip(".,;:-&").strip().strip(_QUOTES).strip()
    if not (AI_NAME_MIN_CHARS <= len(name) <= AI_NAME_MAX_CHARS):
        return None
    letters = sum(c.isalpha() for c in name)
    if letters < 0.6 * len(name.replace(" ", "")):
        return None
    return name


def _song_line(song: Any) -> str:
    if isinstance(song, Mapping):
        title = song.get("title") or "?"
        artist = song.get("artist") or song.get("author") or ""
    elif isinstance(song, (tuple, list)):
        title = song[0] if song else "?"
        artist = song[1] if len(song) > 1 else ""
    else:
        title, artist = str(song), ""
    return f"- {title} by {artist}" if artist else f"- {title}"


def ai_naming_prompt(
    profile: Mapping[str, float],
    sample_songs: Sequence[Any],
    *,
    tempo_mean: float | None = None,
    energy_mean: float | None = None,
    other_means: Mapping[str, float] | None = None,
    max_songs: int = 25,
    top_moods: int = 5,
) -> str:
    """A prompt asking an LLM, acting as a music curator, for the playlist name only.

    ``sample_songs``: ``(title, artist)`` pairs or mappings with ``title`` and ``artist``/``author``.
    """
    moods = sorted(profile.items(), key=lambda kv: -kv[1])[:top_moods]
    lines = [
        "You are an expert music curator. Give ONE name to the playlist described below.",
        "The name must capture the mood, the genre and the moment to listen to it; be evocative, "
        "not a literal list of tags.",
        f"Rules: {AI_NAME_MIN_CHARS} to {AI_NAME_MAX_CHARS} characters; standard ASCII only "
        "(a-z, A-Z, 0-9, spaces and - & ' ! . , ? ( ) [ ]); no emoji, accents or special fonts.",
        "Reply with the name only: no quotes, no explanation, no 'Playlist name:', no numbering, "
        "no markdown.",
        "",
        "Strongest moods and genres: " + ", ".join(f"{m} ({s:.2f})" for m, s in moods),
    ]
    band = tempo_band(tempo_mean)
    if band:
        lines.append(f"Tempo: {band.lower()}")
    if energy_mean is not None:
        lines.append(f"Energy (0 = calm, 1 = intense): {energy_mean:.2f}")
    if other_means:
        strong = [f"{k} ({v:.2f})" for k, v in sorted(other_means.items(), key=lambda kv: -kv[1]) if v >= 0.3]
        if strong:
            lines.append("Character: " + ", ".join(strong))
    lines += ["", "Some of its songs:"] + [_song_line(s) for s in list(sample_songs)[:max_songs]]
    return "\n".join(lines) + "\n"
