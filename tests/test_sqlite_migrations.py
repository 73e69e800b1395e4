"""The SQLite migration runner: fresh, re-run, tampered, newer, concurrent, upgrades."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from skillbox_store import MigrationError, open_store
from skillbox_store.backends.sqlite import migrate as runner
from skillbox_store.backends.sqlite.migrate import migrate, split_statements
from skillbox_store.errors import SchemaOutdatedError
from skillbox_store.keys import hash_key
from skillbox_store.migrations import (
    AppliedMigration,
    Dialect,
    Migration,
    latest_version,
    load_migrations,
    pending_migrations,
)


def _raw(path: Path) -> sqlite3.Connection:
    """A plain connection; close it (``with`` alone only commits, and 3.13 warns)."""
    return sqlite3.connect(path, isolation_level=None)


def _applied(path: Path) -> list[tuple[int, str, str]]:
    with closing(_raw(path)) as conn:
        rows = conn.execute("SELECT version, name, checksum FROM schema_migrations").fetchall()
    conn.close()
    return [tuple(r) for r in rows]


async def _schema_version(path: Path) -> int:
    async with open_store(f"sqlite:///{path}") as store:
        return await store.schema_version()


def test_fresh_database_gets_every_migration_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    assert asyncio.run(_schema_version(path)) == latest_version("sqlite")
    expected = [(m.version, m.name, m.checksum) for m in load_migrations("sqlite")]
    assert _applied(path) == expected
    with closing(_raw(path)) as conn:
        (applied_at,) = conn.execute("SELECT applied_at FROM schema_migrations").fetchone()
    assert applied_at.endswith("Z")
    assert len(applied_at) == len("2026-01-01T00:00:00.000000Z")


def test_rerun_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "again.db"
    asyncio.run(_schema_version(path))
    before = _applied(path)
    conn = _raw(path)
    try:
        assert migrate(conn) == []
    finally:
        conn.close()
    assert asyncio.run(_schema_version(path)) == latest_version("sqlite")
    assert _applied(path) == before


def test_changed_file_is_a_migration_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "tampered.db"
    asyncio.run(_schema_version(path))
    first = load_migrations("sqlite")[0]
    with closing(_raw(path)) as conn:
        conn.execute(
            "UPDATE schema_migrations SET checksum = 'f00d' WHERE version = ?", (first.version,)
        )
    with pytest.raises(MigrationError, match=first.name):
        asyncio.run(_schema_version(path))


def test_newer_database_is_a_migration_error(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    asyncio.run(_schema_version(path))
    with closing(_raw(path)) as conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x', "
            "'2030-01-01T00:00:00.000000Z')"
        )
    with pytest.raises(MigrationError, match="9999"):
        asyncio.run(_schema_version(path))


def test_migrate_false_leaves_a_fresh_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "untouched.db"

    async def body() -> int:
        # Behind the code: refused at open, unless the caller asks to look.
        with pytest.raises(SchemaOutdatedError):
            await open_store(f"sqlite:///{path}", migrate=False)
        async with open_store(f"sqlite:///{path}", migrate=False, check_schema=False) as store:
            return await store.schema_version()

    assert asyncio.run(body()) == 0
    with closing(_raw(path)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


_OPEN_SCRIPT = """
import asyncio, sys
from skillbox_store import open_store

async def main():
    async with open_store("sqlite:///" + sys.argv[1], busy_timeout=30) as store:
        print(await store.schema_version())

asyncio.run(main())
"""


@pytest.mark.slow
def test_processes_opening_a_fresh_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_SCRIPT, str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
        assert out.strip() == str(latest_version("sqlite"))
    expected = [(m.version, m.name, m.checksum) for m in load_migrations("sqlite")]
    assert _applied(path) == expected


def test_data_of_the_first_migration_reads_back_after_the_last(tmp_path: Path) -> None:
    path = tmp_path / "upgrade.db"
    conn = _raw(path)
    try:
        assert migrate(conn, target=1) == [1]
        # Rows written with only the first schema, as a 0.1 release would have.
        conn.execute(
            "INSERT INTO api_keys (tenant_id, id, key_hash, name, created_at) VALUES "
            "('t', '6f1c1b5e-8f6e-4c1e-9d3b-0a4b6c9e2f10', ?, 'old', "
            "'2025-01-02T03:04:05.123456Z')",
            (hash_key("h"),),
        )
        conn.execute(
            "INSERT INTO skills (tenant_id, name, version, uploaded_at, upload_seq) VALUES "
            "('t', 'echo', '1.0', '2025-01-02T03:04:05.000001Z', 1)"
        )
    finally:
        conn.close()

    async def body() -> None:
        async with open_store(f"sqlite:///{path}") as store:
            assert await store.schema_version() == latest_version("sqlite")
            key = await store.get_key_by_hash(hash_key("h"))
            assert key.name == "old"
            assert key.created_at.isoformat() == "2025-01-02T03:04:05.123456+00:00"
            assert await store.resolve_latest_version("t", "echo") == "1.0"
            skill = await store.get_skill("t", "echo", "1.0")
            assert skill.lang == "python"
            assert skill.description == ""

    asyncio.run(body())


def test_a_failing_migration_keeps_nothing_of_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    after = latest_version("sqlite") + 1
    broken = Migration(
        version=after,
        name=f"{after:04d}_broken.sql",
        sql="CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;\n",
        checksum="0" * 64,
        transactional=True,
    )
    monkeypatch.setattr(
        runner,
        "pending_migrations",
        lambda dialect, applied: [*pending_migrations(dialect, applied), broken],
    )
    path = tmp_path / "broken.db"
    conn = _raw(path)
    try:
        with pytest.raises(MigrationError, match=re.escape(f"{after:04d}_broken.sql")):
            migrate(conn)
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert not conn.in_transaction
    finally:
        conn.close()
    assert "half_done" not in tables
    # The good files before it stay applied.
    assert versions == [m.version for m in load_migrations("sqlite")]


def test_split_statements_respects_strings_comments_and_triggers() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c;d';
    END; INSERT INTO t VALUES ('e');
    /* block; comment */
    -- trailing comment
    """
    statements = list(split_statements(script))
    assert len(statements) == 3, statements
    assert statements[0].strip().endswith("DEFAULT 'a;b');")
    assert statements[1].strip().startswith("CREATE TRIGGER")
    assert "END;" in statements[1]
    assert statements[2].strip() == "INSERT INTO t VALUES ('e');"
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
        assert conn.execute("SELECT x FROM t").fetchone() == ("c;d",)
    finally:
        conn.close()  # Python 3.13 warns about a connection left to the collector


def test_a_no_transaction_migration_runs_on_its_own_and_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    after = latest_version("sqlite") + 1
    vacuum = Migration(
        version=after,
        name=f"{after:04d}_vacuum.sql",
        sql="-- skillbox:no-transaction\nVACUUM;\n",
        checksum="1" * 64,
        transactional=False,
    )

    def with_vacuum(dialect: Dialect, applied: list[AppliedMigration]) -> list[Migration]:
        known = [a for a in applied if a.version != vacuum.version]
        done = len(known) != len(applied)
        return [*pending_migrations(dialect, known), *([] if done else [vacuum])]

    monkeypatch.setattr(runner, "pending_migrations", with_vacuum)
    conn = _raw(tmp_path / "vacuum.db")
    try:
        every = [*range(1, after + 1)]
        assert migrate(conn) == every  # VACUUM fails inside a transaction: it ran outside
        assert migrate(conn) == []
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    finally:
        conn.close()
    assert versions == every
