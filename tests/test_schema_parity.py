"""Both SQL dialects migrate to the same tables and columns, by the same migration numbers."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest

from skillbox_store import open_store
from skillbox_store.migrations import load_migrations

Columns = dict[str, set[str]]


def _sqlite_columns(path: Path) -> Columns:
    with sqlite3.connect(path) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
            for table in tables
        }


def _postgres_columns(url: str, schema: str) -> Columns:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s",
            (schema,),
        ).fetchall()
    found: Columns = {}
    for table, column in rows:
        found.setdefault(table, set()).add(column)
    return found


async def _migrate(url: str, **options: Any) -> None:
    async with open_store(url, **options):
        pass


@pytest.mark.postgres
def test_migrated_schemas_have_the_same_tables_and_columns(
    postgres_url: str, pg_schema: str, tmp_path: Path
) -> None:
    database = tmp_path / "parity.db"
    asyncio.run(_migrate(f"sqlite:///{database}"))
    asyncio.run(_migrate(postgres_url, schema=pg_schema))
    sqlite_columns = _sqlite_columns(database)
    postgres_columns = _postgres_columns(postgres_url, pg_schema)
    assert set(sqlite_columns) >= {"api_keys", "executions", "files", "sessions", "skills"}
    assert postgres_columns == sqlite_columns


def test_both_dialects_have_the_same_migration_numbers() -> None:
    sqlite_versions = [m.version for m in load_migrations("sqlite")]
    postgres_versions = [m.version for m in load_migrations("postgres")]
    assert sqlite_versions == postgres_versions
    assert sqlite_versions == list(range(1, len(sqlite_versions) + 1))
