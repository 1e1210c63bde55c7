"""Offline chat (``AI_MODEL_PROVIDER=none``): a deterministic parser from a sentence to one SELECT.

The sentence is read for

* mood / genre words, with synonyms mapped onto the 50 MusiCNN labels and the six extra features
  ("calm" -> chill, chillout, Mellow, ambient + relaxed; "metal" -> metal, heavy metal, hard rock +
  aggressive; "orchestral" / "classical" / "epic" -> instrumental, beautiful...), negated by a
  preceding "no" / "not" / "without";
* tempo words (fast, upbeat, slow...) and energy words (energetic, quiet...);
* artist names that exist in the library (exact names, case-insensitive, whole words): "songs by X"
  or plain "X" keeps to that artist, "like X" / "similar to X" / "sounds like X" asks the similarity
  index for the tracks nearest X's centroid (see :func:`audiomuse.chat.like_artist_scores`).

The result is ordinary SQL over ``chat_tracks`` that goes through the same validation and sandboxed
execution as model-written SQL. Each label counts *relative to the library*: its probability over
the library's highest for that label, because MusiCNN's raw probabilities are not comparable across
labels (a calm orchestral piece scores 0.2 on "ambient" while the ambient album scores 0.27 but
twice as high on "chillout"). A concept scores a track by the mean of its labels (every label is
evidence) plus half the best of its features; tempo and energy add up to 0.5 each; a "like X" term
adds the cosine similarity to X. The playlist is the top tracks, keeping only those within half of
the best score so a small library does not pad the list with unrelated songs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from audiomuse.chat.prompt import MAX_ROWS, VIEW

RELATIVE_CUTOFF = 0.5   # keep tracks scoring at least this share of the best one
FEATURE_WEIGHT = 0.5
TEMPO_WEIGHT = 0.5
ENERGY_WEIGHT = 0.5
LIKE_WEIGHT = 1.0
MAX_ARTISTS = 50_000


@dataclass(frozen=True)
class Concept:
    word: str                       # what was read in the sentence
    tags: tuple[str, ...] = ()      # mood_vector keys
    features: tuple[str, ...] = ()  # other_features keys
    negated: bool = False


@dataclass
class OfflinePlan:
    concepts: list[Concept] = field(default_factory=list)
    tempo: str | None = None        # "fast" | "slow"
    energy: str | None = None       # "high" | "low"
    artists: list[str] = field(default_factory=list)
    like_artists: list[str] = field(default_factory=list)   # "like X": X's sound, not X's songs
    similar: dict[str, float] = field(default_factory=dict)  # item id -> similarity, for like_artists

    @property
    def empty(self) -> bool:
        return not (self.concepts or self.tempo or self.energy or self.artists or self.like_artists)

    def describe(self) -> str:
        parts = []
        for c in self.concepts:
            what = ", ".join(c.tags + c.features)
            parts.append(f"{'not ' if c.negated else ''}{c.word} ({what})")
        if self.tempo:
            parts.append(f"tempo: {self.tempo}")
        if self.energy:
            parts.append(f"energy: {self.energy}")
        if self.artists:
            parts.append("artists: " + ", ".join(self.artists))
        if self.like_artists:
            how = f"{len(self.similar)} similar tracks from the index" if self.similar else "no similarity index"
            parts.append("like: " + ", ".join(self.like_artists) + f" ({how})")
        return "; ".join(parts) if parts else "nothing recognised"

    def sql(self, max_rows: int = MAX_ROWS) -> str | None:
        return build_sql(self, max_rows=max_rows)


def _c(tags=(), features=()):
    return (tuple(tags), tuple(features))


_CALM = _c(("chill", "chillout", "Mellow", "ambient"), ("relaxed",))
_METAL = _c(("metal", "heavy metal", "hard rock"), ("aggressive",))
_ORCHESTRAL = _c(("instrumental", "beautiful"))
_ELECTRONIC = _c(("electronic", "electronica", "electro", "House"))
_DANCE = _c(("dance", "House", "party"), ("danceable",))
_PARTY = _c(("party", "dance", "catchy"), ("party", "happy"))
_HAPPY = _c(("happy", "catchy"), ("happy",))
_SAD = _c(("sad",), ("sad",))
_AGGRESSIVE = _c(("metal", "hard rock", "punk"), ("aggressive",))
_ROMANTIC = _c(("sexy", "rnb", "soul", "beautiful"))
_HIPHOP = _c(("Hip-Hop",))
_RNB = _c(("rnb", "soul"))
_FOLK = _c(("folk", "acoustic"))
_ACOUSTIC = _c(("acoustic", "guitar", "folk"))
_INDIE = _c(("indie", "indie rock", "indie pop"))
_ALT = _c(("alternative", "alternative rock"))
_POP = _c(("pop", "catchy", "indie pop"))
_ROCK = _c(("rock", "classic rock", "alternative rock", "hard rock", "indie rock"))
_FUNK = _c(("funk", "soul"))
_SOUL = _c(("soul", "rnb"))
_EASY = _c(("easy listening", "chillout"))
_EXPERIMENTAL = _c(("experimental",))
_BEAUTIFUL = _c(("beautiful", "Mellow"))
_INSTRUMENTAL = _c(("instrumental",))
_FEMALE = _c(("female vocalists", "female vocalist"))
_MALE = _c(("male vocalists",))
_OLDIES = _c(("oldies", "60s", "70s"))

# phrase -> (tags, features). Longer phrases win over the words inside them.
VOCABULARY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # calm family
    **dict.fromkeys(["calm", "relaxing", "relaxed", "relax", "peaceful", "soothing", "chilled", "chill",
                     "chillout", "chill out", "chill-out", "mellow", "tranquil", "serene", "sleep", "sleepy",
                     "study", "studying", "focus", "lounge", "meditation", "meditative", "dreamy"], _CALM),
    "ambient": _c(("ambient", "chillout"), ("relaxed",)),
    # heavy family
    **dict.fromkeys(["metal", "metalcore", "heavy", "headbanging", "thrash", "doom"], _METAL),
    "heavy metal": _c(("heavy metal", "metal"), ("aggressive",)),
    "hard rock": _c(("hard rock", "rock"), ("aggressive",)),
    **dict.fromkeys(["angry", "aggressive", "rage", "brutal", "furious"], _AGGRESSIVE),
    # orchestral family (MSD has no 'classical' label)
    **dict.fromkeys(["orchestral", "orchestra", "classical", "symphonic", "symphony", "epic", "cinematic",
                     "soundtrack", "film score", "piano"], _ORCHESTRAL),
    # electronic family
    **dict.fromkeys(["electronic", "edm", "techno", "trance", "synth", "synths", "synthwave", "electronica"],
                    _ELECTRONIC),
    "electro": _c(("electro", "electronic")),
    "house": _c(("House", "dance", "electronic"), ("danceable",)),
    **dict.fromkeys(["dance", "dancing", "danceable", "club", "disco", "groove", "groovy"], _DANCE),
    **dict.fromkeys(["party", "celebration", "celebrate", "fun"], _PARTY),
    **dict.fromkeys(["happy", "cheerful", "joyful", "uplifting", "feel good", "feel-good", "feelgood",
                     "sunny", "positive", "bright", "summer", "summery"], _HAPPY),
    **dict.fromkeys(["sad", "melancholic", "melancholy", "depressing", "gloomy", "heartbreak", "heartbroken",
                     "somber", "sombre", "tearjerker", "crying"], _SAD),
    **dict.fromkeys(["romantic", "sexy", "sensual", "love", "seductive"], _ROMANTIC),
    **dict.fromkeys(["hip hop", "hip-hop", "hiphop", "rap", "rapper", "rappers"], _HIPHOP),
    **dict.fromkeys(["r&b", "rnb", "rhythm and blues"], _RNB),
    **dict.fromkeys(["jazz", "jazzy", "swing", "bebop"], _c(("jazz",))),
    **dict.fromkeys(["blues", "bluesy"], _c(("blues",))),
    **dict.fromkeys(["folk", "folky"], _FOLK),
    **dict.fromkeys(["acoustic", "unplugged"], _ACOUSTIC),
    **dict.fromkeys(["country", "americana", "bluegrass"], _c(("country",))),
    **dict.fromkeys(["punk", "punky", "hardcore"], _c(("punk",))),
    "indie": _INDIE,
    "indie rock": _c(("indie rock", "indie")),
    "indie pop": _c(("indie pop", "indie")),
    **dict.fromkeys(["alternative", "alt"], _ALT),
    "alternative rock": _c(("alternative rock", "alternative")),
    **dict.fromkeys(["pop", "poppy", "mainstream"], _POP),
    "rock": _ROCK,
    "classic rock": _c(("classic rock", "rock")),
    **dict.fromkeys(["progressive", "prog", "prog rock", "progressive rock"], _c(("Progressive rock",))),
    **dict.fromkeys(["funk", "funky"], _FUNK),
    **dict.fromkeys(["soul", "soulful", "motown"], _SOUL),
    "easy listening": _EASY,
    **dict.fromkeys(["experimental", "avant-garde", "avant garde", "weird", "abstract"], _EXPERIMENTAL),
    **dict.fromkeys(["beautiful", "pretty", "lovely", "gorgeous"], _BEAUTIFUL),
    "guitar": _c(("guitar",)),
    "catchy": _c(("catchy",)),
    "earworm": _c(("catchy",)),
    **dict.fromkeys(["instrumental", "instrumentals", "no vocals", "without vocals", "no singing",
                     "without singing", "no lyrics", "without lyrics"], _INSTRUMENTAL),
    **dict.fromkeys(["female vocals", "female vocalist", "female vocalists", "female singer",
                     "female singers", "woman singer", "women singers"], _FEMALE),
    **dict.fromkeys(["male vocals", "male vocalist", "male vocalists", "male singer", "male singers"], _MALE),
    **dict.fromkeys(["oldies", "old", "retro", "vintage"], _OLDIES),
    **dict.fromkeys(["60s", "sixties", "1960s", "'60s"], _c(("60s",))),
    **dict.fromkeys(["70s", "seventies", "1970s", "'70s"], _c(("70s",))),
    **dict.fromkeys(["80s", "eighties", "1980s", "'80s"], _c(("80s",))),
    **dict.fromkeys(["90s", "nineties", "1990s", "'90s"], _c(("90s",))),
    **dict.fromkeys(["00s", "2000s", "noughties", "aughts"], _c(("00s",))),
}
TEMPO_WORDS = {
    **dict.fromkeys(["fast", "faster", "quick", "rapid", "speedy", "up-tempo", "uptempo", "upbeat",
                     "running", "workout", "driving", "high tempo", "high-tempo"], "fast"),
    **dict.fromkeys(["slow", "slower", "downtempo", "down-tempo", "low tempo", "laid-back", "laid back",
                     "slowly"], "slow"),
}
ENERGY_WORDS = {
    **dict.fromkeys(["energetic", "energy", "high energy", "high-energy", "powerful", "intense", "loud",
                     "pumping", "hype", "upbeat", "workout", "banger", "bangers", "driving"], "high"),
    **dict.fromkeys(["quiet", "soft", "gentle", "low energy", "low-energy", "low-key", "lowkey", "calm",
                     "peaceful", "sleep", "whisper"], "low"),
}
LIKE_PHRASES = ("sounds like", "sound like", "similar to", "in the style of", "reminiscent of", "like")
NEGATORS = {"no", "not", "without", "non", "never", "avoid", "less", "minus", "except", "nothing"}
NEGATING_PAIRS = {"anything but", "everything but", "other than", "rather than", "instead of"}
_OPPOSITE = {"fast": "slow", "slow": "fast", "high": "low", "low": "high"}
STOPWORDS = {
    "music", "song", "songs", "track", "tracks", "playlist", "tunes", "some", "me", "a", "an", "the", "for",
    "with", "and", "or", "of", "like", "by", "give", "play", "i", "want", "please", "mix", "something",
    "stuff", "my", "in", "to", "from", "that", "is", "are", "make", "create", "list", "best", "top", "good",
    "great", "new", "artist", "artists", "band", "bands", "various", "various artists", "unknown",
}


def library_artists(db) -> list[str]:
    """Distinct artist names of the analysed library, read inside the chat sandbox."""
    from audiomuse.chat.execute import chat_transaction

    with chat_transaction(db) as conn:
        rows = conn.execute(
            f"SELECT DISTINCT artist FROM {VIEW} WHERE artist <> '' ORDER BY artist LIMIT {MAX_ARTISTS}")
        return [r[0] for r in rows]


def parse_request(request: str, artists: list[str] | tuple[str, ...] = ()) -> OfflinePlan:
    """Read a sentence against the vocabulary and the library's ``artists``."""
    text = " " + _normalise(request) + " "
    plan = OfflinePlan()

    # Artists first, so that "Metal Church" is an artist and not the word "metal".
    for name, start, end in _find_artists(text, artists):
        like = _like_phrase_before(text[:start])
        target = plan.like_artists if like else plan.artists
        if name not in target:
            target.append(name)
        text = text[:start - len(like)] + " " * (end - start + len(like)) + text[end:]

    phrases = sorted(set(VOCABULARY) | set(TEMPO_WORDS) | set(ENERGY_WORDS), key=lambda p: (-len(p), p))
    seen_concepts: set[tuple] = set()
    for phrase in phrases:
        pattern = re.compile(rf"(?<![\w'&-]){re.escape(phrase)}(?![\w'&-])")
        for m in list(pattern.finditer(text)):
            negated = _negated(text[: m.start()])
            if phrase in VOCABULARY:
                tags, features = VOCABULARY[phrase]
                key = (tags, features, negated)
                if key not in seen_concepts:
                    seen_concepts.add(key)
                    plan.concepts.append(Concept(phrase, tags, features, negated))
            if phrase in TEMPO_WORDS and plan.tempo is None:
                plan.tempo = _OPPOSITE[TEMPO_WORDS[phrase]] if negated else TEMPO_WORDS[phrase]
            if phrase in ENERGY_WORDS and plan.energy is None:
                plan.energy = _OPPOSITE[ENERGY_WORDS[phrase]] if negated else ENERGY_WORDS[phrase]
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    plan.concepts.sort(key=lambda c: c.negated)  # stable: positives first, in reading order per kind
    return plan


def build_sql(plan: OfflinePlan, *, max_rows: int = MAX_ROWS) -> str | None:
    """The SELECT for a plan, or ``None`` when nothing was recognised."""
    if plan.empty:
        return None
    terms: list[str] = []
    for c in plan.concepts:
        score = _concept_score(c)
        terms.append(f"- {score}" if c.negated else f"+ {score}")
    if plan.tempo == "fast":
        terms.append(f"+ {TEMPO_WEIGHT} * LEAST(GREATEST((COALESCE(tempo, 0) - 90) / 60.0, 0), 1)")
    elif plan.tempo == "slow":
        terms.append(f"+ {TEMPO_WEIGHT} * LEAST(GREATEST((130 - COALESCE(tempo, 130)) / 60.0, 0), 1)")
    relative_energy = "COALESCE(energy / NULLIF(MAX(energy) OVER (), 0), 0)"
    if plan.energy == "high":
        terms.append(f"+ {ENERGY_WEIGHT} * {relative_energy}")
    elif plan.energy == "low":
        terms.append(f"+ {ENERGY_WEIGHT} * (1 - {relative_energy})")
    if plan.similar:
        cases = " ".join(f"WHEN {_literal(i)} THEN {sim:.4f}" for i, sim in plan.similar.items())
        terms.append(f"+ {LIKE_WEIGHT} * (CASE item_id {cases} ELSE 0 END)")
    relevance = ("0 " + " ".join(terms)) if terms else "0"
    # Without a similarity index, "like X" falls back to the closest honest reading: songs by X.
    artists = plan.artists or ([] if plan.similar else plan.like_artists)
    where = ""
    if artists:
        where = " WHERE artist IN (" + ", ".join(_literal(a) for a in artists) + ")"
    return (
        "SELECT item_id, title, artist FROM ("
        " SELECT item_id, title, artist, relevance, MAX(relevance) OVER () AS best FROM ("
        f" SELECT item_id, title, artist, {relevance} AS relevance FROM {VIEW}{where}"
        " ) AS scored"
        " ) AS ranked"
        f" WHERE relevance >= best - {RELATIVE_CUTOFF} * GREATEST(ABS(best), 0.01)"
        f" ORDER BY relevance DESC, item_id LIMIT {int(max_rows)}"
    )


def _relative(column: str, key: str) -> str:
    """The value over the library's highest value of the same key (0-1; 0 where the key is absent)."""
    value = f"COALESCE(({column} ->> {_literal(key)})::float, 0)"
    return f"({value} / COALESCE(NULLIF(MAX({value}) OVER (), 0), 1))"


def _concept_score(c: Concept) -> str:
    tags = [_relative("mood_vector", t) for t in c.tags]
    feats = [_relative("other_features", f) for f in c.features]
    tag_part = tags[0] if len(tags) == 1 else f"(({' + '.join(tags)}) / {len(tags)})" if tags else "0"
    if not feats:
        return tag_part
    feat_part = feats[0] if len(feats) == 1 else f"GREATEST({', '.join(feats)})"
    return f"({tag_part} + {FEATURE_WEIGHT} * {feat_part})"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _normalise(text: str) -> str:
    text = (text or "").lower().translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": " "}))
    return " ".join(text.split())


def _negated(before: str) -> bool:
    words = re.findall(r"[\w'&-]+", before)[-2:]
    return any(w in NEGATORS for w in words) or " ".join(words) in NEGATING_PAIRS


def _like_phrase_before(before: str) -> str:
    """The "like" phrase (with its trailing spaces) that ends ``before``, or ''."""
    stripped = before.rstrip()
    for phrase in LIKE_PHRASES:
        if re.search(rf"(?<![\w]){re.escape(phrase)}$", stripped):
            return before[len(stripped) - len(phrase):]
    return ""


def _find_artists(text: str, artists) -> list[tuple[str, int, int]]:
    """(artist, start, end) for library artists named in ``text``, longest names first, no overlaps."""
    vocabulary = set(VOCABULARY) | set(TEMPO_WORDS) | set(ENERGY_WORDS) | STOPWORDS | NEGATORS
    candidates = []
    for name in artists:
        norm = _normalise(name)
        if len(norm) < 2 or norm in vocabulary or norm.isdigit():
            continue
        candidates.append((norm, name))
    candidates.sort(key=lambda c: (-len(c[0]), c[1]))
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []
    for norm, name in candidates:
        if norm not in text:
            continue
        for m in re.finditer(rf"(?<![\w]){re.escape(norm)}(?![\w])", text):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            found.append((name, m.start(), m.end()))
            taken.append((m.start(), m.end()))
    found.sort(key=lambda f: f[1])
    return found
