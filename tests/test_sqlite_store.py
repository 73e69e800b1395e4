"""SQLite-specific behaviour: URLs, options, bad files, locks, transactions, owned connections."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite
import pytest

from skillbox_store import (
    InvalidArgumentError,
    StoreError,
    UnavailableError,
    open_store,
)
from skillbox_store.backends.sqlite import SqliteStore
from skillbox_store.keys import hash_key
from skillbox_store.migrations import latest_version

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


async def _open(url: str, **options: Any) -> SqliteStore:
    store = await open_store(url, **options)
    assert isinstance(store, SqliteStore)
    return store


# -- URLs, options, files -------------------------------------------------------------------


def test_url_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()

    async def body() -> None:
        for url in (
            "sqlite:///sub/relative.db",
            f"sqlite:///{tmp_path}/absolute.db",
            "sqlite:///:memory:",
        ):
            async with open_store(url) as store:
                await store.create_key("t", "n", hash_key("h"))
                assert await store.schema_version() == latest_version("sqlite")

    run(body())
    assert (tmp_path / "sub" / "relative.db").is_file()
    assert (tmp_path / "absolute.db").is_file()
    assert not (tmp_path / ":memory:").exists()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///", "sqlite://host/x.db", "sqlite:///x.db?mode=ro"]
)
def test_malformed_urls_are_invalid_arguments(url: str) -> None:
    with pytest.raises(InvalidArgumentError):
        run(_open(url))


@pytest.mark.parametrize(
    "options",
    [
        {"pool_size": 3},
        {"busy_timeout": -1},
        {"busy_timeout": 1e12},
        {"busy_timeout": float("nan")},
        {"busy_timeout": "5"},
        {"readers": 0},
        {"readers": True},
    ],
)
def test_unknown_or_bad_options_are_invalid_arguments(options: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgumentError):
        run(_open("sqlite:///:memory:", **options))


def test_a_missing_directory_is_an_invalid_argument_with_the_path(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "x.db"
    with pytest.raises(InvalidArgumentError, match="missing"):
        run(_open(f"sqlite:///{path}"))


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"this is not a database, just text " * 100)
    with pytest.raises(StoreError, match="not a SQLite database") as caught:
        run(_open(f"sqlite:///{path}"))
    assert not isinstance(caught.value, sqlite3.Error)


def test_a_directory_as_the_database_is_an_invalid_argument(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match="directory"):
        run(_open(f"sqlite:///{tmp_path}"))


def test_wal_and_foreign_keys_are_on(tmp_path: Path) -> None:
    async def body() -> tuple[str, int]:
        async with await _open(f"sqlite:///{tmp_path / 'p.db'}") as store:
            async with store.connection.execute("PRAGMA journal_mode") as cursor:
                mode = await cursor.fetchone()
            async with store.connection.execute("PRAGMA foreign_keys") as cursor:
                keys = await cursor.fetchone()
            assert mode is not None
            assert keys is not None
            return mode[0], keys[0]

    assert run(body()) == ("wal", 1)


# -- Locks ----------------------------------------------------------------------------------


def test_a_write_lock_held_elsewhere_is_unavailable_past_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"

    async def body() -> None:
        async with await _open(f"sqlite:///{path}", busy_timeout=0.3) as store:
            await store.create_key("t", "n", hash_key("before"))
            other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            try:
                other.execute("BEGIN IMMEDIATE")
                began = time.monotonic()
                with pytest.raises(UnavailableError, match="locked"):
                    await store.create_key("t", "n", hash_key("during"))
                assert 0.25 <= time.monotonic() - began < 5
                # WAL: readers go on while another connection writes.
                assert await store.validate_key(hash_key("before")) is not None
                other.execute("ROLLBACK")
            finally:
                other.close()
            # Once the lock is gone, the store writes again; nothing half-written stayed.
            await store.create_key("t", "n", hash_key("after"))
            assert await store.validate_key(hash_key("during")) is None

    run(body())


def test_a_lock_released_within_the_timeout_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "wait.db"

    async def body() -> None:
        async with await _open(f"sqlite:///{path}", busy_timeout=5) as store:
            other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            other.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, other.execute, "COMMIT")
            await store.create_key("t", "n", hash_key("h"))
            other.close()

    run(body())


# -- Transactions ---------------------------------------------------------------------------


def test_a_transaction_does_not_block_other_tasks_reads_but_holds_their_writes(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with await _open(f"sqlite:///{tmp_path / 'tx.db'}") as store:
            await store.create_key("t", "n", hash_key("committed"))
            inside = asyncio.Event()
            release = asyncio.Event()
            order: list[str] = []

            async def holder() -> None:
                async with store.transaction() as tx:
                    await tx.create_key("t", "n", hash_key("uncommitted"))
                    inside.set()
                    await release.wait()
                    order.append("commit")

            async def writer() -> None:
                await store.create_key("t", "n", hash_key("later"))
                order.append("write")

            task = asyncio.create_task(holder())
            await inside.wait()
            # Reads of other tasks go on, and do not see the open block's writes.
            assert await store.validate_key(hash_key("committed")) is not None
            assert await store.validate_key(hash_key("uncommitted")) is None
            write = asyncio.create_task(writer())
            await asyncio.sleep(0.05)
            assert order == []
            release.set()
            await asyncio.gather(task, write)
            assert order == ["commit", "write"]
            assert await store.validate_key(hash_key("uncommitted")) is not None

    run(body())


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_a_write_through_the_outer_store_inside_the_block_fails_at_once(
    kind: str, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'same.db'}" if kind == "file" else "sqlite:///:memory:"

    async def body() -> None:
        async with await _open(url, busy_timeout=30) as store:
            async with store.transaction() as tx:
                began = time.monotonic()
                with pytest.raises(StoreError, match="transaction"):
                    await store.create_key("t", "n", hash_key("outer"))
                with pytest.raises(StoreError, match="transaction"):
                    async with store.transaction():
                        pass
                assert time.monotonic() - began < 1
                await tx.create_key("t", "n", hash_key("inner"))
            assert await store.validate_key(hash_key("inner")) is not None

    run(body())


def test_other_tasks_give_up_on_a_long_block_after_the_busy_timeout() -> None:
    async def body() -> None:
        async with await _open("sqlite:///:memory:", busy_timeout=0.2) as store:
            async with store.transaction() as tx:
                await tx.create_key("t", "n", hash_key("h"))
                # On one connection, even reads of other tasks wait for the block.
                with pytest.raises(UnavailableError):
                    await asyncio.create_task(store.validate_key(hash_key("h")))
                with pytest.raises(UnavailableError):
                    await asyncio.create_task(store.create_key("t", "n", hash_key("h2")))
            assert await store.validate_key(hash_key("h")) is not None

    run(body())


def test_nested_blocks_roll_back_alone_and_a_cancelled_block_rolls_back(
    tmp_path: Path,
) -> None:
    async def body() -> None:
        async with await _open(f"sqlite:///{tmp_path / 'nest.db'}") as store:
            async with store.transaction() as tx:
                await tx.create_key("t", "n", hash_key("outer"))
                try:
                    async with tx.transaction() as inner:
                        await inner.create_key("t", "n", hash_key("inner"))
                        raise KeyError("roll back the savepoint")
                except KeyError:
                    pass
                async with tx.transaction() as kept:
                    await kept.create_key("t", "n", hash_key("kept"))
                with pytest.raises(StoreError):
                    await kept.validate_key(hash_key("kept"))
            assert await store.validate_key(hash_key("outer")) is not None
            assert await store.validate_key(hash_key("inner")) is None
            assert await store.validate_key(hash_key("kept")) is not None

            started = asyncio.Event()

            async def cancelled_block() -> None:
                async with store.transaction() as tx:
                    await tx.create_key("t", "n", hash_key("cancelled"))
                    started.set()
                    await asyncio.sleep(60)

            task = asyncio.create_task(cancelled_block())
            await started.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert await store.validate_key(hash_key("cancelled")) is None
            await store.create_key("t", "n", hash_key("after"))  # the writer is free again

    run(body())


# -- Caller's connection, closing -------------------------------------------------------------


@pytest.mark.parametrize("isolation_level", [None, "DEFERRED"])
def test_a_store_on_the_callers_connection_leaves_it_open(
    tmp_path: Path, isolation_level: Literal["DEFERRED"] | None
) -> None:
    """Whatever the connection's isolation level: the store begins and commits itself."""
    path = tmp_path / "owned.db"

    async def body() -> None:
        async with open_store(f"sqlite:///{path}"):
            pass  # migrated by a store that owns its connections
        async with aiosqlite.connect(path, isolation_level=isolation_level) as db:
            await db.execute("PRAGMA foreign_keys = ON")
            store = SqliteStore.from_connection(db)
            assert store.connection is db
            assert await store.schema_version() == latest_version("sqlite")
            key = await store.create_key("t", "n", hash_key("h"))
            async with store.transaction() as tx:
                await tx.revoke_key("t", key.id)
            await store.close()
            await store.close()
            with pytest.raises(StoreError):
                await store.validate_key(hash_key("h"))
            async with db.execute("SELECT revoked_at IS NOT NULL FROM api_keys") as cursor:
                assert await cursor.fetchone() == (1,)

    run(body())


def test_a_store_on_an_unmigrated_connection_is_not_migrated() -> None:
    async def body() -> int:
        async with aiosqlite.connect(":memory:") as db:
            store = SqliteStore.from_connection(db)
            version = await store.schema_version()
            with pytest.raises(StoreError) as caught:
                await store.validate_key(hash_key("h"))
            assert not isinstance(caught.value, sqlite3.Error)
            return version

    assert run(body()) == 0


def test_after_close_every_method_is_a_store_error(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _open(f"sqlite:///{tmp_path / 'closed.db'}", readers=2)
        await store.close()
        await store.close()
        for call in (
            store.ping(),
            store.validate_key(hash_key("h")),
            store.create_key("t", "n", hash_key("h")),
            store.list_skills("t"),
            store.schema_version(),
        ):
            with pytest.raises(StoreError):
                await call
        with pytest.raises(StoreError):
            async with store.transaction():
                pass

    run(body())


# -- Many tasks, many processes ---------------------------------------------------------------


def test_many_concurrent_tasks_on_one_store(tmp_path: Path) -> None:
    async def body() -> None:
        async with await _open(f"sqlite:///{tmp_path / 'tasks.db'}", readers=2) as store:
            sessions = await asyncio.gather(
                *(store.get_or_create_session("t", "same") for _ in range(50))
            )
            assert len({s.id for s in sessions}) == 1
            keys = await asyncio.gather(
                *(store.create_key("t", "n", hash_key(f"h{i}")) for i in range(100)),
                *(store.validate_key(hash_key(f"h{i}")) for i in range(100)),
            )
            assert len(await store.list_keys("t")) == 100
            assert all(k is not None for k in keys[:100])
            outcomes = await asyncio.gather(
                *(store.revoke_key("t", keys[0].id) for _ in range(20)),  # type: ignore[union-attr]
                return_exceptions=True,
            )
            assert sum(not isinstance(o, BaseException) for o in outcomes) == 1

    run(body())


_WRITER_SCRIPT = """
import asyncio, sys
from skillbox_store import hash_key, open_store

async def main():
    async with open_store("sqlite:///" + sys.argv[1], busy_timeout=30) as store:
        first = await store.create_file(
            __import__("skillbox_store").File(tenant_id="t", name="f", s3_key="k")
        ) if sys.argv[3] == "root" else None
        for i in range(40):
            await store.create_key("t", "n", hash_key(sys.argv[2] + "-" + str(i)))
            if sys.argv[3] != "root":
                await store.create_file_version("t", sys.argv[3], size_bytes=i, s3_key="k")
        if first is not None:
            print(first.id)

asyncio.run(main())
"""


@pytest.mark.slow
def test_processes_writing_one_file_at_once(tmp_path: Path) -> None:
    path = tmp_path / "procs.db"
    root = subprocess.run(
        [sys.executable, "-c", _WRITER_SCRIPT, str(path), "root", "root"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER_SCRIPT, str(path), f"p{n}", root],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err

    async def body() -> None:
        async with await _open(f"sqlite:///{path}") as store:
            assert len(await store.list_keys("t")) == 40 * 5
            versions = [f.version for f in await store.list_file_versions("t", root)]
            assert versions == list(range(1 + 4 * 40, 0, -1))

    run(body())
