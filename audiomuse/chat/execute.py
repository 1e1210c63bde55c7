"""Run validated chat SQL in a sandbox: READ ONLY, as the ``audiomuse_chat`` role, with a timeout.

Three layers, each useful on its own:

1. :func:`audiomuse.chat.validate.validate_sql` - an allowlist; only its regenerated SQL runs.
2. The transaction: ``READ ONLY`` (no writes, no DDL, no nextval, no temp tables; it cannot be turned
   read-write once a query ran), a prepared statement (the protocol refuses a second statement),
   ``SET LOCAL ROLE audiomuse_chat`` (a NOLOGIN role that may SELECT
   the ``chat_tracks`` view and nothing else, so no base tables, no superuser-only functions such as
   ``pg_read_file`` or ``lo_import``), ``statement_timeout`` (default 2 s), small ``work_mem`` and
   ``temp_file_limit`` (when the app user may set it), no JIT, no parallel workers (a chat query
   gets one core). Everything is rolled back.
3. A tripwire after the query: the role and read-only state must be unchanged, else the rows are
   thrown away.

Why validation stays the main guard: ``SET ROLE`` is not a boundary against *arbitrary* SQL (anyone
who can run ``RESET ROLE`` or ``set_config('role', ...)`` returns to the session user), and functions
PostgreSQL grants to PUBLIC (``pg_sleep``, ``set_config``, most of ``pg_catalog``) cannot be revoked
from one role. The validator forbids all of those; the role, read-only mode and timeout bound the
damage of anything it might miss.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import psycopg
from psycopg import errors
from psycopg import sql as pgsql

from audiomuse.chat.prompt import MAX_ROWS, VIEW
from audiomuse.chat.validate import validate_sql
from audiomuse.store import Database

CHAT_ROLE = "audiomuse_chat"
STATEMENT_TIMEOUT_MS = 2000
WORK_MEM = "4MB"
TEMP_FILE_LIMIT = "64MB"
RESULT_COLUMNS = ("item_id", "title", "artist")

_FIX = (f"ask the database administrator to run: CREATE ROLE {CHAT_ROLE} NOLOGIN; "
        f"GRANT {CHAT_ROLE} TO <app user>; then re-run the migrations")


class ChatQueryError(RuntimeError):
    """A validated query failed or was stopped at execution; ``sqlstate`` is PostgreSQL's code."""

    def __init__(self, message: str, *, sqlstate: str | None = None):
        super().__init__(message)
        self.sqlstate = sqlstate


@contextlib.contextmanager
def chat_transaction(db: Database, *, timeout_ms: int = STATEMENT_TIMEOUT_MS) -> Iterator[psycopg.Connection]:
    """A connection inside the sandbox transaction (read only, chat role, timeout); always rolled back.

    Whatever runs inside is *not* validated: only :func:`run_chat_query` and tests should use this.
    """
    timeout_ms = int(timeout_ms)
    if timeout_ms <= 0:
        raise ValueError("timeout_ms must be positive (0 would disable the timeout)")
    with db.connection() as conn:
        conn.read_only = True  # psycopg opens the transaction with BEGIN READ ONLY
        try:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('lock_timeout', %s, true),"
                " set_config('work_mem', %s, true), set_config('jit', 'off', true),"
                " set_config('max_parallel_workers_per_gather', '0', true),"
                " set_config('standard_conforming_strings', 'on', true)",
                (f"{timeout_ms}ms", f"{timeout_ms}ms", WORK_MEM),
            )
            _try_set(conn, "temp_file_limit", TEMP_FILE_LIMIT)  # superuser-only setting
            try:
                conn.execute(pgsql.SQL("SET LOCAL ROLE {}").format(pgsql.Identifier(CHAT_ROLE)))
            except (errors.InvalidParameterValue, errors.InsufficientPrivilege) as exc:
                raise ChatQueryError(f"chat queries are disabled: cannot switch to role {CHAT_ROLE} "
                                     f"({_first_line(exc)}); {_FIX}", sqlstate=exc.sqlstate) from None
            _check_sandbox(conn)
            yield conn
        finally:
            if not conn.closed:
                conn.rollback()


def run_chat_query(db: Database, sql: str, *, timeout_ms: int = STATEMENT_TIMEOUT_MS,
                   max_rows: int = MAX_ROWS) -> list[dict]:
    """Validate ``sql`` and run it in the sandbox: ``[{item_id, title, artist}, ...]``, at most
    ``max_rows``, in the query's order, each track once.

    Raises :class:`~audiomuse.chat.validate.UnsafeSql` (rejected) or :class:`ChatQueryError`.
    """
    safe = validate_sql(sql, max_rows=max_rows)
    with chat_transaction(db, timeout_ms=timeout_ms) as conn:
        try:
            # prepare=True: the extended protocol's Parse accepts exactly one statement, a last check;
            # no parameters, so the text reaches the server exactly as validated ('%' stays literal).
            cur = conn.execute(safe, prepare=True)
            names = [d.name for d in cur.description or []]
            raw = cur.fetchmany(max_rows)
            _check_sandbox(conn)
        except errors.QueryCanceled as exc:
            raise ChatQueryError(f"the query was stopped after {timeout_ms} ms (statement timeout)",
                                 sqlstate=exc.sqlstate) from None
        except psycopg.Error as exc:
            raise ChatQueryError(f"the query failed: {_first_line(exc)}", sqlstate=exc.sqlstate) from None
        if "item_id" not in names:
            raise ChatQueryError("the query must return an item_id column")
        rows = _to_rows(names, raw)
        missing = [r["item_id"] for r in rows if r["title"] is None or r["artist"] is None]
        if missing:  # the query selected ids only: look the names up, still inside the sandbox
            found = {r[0]: (r[1], r[2]) for r in conn.execute(
                pgsql.SQL("SELECT item_id, title, artist FROM {} WHERE item_id = ANY(%s)").format(
                    pgsql.Identifier(VIEW)), (missing,))}
            for r in rows:
                if r["item_id"] in found and (r["title"] is None or r["artist"] is None):
                    r["title"], r["artist"] = found[r["item_id"]]
        return rows


def _to_rows(names: list[str], raw: list[tuple]) -> list[dict]:
    index = {name: names.index(name) for name in RESULT_COLUMNS if name in names}
    out, seen = [], set()
    for values in raw:
        item_id = values[index["item_id"]]
        if item_id is None or item_id in seen:
            continue
        seen.add(item_id)
        out.append({
            "item_id": str(item_id),
            "title": values[index["title"]] if "title" in index else None,
            "artist": values[index["artist"]] if "artist" in index else None,
        })
    return out


def _check_sandbox(conn: psycopg.Connection) -> None:
    """The session must still be the chat role, read only, and that role must not be privileged."""
    user, read_only, privileged = conn.execute(
        "SELECT current_user, current_setting('transaction_read_only'),"
        " (SELECT rolsuper OR rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = current_user)"
    ).fetchone()
    if user != CHAT_ROLE or read_only != "on" or privileged:
        raise ChatQueryError(f"sandbox check failed (role {user!r}, read only {read_only!r}, "
                             f"privileged {privileged!r}); results discarded")


def _try_set(conn: psycopg.Connection, name: str, value: str) -> None:
    try:
        with conn.transaction():  # a savepoint: a refusal must not abort the transaction
            conn.execute("SELECT set_config(%s, %s, true)", (name, value))
    except errors.InsufficientPrivilege:
        pass


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
