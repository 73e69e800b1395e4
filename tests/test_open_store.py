"""Selecting a backend by URL, built-in or plugged in by entry point."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import textwrap
from collections.abc import Awaitable, Coroutine, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar

import pytest

from skillbox_store import (
    InvalidArgumentError,
    MigrationError,
    SchemaOutdatedError,
    Store,
    StoreError,
    available_schemes,
    open_store,
)
from skillbox_store.keys import hash_key
from skillbox_store.migrations import latest_version
from skillbox_store.urls import redact_url

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T] | Awaitable[T]) -> T:
    async def wrapper() -> T:
        return await coro

    return asyncio.run(wrapper())


@pytest.fixture
def plugin_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Install a third-party backend (`fake://`) the way a wheel would: an entry point."""
    (tmp_path / "fake_backend.py").write_text(
        textwrap.dedent(
            """
            from skillbox_store.backends.memory import MemoryStore

            OPENED = []

            async def open_fake_store(url, *, migrate=True, **options):
                OPENED.append((url, migrate, options))
                return MemoryStore()

            async def open_not_a_store(url, **options):
                return object()
            """
        )
    )
    dist = tmp_path / "fake_backend-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-backend\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[skillbox_store.backends]\n"
        "fake = fake_backend:open_fake_store\n"
        "notastore = fake_backend:open_not_a_store\n"
        "broken = fake_backend:does_not_exist\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fake"
    sys.modules.pop("fake_backend", None)


def test_memory_url_opens_a_new_empty_store_each_time() -> None:
    async def scenario() -> None:
        first = await open_store("memory://")
        await first.create_key("t", "n", hash_key("h"))
        async with open_store("memory://") as second:
            assert isinstance(second, Store)
            assert await second.list_keys("t") == []
        with pytest.raises(StoreError):
            await second.ping()
        await first.close()

    run(scenario())


def test_unknown_scheme_lists_installed_ones() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        run(open_store("nosuch://x"))
    message = str(caught.value)
    assert "nosuch" in message
    for scheme in ("memory://", "sqlite://", "postgresql://"):
        assert scheme in message


@pytest.mark.parametrize("url", ["", "just-a-path.db", "://x"])
def test_url_without_scheme(url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="scheme"):
        run(open_store(url))


def test_unknown_scheme_message_hides_password() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        run(open_store("mysql://app:hunter2@db/x"))
    assert "hunter2" not in str(caught.value)


def test_memory_rejects_options_and_paths() -> None:
    with pytest.raises(InvalidArgumentError, match="options"):
        run(open_store("memory://", pool_size=3))
    with pytest.raises(InvalidArgumentError):
        run(open_store("memory://somewhere"))


def test_entry_point_backend(plugin_backend: str) -> None:
    import fake_backend  # type: ignore[import-not-found]

    assert plugin_backend in available_schemes()

    async def scenario() -> None:
        async with open_store("fake://anything", migrate=False, flavour="x") as store:
            await store.create_key("t", "n", hash_key("h"))
            assert (await store.get_key_by_hash(hash_key("h"))).tenant_id == "t"
        assert fake_backend.OPENED == [("fake://anything", False, {"flavour": "x"})]

    run(scenario())


def test_entry_point_that_is_not_a_store(plugin_backend: str) -> None:
    with pytest.raises(StoreError, match="does not implement"):
        run(open_store("notastore://"))


def test_entry_point_that_fails_to_load(plugin_backend: str) -> None:
    with pytest.raises(StoreError, match="failed to load"):
        run(open_store("broken://"))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cret@db:5432/x", "postgresql://app:***@db:5432/x"),
        ("postgresql://app@db/x", "postgresql://app@db/x"),
        (
            "postgresql://db/x?password=s3cret&sslmode=require",
            "postgresql://db/x?password=***&sslmode=require",
        ),
        ("host=db password='s 3cret' user=app", "host=db password=*** user=app"),
        ("postgresql://app:s3cret@[::1]:5432/x", "postgresql://app:***@[::1]:5432/x"),
        # A multi-host (failover) URL keeps every host and port.
        (
            "postgresql://app:s3cret@h1:5432,h2:5433/x?target_session_attrs=read-write",
            "postgresql://app:***@h1:5432,h2:5433/x?target_session_attrs=read-write",
        ),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


# -- misuse of open_store ------------------------------------------------------------------


def test_with_instead_of_async_with_says_what_to_write() -> None:
    opener: Any = open_store("memory://")
    with pytest.raises(TypeError, match=r"async with open_store\(url\) as store:"), opener:
        pass


def test_a_forgotten_await_says_what_to_write() -> None:
    opener: Any = open_store("memory://")
    with pytest.raises(AttributeError, match=r"store = await open_store\(url\)") as caught:
        opener.list_keys("acme")
    assert caught.value.name == "list_keys"
    assert not hasattr(opener, "create_key")


def test_an_opener_never_awaited_opens_nothing(tmp_path: Path) -> None:
    path = tmp_path / "never.db"
    opener = open_store(f"sqlite:///{path}")
    del opener
    assert not path.exists()


# -- a schema behind the code --------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, never migrated, on each SQL backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    server: str = request.getfixturevalue("postgres_url")
    schema: str = request.getfixturevalue("pg_schema")
    return f"{server}{'&' if '?' in server else '?'}schema={schema}"


def test_an_unmigrated_store_is_refused_at_open(fresh_sql_url: str) -> None:
    with pytest.raises(SchemaOutdatedError) as caught:
        run(open_store(fresh_sql_url, migrate=False))
    error = caught.value
    assert isinstance(error, MigrationError)
    assert (error.found, error.needed) == (0, latest_version())
    message = str(error)
    assert f"at version 0, this skillbox-store needs version {latest_version()}" in message
    assert f"run `skillbox-store migrate {redact_url(fresh_sql_url)}`" in message


def test_check_schema_false_opens_an_unmigrated_store(fresh_sql_url: str) -> None:
    async def scenario() -> None:
        async with open_store(fresh_sql_url, migrate=False, check_schema=False) as store:
            assert await store.schema_version() == 0
        async with open_store(fresh_sql_url) as store:
            assert await store.schema_version() == latest_version()
        async with open_store(fresh_sql_url, migrate=False) as store:
            assert await store.list_keys("acme") == []

    run(scenario())


def test_a_schema_one_migration_behind_names_both_versions(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    run(_migrate_then_forget_the_last(url, path))
    with pytest.raises(SchemaOutdatedError, match=r"at version \d+, this skillbox-store needs"):
        run(open_store(url, migrate=False))


async def _migrate_then_forget_the_last(url: str, path: Path) -> None:
    """A database migrated by an older skillbox-store: its last migration not applied."""
    async with open_store(url):
        pass
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DELETE FROM schema_migrations WHERE version = ?", (latest_version(),))


def test_the_schema_message_masks_the_password() -> None:
    error = SchemaOutdatedError(0, 1, "postgresql://app:hunter2@db/x")
    assert "hunter2" not in str(error)
    assert "skillbox-store migrate postgresql://app:***@db/x" in str(error)


def test_memory_needs_no_migration() -> None:
    async def scenario() -> None:
        async with open_store("memory://", migrate=False) as store:
            assert await store.list_keys("acme") == []

    run(scenario())


def test_a_store_on_the_callers_sqlite_connection_checks_at_its_first_call(
    tmp_path: Path,
) -> None:
    import aiosqlite

    from skillbox_store.backends.sqlite import SqliteStore

    async def scenario() -> None:
        async with aiosqlite.connect(tmp_path / "callers.db") as db:
            store = SqliteStore.from_connection(db)
            await store.ping()
            assert await store.schema_version() == 0
            with pytest.raises(SchemaOutdatedError, match="at version 0") as caught:
                await store.list_keys("acme")
            assert "skillbox-store migrate URL" in str(caught.value)
            with pytest.raises(SchemaOutdatedError):
                async with store.transaction():
                    pass
        async with open_store(f"sqlite:///{tmp_path / 'callers.db'}"):
            pass  # migrated now
        async with aiosqlite.connect(tmp_path / "callers.db") as db:
            assert await SqliteStore.from_connection(db).list_keys("acme") == []

    run(scenario())


@pytest.mark.postgres
def test_a_store_on_the_callers_postgres_pool_checks_at_its_first_call(
    postgres_url: str, pg_schema: str
) -> None:
    from psycopg_pool import AsyncConnectionPool

    from skillbox_store.backends.postgres import PostgresStore

    async def scenario() -> None:
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            postgres_url, kwargs={"autocommit": True}, min_size=1, open=False
        )
        await pool.open()
        try:
            store = PostgresStore(pool, schema=pg_schema)
            await store.ping()
            assert await store.schema_version() == 0
            with pytest.raises(SchemaOutdatedError, match="at version 0"):
                await store.create_key("acme", "ci", hash_key("k"))
            with pytest.raises(SchemaOutdatedError):
                async with store.transaction():
                    pass
            async with open_store(postgres_url, schema=pg_schema):
                pass  # migrated now
            assert await store.list_keys("acme") == []
        finally:
            await pool.close()

    run(scenario())
