"""PostgreSQL calls that used to hang or wait too long, timed: each fails within its limit.

A self-deadlocking block, reads that once waited twice ``timeout`` for a busy pool,
schema names and URLs refused before any I/O, and the other waits of opening:
connecting and another process's migrations.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final, TypeVar

import psycopg
import pytest

from skillbox_store import (
    InvalidArgumentError,
    Store,
    StoreError,
    UnavailableError,
    hash_key,
    open_store,
)
from skillbox_store.records import Execution

pytestmark = pytest.mark.postgres

T = TypeVar("T")

# Scheduling noise allowed on top of a configured limit (2 shared cores, loaded).
NOISE: Final = 0.75
# No scenario of this module may run longer than this, whatever goes wrong.
SCENARIO_LIMIT: Final = 30.0


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(SCENARIO_LIMIT):
            return await coro

    return asyncio.run(bounded())


def _execution(tenant: str = "t") -> Execution:
    return Execution(tenant_id=tenant, skill_name="s", skill_version="1")


async def _timed(call: Awaitable[Any]) -> tuple[BaseException | None, float]:
    began = time.monotonic()
    try:
        await call
    except Exception as exc:
        return exc, time.monotonic() - began
    return None, time.monotonic() - began


# -- Item 1: a block on the outer store from inside a block -------------------------------


@pytest.mark.parametrize("max_size", [1, 4])
def test_block_on_the_outer_store_inside_a_block_fails_at_once(
    postgres_url: str, pg_schema: str, max_size: int
) -> None:
    async def scenario() -> None:
        async with open_store(
            postgres_url, schema=pg_schema, min_size=1, max_size=max_size, timeout=5.0
        ) as store:
            running = await store.create_execution(_execution())
            async with store.transaction() as tx:
                done = await tx.update_execution(running.model_copy(update={"status": "success"}))
                outer = store.transaction()
                error, waited = await _timed(outer.__aenter__())
                assert isinstance(error, StoreError), error
                assert "transaction open on the store" in str(error)
                assert waited < NOISE
                # The block is unharmed: its savepoints work and it commits.
                async with tx.transaction() as inner:
                    await inner.create_key("t", "k", hash_key("nested"))
            assert await store.get_execution("t", running.id) == done
            assert (await store.get_key_by_hash(hash_key("nested"))).name == "k"
            # Outside the block the task opens blocks again.
            async with store.transaction() as tx:
                await tx.ping()

    run(scenario())


def test_a_write_on_the_outer_store_inside_a_block_fails_at_once(
    postgres_url: str, pg_schema: str
) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, timeout=5.0) as store:
            running = await store.create_execution(_execution())
            async with store.transaction() as tx:
                await tx.update_execution(running.model_copy(update={"status": "success"}))
                error, waited = await _timed(
                    store.update_execution(running.model_copy(update={"status": "failed"}))
                )
                assert isinstance(error, StoreError), error
                assert waited < NOISE
            assert (await store.get_execution("t", running.id)).status == "success"

    run(scenario())


def test_other_tasks_open_blocks_beside_an_open_block(postgres_url: str, pg_schema: str) -> None:
    """The refusal is per task: another task's block runs while the first is open."""

    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, max_size=3) as store:

            async def other() -> str:
                async with store.transaction() as tx:
                    return (await tx.create_key("t", "k", hash_key("other"))).id

            async with store.transaction() as tx:
                await tx.create_key("t", "k", hash_key("first"))
                other_id = await asyncio.create_task(other())
            assert {key.id for key in await store.list_keys("t")} >= {other_id}

    run(scenario())


# -- Item 3: a busy pool --------------------------------------------------------------------

TIMEOUT: Final = 1.0


def _calls(store: Store, execution_id: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "get_execution": lambda: store.get_execution("t", execution_id),
        "list_executions": lambda: store.list_executions("t"),
        "validate_key": lambda: store.validate_key(hash_key("h")),
        "ping": lambda: store.ping(),
        "create_execution": lambda: store.create_execution(_execution()),
        "get_or_create_session": lambda: store.get_or_create_session("t", "x"),
        "transaction": lambda: store.transaction().__aenter__(),
    }


def test_every_call_gives_up_within_timeout_when_no_connection_is_free(
    postgres_url: str, pg_schema: str
) -> None:
    async def scenario() -> dict[str, float]:
        waits: dict[str, float] = {}
        async with open_store(
            postgres_url, schema=pg_schema, min_size=1, max_size=1, timeout=TIMEOUT
        ) as store:
            execution = await store.create_execution(_execution())
            held = asyncio.Event()
            release = asyncio.Event()

            async def hold() -> None:
                async with store.transaction() as tx:  # the only connection
                    await tx.ping()
                    held.set()
                    await release.wait()

            holder = asyncio.create_task(hold())
            await held.wait()
            try:
                # All at once, each from its own task: queued callers wait no longer.
                calls = _calls(store, execution.id)
                outcomes = await asyncio.gather(*(_timed(call()) for call in calls.values()))
                for name, (error, waited) in zip(calls, outcomes, strict=True):
                    assert isinstance(error, UnavailableError), (name, error)
                    waits[name] = waited
            finally:
                release.set()
                await holder
            await store.ping()  # usable again once the block ends
        return waits

    waits = run(scenario())
    for name, waited in waits.items():
        assert TIMEOUT * 0.9 <= waited < TIMEOUT + NOISE, (name, waits)


@pytest.mark.parametrize("lock_timeout", [None, 0.5], ids=["default", "given"])
def test_a_write_waiting_on_another_blocks_row_lock_gives_up_within_lock_timeout(
    postgres_url: str, pg_schema: str, lock_timeout: float | None
) -> None:
    """Another task's open block holds the row: the write gives up, the block goes on.

    By default the call's ``timeout`` ends the wait (the store cancels the statement);
    a ``lock_timeout`` given bounds it on the server, in the waiter's own block.
    """
    options: dict[str, Any] = {"timeout": TIMEOUT}
    if lock_timeout is not None:
        options["lock_timeout"] = lock_timeout
    limit = TIMEOUT if lock_timeout is None else lock_timeout

    async def scenario() -> tuple[BaseException | None, float]:
        async with open_store(postgres_url, schema=pg_schema, **options) as store:
            execution = await store.create_execution(_execution())
            finished = execution.model_copy(update={"status": "success"})
            held = asyncio.Event()
            release = asyncio.Event()

            async def hold() -> None:
                async with store.transaction() as tx:
                    await tx.update_execution(finished)  # row-locks the execution
                    held.set()
                    await release.wait()

            async def wait_in_block() -> None:
                async with store.transaction() as tx:
                    await tx.update_execution(finished)

            holder = asyncio.create_task(hold())
            await held.wait()
            try:
                if lock_timeout is None:
                    outcome = await _timed(store.update_execution(finished))
                else:
                    outcome = await _timed(wait_in_block())
            finally:
                release.set()
                await holder
            # The block committed: the waiting write lost, as it would have anyway.
            assert (await store.get_execution("t", execution.id)).status == "success"
            return outcome

    error, waited = run(scenario())
    assert isinstance(error, UnavailableError), error
    assert limit * 0.9 <= waited < limit + NOISE, waited


def test_lock_timeout_none_or_positive() -> None:
    for bad in (0, -1, "1", True):
        with pytest.raises(InvalidArgumentError, match="lock_timeout"):
            run(open_store("postgresql://u@127.0.0.1:1/db", lock_timeout=bad))


# -- Item 4: schema names, refused before any I/O -------------------------------------------

BAD_SCHEMAS: Final = [
    "a" * 64,  # PostgreSQL would truncate it to 63 bytes
    "é" * 32,  # 32 characters, 64 bytes
    "%s",
    "%(x)s",
    "a%%b",
    'a"b',
    "a b",
    "a;drop",
    "\ud800",
    "pg_catalog",
    "pg_temp",
    "information_schema",
    "Sandbox",  # folded to lower case unquoted: psql would not find it
    "1abc",
    "",
]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("schema", BAD_SCHEMAS, ids=ascii)
def test_schema_names_postgres_would_not_keep_are_refused_at_once(schema: str) -> None:
    # A port nothing listens on: the name must be refused before connecting.
    url = f"postgresql://u:pw-secret@127.0.0.1:{_closed_port()}/db"
    options: tuple[dict[str, Any], ...] = ({"schema": schema}, {})
    for given in options:
        target = url if given else f"{url}?schema={schema}"
        if not given and schema in ("", "%s", "%(x)s", "a%%b"):
            continue  # not what these spell in a query string; the option covers them
        began = time.monotonic()
        with pytest.raises(InvalidArgumentError, match="a-z, 0-9 and _") as caught:
            run(open_store(target, connect_timeout=5.0, **given))
        assert time.monotonic() - began < NOISE
        assert "pw-secret" not in str(caught.value)


def test_two_schemas_differing_after_byte_63_cannot_share_tables(
    postgres_url: str, pg_schema: str
) -> None:
    prefix = (pg_schema + "_" * 63)[:63]

    async def scenario() -> None:
        async with open_store(postgres_url, schema=prefix) as store:
            assert store.schema == prefix  # type: ignore[attr-defined]
            await store.create_key("t", "k", hash_key("longest"))
        for suffix in ("blue", "green"):
            with pytest.raises(InvalidArgumentError, match="63"):
                await open_store(postgres_url, schema=prefix + suffix)

    try:
        run(scenario())
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
                    psycopg.sql.Identifier(prefix)
                )
            )


# -- Opening: connect and migrations --------------------------------------------------------


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


def test_opening_on_a_silent_server_gives_up_within_connect_timeout(silent_port: int) -> None:
    async def scenario() -> tuple[BaseException | None, float]:
        return await _timed(
            open_store(f"postgresql://u:pw-secret@127.0.0.1:{silent_port}/db", connect_timeout=1.0)
        )

    error, waited = run(scenario())
    assert isinstance(error, UnavailableError), error
    assert "pw-secret" not in str(error)
    assert waited < 1.0 + NOISE


def test_opening_behind_a_stuck_migration_gives_up_within_connect_timeout(
    postgres_url: str, pg_schema: str
) -> None:
    """Another process holding the migrations' lock cannot make opening wait forever."""
    with psycopg.connect(postgres_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (pg_schema,))

        async def scenario() -> tuple[BaseException | None, float]:
            return await _timed(open_store(postgres_url, schema=pg_schema, connect_timeout=1.5))

        error, waited = run(scenario())
        assert isinstance(error, UnavailableError), error
        assert "migrating" in str(error)
        assert waited < 1.5 + NOISE
    # Once the lock is released, opening migrates as usual.
    run(_open_and_ping(postgres_url, pg_schema))


async def _open_and_ping(url: str, schema: str) -> None:
    async with open_store(url, schema=schema, connect_timeout=5.0) as store:
        await store.ping()
