"""The ``recipes`` table: save, list, edit and delete recipes, and record each refresh."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from audiomuse.recipes.model import Recipe

_COLUMNS = ("id", "name", "kind", "params", "owner", "refresh", "refresh_hour", "size", "track_ids", "provider_id",
            "refreshed_at", "last_error")
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM recipes"


def _recipe(row: dict) -> Recipe:
    return Recipe(**{**row, "track_ids": tuple(row["track_ids"] or ())})


def save_recipe(conn: psycopg.Connection, recipe: Recipe) -> Recipe:
    """Insert a new recipe (``id`` None) or update the definition of a stored one; returns it stored."""
    values = (recipe.name, recipe.kind, Jsonb(dict(recipe.params)), recipe.owner, recipe.refresh,
              recipe.refresh_hour, recipe.size)
    with conn.cursor(row_factory=dict_row) as cur:
        if recipe.id is None:
            cur.execute("INSERT INTO recipes (name, kind, params, owner, refresh, refresh_hour, size) "
                        f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {', '.join(_COLUMNS)}", values)
        else:
            cur.execute("UPDATE recipes SET name = %s, kind = %s, params = %s, owner = %s, refresh = %s, "
                        "refresh_hour = %s, size = %s, updated_at = now() "
                        f"WHERE id = %s RETURNING {', '.join(_COLUMNS)}", (*values, recipe.id))
        row = cur.fetchone()
    if row is None:
        raise KeyError(f"recipe {recipe.id} does not exist")
    return _recipe(row)


def get_recipe(conn: psycopg.Connection, recipe_id: int) -> Recipe | None:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"{_SELECT} WHERE id = %s", (recipe_id,)).fetchone()
    return _recipe(row) if row else None


def list_recipes(conn: psycopg.Connection, *, owner: str | None = None, refresh: Sequence[str] | None = None
                 ) -> list[Recipe]:
    """Recipes, by owner then name; only ``owner``'s when given, only these refresh policies when given."""
    where, args = [], []
    if owner is not None:
        where.append("owner = %s")
        args.append(owner)
    if refresh is not None:
        where.append("refresh = ANY(%s)")
        args.append(list(refresh))
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(f"{_SELECT}{clause} ORDER BY coalesce(owner, ''), name", args).fetchall()
    return [_recipe(r) for r in rows]


def delete_recipe(conn: psycopg.Connection, recipe_id: int) -> bool:
    return conn.execute("DELETE FROM recipes WHERE id = %s", (recipe_id,)).rowcount > 0


def record_refresh(conn: psycopg.Connection, recipe_id: int, track_ids: Sequence[str], provider_id: str | None
                   ) -> None:
    """A refresh that succeeded: its songs and server playlist become the last good version."""
    conn.execute("UPDATE recipes SET track_ids = %s, provider_id = %s, refreshed_at = now(), last_error = NULL "
                 "WHERE id = %s", (list(track_ids), provider_id, recipe_id))


def record_failure(conn: psycopg.Connection, recipe_id: int, error: str) -> None:
    """A refresh that failed: the last good version stays, the error is kept for the explorer."""
    conn.execute("UPDATE recipes SET last_error = %s WHERE id = %s", (error, recipe_id))
