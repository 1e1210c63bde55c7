"""The system prompt that turns a playlist request into one SELECT, and getting the SQL back out.

The model sees exactly one relation, the ``chat_tracks`` view (migration 0002), with its columns,
the 50 MusiCNN mood/genre labels, the six extra features and a handful of worked examples. Whatever
it answers still goes through :func:`audiomuse.chat.validate.validate_sql`: the prompt asks for
safe SQL, the validator enforces it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

VIEW = "chat_tracks"
MAX_ROWS = 25

# name -> (type, meaning). The order is the view's column order.
COLUMNS: dict[str, tuple[str, str]] = {
    "item_id": ("text", "the track's id; always select it"),
    "title": ("text", "song title"),
    "artist": ("text", "song artist"),
    "album": ("text", "album name"),
    "year": ("integer", "album release year, may be NULL"),
    "tempo": ("real", "beats per minute, roughly 60-200"),
    "key": ("text", "musical key: C, C#, D, D#, E, F, F#, G, G#, A, A#, B"),
    "scale": ("text", "'major' or 'minor'"),
    "energy": ("real", "loudness/intensity, higher = more energetic; compare tracks relative to each other"),
    "mood_vector": ("jsonb", "mood/genre label -> probability 0..1 (labels below)"),
    "other_features": ("jsonb", "feature -> probability 0..1 (features below)"),
    "duration": ("real", "length in seconds"),
}

# The 50 MusiCNN (MSD) labels, spelled exactly as the JSON keys (case matters).
MOOD_LABELS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)
FEATURE_NAMES: tuple[str, ...] = ("danceable", "aggressive", "happy", "party", "relaxed", "sad")

ALLOWED_FUNCTIONS_TEXT = (
    "COALESCE, NULLIF, GREATEST, LEAST, ABS, ROUND, CEIL, FLOOR, SQRT, LOWER, UPPER, LENGTH, TRIM, "
    "RANDOM, CAST / ::, COUNT, AVG, MIN, MAX, SUM, ROW_NUMBER/RANK/DENSE_RANK/PERCENT_RANK/CUME_DIST/NTILE "
    "OVER (...), the jsonb operators -> and ->>, LIKE and ILIKE, CASE WHEN"
)

EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "energetic rock",
        "WITH rock AS (SELECT item_id, title, artist, energy FROM chat_tracks "
        "ORDER BY COALESCE((mood_vector->>'rock')::float, 0) DESC LIMIT 100) "
        "SELECT item_id, title, artist FROM rock ORDER BY energy DESC LIMIT 25",
    ),
    (
        "calm instrumental music for studying",
        "SELECT item_id, title, artist FROM chat_tracks ORDER BY "
        "COALESCE((mood_vector->>'instrumental')::float, 0) + COALESCE((mood_vector->>'chillout')::float, 0) "
        "+ COALESCE((mood_vector->>'ambient')::float, 0) + 0.5 * COALESCE((other_features->>'relaxed')::float, 0) "
        "DESC LIMIT 25",
    ),
    (
        "fast songs by Daft Punk",
        "SELECT item_id, title, artist FROM chat_tracks WHERE artist ILIKE '%daft punk%' "
        "ORDER BY tempo DESC LIMIT 25",
    ),
    (
        "sad 80s songs in a minor key",
        "SELECT item_id, title, artist FROM chat_tracks WHERE scale = 'minor' ORDER BY "
        "COALESCE((mood_vector->>'80s')::float, 0) + COALESCE((other_features->>'sad')::float, 0) DESC LIMIT 25",
    ),
    (
        "jazz and blues, at most two songs per artist",
        "SELECT item_id, title, artist FROM (SELECT item_id, title, artist, "
        "GREATEST(COALESCE((mood_vector->>'jazz')::float, 0), COALESCE((mood_vector->>'blues')::float, 0)) AS score, "
        "ROW_NUMBER() OVER (PARTITION BY artist ORDER BY GREATEST(COALESCE((mood_vector->>'jazz')::float, 0), "
        "COALESCE((mood_vector->>'blues')::float, 0)) DESC) AS n FROM chat_tracks) ranked "
        "WHERE n <= 2 ORDER BY score DESC LIMIT 25",
    ),
)


def build_system_prompt(artists: Sequence[str] = ()) -> str:
    """The strict instructions; ``artists`` (optional) lists some names the library holds."""
    columns = "\n".join(f"  {name} {kind} -- {meaning}" for name, (kind, meaning) in COLUMNS.items())
    labels = ", ".join(f"'{m}'" for m in MOOD_LABELS)
    features = ", ".join(f"'{f}'" for f in FEATURE_NAMES)
    examples = "\n\n".join(f"Request: {req}\nSQL: {sql}" for req, sql in EXAMPLES)
    artist_text = ""
    if artists:
        names = ", ".join(_quote(a) for a in list(artists)[:150])
        artist_text = f"\nSome artists in this library (match them with ILIKE): {names}\n"
    return f"""You turn a request for a playlist into ONE PostgreSQL SELECT query over a music library.

The only relation you may read is the view {VIEW}:
{columns}

mood_vector labels (exact JSON keys, case-sensitive): {labels}
other_features names: {features}
Read a label as a number with COALESCE((mood_vector->>'label')::float, 0). Probabilities are often
well below 0.5, so rank by a score (ORDER BY ... DESC) rather than filtering on high thresholds.
{artist_text}
Rules:
- Answer with the SQL only: no explanation, no markdown, no comments, no semicolon.
- Exactly one SELECT statement (WITH ... SELECT is fine). Never INSERT, UPDATE, DELETE, CREATE,
  DROP, ALTER, GRANT, COPY, SET, CALL, DO, EXPLAIN, SELECT INTO, FOR UPDATE or recursive WITH.
- Read only from {VIEW}: no other tables, no pg_* or information_schema objects.
- Select item_id, title, artist (in that order) and end with LIMIT {MAX_ROWS}.
- Functions allowed: {ALLOWED_FUNCTIONS_TEXT}. No other functions.
- Match artist, title or album text with ILIKE '%words%'.

Examples:

{examples}
"""


def build_user_prompt(request: str) -> str:
    return f"Request: {request.strip()}\nSQL:"


def build_retry_prompt(request: str, previous_sql: str, problem: str) -> str:
    """Second attempt after the first answer was rejected or failed."""
    return (f"Request: {request.strip()}\n"
            f"Your previous answer was:\n{previous_sql}\n"
            f"It was rejected: {problem}\n"
            f"Answer again with one valid SELECT over {VIEW} only, following every rule.\nSQL:")


def _quote(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# Getting the SQL out of a chatty answer

_QUOTES = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00a0": " ", "\u2007": " ", "\u202f": " ", "\u200b": None, "\ufeff": None,
})
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n`]*\n?(.*?)(?:```|\Z)", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_WITH_START = re.compile(
    r"\bWITH\s+(?:RECURSIVE\s+)?\"?\w+\"?\s*(?:\([^()]*\)\s*)?AS\s*(?:NOT\s+)?(?:MATERIALIZED\s*)?\(", re.I)
_SELECT_START_ANY = re.compile(r"\bSELECT\b", re.I)
_SQL_LANGS = {"sql", "postgresql", "postgres", "psql", "pgsql", "plpgsql"}
# After a ';', text that starts with one of these is another statement: kept, so that validation
# rejects it instead of this function hiding it.
_STATEMENT_WORDS = {
    "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "CREATE", "DROP",
    "ALTER", "TRUNCATE", "GRANT", "REVOKE", "COPY", "SET", "RESET", "DO", "CALL", "EXPLAIN", "VALUES",
    "TABLE", "BEGIN", "START", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "PREPARE", "EXECUTE",
    "DEALLOCATE", "LISTEN", "NOTIFY", "UNLISTEN", "LOCK", "VACUUM", "ANALYZE", "ANALYSE", "CLUSTER",
    "REINDEX", "REFRESH", "COMMENT", "SECURITY", "LOAD", "DISCARD", "CHECKPOINT", "IMPORT", "REASSIGN",
    "SHOW", "FETCH", "MOVE", "CLOSE", "DECLARE", "ABORT",
}
# A line after a blank line that starts like this still belongs to the query.
_CONTINUATION = re.compile(
    r"^\s*(?:[(),*+\-/|<>=%'\"0-9]|(?:FROM|WHERE|AND|OR|NOT|ORDER|GROUP|HAVING|LIMIT|OFFSET|UNION|"
    r"INTERSECT|EXCEPT|JOIN|LEFT|RIGHT|INNER|FULL|CROSS|ON|USING|SELECT|WITH|CASE|WHEN|THEN|ELSE|END|"
    r"AS|DESC|ASC|NULLS|WINDOW|FETCH|COALESCE|GREATEST|LEAST|CAST|IS|IN|BETWEEN|LIKE|ILIKE|OVER|"
    r"PARTITION|DISTINCT|ALL)\b)", re.I)


def extract_sql(text: str) -> str:
    """The SQL in a model's answer: without markdown fences, prose, smart quotes, ``<think>``
    blocks or trailing semicolons. A second statement after a ``;`` is kept (validation rejects it).
    """
    text = _THINK.sub("", (text or "").translate(_QUOTES))
    if "<think>" in text.lower():  # unclosed: the answer was cut off while reasoning
        text = text[: text.lower().index("<think>")]
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(text)] if "```" in text else []
    if blocks:
        chosen = next((b for lang, b in blocks if lang in _SQL_LANGS), None)
        if chosen is None:
            chosen = next((b for _, b in blocks if _SELECT_START_ANY.search(b)), blocks[0][1])
        text = chosen
    if "`" in text and not blocks:  # `inline code`
        text = text.replace("`", "")
    start = _sql_start(text)
    if start is not None:
        text = text[start:]
    text = _cut_trailing_prose(text)
    return text.strip().rstrip(";").strip()


def _sql_start(text: str) -> int | None:
    """Where the query starts: a SELECT or WITH ... AS ( at the start of a line (after optional
    opening parentheses) or right after a colon ("Here it is: SELECT ..."). A keyword after other SQL
    words ("EXPLAIN SELECT", "CREATE TABLE x AS SELECT") is no start: that text goes to validation
    whole, and is rejected there."""
    matches = sorted([*_WITH_START.finditer(text), *_SELECT_START_ANY.finditer(text)], key=lambda m: m.start())
    for m in matches:
        line_start = text.rfind("\n", 0, m.start()) + 1
        prefix = text[line_start:m.start()]
        if not prefix.strip(" \t("):
            paren = prefix.find("(")
            return line_start + paren if paren >= 0 else m.start()
        if prefix.rstrip().endswith(":"):
            return m.start()
    return None


def _cut_trailing_prose(sql: str) -> str:
    """Cut at the first top-level ``;`` unless another statement follows; else at a blank line
    followed by prose."""
    semicolon = _first_top_level_semicolon(sql)
    if semicolon is not None:
        rest = _strip_comments(sql[semicolon + 1:]).strip().lstrip(";").strip()
        first_word = re.match(r"[A-Za-z]+", rest)
        if not rest or not (first_word and first_word.group(0).upper() in _STATEMENT_WORDS):
            return sql[:semicolon]
        return sql
    lines = sql.splitlines()
    kept: list[str] = []
    blank = False
    for line in lines:
        if not line.strip():
            blank = True
            kept.append(line)
            continue
        if blank and kept and not _CONTINUATION.match(line):
            break
        blank = False
        kept.append(line)
    return "\n".join(kept)


def _first_top_level_semicolon(sql: str) -> int | None:
    """Index of the first ``;`` outside quotes, dollar quotes and comments."""
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'" or c == '"':
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            nl = sql.find("\n", i)
            i = n if nl < 0 else nl + 1
        elif c == "/" and sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == "$":
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", sql[i:])
            if m:
                end = sql.find(m.group(0), i + len(m.group(0)))
                i = n if end < 0 else end + len(m.group(0))
            else:
                i += 1
        elif c == ";":
            return i
        else:
            i += 1
    return None


def _strip_comments(sql: str) -> str:
    sql = re.sub(r"/\*.*?(\*/|\Z)", " ", sql, flags=re.S)
    return re.sub(r"--[^\n]*", " ", sql)
