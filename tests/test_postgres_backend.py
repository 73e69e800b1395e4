"""The PostgreSQL backend beyond the contract: pool, reconnection, errors, types."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

import contract_tests.postgres_server as server
from skillbox_store import (
    InvalidArgumentError,
    StoreError,
    UnavailableError,
    open_store,
)
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.records import Execution, File

pytestmark = pytest.mark.postgres

T = TypeVar("T")
Row = tuple[Any, ...]


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _execution(**fields: Any) -> Execution:
    return Execution(tenant_id="t", skill_name="s", skill_version="1", **fields)


async def _open_and_close(url: str, **options: Any) -> None:
    async with open_store(url, **options):
        pass


# -- Pool ---------------------------------------------------------------------------------


def test_exhausted_pool_is_unavailable_after_its_timeout(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> float:
        async with open_store(
            postgres_url, schema=pg_schema, min_size=1, max_size=1, timeout=0.5
        ) as store:
            async with store.transaction() as tx:  # holds the only connection
                await tx.ping()
                began = time.monotonic()
                with pytest.raises(UnavailableError, match="no pooled connection"):
                    await store.list_keys("t")
                waited = time.monotonic() - began
            await store.ping()  # usable again once the block ends
            return waited

    assert 0.4 <= run(scenario()) < 5.0


def _terminate_store_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return len(rows)


@pytest.mark.parametrize("how", ["terminated", "restarted"])
def test_store_survives_its_connections_dying(postgres_url: str, pg_schema: str, how: str) -> None:
    """After a restart (or pg_terminate_backend) the next calls succeed, same store."""

    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, min_size=3, max_size=3) as store:
            execution = await store.create_execution(_execution())
            if how == "restarted" and server.data_directory() is not None:
                await asyncio.to_thread(server.restart_server)
            else:
                # An external server cannot be restarted from here; ending every
                # session is what a restart does to the pool's connections.
                assert await asyncio.to_thread(_terminate_store_sessions, postgres_url) >= 1
            # A write first, then a read, each on a connection that died.
            await store.create_key("t", "k", f"after-{how}")
            assert await store.get_execution("t", execution.id) == execution
            session = await store.get_or_create_session("t", "ext")
            assert (await store.touch_session("t", session.id)).id == session.id
            assert len(await store.list_executions("t")) == 1

    run(scenario())


def test_check_option_tests_connections_before_use(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, check=True, min_size=2) as store:
            await store.ping()
            await asyncio.to_thread(_terminate_store_sessions, postgres_url)
            await store.create_key("t", "k", "checked")

    run(scenario())


# -- Opening -------------------------------------------------------------------------------


def test_unreachable_server_is_unavailable_without_the_password() -> None:
    async def scenario() -> None:
        with pytest.raises(UnavailableError) as caught:
            await open_store("postgresql://alice:s3cr3t-pw@127.0.0.1:1/db", connect_timeout=3.0)
        assert "s3cr3t-pw" not in str(caught.value)
        assert "127.0.0.1" in str(caught.value)

    began = time.monotonic()
    run(scenario())
    assert time.monotonic() - began < 10


def test_missing_database_names_the_problem(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database_here"
    with pytest.raises(UnavailableError, match="no_such_database_here"):
        run(_open_and_close(url))


def test_malformed_url_is_invalid_argument() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        run(_open_and_close("postgresql://bob:pw-xyz@[::1/db"))
    assert "pw-xyz" not in str(caught.value)
    with pytest.raises(InvalidArgumentError):
        run(_open_and_close("postgresql://h/db?no_such_parameter=1&password=pw-xyz"))


def test_unknown_or_bad_options_are_invalid_argument(postgres_url: str) -> None:
    with pytest.raises(InvalidArgumentError, match="pool_size"):
        run(_open_and_close(postgres_url, pool_size=3))
    with pytest.raises(InvalidArgumentError, match="max_size"):
        run(_open_and_close(postgres_url, min_size=5, max_size=2))


# -- A pool the caller owns ----------------------------------------------------------------


def test_store_on_a_callers_pool_neither_migrates_nor_closes_it(
    postgres_url: str, pg_schema: str
) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema):
            pass
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            postgres_url, kwargs={"autocommit": True}, min_size=1, open=False
        )
        await pool.open()
        try:
            store = PostgresStore(pool, schema=pg_schema)
            assert store.pool is pool
            assert await store.schema_version() == 1
            key = await store.create_key("t", "k", "owned")
            await store.close()
            with pytest.raises(StoreError):
                await store.ping()
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    sql.SQL("SELECT count(*) FROM {}.api_keys WHERE id = %s").format(
                        sql.Identifier(pg_schema)
                    ),
                    (key.id,),
                )
                assert await cursor.fetchone() == (1,)
        finally:
            await pool.close()
        # A store on a fresh schema is not migrated for the caller.
        pool2: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            postgres_url, kwargs={"autocommit": True}, min_size=1, open=False
        )
        await pool2.open()
        try:
            assert await PostgresStore(pool2, schema=pg_schema + "_none").schema_version() == 0
        finally:
            await pool2.close()

    run(scenario())


# -- Types -----------------------------------------------------------------------------------


def test_json_text_arrays_and_timestamps_round_trip(postgres_url: str, pg_schema: str) -> None:
    eastern = timezone(timedelta(hours=-5))
    finished = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=eastern)

    async def scenario() -> None:
        # A session TimeZone other than UTC: values still come back as UTC datetimes.
        async with open_store(postgres_url, schema=pg_schema):
            pass
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            postgres_url,
            kwargs={"autocommit": True, "options": "-c TimeZone=Asia/Kolkata"},
            min_size=1,
            open=False,
        )
        await pool.open()
        try:
            store = PostgresStore(pool, schema=pg_schema)
            for value in ["a string", None, 0, 1.5, True, [1, "x", None], {"k": {"n": [None]}}]:
                stored = await store.insert_execution(
                    _execution(input=value, output=value, status="success", finished_at=finished)
                )
                read = await store.get_execution("t", stored.id)
                assert read == stored
                assert read.input == value
                assert type(read.input) is type(value)
                assert read.finished_at == finished
                assert read.finished_at.tzinfo is UTC
                assert read.created_at.tzinfo is UTC
            plain = await store.create_execution(_execution(files_list=["a", "é", ""]))
            assert (await store.get_execution("t", plain.id)).files_list == ["a", "é", ""]
            async with pool.connection() as conn:
                cursor = await conn.execute(
                    sql.SQL(
                        "SELECT input IS NULL, output IS NULL FROM {}.executions WHERE id = %s"
                    ).format(sql.Identifier(pg_schema)),
                    (plain.id,),
                )
                # None is SQL NULL, not the JSON literal null.
                assert await cursor.fetchone() == (True, True)
            file = await store.create_file(File(tenant_id="t", name="f", s3_key="k"))
            assert (await store.get_file("t", file.id)).created_at == file.created_at
        finally:
            await pool.close()

    run(scenario())


def test_prepared_statements_can_be_switched_off(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, prepare_threshold=None) as store:
            for i in range(10):
                await store.create_key("t", "k", f"h{i}")
            assert len(await store.list_keys("t")) == 10
            assert isinstance(store, PostgresStore)
            async with store.pool.connection() as conn:
                cursor = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
                assert await cursor.fetchone() == (0,)

    run(scenario())


def test_a_quoted_schema_name_works(postgres_url: str, pg_schema: str) -> None:
    odd = pg_schema + ' "odd"'

    async def scenario() -> None:
        async with open_store(postgres_url, schema=odd) as store:
            await store.create_key("t", "k", "quoted")
            assert (await store.get_key_by_hash("quoted")).name == "k"

    try:
        run(scenario())
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(odd)))


def test_wrong_credentials_are_unavailable_without_the_password(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"no_such_role_here:wr0ng-pw@{host}"))
    with pytest.raises(UnavailableError, match="no_such_role_here") as caught:
        run(_open_and_close(url, connect_timeout=5.0))
    assert "wr0ng-pw" not in str(caught.value)


def test_a_database_gone_away_is_unavailable_not_a_driver_error(postgres_url: str) -> None:
    name = f"gone_{uuid.uuid4().hex[:10]}"
    _admin(postgres_url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = urlunsplit(urlsplit(postgres_url)._replace(path=f"/{name}"))

    async def scenario() -> None:
        async with open_store(url, min_size=1, max_size=2, timeout=1.0) as store:
            await store.create_key("t", "k", "before")
            _admin(
                postgres_url,
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(name)),
            )
            _admin(
                postgres_url,
                sql.SQL(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {}"
                ).format(sql.Literal(name)),
            )
            with pytest.raises(UnavailableError):
                await store.get_key_by_hash("before")
            with pytest.raises(UnavailableError):
                await store.create_key("t", "k", "after")

    try:
        run(scenario())
    finally:
        _admin(
            postgres_url,
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)),
        )


def _admin(url: str, statement: sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)
