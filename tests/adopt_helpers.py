"""Fixtures' helpers for the adoption tests: a fresh database each, and its fingerprint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

__all__ = ["fingerprint", "fresh_database", "locks_held"]


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server of ``server_url``; yield its URL; drop it.

    A database, not a schema: goose's table lives in ``public``, one per Go database.
    """
    name = f"adopt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


_CATALOG = """
SELECT 'relation', n.nspname || '.' || c.relname || ' ' || c.relkind::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'schema', nspname FROM pg_namespace
WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
UNION ALL
SELECT 'column', n.nspname || '.' || c.relname || '.' || a.attname || ' '
    || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
    || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND a.attnum > 0
    AND NOT a.attisdropped
UNION ALL
SELECT 'constraint', n.nspname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace
WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
UNION ALL
SELECT 'index', schemaname || ' ' || indexdef FROM pg_indexes
WHERE schemaname !~ '^pg_' AND schemaname <> 'information_schema'
ORDER BY 1, 2
"""

_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
ORDER BY 1, 2
"""


def fingerprint(url: str) -> list[tuple[Any, ...]]:
    """The schemas, tables, columns, defaults, constraints, indexes and every row of ``url``.

    Rows are compared by an md5 of each table's rows in a fixed order: two fingerprints
    are equal when the database is, as far as a dump would show.
    """
    with psycopg.connect(url, autocommit=True) as conn:
        found: list[tuple[Any, ...]] = list(conn.execute(_CATALOG).fetchall())
        for schema, table in conn.execute(_TABLES).fetchall():
            rows = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
                    "FROM {}.{} AS t"
                ).format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()
            found.append(("rows", f"{schema}.{table}", rows))
        sequences = conn.execute(
            "SELECT schemaname || '.' || sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
        found.extend(("sequence", *row) for row in sequences)
    return found


def locks_held(url: str) -> list[tuple[Any, ...]]:
    """Advisory and relation locks other sessions of ``url``'s database hold."""
    with psycopg.connect(url, autocommit=True) as conn:
        return list(
            conn.execute(
                "SELECT locktype, mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() "
                "AND l.locktype IN ('advisory', 'relation')"
            ).fetchall()
        )
