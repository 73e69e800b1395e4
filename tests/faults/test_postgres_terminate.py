"""The connection of an open transaction block killed (``pg_terminate_backend``).

The block raises `UnavailableError`, nothing it wrote is committed, and the pool
replaces the connection: the same store goes on, blocks included, without reopening.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Final, TypeVar

import psycopg
import pytest

from skillbox_store import Store, UnavailableError, hash_key, open_store
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.records import Execution

pytestmark = pytest.mark.postgres

T = TypeVar("T")

SCENARIO_LIMIT: Final = 30.0


def run(coro: Awaitable[T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(SCENARIO_LIMIT):
            return await coro

    return asyncio.run(bounded())


def _execution() -> Execution:
    return Execution(tenant_id="t", skill_name="s", skill_version="1")


def _terminate_block(url: str, schema: str) -> int:
    """End the session whose open block has written to ``schema``'s executions."""
    with psycopg.connect(url, autocommit=True) as admin:
        # The block's transaction holds a lock on the table it wrote to until it ends.
        found = admin.execute(
            "SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
            "AND c.relname = 'executions' AND l.pid <> pg_backend_pid()",
            (schema,),
        ).fetchall()
        assert len(found) == 1, found
        pid: int = found[0][0]
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    return pid


async def _kill(url: str, schema: str) -> None:
    await asyncio.to_thread(_terminate_block, url, schema)


async def _nothing_committed(store: Store) -> None:
    assert await store.list_executions("t") == []
    assert await store.list_keys("t") == []


async def _pool_recovers(store: Store, size: int) -> None:
    """Every connection of the pool works again: ``size`` blocks open at once."""
    assert isinstance(store, PostgresStore)
    barrier = asyncio.Barrier(size)

    async def block(i: int) -> None:
        async with store.transaction() as tx:
            await barrier.wait()  # all `size` connections are held at this point
            await tx.create_key("t", f"after-{i}", hash_key(f"after-{i}"))

    await asyncio.gather(*(block(i) for i in range(size)))
    assert len(await store.list_keys("t")) == size


@pytest.mark.parametrize("next_step", ["write", "read", "commit", "savepoint"])
def test_a_killed_block_raises_unavailable_and_commits_nothing(
    postgres_url: str, pg_schema: str, next_step: str
) -> None:
    size = 2

    async def scenario() -> None:
        async with open_store(
            postgres_url, schema=pg_schema, min_size=size, max_size=size, timeout=5.0
        ) as store:

            async def killed_block() -> None:
                async with store.transaction() as tx:
                    await tx.create_execution(_execution())
                    await tx.create_key("t", "k", hash_key("in-block"))
                    await _kill(postgres_url, pg_schema)
                    if next_step == "write":
                        await tx.create_execution(_execution())
                    elif next_step == "read":
                        await tx.list_executions("t")
                    elif next_step == "savepoint":
                        async with tx.transaction() as inner:
                            await inner.ping()
                    # "commit": the block ends here; its COMMIT meets the dead session.

            with pytest.raises(UnavailableError):
                await killed_block()
            await _nothing_committed(store)
            await _pool_recovers(store, size)

    run(scenario())


def test_a_block_that_swallows_the_error_still_commits_nothing(
    postgres_url: str, pg_schema: str
) -> None:
    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, min_size=1, max_size=1) as store:

            async def killed_block() -> None:
                async with store.transaction() as tx:
                    await tx.create_execution(_execution())
                    await _kill(postgres_url, pg_schema)
                    with pytest.raises(UnavailableError):
                        await tx.create_key("t", "k", hash_key("swallowed"))

            with pytest.raises(UnavailableError):
                await killed_block()
            await _nothing_committed(store)
            await _pool_recovers(store, 1)

    run(scenario())


def test_blocks_of_other_tasks_are_unharmed(postgres_url: str, pg_schema: str) -> None:
    """Killing one block's session leaves a concurrent block on another connection intact."""

    async def scenario() -> dict[str, Any]:
        async with open_store(postgres_url, schema=pg_schema, min_size=2, max_size=2) as store:
            open_other = asyncio.Event()
            killed = asyncio.Event()

            async def other() -> str:
                async with store.transaction() as tx:
                    key = await tx.create_key("u", "k", hash_key("kept"))
                    open_other.set()
                    await killed.wait()
                    return key.id

            task = asyncio.create_task(other())
            await open_other.wait()

            async def killed_block() -> None:
                async with store.transaction() as tx:
                    await tx.create_execution(_execution())
                    # Both blocks are idle in transaction: tell them apart by table.
                    await _kill(postgres_url, pg_schema)
                    killed.set()
                    await tx.ping()

            with pytest.raises(UnavailableError):
                await killed_block()
            kept_id = await task
            await _nothing_committed(store)
            return {"kept": [key.id for key in await store.list_keys("u")], "id": kept_id}

    outcome = run(scenario())
    assert outcome["kept"] == [outcome["id"]]


def _terminate_idle_sessions(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle' "
            "AND datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        ).fetchall()
    return len(ended)


def test_a_block_opened_on_a_killed_idle_connection_begins_on_a_fresh_one(
    postgres_url: str, pg_schema: str
) -> None:
    """BEGIN on a dead pooled connection ran nothing: the block begins again, once."""

    async def scenario() -> None:
        async with open_store(postgres_url, schema=pg_schema, min_size=3, max_size=3) as store:
            await store.ping()
            assert await asyncio.to_thread(_terminate_idle_sessions, postgres_url) >= 3
            async with store.transaction() as tx:
                await tx.create_execution(_execution())
            assert len(await store.list_executions("t")) == 1

    run(scenario())
