"""`SqliteProbe`: a SQLite store's ping, schema version and counts, without the records.

What ``skillbox-store status`` reads, and all that it reads. `SqliteStore` imports the
records (SQLModel, SQLAlchemy and pydantic: some 300 ms of the command's start-up,
issue #22) for the methods that return them; a health check needs none of them, so it
reads here instead, on connections opened as `open_sqlite_store` opens them with its
defaults and ``migrate=False``: the writer first (it creates a missing file and sets WAL,
as opening the store does), then, for a file, one read-only reader that does the
reading, as the store's plain reads do. Nothing is migrated or written.

tests/test_sqlite_probe.py checks that the probe answers as the store does, and
tests/test_startup_imports.py that importing this module imports no record.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, TypeVar

import aiosqlite

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.connection import MEMORY, connect, parse_url, run
from skillbox_store.stats import TABLES

__all__ = [
    "BUSY_TIMEOUT",
    "STORE_CLASS",
    "SqliteProbe",
    "open_probe",
    "ping",
    "schema_version",
    "table_counts",
]

T = TypeVar("T")

STORE_CLASS: Final = "skillbox_store.backends.sqlite.store.SqliteStore"
"""The class of the store the probe stands in for, as ``module.qualname``.

A string, since importing the class is what the probe avoids."""

BUSY_TIMEOUT: Final = 5.0
"""`open_sqlite_store`'s default ``busy_timeout``, in seconds: what each read may wait."""


def ping(conn: sqlite3.Connection) -> None:
    """Run the cheapest statement (the store's `ping` and the probe's alike)."""
    conn.execute(sql.SELECT_ONE).fetchone()


def schema_version(conn: sqlite3.Connection) -> int:
    """Return the highest applied migration, 0 when the database was never migrated."""
    if conn.execute(sql.SELECT_MIGRATIONS_TABLE_EXISTS).fetchone() is None:
        return 0
    version: int = conn.execute(sql.SELECT_SCHEMA_VERSION).fetchone()[0]
    return version


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Count every table's rows, across tenants, in one statement."""
    row = conn.execute(sql.SELECT_TABLE_COUNTS).fetchone()
    return dict(zip(TABLES, row, strict=True))


class SqliteProbe:
    """A SQLite database opened for its health: `ping`, `schema_version`, `table_counts`.

    Open it with `open_probe`. Each read is one hop to the reader's thread (the
    writer's, for ``:memory:``) with `BUSY_TIMEOUT` to give up in, and raises what the
    store's method of the same name raises.
    """

    implementation: Final = STORE_CLASS
    """What ``status`` names as the backend's implementation: the store's class."""

    def __init__(
        self, database: str, writer: aiosqlite.Connection, reader: aiosqlite.Connection | None
    ) -> None:
        """Read ``database`` on ``reader``, or on ``writer`` when there is none."""
        self._database = database
        self._connection = writer if reader is None else reader

    async def _read(self, work: Callable[..., T]) -> T:
        deadline = time.monotonic() + BUSY_TIMEOUT
        return await run(self._connection, self._database, work, deadline=deadline)

    async def ping(self) -> None:
        """Run the cheapest statement, as `SqliteStore.ping` does."""
        await self._read(ping)

    async def schema_version(self) -> int:
        """Return the highest applied migration, 0 when the database was never migrated."""
        return await self._read(schema_version)

    async def table_counts(self) -> dict[str, int]:
        """Count the records of every table, across tenants (`StoreStats.table_counts`)."""
        return await self._read(table_counts)


@asynccontextmanager
async def open_probe(url: str) -> AsyncIterator[SqliteProbe]:
    """Open the database of the ``sqlite:`` URL for its health; close it at the end.

    Raises:
        InvalidArgumentError: a malformed URL, or a path that cannot name a database
            file, as `open_sqlite_store` says.
        UnavailableError: the file cannot be opened or is not a SQLite database.
    """
    database = parse_url(url)
    opened = [await connect(database, busy_timeout=BUSY_TIMEOUT)]
    try:
        if database != MEMORY:
            opened.append(await connect(database, busy_timeout=BUSY_TIMEOUT, read_only=True))
        yield SqliteProbe(database, opened[0], opened[1] if len(opened) > 1 else None)
    finally:
        # Shielded, as `SqliteStore.close` is: a connection's thread must not outlive
        # the probe, even when Ctrl-C cancels it; a failure to close has nothing to undo.
        closing: asyncio.Future[list[Any]] = asyncio.gather(
            *(connection.close() for connection in reversed(opened)), return_exceptions=True
        )
        await asyncio.shield(closing)
