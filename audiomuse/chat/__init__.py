"""Instant chat playlists: a sentence -> one validated SELECT over ``chat_tracks`` -> up to 25 tracks.

With an LLM (``AI_MODEL_PROVIDER`` ollama/openai/gemini/mistral) the model writes the SQL from a
strict prompt (:mod:`.prompt`); without one (``none``) a deterministic parser does (:mod:`.offline`).
Either way the SQL passes the allowlist validator (:mod:`.validate`) and runs read-only as the
``audiomuse_chat`` role under a statement timeout (:mod:`.execute`).

    result = chat_playlist(db, settings, "calm ambient music for reading")
    result.rows  # [{"item_id": ..., "title": ..., "artist": ...}, ...]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from audiomuse.chat.execute import STATEMENT_TIMEOUT_MS, ChatQueryError, chat_transaction, run_chat_query
from audiomuse.chat.offline import OfflinePlan, build_sql, library_artists, parse_request
from audiomuse.chat.prompt import (
    MAX_ROWS,
    build_retry_prompt,
    build_system_prompt,
    build_user_prompt,
    extract_sql,
)
from audiomuse.chat.validate import MAX_SQL_CHARS, UnsafeSql, validate_sql
from audiomuse.llm import LlmClient, LlmError, make_llm
from audiomuse.playlists.artist_cap import MAX_SONGS_PER_ARTIST, ArtistCap, row_identities

log = logging.getLogger(__name__)

MAX_REQUEST_CHARS = 500
OFFLINE = "none"

__all__ = [
    "ChatQueryError", "ChatResult", "OfflinePlan", "UnsafeSql", "chat_playlist", "chat_transaction",
    "extract_sql", "like_artist_scores", "parse_request", "run_chat_query", "validate_sql",
]
LIKE_CANDIDATES = 100  # tracks a "like X" request draws from the similarity index


@dataclass
class ChatResult:
    """What a chat request produced.

    ``sql`` is the validated SQL that ran (``None`` if none did); ``rows`` are
    ``{item_id, title, artist}`` dicts; ``provider`` is the LLM provider or ``"none"`` (offline);
    ``error`` says what went wrong, safe to show. ``rejected_sql`` is the last text that failed
    validation or execution, for display only - never run it.
    """

    sql: str | None
    rows: list[dict]
    provider: str
    error: str | None = None
    attempts: int = 0
    note: str | None = None
    rejected_sql: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def item_ids(self) -> list[str]:
        return [r["item_id"] for r in self.rows]


def chat_playlist(db, settings_or_llm, request: str, *, max_attempts: int = 2,
                  timeout_ms: int = STATEMENT_TIMEOUT_MS, index=None,
                  max_per_artist: int | None = None) -> ChatResult:
    """A playlist for ``request``.

    ``settings_or_llm``: a :class:`~audiomuse.config.Settings` (its ``ai_*`` fields choose the
    client), an object with ``complete(system, user) -> str`` (an :class:`~audiomuse.llm.LlmClient`
    or a test fake), or ``None`` for offline mode. A rejected or failing query is sent back to the
    model once with the reason (``max_attempts``); a query that returns nothing gets the same chance.
    ``index``: the loaded similarity index for offline "like X" requests (loaded from the database
    when not given). The rows keep to the artist cap, except for the artists the request names
    ("songs by X" is all of X): at most ``max_per_artist`` songs per artist (0 = no cap; ``None`` =
    the settings' ``max_songs_per_artist`` when settings are given, else the default).
    """
    request = (request or "").strip()
    max_attempts = max(1, int(max_attempts))
    if hasattr(settings_or_llm, "complete"):
        llm = settings_or_llm
    elif settings_or_llm is None:
        llm = None
    else:
        try:
            llm = make_llm(settings_or_llm)
        except LlmError as exc:
            return ChatResult(None, [], getattr(settings_or_llm, "ai_model_provider", "?"), error=str(exc))
    provider = OFFLINE if llm is None else str(getattr(llm, "provider", type(llm).__name__))
    if max_per_artist is None:
        max_per_artist = getattr(settings_or_llm, "max_songs_per_artist", MAX_SONGS_PER_ARTIST)
    if not request:
        return ChatResult(None, [], provider, error="the request is empty")
    if len(request) > MAX_REQUEST_CHARS:
        return ChatResult(None, [], provider, error=f"the request is longer than {MAX_REQUEST_CHARS} characters")
    try:
        artists = library_artists(db)
    except ChatQueryError as exc:
        return ChatResult(None, [], provider, error=str(exc))
    if llm is None:
        return _offline(db, request, artists, timeout_ms, index, max_per_artist)
    return _with_llm(db, llm, request, artists, provider, max_attempts, timeout_ms, max_per_artist)


def _capped(rows: list[dict], max_per_artist: int, named_artists: list[str]) -> list[dict]:
    """The rows the artist cap admits, in the query's order. The list may get shorter: the query's
    own ranking decided what is relevant enough, so nothing weaker is padded in."""
    cap = ArtistCap(max_per_artist, uncapped_artists=named_artists)
    return [r for r in rows if cap.admit(r["artist"], row_identities(r["item_id"], r["artist"], r["title"]))]


def _offline(db, request: str, artists: list[str], timeout_ms: int, index, max_per_artist: int) -> ChatResult:
    plan = parse_request(request, artists)
    if plan.like_artists:
        try:
            plan.similar = like_artist_scores(db, plan.like_artists, index=index)
        except ChatQueryError as exc:
            return ChatResult(None, [], OFFLINE, error=str(exc), attempts=1, note=plan.describe())
    sql = build_sql(plan, max_rows=MAX_ROWS)
    while sql and len(sql) > MAX_SQL_CHARS and len(plan.similar) > MAX_ROWS:  # long ids: fewer candidates
        plan.similar = dict(list(plan.similar.items())[: max(MAX_ROWS, len(plan.similar) * 3 // 4)])
        sql = build_sql(plan, max_rows=MAX_ROWS)
    if sql is None:
        return ChatResult(None, [], OFFLINE, attempts=1, note=plan.describe(), error=(
            "no mood, genre, tempo, energy or artist words recognised; try e.g. 'calm ambient', "
            "'fast metal', 'happy 80s pop' or an artist name (or configure an AI model)"))
    try:
        safe = validate_sql(sql)
        rows = run_chat_query(db, safe, timeout_ms=timeout_ms)
    except (UnsafeSql, ChatQueryError) as exc:
        return ChatResult(None, [], OFFLINE, error=str(exc), attempts=1, note=plan.describe(), rejected_sql=sql)
    return ChatResult(safe, _capped(rows, max_per_artist, plan.artists), OFFLINE, attempts=1, note=plan.describe())


def like_artist_scores(db, artists: list[str], *, index=None, n: int = LIKE_CANDIDATES) -> dict[str, float]:
    """item id -> cosine similarity of the ``n`` tracks nearest the centroid of ``artists``' tracks
    (their own tracks left out), from the similarity index; ``{}`` when no index is built yet.

    The ids are read inside the chat sandbox, and the scores only become literals of the offline
    SQL, so "like X" goes through the same validation and read-only execution as everything else.
    """
    from audiomuse.index.persist import load_index
    from audiomuse.playlists.vectors import weighted_centroid

    index = index if index is not None else load_index(db)
    if index is None or len(index) == 0:
        return {}
    with chat_transaction(db) as conn:
        own = [r[0] for r in conn.execute(
            "SELECT item_id FROM chat_tracks WHERE artist = ANY(%s)", (list(artists),))]
    vectors = [index.vector(i) for i in own if i in index]
    if not vectors:
        return {}
    centroid = weighted_centroid(vectors)
    mine = set(own)
    found = index.query(centroid, min(len(index), n + len(mine)))
    nearest = [(tid, round(1.0 - dist, 4)) for tid, dist in found if tid not in mine]
    return dict(nearest[:n])


def _with_llm(db, llm: LlmClient, request: str, artists: list[str], provider: str, max_attempts: int,
              timeout_ms: int, max_per_artist: int) -> ChatResult:
    mentioned = parse_request(request, artists).artists
    system = build_system_prompt(mentioned)
    user = build_user_prompt(request)
    problem, candidate = "no attempt made", None
    for attempt in range(1, max_attempts + 1):
        try:
            answer = llm.complete(system, user)
        except LlmError as exc:
            return ChatResult(None, [], provider, error=str(exc), attempts=attempt, rejected_sql=candidate)
        candidate = extract_sql(answer)
        try:
            safe = validate_sql(candidate)
            rows = _capped(run_chat_query(db, safe, timeout_ms=timeout_ms), max_per_artist, mentioned)
        except UnsafeSql as exc:
            problem = f"unsafe SQL: {exc.reason}"
        except ChatQueryError as exc:
            problem = str(exc)
            if "chat queries are disabled" in problem:
                return ChatResult(None, [], provider, error=problem, attempts=attempt, rejected_sql=candidate)
        else:
            if rows or attempt == max_attempts:
                return ChatResult(safe, rows, provider, attempts=attempt)
            problem = "it ran but matched no tracks; rank by a score instead of filtering so strictly"
        log.info("chat attempt %d via %s failed: %s", attempt, provider, problem)
        user = build_retry_prompt(request, candidate, problem)
    return ChatResult(None, [], provider, error=problem, attempts=max_attempts, rejected_sql=candidate)
