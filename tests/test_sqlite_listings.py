"""The listings without a limit on a file database: first rows on the loop, rest on a reader.

A tenant's keys and skills, a session's files and a chain's versions read their first
`listings.HERE_ROWS` rows on the event loop's thread, and any more from the same
statement on a reader thread (`SqliteStore._listing`). What that must keep: one
snapshot for the whole listing, no read transaction left open (even cancelled, or
failed half-way), the loop's connection used by one thread at a time (point reads go
to a reader meanwhile), and closing the store while a reader has it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlite_helpers import assert_no_reader, count_hops

from skillbox_store import File, SkillRecord, StoreError, open_store
from skillbox_store.backends.sqlite import listings
from skillbox_store.backends.sqlite.store import SqliteStore
from skillbox_store.keys import hash_key

LONG = 2 * listings.HERE_ROWS + 88


async def _open(path: Path, **options: Any) -> SqliteStore:
    store = await open_store(f"sqlite:///{path}", **options)
    assert isinstance(store, SqliteStore)
    return store


async def _keys(store: SqliteStore, tenant: str, count: int) -> list[str]:
    """Create ``count`` keys; return their ids newest first (list_keys' order)."""
    ids = [
        (await store.create_key(tenant, f"k{i}", hash_key(f"{tenant}-{i}"))).id
        for i in range(count)
    ]
    return ids[::-1]


async def _listing_on_the_reader(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> asyncio.Task[list[Any]]:
    """Start listing tenant "t"'s keys; return once its reader is busy with the rest,
    which then takes 0.2 s more (the loop's connection is lent meanwhile)."""
    started = threading.Event()
    real = listings.rest_of

    def slow(reader: sqlite3.Connection, cursor: sqlite3.Cursor, listing: Any) -> Any:
        started.set()
        time.sleep(0.2)
        return real(reader, cursor, listing)

    monkeypatch.setattr(listings, "rest_of", slow)
    task = asyncio.create_task(store.list_keys("t"))
    assert await asyncio.to_thread(started.wait, 10)
    return task


def test_a_long_listing_is_read_here_then_on_a_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: dict[str, int] = {}
    first_of, rest_of = listings.first_of, listings.rest_of

    def recording_first(*args: Any) -> Any:
        threads["first"] = threading.get_ident()
        return first_of(*args)

    def recording_rest(*args: Any) -> Any:
        threads["rest"] = threading.get_ident()
        return rest_of(*args)

    async def body() -> None:
        async with await _open(tmp_path / "long.db") as store:
            ids = await _keys(store, "t", LONG)
            monkeypatch.setattr(listings, "first_of", recording_first)
            monkeypatch.setattr(listings, "rest_of", recording_rest)
            hops = count_hops(monkeypatch)
            listed = await store.list_keys("t")
            assert [key.id for key in listed] == ids
            assert listed == await store._read(listings.everything, listings.KEYS, ("t",))
            assert len(hops) == 2  # the rest, then `everything` just above
            assert threads["first"] == threading.get_ident() != threads["rest"]
            assert_no_reader(tmp_path / "long.db")

    asyncio.run(body())


@pytest.mark.parametrize(
    ("rows", "hops"),
    [(1, 0), (listings.HERE_ROWS - 1, 0), (listings.HERE_ROWS, 1), (listings.HERE_ROWS + 1, 1)],
)
def test_a_reader_is_asked_only_when_there_may_be_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int, hops: int
) -> None:
    async def body() -> None:
        async with await _open(tmp_path / "edge.db") as store:
            async with store.transaction() as tx:
                for i in range(rows):
                    await tx.upsert_skill(SkillRecord(tenant_id="t", name=f"s{i:04d}", version="1"))
            counted = count_hops(monkeypatch)
            listed = await store.list_skills("t")
            assert [skill.name for skill in listed] == [f"s{i:04d}" for i in range(rows)]
            assert len(counted) == hops
            # Read to its end either way: no read transaction is left behind.
            assert_no_reader(tmp_path / "edge.db")

    asyncio.run(body())


def test_the_whole_listing_is_one_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A commit between the loop's part and the reader's is seen by neither."""
    path = tmp_path / "snapshot.db"
    real = listings.rest_of
    oldest: list[str] = []

    def commit_first(reader: sqlite3.Connection, cursor: sqlite3.Cursor, listing: Any) -> Any:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            # The oldest key: among the rows the reader has still to read.
            other.execute("DELETE FROM api_keys WHERE id = ?", (oldest[0],))
        finally:
            other.close()
        return real(reader, cursor, listing)

    async def body() -> None:
        async with await _open(path) as store:
            ids = await _keys(store, "t", LONG)
            oldest.append(ids[-1])
            monkeypatch.setattr(listings, "rest_of", commit_first)
            assert [key.id for key in await store.list_keys("t")] == ids
            monkeypatch.setattr(listings, "rest_of", real)
            assert [key.id for key in await store.list_keys("t")] == ids[:-1]

    asyncio.run(body())


def test_point_reads_meanwhile_go_to_a_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> None:
        # Two readers: the point read need not queue behind the listing's rest.
        async with await _open(tmp_path / "meanwhile.db", readers=2) as store:
            ids = await _keys(store, "t", LONG)
            key = await store.create_key("other", "n", hash_key("other"))
            listing = await _listing_on_the_reader(store, monkeypatch)
            assert store._shared.here_lent
            hops = count_hops(monkeypatch)
            assert await store.validate_key(key.key_hash) == key
            assert store._shared.here_lent
            assert len(await store.list_keys("other")) == 1
            assert len(hops) == 2
            assert [k.id for k in await listing] == ids
            assert not store._shared.here_lent

    asyncio.run(body())


def test_a_listing_cancelled_on_the_reader_settles_and_closes_its_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cancelled.db"

    async def body() -> None:
        async with await _open(path) as store:
            ids = await _keys(store, "t", LONG)
            listing = await _listing_on_the_reader(store, monkeypatch)
            listing.cancel()
            with pytest.raises(asyncio.CancelledError):
                await listing
            assert not store._shared.here_lent
            assert_no_reader(path)
            monkeypatch.undo()
            assert [key.id for key in await store.list_keys("t")] == ids

    asyncio.run(body())


def test_closing_the_store_while_a_reader_has_the_loops_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def body() -> None:
        store = await _open(tmp_path / "closing.db")
        ids = await _keys(store, "t", LONG)
        here = store._shared.here
        assert here is not None
        listing = await _listing_on_the_reader(store, monkeypatch)
        await store.close()
        # Closing waited for the reader's unit, which read on the open connection.
        assert [key.id for key in await listing] == ids
        with pytest.raises(sqlite3.ProgrammingError):
            here.execute("SELECT 1")
        with pytest.raises(StoreError):
            await store.list_keys("t")

    asyncio.run(body())


def test_a_row_that_cannot_be_read_ends_the_statement(tmp_path: Path) -> None:
    """A bad row among the loop's rows: a StoreError, and no read transaction kept."""
    path = tmp_path / "bad.db"

    async def body() -> None:
        async with await _open(path) as store:
            ids = await _keys(store, "t", LONG)
            other = sqlite3.connect(path, isolation_level=None)
            try:
                other.execute("PRAGMA ignore_check_constraints = ON")
                other.execute(
                    "UPDATE api_keys SET created_at = 'not a time' WHERE id = ?", (ids[3],)
                )
            finally:
                other.close()
            with pytest.raises(StoreError, match="not a time"):
                await store.list_keys("t")
            assert not store._shared.here_lent
            assert_no_reader(path)

    asyncio.run(body())


@pytest.mark.parametrize(
    "listing",
    [
        lambda store, context: store.list_session_files("t", context["session"]),
        lambda store, context: store.list_file_versions("t", context["file"]),
    ],
    ids=["list_session_files", "list_file_versions"],
)
def test_files_listings_past_the_loops_rows(
    tmp_path: Path, listing: Callable[[SqliteStore, dict[str, str]], Any]
) -> None:
    async def body() -> None:
        async with await _open(tmp_path / "files.db") as store:
            session = await store.get_or_create_session("t", "x")
            first = await store.create_file(
                File(tenant_id="t", name="f", s3_key="k0", session_id=session.id)
            )
            async with store.transaction() as tx:
                for i in range(1, LONG):
                    await tx.create_file_version("t", first.id, size_bytes=i, s3_key=f"k{i}")
            context = {"session": session.id, "file": first.id}
            listed = await listing(store, context)
            assert [f.version for f in listed] == list(range(LONG, 0, -1))

    asyncio.run(body())
