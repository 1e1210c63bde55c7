"""Allowlist validation of model-written SQL with sqlglot (PostgreSQL dialect).

:func:`validate_sql` accepts exactly one read-only query over the ``chat_tracks`` view and returns
it *regenerated from the parsed tree* (never the text the model wrote), so nothing the parser did
not understand - a comment, a second statement hidden in a quote trick - can reach the server.

Allowlisted, everything else rejected:

* statements: one ``SELECT`` (with non-recursive CTEs, subqueries, joins, window functions) or a
  ``UNION`` / ``INTERSECT`` / ``EXCEPT`` of them;
* relations: ``chat_tracks`` and the query's own CTEs, at most :data:`MAX_RELATION_REFS` references;
* columns: the view's columns and the aliases the query defines;
* functions and operators: :data:`ALLOWED_NODES` (comparisons, arithmetic, ``||``, LIKE/ILIKE, CASE,
  CAST to plain types, ``->``/``->>``, coalesce, lower, count, row_number...);
* literals: plain numbers and ``'...'`` strings (no E'', U&'', $$, bit/hex strings, parameters).

Never: INTO, FOR UPDATE/SHARE, recursive CTEs, pg_* / information_schema names, LATERAL, set-returning
or side-effecting functions. The top-level ``LIMIT`` is forced to at most :data:`MAX_ROWS`.

This is the first of three layers; execution adds a read-only transaction as a NOLOGIN role that can
only read the view, and a statement timeout (see :mod:`audiomuse.chat.execute`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType

from audiomuse.chat.prompt import COLUMNS, MAX_ROWS, VIEW

MAX_SQL_CHARS = 6000
MAX_RELATION_REFS = 3
MAX_STRING_CHARS = 200
ALLOWED_RELATIONS = frozenset({VIEW})
VIEW_COLUMNS = frozenset(COLUMNS)


class UnsafeSql(ValueError):
    """The SQL is not allowed; ``reason`` says why (safe to show to the user)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


_STRUCTURE = (
    exp.Select, exp.Union, exp.Intersect, exp.Except, exp.Subquery, exp.With, exp.CTE, exp.TableAlias,
    exp.From, exp.Join, exp.Table, exp.Identifier, exp.Column, exp.Alias, exp.Star, exp.Where, exp.Group,
    exp.Having, exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Distinct, exp.Tuple, exp.Paren,
    exp.Literal, exp.Boolean, exp.Null, exp.Window, exp.WindowSpec, exp.Exists, exp.In, exp.Any,
)
_OPERATORS = (
    exp.And, exp.Or, exp.Not, exp.Neg, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE,
    exp.NullSafeEQ, exp.NullSafeNEQ, exp.Is, exp.Between, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
    exp.DPipe, exp.Like, exp.ILike, exp.Case, exp.If, exp.Cast, exp.DataType, exp.DataTypeParam,
    exp.JSONExtract, exp.JSONExtractScalar, exp.JSONPath, exp.JSONPathKey, exp.JSONPathRoot,
    exp.JSONPathSubscript,
)
_FUNCTIONS = (
    exp.Abs, exp.Round, exp.Ceil, exp.Floor, exp.Sqrt, exp.Greatest, exp.Least, exp.Coalesce, exp.Nullif,
    exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.Rand, exp.Count, exp.Avg, exp.Min, exp.Max, exp.Sum,
    exp.RowNumber, exp.Rank, exp.DenseRank, exp.PercentRank, exp.CumeDist, exp.Ntile,
)
ALLOWED_NODES: frozenset[type] = frozenset(_STRUCTURE + _OPERATORS + _FUNCTIONS)

ALLOWED_TYPES = frozenset({
    exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT, exp.DataType.Type.DECIMAL, exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR,
    exp.DataType.Type.CHAR, exp.DataType.Type.BOOLEAN, exp.DataType.Type.JSON, exp.DataType.Type.JSONB,
})

_FIRST_TOKENS = {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ ]{0,62}")
_SYSTEM_NAME = re.compile(r"^(pg_|information_schema$)", re.I)

# Friendlier reasons for the usual suspects.
_REASONS: dict[type, str] = {
    exp.Into: "SELECT INTO is not allowed",
    exp.Lock: "FOR UPDATE / FOR SHARE locking clauses are not allowed",
    exp.Lateral: "LATERAL is not allowed",
    exp.TableSample: "TABLESAMPLE is not allowed",
    exp.Placeholder: "parameters are not allowed",
    exp.Parameter: "parameters are not allowed",
    exp.Values: "VALUES lists are not allowed",
    exp.Fetch: "FETCH is not allowed in subqueries",
    exp.Dot: "qualified names are not allowed",
}


def validate_sql(sql: str, *, max_rows: int = MAX_ROWS) -> str:
    """The normalised, safe form of ``sql`` (with ``LIMIT <= max_rows``), or :class:`UnsafeSql`."""
    normalised = _normalise(sql, max_rows)
    # The regenerated text must read back as itself: what runs is exactly what was checked.
    if _normalise(normalised, max_rows) != normalised:
        raise UnsafeSql("the query does not survive normalisation unchanged")
    return normalised


def _normalise(sql: str, max_rows: int) -> str:
    if not isinstance(sql, str):
        raise UnsafeSql("the query is not text")
    sql = sql.strip()
    while sql.endswith(";"):
        sql = sql[:-1].rstrip()
    if not sql:
        raise UnsafeSql("the query is empty")
    if len(sql) > MAX_SQL_CHARS:
        raise UnsafeSql(f"the query is longer than {MAX_SQL_CHARS} characters")
    if "\x00" in sql:
        raise UnsafeSql("the query contains a NUL byte")

    try:
        tokens = Postgres().tokenize(sql)
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise UnsafeSql(f"could not read the query: {_short(exc)}") from None
    if not tokens:
        raise UnsafeSql("the query is empty")
    if tokens[0].token_type not in _FIRST_TOKENS:
        raise UnsafeSql(f"only SELECT queries are allowed, not {tokens[0].text.upper()[:30]!r}")
    if any(t.token_type == TokenType.SEMICOLON for t in tokens):
        raise UnsafeSql("only one statement is allowed")

    try:
        statements = [s for s in sqlglot.parse(sql, read="postgres") if s is not None]
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise UnsafeSql(f"could not parse the query: {_short(exc)}") from None
    if len(statements) != 1:
        raise UnsafeSql("only one statement is allowed")
    root = statements[0]
    while isinstance(root, exp.Subquery) and not root.alias and not root.args.get("limit"):
        root = root.this
    if not isinstance(root, (exp.Select, exp.Union, exp.Intersect, exp.Except)):
        raise UnsafeSql(f"only SELECT queries are allowed, not {root.key.upper()}")

    _force_limit(root, max_rows)
    _check_tree(root)
    try:
        return root.sql(dialect="postgres", comments=False)
    except (SqlglotError, RecursionError, ValueError) as exc:
        raise UnsafeSql(f"could not write the query back: {_short(exc)}") from None


def _force_limit(root: exp.Expression, max_rows: int) -> None:
    current = root.args.get("limit")
    n = max_rows
    if isinstance(current, exp.Limit):
        value = current.expression
        if isinstance(value, exp.Literal) and not value.is_string:
            try:
                n = int(Decimal(value.this))
            except (InvalidOperation, ValueError, OverflowError):
                n = max_rows
            n = max(0, min(n, max_rows))
    elif isinstance(current, exp.Fetch):
        count = current.args.get("count")
        options = current.args.get("limit_options")
        plain = options is None or not (options.args.get("percent") or options.args.get("with_ties"))
        if isinstance(count, exp.Literal) and not count.is_string and plain:
            try:
                n = max(0, min(int(Decimal(count.this)), max_rows))
            except (InvalidOperation, ValueError, OverflowError):
                n = max_rows
    root.set("limit", exp.Limit(expression=exp.Literal.number(n)))


def _check_tree(root: exp.Expression) -> None:
    ctes = {_ident(c.args["alias"].this) for c in root.find_all(exp.CTE) if c.args.get("alias")}
    table_aliases: set[str] = set()
    alias_columns: set[str] = set()
    for ta in root.find_all(exp.TableAlias):
        if isinstance(ta.this, exp.Identifier):
            table_aliases.add(_ident(ta.this))
        alias_columns.update(_ident(c) for c in ta.args.get("columns") or [] if isinstance(c, exp.Identifier))
    select_aliases = {_ident(a.args["alias"]) for a in root.find_all(exp.Alias)
                      if isinstance(a.args.get("alias"), exp.Identifier)}
    columns = VIEW_COLUMNS | select_aliases | alias_columns
    qualifiers = ALLOWED_RELATIONS | ctes | table_aliases

    relation_refs = 0
    for node in root.walk():
        kind = type(node)
        if kind not in ALLOWED_NODES:
            raise UnsafeSql(_reason(node))
        if isinstance(node, exp.With) and node.args.get("recursive"):
            raise UnsafeSql("recursive CTEs (WITH RECURSIVE) are not allowed")
        elif isinstance(node, exp.Identifier):
            _check_name(node)
        elif isinstance(node, exp.Table):
            relation_refs += 1
            if not isinstance(node.this, exp.Identifier):
                raise UnsafeSql(f"{node.this.sql(dialect='postgres')[:40]} is not a relation you may read")
            if node.args.get("db") or node.args.get("catalog"):
                raise UnsafeSql(f"only {VIEW} may be read (no schema-qualified names)")
            name = _ident(node.this)
            if _SYSTEM_NAME.match(name):
                raise UnsafeSql(f"system objects ({name}) are not allowed")
            if name not in ALLOWED_RELATIONS and name not in ctes:
                raise UnsafeSql(f"relation {node.name!r} is not allowed: only {VIEW} may be read")
        elif isinstance(node, exp.Column):
            if node.args.get("db") or node.args.get("catalog"):
                raise UnsafeSql("qualified column names are not allowed")
            table = node.args.get("table")
            if table is not None and _ident(table) not in qualifiers:
                raise UnsafeSql(f"unknown table {table.name!r}")
            if not isinstance(node.this, exp.Star) and _ident(node.this) not in columns:
                raise UnsafeSql(f"unknown column {node.name!r}: {VIEW} has {', '.join(COLUMNS)}")
        elif isinstance(node, exp.Literal):
            if node.is_string and len(node.this) > MAX_STRING_CHARS:
                raise UnsafeSql(f"string literals are limited to {MAX_STRING_CHARS} characters")
        elif isinstance(node, exp.DataType):
            if node.this not in ALLOWED_TYPES or node.args.get("nested") or node.args.get("values"):
                raise UnsafeSql(f"cast to {node.sql(dialect='postgres')[:30]} is not allowed")
    if relation_refs > MAX_RELATION_REFS:
        raise UnsafeSql(f"the query reads relations {relation_refs} times; at most {MAX_RELATION_REFS} allowed")
    if relation_refs == 0:
        raise UnsafeSql(f"the query must read from {VIEW}")


def _check_name(identifier: exp.Identifier) -> None:
    name = identifier.this
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UnsafeSql(f"name {str(name)[:40]!r} is not allowed (letters, digits, _ and spaces only)")
    if _SYSTEM_NAME.match(name):
        raise UnsafeSql(f"system objects ({name}) are not allowed")


def _ident(identifier) -> str:
    """Identifiers as PostgreSQL resolves them: unquoted names fold to lower case."""
    if isinstance(identifier, exp.Identifier):
        return identifier.this if identifier.args.get("quoted") else identifier.this.lower()
    return str(identifier).lower()


def _reason(node: exp.Expression) -> str:
    for kind, reason in _REASONS.items():
        if isinstance(node, kind):
            return reason
    if isinstance(node, exp.Func):
        name = node.name if isinstance(node, exp.Anonymous) else node.sql_name()
        return f"function {name.lower()}() is not allowed"
    if isinstance(node, (exp.ByteString, exp.RawString, exp.UnicodeString, exp.HexString, exp.BitString,
                         exp.National)):
        return "only plain '...' string literals are allowed"
    text = node.sql(dialect="postgres", comments=False) if node else ""
    return f"{node.key.upper()} is not allowed" + (f": {text[:60]}" if text else "")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__
