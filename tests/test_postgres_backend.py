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

import skillbox_store.testing_postgres as server
from skillbox_store import (
    InvalidArgumentError,
    StoreError,
    UnavailableError,
    open_store,
)
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.keys import hash_key
from skillbox_store.migrations import latest_version
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
            await store.create_key("t", "k", hash_key(f"after-{how}"))
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
            await store.create_key("t", "k", hash_key("checked"))

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


BAD_URL_OPTIONS = [
    "connect_timeout=abc",
    "connect_timeout=1.5x",
    "sslmode=bogus",
    "target_session_attrs=whatever",
    "gssencmode=maybe",
    "keepalives_idle=soon",
    "port=abc",
    "no_such_option=1",
]


@pytest.mark.parametrize("option", BAD_URL_OPTIONS)
def test_a_malformed_url_option_is_invalid_argument_at_once(postgres_url: str, option: str) -> None:
    """Refused before connecting, not retried by the pool until its timeout."""
    parts = urlsplit(postgres_url)
    host = parts.netloc.rpartition("@")[2]
    url = urlunsplit(parts._replace(netloc=f"postgres:pw-s3cret@{host}", query=option))
    began = time.monotonic()
    with pytest.raises(InvalidArgumentError) as caught:
        run(_open_and_close(url, connect_timeout=5.0, timeout=5.0))
    assert time.monotonic() - began < 1.0
    assert option.partition("=")[0] in str(caught.value)
    assert "pw-s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw-s3cret@127.0.0.1:1/db\ud800",
        "postgresql://u:pw-s3cret\ud800@127.0.0.1:1/db",
        "postgresql://u:pw-s3cret@h\ud800st:1/db",
        "postgresql://u:pw-s3cret@127.0.0.1:1/db?application_name=\udcff",
        "postgresql://u:pw-s3cret@127.0.0.1:1/db?schema=\ud800",
    ],
    ids=range(5),
)
def test_a_lone_surrogate_in_the_url_is_invalid_argument(url: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        run(_open_and_close(url, connect_timeout=5.0))
    assert "pw-s3cret" not in str(caught.value)
    str(caught.value).encode()  # the message itself prints anywhere


def test_a_bad_percent_escape_in_the_password_is_not_shown() -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        run(_open_and_close("postgresql://u:pw-s3%ZZcret@127.0.0.1:1/db"))
    assert "s3%ZZcret" not in str(caught.value)
    assert "pw-s3" not in str(caught.value)


def test_the_url_connect_timeout_is_used_by_every_connection(postgres_url: str) -> None:
    """A connect_timeout in the URL is not overridden (nor checked only by the pool)."""
    separator = "&" if "?" in postgres_url else "?"
    run(_open_and_close(f"{postgres_url}{separator}connect_timeout=3", min_size=1))


def test_no_repr_holds_the_password(postgres_url: str, pg_schema: str) -> None:
    parts = urlsplit(postgres_url)
    host = parts.netloc.rpartition("@")[2]
    # The test cluster trusts loopback: any password is accepted, and must never show.
    url = urlunsplit(parts._replace(netloc=f"postgres:pw-s3cret@{host}"))

    async def scenario() -> list[str]:
        async with open_store(url, schema=pg_schema) as store:
            assert isinstance(store, PostgresStore)
            async with store.transaction() as tx:
                return [repr(store), repr(tx), repr(store.pool), repr(store._db.shared)]

    for text in run(scenario()):
        assert "pw-s3cret" not in text


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
            assert await store.schema_version() == latest_version()
            key = await store.create_key("t", "k", hash_key("owned"))
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


def test_store_on_a_callers_pool_without_autocommit_commits_each_call(
    postgres_url: str, pg_schema: str
) -> None:
    """Each call's statement is committed, a failed one rolled back; no connection idles in
    a transaction. The store takes connections with ``getconn``, not the pool's context
    manager, so it must end their transactions itself."""

    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema):
            pass
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            postgres_url, min_size=1, max_size=1, open=False
        )
        await pool.open()
        try:
            store = PostgresStore(pool, schema=pg_schema)
            key = await store.create_key("t", "k", hash_key("no autocommit"))
            with pytest.raises(StoreError):
                # A duplicate hash: the server refuses it inside the implicit transaction.
                await store.create_key("t", "k2", hash_key("no autocommit"))
            assert [k.id for k in await store.list_keys("t")] == [key.id]
            async with pool.connection() as conn:
                assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            # Seen from a connection of its own: the first insert was committed.
            async with await AsyncConnection.connect(postgres_url, autocommit=True) as other:
                cursor = await other.execute(
                    sql.SQL("SELECT count(*) FROM {}.api_keys").format(sql.Identifier(pg_schema))
                )
                assert await cursor.fetchone() == (1,)
        finally:
            await pool.close()

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


JSON_NUMBERS: list[Any] = [
    [1e300, 1e20, 1.7976931348623157e308],
    1e16,
    -1e16,
    9999999999999998.0,
    1e15,
    5e-324,
    -0.0,
    2.5e-7,
    [2**63 - 1, -(2**63), 2**63, 2**64 - 1],
    {"deep": [{"x": 1e22, "y": [1e300, 3, 3.0]}], "e+": "1e+300"},
    "1e+300",
]


@pytest.mark.parametrize("value", JSON_NUMBERS, ids=range(len(JSON_NUMBERS)))
def test_json_numbers_read_back_equal_and_of_the_same_type(
    postgres_url: str, pg_schema: str, value: Any
) -> None:
    def shape(item: Any) -> Any:
        """The value with each number replaced by its type and value: equal means same."""
        if isinstance(item, list):
            return [shape(x) for x in item]
        if isinstance(item, dict):
            return {k: shape(x) for k, x in item.items()}
        return (type(item).__name__, item)

    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema) as store:
            created = await store.create_execution(_execution(input=value))
            finished = await store.update_execution(
                created.model_copy(update={"status": "success", "output": value})
            )
            read = await store.get_execution("t", created.id)
            assert read == finished
            assert shape(read.input) == shape(value)
            assert shape(read.output) == shape(value)
            listed = await store.list_executions("t")
            assert shape(listed[0].input) == shape(value)

    run(scenario())


def test_prepared_statements_can_be_switched_off(postgres_url: str, pg_schema: str) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, prepare_threshold=None) as store:
            for i in range(10):
                await store.create_key("t", "k", hash_key(f"h{i}"))
            assert len(await store.list_keys("t")) == 10
            assert isinstance(store, PostgresStore)
            async with store.pool.connection() as conn:
                cursor = await conn.execute("SELECT count(*) FROM pg_prepared_statements")
                assert await cursor.fetchone() == (0,)

    run(scenario())


def test_a_schema_name_postgres_would_change_is_refused(postgres_url: str, pg_schema: str) -> None:
    """Quoted names used to work; now only names that read the same unquoted are allowed."""
    for odd in (pg_schema + ' "odd"', pg_schema.upper(), pg_schema + "-x"):
        with pytest.raises(InvalidArgumentError, match="a-z, 0-9 and _"):
            run(_open_and_close(postgres_url, schema=odd))
    longest = (pg_schema + "_" * 63)[:63]

    async def scenario() -> None:
        async with open_store(postgres_url, schema=longest) as store:
            await store.create_key("t", "k", hash_key("longest"))
            assert (await store.get_key_by_hash(hash_key("longest"))).name == "k"

    try:
        run(scenario())
    finally:
        _admin(
            postgres_url,
            sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(longest)),
        )


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
            await store.create_key("t", "k", hash_key("before"))
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
                await store.get_key_by_hash(hash_key("before"))
            with pytest.raises(UnavailableError):
                await store.create_key("t", "k", hash_key("after"))

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
