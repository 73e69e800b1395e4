"""`open_sqlite_store`: a ``sqlite:`` URL and options to a migrated `SqliteStore`."""

from __future__ import annotations

import math
import os
import sqlite3
from typing import Any

import aiosqlite

from skillbox_store.backends.sqlite.connection import (
    MEMORY,
    connect,
    connect_here,
    parse_url,
    run,
)
from skillbox_store.backends.sqlite.migrate import migrate as apply_migrations
from skillbox_store.backends.sqlite.store import SqliteStore
from skillbox_store.errors import InvalidArgumentError, UnavailableError

__all__ = ["open_sqlite_store"]

DEFAULT_BUSY_TIMEOUT = 5.0
DEFAULT_READERS = 1
MAX_BUSY_TIMEOUT = 2_000_000


def _busy_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgumentError(f"busy_timeout must be a number of seconds, got {value!r}")
    # SQLite takes the timeout in milliseconds as a C int.
    if not 0 <= value <= MAX_BUSY_TIMEOUT:
        raise InvalidArgumentError(
            f"busy_timeout must be between 0 and {MAX_BUSY_TIMEOUT} seconds, got {value!r}"
        )
    return float(value)


def _readers(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidArgumentError(f"readers must be an integer of at least 1, got {value!r}")
    return value


def _exists(database: str) -> bool:
    try:
        return os.path.lexists(database)
    except ValueError:
        # A NUL in the path: `connect` refuses it with its own message.
        return True


async def open_sqlite_store(
    url: str,
    *,
    migrate: bool = True,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    readers: int = DEFAULT_READERS,
    create: bool = True,
    **unknown: Any,
) -> SqliteStore:
    """Open the SQLite database of ``url`` and migrate it unless ``migrate`` is False.

    The path is taken literally, whatever it holds (``file:``, ``%20``): the store
    opens a ``file:`` URI it builds itself from it.

    Options:
        busy_timeout: seconds a call may wait, all told, before `UnavailableError`: for
            another connection's lock, for another task's transaction block and for
            the calls queued ahead of it on the connection; default 5.
        readers: reader connections of a file database (each has its own thread);
            default 1. Point reads use one more, on the event loop's thread (see
            `SqliteStore`). ``:memory:`` always uses one connection for everything.
        create: False refuses a database file that does not exist instead of
            creating it (`UnavailableError`, nothing left behind): for tools that only
            read a store, such as the command line's ``export`` and ``copy`` source.

    Raises:
        InvalidArgumentError: a malformed URL, an unknown or bad option, or a path that
            cannot name a database file (a NUL or lone surrogate in it, too long, a
            directory, a missing parent directory).
        UnavailableError: the file system refuses to open the file (permissions, a
            read-only location), or it is not a SQLite database, or (``create=False``)
            it does not exist.
        MigrationError: the schema cannot be brought to this version.
    """
    if unknown:
        raise InvalidArgumentError(
            f"unknown option(s) for sqlite://: {', '.join(sorted(unknown))}; "
            "known: busy_timeout, readers, create"
        )
    database = parse_url(url)
    timeout = _busy_timeout(busy_timeout)
    reader_count = _readers(readers)
    if not create and database != MEMORY and not _exists(database):
        # SQLite would create an empty file, and a reader would then report an
        # unmigrated schema of a database that was never there.
        raise UnavailableError(
            f"SQLite {database}: the database file does not exist (nothing was created)"
        )
    writer = await connect(database, busy_timeout=timeout)
    opened: list[aiosqlite.Connection] = []
    here: sqlite3.Connection | None = None
    try:
        if migrate:
            await run(writer, database, apply_migrations)
        if database != MEMORY:
            for _ in range(reader_count):
                opened.append(await connect(database, busy_timeout=timeout, read_only=True))
            here = await connect_here(database)
    except BaseException:
        for connection in [*opened, writer]:
            await connection.close()
        raise
    return SqliteStore(
        database, writer, opened, owns_connections=True, busy_timeout=timeout, here=here
    )
