"""Point reads of a file database on the event loop's own thread, and what they promise.

A point read (a record by its key) runs on a reader connection of the loop's thread with
no hop (`SqliteStore._point_read`). It must see every commit made before it was called,
never keep a read transaction open (a checkpoint would wait for it and the WAL grow),
never sleep on the loop when SQLite answers busy (the read goes to a reader thread and
its deadline applies there), and close with the store.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlite_helpers import assert_no_reader, count_hops

from skillbox_store import Execution, StoreError, open_store
from skillbox_store.backends.sqlite import units
from skillbox_store.backends.sqlite.store import SqliteStore
from skillbox_store.keys import hash_key


async def _open(path: Path, **options: Any) -> SqliteStore:
    store = await open_store(f"sqlite:///{path}", **options)
    assert isinstance(store, SqliteStore)
    return store


class _BusyConnection:
    """A connection that answers busy, as SQLite does while another holds the file."""

    def __init__(self, times: int) -> None:
        self.left = times

    def execute(self, *args: Any) -> Any:
        if self.left:
            self.left -= 1
            error = sqlite3.OperationalError("database is locked")
            error.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise error
        raise AssertionError("a busy answer must not be asked again on the loop's thread")

    def close(self) -> None:
        pass


def test_a_point_read_runs_on_the_event_loops_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    real = units.validate_key

    def recording(conn: sqlite3.Connection, key_hash: str) -> Any:
        threads.append(threading.get_ident())
        return real(conn, key_hash)

    async def body() -> None:
        async with await _open(tmp_path / "here.db") as store:
            await store.create_key("t", "n", hash_key("k"))
            monkeypatch.setattr(units, "validate_key", recording)
            assert await store.validate_key(hash_key("k")) is not None
            assert threads == [threading.get_ident()]

    asyncio.run(body())


def test_every_point_read_sees_the_commit_made_just_before_it(tmp_path: Path) -> None:
    async def body() -> None:
        async with await _open(tmp_path / "fresh.db") as store:
            for i in range(200):
                key = await store.create_key("t", "n", hash_key(f"k{i}"))
                assert await store.validate_key(key.key_hash) == key
                execution = await store.create_execution(
                    Execution(tenant_id="t", skill_name="s", skill_version="1")
                )
                assert await store.get_execution("t", execution.id) == execution
                await store.revoke_key("t", key.id)
                assert await store.validate_key(key.key_hash) is None

    asyncio.run(body())


def test_point_reads_leave_no_read_transaction_open(tmp_path: Path) -> None:
    """A checkpoint by another connection finds no reader: the WAL can be emptied."""
    path = tmp_path / "checkpoint.db"

    async def body() -> None:
        async with await _open(path) as store:
            key = await store.create_key("t", "n", hash_key("k"))
            execution = await store.create_execution(
                Execution(tenant_id="t", skill_name="s", skill_version="1")
            )
            for _ in range(3):
                await store.validate_key(key.key_hash)
                await store.get_key_by_hash(key.key_hash)
                await store.get_execution("t", execution.id)
                with pytest.raises(StoreError):
                    await store.get_execution("t", "missing")
            assert_no_reader(path)

    asyncio.run(body())


def test_a_busy_answer_sends_the_read_to_a_reader_thread(tmp_path: Path) -> None:
    async def body() -> None:
        async with await _open(tmp_path / "busy.db") as store:
            key = await store.create_key("t", "n", hash_key("k"))
            real = store._shared.here
            busy = _BusyConnection(times=1)
            store._shared.here = busy  # type: ignore[assignment]
            try:
                assert await store.validate_key(key.key_hash) == key
                assert busy.left == 0
            finally:
                store._shared.here = real

    asyncio.run(body())


def test_a_read_sent_to_a_thread_leaves_the_loop_turning(tmp_path: Path) -> None:
    """Busy on the loop's thread, then slow on the reader's: the loop was never held up."""

    async def body() -> None:
        async with await _open(tmp_path / "slow.db") as store:
            key = await store.create_key("t", "n", hash_key("k"))
            store._shared.here = _BusyConnection(times=1)  # type: ignore[assignment]

            def slow_read(conn: Any, key_hash: str) -> Any:
                if isinstance(conn, _BusyConnection):
                    conn.execute(key_hash)
                time.sleep(0.3)
                return units.validate_key(conn, key_hash)

            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticking = asyncio.create_task(ticker())
            assert await store._point_read(slow_read, key.key_hash) == key
            ticking.cancel()
            # ~30 ticks of 10 ms while the reader's thread slept.
            assert ticks >= 10

    asyncio.run(body())


def test_closing_the_store_closes_the_loops_reader(tmp_path: Path) -> None:
    async def body() -> None:
        store = await _open(tmp_path / "close.db")
        here = store._shared.here
        assert here is not None
        await store.close()
        with pytest.raises(sqlite3.ProgrammingError):
            here.execute("SELECT 1")
        with pytest.raises(StoreError):
            await store.validate_key(hash_key("k"))

    asyncio.run(body())


def test_a_memory_database_has_no_reader_of_the_loop(tmp_path: Path) -> None:
    """One connection for everything: a second would be a different database."""

    async def body() -> None:
        store = await open_store("sqlite:///:memory:")
        assert isinstance(store, SqliteStore)
        async with store:
            assert store._shared.here is None
            key = await store.create_key("t", "n", hash_key("k"))
            assert await store.validate_key(key.key_hash) == key

    asyncio.run(body())


def test_only_pages_by_an_index_in_order_are_read_on_the_loops_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page by `offset` reads all it skips, and a page by session and execution every
    file of the session: those stay on a reader thread (pages hold 100 or 200 at most)."""
    from skillbox_store import File, FileFilter

    async def body() -> None:
        async with await _open(tmp_path / "pages.db") as store:
            execution = await store.create_execution(
                Execution(tenant_id="t", skill_name="s", skill_version="1")
            )
            session = await store.get_or_create_session("t", "x")
            file = await store.create_file(
                File(
                    tenant_id="t",
                    name="f",
                    s3_key="k",
                    session_id=session.id,
                    execution_id=execution.id,
                )
            )
            hops = count_hops(monkeypatch)
            calls = {
                "first page": (store.list_executions("t", limit=100), 0),
                "page after": (store.list_executions("t", limit=20, after=execution.id), 0),
                "files first page": (store.list_files(FileFilter(tenant_id="t", limit=200)), 0),
                "page by offset": (store.list_executions("t", limit=20, offset=1), 1),
                "files by offset": (store.list_files(FileFilter(tenant_id="t", offset=1)), 1),
                "files by both": (
                    store.list_files(
                        FileFilter(tenant_id="t", session_id=session.id, execution_id=execution.id)
                    ),
                    1,
                ),
            }
            for name, (call, expected) in calls.items():
                hops.clear()
                await call
                assert len(hops) == expected, f"{name}: {len(hops)} hops, not {expected}"
            assert [f.id for f in await store.list_files(FileFilter(tenant_id="t"))] == [file.id]

    asyncio.run(body())
