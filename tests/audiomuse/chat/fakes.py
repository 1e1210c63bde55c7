"""Test doubles for chat playlists: fake provider HTTP servers, a scripted LLM, seeded libraries.

The provider servers are real HTTP servers on 127.0.0.1 (a thread each) that answer with the
documented request paths and response shapes of Ollama, the OpenAI chat-completions protocol,
Gemini ``generateContent`` and Mistral.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from psycopg.types.json import Jsonb

from audiomuse.store import Database

# --------------------------------------------------------------------------------------------
# Fake provider servers


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict | None


def _ollama_ok(model, text):
    return {
        "model": model, "created_at": "2026-11-27T10:00:00.000000Z",
        "message": {"role": "assistant", "content": text},
        "done_reason": "stop", "done": True, "total_duration": 1_234_567, "load_duration": 1000,
        "prompt_eval_count": 120, "prompt_eval_duration": 1000, "eval_count": 40, "eval_duration": 1000,
    }


def _openai_ok(model, text):
    return {
        "id": "chatcmpl-123", "object": "chat.completion", "created": 1_800_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text, "refusal": None},
                     "logprobs": None, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
        "system_fingerprint": "fp_test",
    }


def _gemini_ok(model, text):
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 40, "totalTokenCount": 160},
        "modelVersion": model, "responseId": "abc123",
    }


def _ollama_error(status, message):
    return {"error": message}


def _openai_error(status, message):
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def _gemini_error(status, message):
    return {"error": {"code": status, "message": message, "status": "INTERNAL"}}


def _mistral_error(status, message):
    return {"object": "error", "message": message, "type": "internal_server_error", "param": None, "code": None}


SHAPES = {
    "ollama": (_ollama_ok, _ollama_error),
    "openai": (_openai_ok, _openai_error),
    "gemini": (_gemini_ok, _gemini_error),
    "mistral": (_openai_ok, _mistral_error),
}


class FakeProviderServer:
    """One provider's API on 127.0.0.1:<free port>. Use as a context manager.

    ``answer``: the text the model "writes"; ``status``: HTTP status to answer with (errors get the
    provider's error body, ``error_message`` inside); ``delay``: seconds to wait before answering;
    ``echo_headers``: put the request headers into the error message (a careless server).
    """

    def __init__(self, provider: str, answer: str = "SELECT item_id, title, artist FROM chat_tracks LIMIT 25",
                 *, model: str = "test-model", status: int = 200, delay: float = 0.0,
                 error_message: str = "internal error", echo_headers: bool = False, raw_body: bytes | None = None):
        self.provider = provider
        self.answer = answer
        self.model = model
        self.status = status
        self.delay = delay
        self.error_message = error_message
        self.echo_headers = echo_headers
        self.raw_body = raw_body
        self.requests: list[Recorded] = []
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def expected_path(self) -> str:
        return {
            "ollama": "/api/chat",
            "openai": "/v1/chat/completions",
            "mistral": "/v1/chat/completions",
            "gemini": f"/v1beta/models/{self.model}:generateContent",
        }[self.provider]

    def __enter__(self) -> FakeProviderServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                fake.requests.append(Recorded("POST", self.path, dict(self.headers.items()), body))
                if fake.delay:
                    time.sleep(fake.delay)
                if self.path != fake.expected_path():
                    return self._send(404, {"error": f"no route for {self.path}"})
                if fake.raw_body is not None:
                    return self._send(fake.status, fake.raw_body)
                ok, error = SHAPES[fake.provider]
                if fake.status != 200:
                    message = fake.error_message
                    if fake.echo_headers:
                        message += " headers=" + json.dumps(dict(self.headers.items()))
                    return self._send(fake.status, error(fake.status, message))
                return self._send(200, ok(fake.model, fake.answer))

            def _send(self, status, payload):
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


# --------------------------------------------------------------------------------------------
# A scripted LLM


@dataclass
class FakeLlm:
    """Answers with ``answers`` in turn (the last one repeats); records every call."""

    answers: list[str]
    provider: str = "fake"
    calls: list[tuple[str, str]] = field(default_factory=list)

    def complete(self, system: str, user: str) -> str:
        self.calls.append((system, user))
        return self.answers[min(len(self.calls) - 1, len(self.answers) - 1)]


# --------------------------------------------------------------------------------------------
# Seeded libraries

def _moods(**kw) -> dict[str, float]:
    """Keyword names with '_' for ' ' (female_vocalists); anything unnamed is a small 0.01-0.03."""
    base = {"rock": 0.02, "pop": 0.03, "ambient": 0.01, "metal": 0.01, "chillout": 0.02, "Mellow": 0.02,
            "chill": 0.02, "instrumental": 0.03, "happy": 0.02, "heavy metal": 0.01, "hard rock": 0.01}
    for k, v in kw.items():
        base[{"Mellow": "Mellow", "heavy_metal": "heavy metal", "hard_rock": "hard rock",
              "female_vocalists": "female vocalists"}.get(k, k)] = v
    return base


@dataclass(frozen=True)
class Seeded:
    ambient: list[str]
    fast_metal: list[str]
    slow_metal: list[str]
    pop: list[str]
    duplicate: str
    unanalysed: str

    @property
    def metal(self) -> list[str]:
        return self.fast_metal + self.slow_metal

    @property
    def all_visible(self) -> list[str]:
        return self.ambient + self.metal + self.pop


def seed_moods(db: Database) -> Seeded:
    """A small library with unmistakable moods: 6 ambient, 4 fast + 2 slow metal, 6 pop tracks,
    plus one duplicate (hidden from chat) and one unanalysed track (no score row)."""
    rng = np.random.default_rng(7)
    groups = {
        "ambient": ("alb_amb", "Quiet Fields", "Still Water", [
            dict(tempo=70 + i, energy=0.05 + 0.01 * i, moods=_moods(ambient=0.85 - 0.02 * i, chillout=0.6,
                 Mellow=0.5, instrumental=0.4), features={"relaxed": 0.9, "aggressive": 0.05, "happy": 0.2,
                 "sad": 0.3, "danceable": 0.1, "party": 0.05}) for i in range(6)]),
        "fast_metal": ("alb_met", "Iron Wolves", "Forged", [
            dict(tempo=165 + i, energy=0.35 + 0.01 * i, moods=_moods(metal=0.85 - 0.02 * i, heavy_metal=0.7,
                 hard_rock=0.6, rock=0.5), features={"relaxed": 0.05, "aggressive": 0.9, "happy": 0.1,
                 "sad": 0.2, "danceable": 0.2, "party": 0.2}) for i in range(4)]),
        "slow_metal": ("alb_doom", "Iron Wolves", "Sludge", [
            dict(tempo=62 + i, energy=0.3, moods=_moods(metal=0.85, heavy_metal=0.75, hard_rock=0.5, rock=0.4),
                 features={"relaxed": 0.1, "aggressive": 0.85, "happy": 0.05, "sad": 0.4, "danceable": 0.1,
                           "party": 0.05}) for i in range(2)]),
        "pop": ("alb_pop", "Sunny Girls", "Bubblegum", [
            dict(tempo=118 + i, energy=0.25, moods=_moods(pop=0.8, happy=0.7, catchy=0.6, female_vocalists=0.7,
                 dance=0.5), features={"relaxed": 0.3, "aggressive": 0.1, "happy": 0.85, "sad": 0.05,
                 "danceable": 0.8, "party": 0.7}) for i in range(6)]),
    }
    ids: dict[str, list[str]] = {}
    with db.connection() as conn:
        for group, (album_id, artist, album, tracks) in groups.items():
            conn.execute("INSERT INTO albums (id, name, artist, year, track_count) VALUES (%s, %s, %s, 2001, %s)"
                         " ON CONFLICT (id) DO NOTHING", (album_id, album, artist, len(tracks)))
            ids[group] = []
            for i, t in enumerate(tracks):
                tid = f"{group}{i:02d}"
                title = f"{album} {i + 1}"
                conn.execute(
                    "INSERT INTO tracks (id, album_id, title, artist, album, duration, track_number, song_key)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                    (tid, album_id, title, artist, album, 200.0 + i, i + 1, f"{artist}|{title}".lower()))
                conn.execute(
                    "INSERT INTO score (track_id, tempo, key, scale, energy, mood_vector, other_features)"
                    " VALUES (%s, %s, 'C', %s, %s, %s, %s)",
                    (tid, t["tempo"], "minor" if i % 2 else "major", t["energy"], Jsonb(t["moods"]),
                     Jsonb(t["features"])))
                conn.execute("INSERT INTO embedding (track_id, embedding, n_patches, model) VALUES (%s, %s, 3, 'test')",
                             (tid, rng.standard_normal(200).astype(np.float32)))
                ids[group].append(tid)
        # A duplicate of the first ambient track (analysed, but hidden from chat) ...
        conn.execute("INSERT INTO tracks (id, album_id, title, artist, album, song_key, duplicate_of)"
                     " VALUES ('dup00', 'alb_amb', 'Still Water 1', 'Quiet Fields', 'Still Water',"
                     " 'quiet fields|still water 1', 'ambient00')")
        conn.execute("INSERT INTO score (track_id, tempo, energy, mood_vector) VALUES ('dup00', 70, 0.05, %s)",
                     (Jsonb(_moods(ambient=0.99, chillout=0.9)),))
        # ... and a track not analysed yet (no score row).
        conn.execute("INSERT INTO tracks (id, album_id, title, artist, album, song_key)"
                     " VALUES ('raw00', 'alb_amb', 'Unheard', 'Quiet Fields', 'Still Water', 'quiet fields|unheard')")
        conn.execute("INSERT INTO playlists (name, kind, generation, track_ids) VALUES ('Ambient 1', 'clustering',"
                     " 'run1', %s)", (ids["ambient"][:3],))
        conn.execute("INSERT INTO artifacts (name, data, sha256) VALUES ('voyager', %s, 'abc')", (b"\x00\x01binary",))
    return Seeded(ids["ambient"], ids["fast_metal"], ids["slow_metal"], ids["pop"], "dup00", "raw00")


def seed_bulk(db: Database, n: int = 400) -> list[str]:
    """``n`` analysed tracks over 8 albums (for LIMIT and cross-join tests)."""
    rng = np.random.default_rng(11)
    labels = ["rock", "pop", "ambient", "metal", "jazz", "chillout"]
    ids = [f"bulk{i:04d}" for i in range(n)]
    with db.connection() as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO albums (id, name, artist) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                            [(f"balb{a}", f"Bulk Album {a}", f"Bulk Artist {a}") for a in range(8)])
            cur.executemany(
                "INSERT INTO tracks (id, album_id, title, artist, album, duration, song_key)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [(tid, f"balb{i % 8}", f"Bulk Song {i}", f"Bulk Artist {i % 8}", f"Bulk Album {i % 8}",
                  150.0 + i % 90, f"bulk artist {i % 8}|bulk song {i}") for i, tid in enumerate(ids)])
            cur.executemany(
                "INSERT INTO score (track_id, tempo, key, scale, energy, mood_vector, other_features)"
                " VALUES (%s, %s, 'A', 'minor', %s, %s, %s)",
                [(tid, float(60 + rng.integers(0, 120)), float(rng.random() * 0.4),
                  Jsonb({lab: round(float(rng.random()), 3) for lab in labels}),
                  Jsonb({"relaxed": round(float(rng.random()), 3)})) for tid in ids])
    return ids


def table_checksums(db: Database) -> dict[str, str]:
    """md5 of every table's rows in the public schema, plus the things a hostile query could touch
    outside them: relations, sequences, large objects, the chat role's attributes and memberships,
    per-database settings."""
    out: dict[str, str] = {}
    with db.connection() as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        for table in tables:
            out[table] = conn.execute(
                f'SELECT md5(coalesce(string_agg(t::text, E\'\\n\' ORDER BY t::text), \'\')), count(*)'
                f' FROM public."{table}" t').fetchone()
        out["_relations"] = conn.execute(
            "SELECT string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text, ','"
            " ORDER BY n.nspname, c.relname)"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')").fetchone()[0]
        out["_sequences"] = conn.execute(
            "SELECT string_agg(sequencename || '=' || coalesce(last_value::text, 'null'), ',' ORDER BY sequencename)"
            " FROM pg_sequences").fetchone()[0]
        out["_large_objects"] = conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()[0]
        out["_chat_role"] = conn.execute(
            "SELECT row(rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,"
            " rolbypassrls, rolconnlimit)::text FROM pg_roles WHERE rolname = 'audiomuse_chat'").fetchone()[0]
        out["_chat_grants"] = conn.execute(
            "SELECT string_agg(table_name || ':' || privilege_type, ',' ORDER BY table_name, privilege_type)"
            " FROM information_schema.role_table_grants WHERE grantee = 'audiomuse_chat'").fetchone()[0]
        out["_chat_memberships"] = conn.execute(
            "SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_auth_members m"
            " JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = 'audiomuse_chat'::regrole").fetchone()[0]
        out["_db_settings"] = conn.execute(
            "SELECT coalesce(string_agg(array_to_string(setconfig, ';'), '|' ORDER BY setdatabase, setrole), '')"
            " FROM pg_db_role_setting").fetchone()[0]
        out["_view"] = conn.execute("SELECT pg_get_viewdef('chat_tracks'::regclass)").fetchone()[0]
    return out
