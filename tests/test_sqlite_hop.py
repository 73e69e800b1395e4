"""One thread hop per store method, and the aiosqlite internals that this relies on."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlite_helpers import count_hops

from skillbox_store import Execution, File, FileFilter, SkillRecord, open_store
from skillbox_store.backends.sqlite import connection as sqlite_connection
from skillbox_store.backends.sqlite.store import SqliteStore
from skillbox_store.keys import hash_key


def test_aiosqlite_still_has_the_private_api_the_backend_uses() -> None:
    """If this fails, a new aiosqlite changed `Connection._tx`, `_running` or
    `_connection`: adapt `skillbox_store.backends.sqlite.connection._queue` (the only
    place that uses them)."""

    async def body() -> tuple[bool, str]:
        async with aiosqlite.connect(":memory:") as db:
            assert db._running
            assert isinstance(db._connection, sqlite3.Connection)
            thread_of_loop = threading.get_ident()

            def on_thread(conn: sqlite3.Connection) -> tuple[bool, str]:
                assert conn is db._connection
                return (
                    threading.get_ident() != thread_of_loop,
                    conn.execute("SELECT 'ok'").fetchone()[0],
                )

            return await sqlite_connection._queue(db, on_thread)

    assert asyncio.run(body()) == (True, "ok")


Method = Callable[[SqliteStore, dict[str, Any]], Awaitable[object]]

# Every method that reaches the database, with arguments that make it succeed.
_CALLS: list[tuple[str, Method]] = [
    ("create_key", lambda s, c: s.create_key("t", "n", hash_key("hash-2"))),
    ("get_key_by_hash", lambda s, c: s.get_key_by_hash(hash_key("hash-1"))),
    ("validate_key", lambda s, c: s.validate_key(hash_key("hash-1"))),
    ("list_keys", lambda s, c: s.list_keys("t")),
    ("revoke_key", lambda s, c: s.revoke_key("t", c["key"])),
    ("create_execution", lambda s, c: s.create_execution(c["execution"])),
    ("insert_execution", lambda s, c: s.insert_execution(c["execution"])),
    ("get_execution", lambda s, c: s.get_execution("t", c["execution_id"])),
    ("list_executions", lambda s, c: s.list_executions("t")),
    (
        "update_execution",
        lambda s, c: s.update_execution(
            c["execution"].model_copy(update={"id": c["execution_id"], "status": "success"})
        ),
    ),
    ("create_file", lambda s, c: s.create_file(File(tenant_id="t", name="f", s3_key="k"))),
    ("get_file", lambda s, c: s.get_file("t", c["file"])),
    ("update_file", lambda s, c: s.update_file(c["file_record"].model_copy(update={"name": "g"}))),
    ("list_files", lambda s, c: s.list_files(FileFilter(tenant_id="t"))),
    ("list_session_files", lambda s, c: s.list_session_files("t", c["file"])),
    (
        "create_file_version",
        lambda s, c: s.create_file_version("t", c["file"], size_bytes=1, s3_key="k2"),
    ),
    ("list_file_versions", lambda s, c: s.list_file_versions("t", c["file"])),
    ("delete_file", lambda s, c: s.delete_file("t", c["lone_file"])),
    ("get_or_create_session", lambda s, c: s.get_or_create_session("t", "x")),
    ("get_session", lambda s, c: s.get_session("t", c["session"])),
    ("get_session_by_external_id", lambda s, c: s.get_session_by_external_id("t", "x")),
    ("touch_session", lambda s, c: s.touch_session("t", c["session"])),
    (
        "upsert_skill",
        lambda s, c: s.upsert_skill(SkillRecord(tenant_id="t", name="n", version="2")),
    ),
    ("get_skill", lambda s, c: s.get_skill("t", "n", "1")),
    ("list_skills", lambda s, c: s.list_skills("t")),
    ("resolve_latest_version", lambda s, c: s.resolve_latest_version("t", "n")),
    ("delete_skill", lambda s, c: s.delete_skill("t", "n", "1")),
    ("delete_session", lambda s, c: s.delete_session("t", "x")),
    ("ping", lambda s, c: s.ping()),
    ("schema_version", lambda s, c: s.schema_version()),
]


# Read on the event loop's own thread on a file database: no hop at all (a record by its
# key, and a short page of executions or files from the start).
_POINT_READS = frozenset(
    {
        "list_executions",
        "list_files",
        "get_key_by_hash",
        "validate_key",
        "get_execution",
        "get_file",
        "get_session",
        "get_session_by_external_id",
        "get_skill",
        # The unbounded listings: their first 256 rows (all of these) on the loop's too.
        "list_keys",
        "list_skills",
        "list_session_files",
        "list_file_versions",
    }
)


@pytest.mark.parametrize("url", ["file", "sqlite:///:memory:"])
def test_every_method_costs_one_hop(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One hop per method; none for a point read or a short page of a file database."""
    on_file = url == "file"
    if on_file:
        url = f"sqlite:///{tmp_path / 'hops.db'}"

    async def body() -> None:
        store = await open_store(url)
        assert isinstance(store, SqliteStore)
        async with store:
            key = await store.create_key("t", "n", hash_key("hash-1"))
            execution = Execution(skill_name="s", skill_version="1", tenant_id="t")
            stored = await store.create_execution(execution)
            file = await store.create_file(File(tenant_id="t", name="f", s3_key="k"))
            lone = await store.create_file(File(tenant_id="t", name="l", s3_key="k"))
            session = await store.get_or_create_session("t", "x")
            await store.upsert_skill(SkillRecord(tenant_id="t", name="n", version="1"))
            context = {
                "key": key.id,
                "execution": execution,
                "execution_id": stored.id,
                "file": file.id,
                "file_record": file,
                "lone_file": lone.id,
                "session": session.id,
            }
            hops = count_hops(monkeypatch)
            for name, call in _CALLS:
                hops.clear()
                await call(store, context)
                expected = 0 if on_file and name in _POINT_READS else 1
                assert len(hops) == expected, f"{name} took {len(hops)} hops, not {expected}"

    asyncio.run(body())


def test_statements_of_one_method_run_on_the_connection_thread_in_one_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """create_file_version runs several statements; none of them crosses threads."""
    statements: list[str] = []

    async def body() -> None:
        async with open_store(f"sqlite:///{tmp_path / 'trace.db'}") as store:
            assert isinstance(store, SqliteStore)
            file = await store.create_file(File(tenant_id="t", name="f", s3_key="k"))
            await store.connection.set_trace_callback(statements.append)
            await store.create_file_version("t", file.id, size_bytes=1, s3_key="k2")
            await store.connection.set_trace_callback(None)  # type: ignore[arg-type]

    asyncio.run(body())
    # A unit that reached the thread late first cuts the busy timeout to its time left.
    statements = [s for s in statements if not s.startswith("PRAGMA busy_timeout")]
    assert statements[0] == "BEGIN IMMEDIATE"
    assert statements[-1] == "COMMIT"
    assert len(statements) >= 4
