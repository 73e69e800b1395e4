"""PostgreSQL migrations: fresh, re-run, tampering, newer database (many processes: faults)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from skillbox_store import MigrationError, UnavailableError, open_store
from skillbox_store import migrations as shared_migrations
from skillbox_store.migrations import Dialect, Migration, latest_version, load_migrations

pytestmark = pytest.mark.postgres

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _open_and_version(url: str, **options: Any) -> int:
    async with open_store(url, **options) as store:
        return await store.schema_version()


def _rows(url: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        query = sql.SQL(
            "SELECT version, name, checksum, applied_at FROM {}.schema_migrations ORDER BY version"
        ).format(sql.Identifier(schema))
        return conn.execute(query).fetchall()


def _execute(url: str, statement: sql.Composed, params: tuple[Any, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def _tables(url: str, schema: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        ).fetchall()
    return {name for (name,) in found}


def test_fresh_schema_is_created_and_migrated(postgres_url: str, pg_schema: str) -> None:
    assert run(_open_and_version(postgres_url, schema=pg_schema)) == latest_version("postgres")
    assert _tables(postgres_url, pg_schema) == {
        "api_keys",
        "executions",
        "files",
        "sessions",
        "skills",
        "schema_migrations",
    }
    rows = _rows(postgres_url, pg_schema)
    assert [(v, n, c) for v, n, c, _ in rows] == [
        (m.version, m.name, m.checksum) for m in load_migrations("postgres")
    ]


def test_schema_from_the_url_query(postgres_url: str, pg_schema: str) -> None:
    separator = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{separator}schema={pg_schema}"
    assert run(_open_and_version(url)) == latest_version("postgres")
    assert "files" in _tables(postgres_url, pg_schema)


def test_rerun_applies_nothing(postgres_url: str, pg_schema: str) -> None:
    run(_open_and_version(postgres_url, schema=pg_schema))
    before = _rows(postgres_url, pg_schema)
    assert run(_open_and_version(postgres_url, schema=pg_schema)) == latest_version("postgres")
    assert _rows(postgres_url, pg_schema) == before


def test_migrate_false_leaves_a_fresh_schema_alone(postgres_url: str, pg_schema: str) -> None:
    # Opening refuses a schema behind the code (SchemaOutdatedError) and changes nothing.
    with pytest.raises(MigrationError, match="version 0"):
        run(_open_and_version(postgres_url, migrate=False, schema=pg_schema))
    assert _tables(postgres_url, pg_schema) == set()


# Eight processes opening one fresh schema at once:
# tests/faults/test_concurrent_migration_postgres.py.


def test_tampered_checksum_is_a_migration_error(postgres_url: str, pg_schema: str) -> None:
    run(_open_and_version(postgres_url, schema=pg_schema))
    _execute(
        postgres_url,
        sql.SQL("UPDATE {}.schema_migrations SET checksum = %s WHERE version = 1").format(
            sql.Identifier(pg_schema)
        ),
        ("0" * 64,),
    )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        run(_open_and_version(postgres_url, schema=pg_schema))


def test_newer_database_is_a_migration_error(postgres_url: str, pg_schema: str) -> None:
    run(_open_and_version(postgres_url, schema=pg_schema))
    _execute(
        postgres_url,
        sql.SQL(
            "INSERT INTO {}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)"
        ).format(sql.Identifier(pg_schema)),
        (9999, "9999_future.sql", "f" * 64),
    )
    with pytest.raises(MigrationError, match="upgrade skillbox-store"):
        run(_open_and_version(postgres_url, schema=pg_schema))


def _with_extra(monkeypatch: pytest.MonkeyPatch, *extra: Migration) -> None:
    """Make the shared runner see the real migrations followed by ``extra``."""
    real = load_migrations("postgres")

    def fake(dialect: Dialect) -> tuple[Migration, ...]:
        return (*real, *extra) if dialect == "postgres" else load_migrations(dialect)

    monkeypatch.setattr(shared_migrations, "load_migrations", fake)


def _extra(version: int, name: str, text: str, *, transactional: bool) -> Migration:
    template = load_migrations("postgres")[0]
    return replace(
        template,
        version=version,
        name=name,
        sql=text,
        checksum=f"{version:064d}",
        transactional=transactional,
    )


def test_failed_migration_is_rolled_back_with_its_record(
    postgres_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _extra(
        latest_version("postgres") + 1,
        "9000_half.sql",
        "CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;",
        transactional=True,
    )
    _with_extra(monkeypatch, bad)
    with pytest.raises(MigrationError, match=r"9000_half\.sql"):
        run(_open_and_version(postgres_url, schema=pg_schema))
    assert "half_done" not in _tables(postgres_url, pg_schema)
    assert [v for v, *_ in _rows(postgres_url, pg_schema)] == [
        m.version for m in load_migrations("postgres")
    ]


@pytest.mark.parametrize("transactional", [True, False], ids=["in-transaction", "no-transaction"])
def test_connection_lost_during_a_migration_is_unavailable(
    postgres_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch, transactional: bool
) -> None:
    # The server ends the session mid-file (a restart, an operator): the file is sound,
    # so the error says the server went away and running again finishes the work.
    marker = "" if transactional else f"{shared_migrations.NO_TRANSACTION_MARKER}\n"
    ended = _extra(
        latest_version("postgres") + 1,
        "9003_session_ended.sql",
        f"{marker}SELECT pg_terminate_backend(pg_backend_pid());\n",
        transactional=transactional,
    )
    _with_extra(monkeypatch, ended)
    with pytest.raises(UnavailableError) as caught:
        run(_open_and_version(postgres_url, schema=pg_schema))
    assert not isinstance(caught.value, MigrationError)
    assert [v for v, *_ in _rows(postgres_url, pg_schema)] == [
        m.version for m in load_migrations("postgres")
    ]


def test_no_transaction_migration_runs_outside_a_transaction(
    postgres_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = latest_version("postgres") + 1
    concurrent = _extra(
        version,
        "9001_concurrent_index.sql",
        f"{shared_migrations.NO_TRANSACTION_MARKER}\n"
        "CREATE INDEX CONCURRENTLY files_by_name ON files (tenant_id, name);\n",
        transactional=False,
    )
    _with_extra(monkeypatch, concurrent)
    assert run(_open_and_version(postgres_url, schema=pg_schema)) == version
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_indexes WHERE schemaname = %s AND indexname = 'files_by_name'",
            (pg_schema,),
        ).fetchone()
    assert found is not None


def test_no_transaction_migration_is_never_split(
    postgres_url: str, pg_schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two statements with CONCURRENTLY cannot run as one query: it fails, loudly.
    split = _extra(
        latest_version("postgres") + 1,
        "9002_two_statements.sql",
        f"{shared_migrations.NO_TRANSACTION_MARKER}\n"
        "CREATE INDEX CONCURRENTLY files_a ON files (tenant_id, name);\n"
        "CREATE INDEX CONCURRENTLY files_b ON files (tenant_id, s3_key);\n",
        transactional=False,
    )
    _with_extra(monkeypatch, split)
    with pytest.raises(MigrationError, match=r"9002_two_statements\.sql"):
        run(_open_and_version(postgres_url, schema=pg_schema))
    assert [v for v, *_ in _rows(postgres_url, pg_schema)] == [
        m.version for m in load_migrations("postgres")
    ]


def test_role_without_create_on_the_database_migrates_its_own_schema(
    postgres_url: str, pg_schema: str
) -> None:
    """CREATE SCHEMA is skipped when the schema exists: a least-privileged role migrates."""
    role = f"app_{pg_schema}"
    _execute(postgres_url, sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    try:
        _execute(
            postgres_url,
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(pg_schema), sql.Identifier(role)
            ),
        )
        parts = urlsplit(postgres_url)
        host = parts.netloc.rpartition("@")[2]
        app_url = urlunsplit(parts._replace(netloc=f"{role}@{host}"))
        assert run(_open_and_version(app_url, schema=pg_schema)) == latest_version("postgres")
    finally:
        _execute(
            postgres_url,
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(pg_schema)),
        )
        _execute(postgres_url, sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
