"""SQLite connections: opening them, and running one unit of work per thread hop.

aiosqlite gives each connection a thread and runs each call on it; a hop costs tens
to a couple of hundred µs depending on load, more than a typical statement here (~5-20
µs). So the store never awaits a
statement: it hands the connection's thread one plain function that runs all the
statements of a method (`run`), and pays for one hop per method.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.errors import map_error
from skillbox_store.errors import InvalidArgumentError, StoreError, UnavailableError

__all__ = [
    "MEMORY",
    "connect",
    "in_write_transaction",
    "parse_url",
    "rollback_if_open",
    "run",
]

T = TypeVar("T")

MEMORY = ":memory:"


def parse_url(url: str) -> str:
    """Return the database a ``sqlite:`` URL names: a file path, or `MEMORY`.

    ``sqlite:///relative/path.db`` is relative to the working directory,
    ``sqlite:////abs/path.db`` absolute, ``sqlite:///:memory:`` in memory.

    Raises:
        InvalidArgumentError: the URL is not of one of these forms.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != "sqlite":
        raise InvalidArgumentError(f"not a sqlite:// URL: {url!r}")
    if not rest.startswith("/"):
        raise InvalidArgumentError(
            f"a sqlite URL has no host: write sqlite:///relative.db or sqlite:////abs.db, "
            f"got {url!r}"
        )
    path = rest[1:]
    if not path:
        raise InvalidArgumentError(f"the sqlite URL {url!r} names no database file")
    if "?" in path or "#" in path:
        # SQLite URI parameters would bypass the store's own settings; options are
        # keyword arguments of open_store instead.
        raise InvalidArgumentError(
            f"the sqlite URL {url!r} has a query; pass options as keyword arguments"
        )
    return path


def _queue(
    connection: aiosqlite.Connection, function: Callable[[sqlite3.Connection], T]
) -> Awaitable[T]:
    """Run ``function(sqlite3_connection)`` on the connection's thread.

    The one use of aiosqlite's private API.

    aiosqlite 0.22 queues every call through ``Connection._execute(fn, *args)`` and
    keeps the `sqlite3.Connection` as ``Connection._conn``; its public methods only
    queue single statements, which costs one hop each. `tests/test_sqlite_hop.py`
    fails loudly if a new aiosqlite drops either name.
    """
    result: Awaitable[T] = connection._execute(  # type: ignore[no-untyped-call]
        lambda: function(connection._conn)
    )
    return result


async def run(
    connection: aiosqlite.Connection,
    database: str,
    work: Callable[..., T],
    *args: Any,
) -> T:
    """Return ``work(sqlite3_connection, *args)``, run on the connection's thread.

    A `sqlite3.Error` becomes its `StoreError` on that thread; a closed connection
    is a `StoreError` too. The function is queued before the first suspension, so
    units queued by one task run in the order it queued them.
    """

    def guarded(conn: sqlite3.Connection) -> T:
        try:
            return work(conn, *args)
        except sqlite3.Error as exc:
            raise map_error(exc, database) from exc

    try:
        return await _queue(connection, guarded)
    except StoreError:
        raise
    except ValueError as exc:
        # aiosqlite's "Connection closed" (queued after close) or "no active
        # connection" (the thread found it closed).
        raise StoreError(f"SQLite {database}: the connection is closed") from exc


def in_write_transaction(conn: sqlite3.Connection, work: Callable[..., T], *args: Any) -> T:
    """Run ``work`` in its own ``BEGIN IMMEDIATE`` transaction; roll back if it raises.

    IMMEDIATE takes the write lock before the first read, so what ``work`` reads to
    decide cannot change before it writes, and a busy database waits in BEGIN (up to
    the busy timeout) instead of failing later on an upgrade from a read lock.
    """
    conn.execute(sql.BEGIN_IMMEDIATE)
    try:
        result = work(conn, *args)
        conn.execute(sql.COMMIT)
    except BaseException:
        # Some errors (SQLITE_FULL, SQLITE_IOERR) already rolled back: check first.
        if conn.in_transaction:
            conn.execute(sql.ROLLBACK)
        raise
    return result


def begin_immediate(conn: sqlite3.Connection) -> None:
    """Open the transaction of a `transaction()` block."""
    conn.execute(sql.BEGIN_IMMEDIATE)


def commit(conn: sqlite3.Connection) -> None:
    """Commit the transaction of a `transaction()` block, rolling back if that fails."""
    try:
        conn.execute(sql.COMMIT)
    except BaseException:
        if conn.in_transaction:
            conn.execute(sql.ROLLBACK)
        raise


def rollback_if_open(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite did not already."""
    if conn.in_transaction:
        conn.execute(sql.ROLLBACK)


def savepoint(conn: sqlite3.Connection, name: str) -> None:
    """Open a nested transaction."""
    conn.execute(sql.SAVEPOINT.format(name=name))


def release_savepoint(conn: sqlite3.Connection, name: str) -> None:
    """Keep a nested transaction's changes in the enclosing one."""
    conn.execute(sql.RELEASE_SAVEPOINT.format(name=name))


def rollback_savepoint(conn: sqlite3.Connection, name: str) -> None:
    """Undo a nested transaction's changes, leaving the enclosing one open."""
    conn.execute(sql.ROLLBACK_TO_SAVEPOINT.format(name=name))
    conn.execute(sql.RELEASE_SAVEPOINT.format(name=name))


def _configure(conn: sqlite3.Connection, file: bool, read_only: bool) -> None:
    if file:
        conn.execute(sql.SET_JOURNAL_MODE_WAL).fetchone()
        conn.execute(sql.SET_SYNCHRONOUS_NORMAL)
    conn.execute(sql.SET_FOREIGN_KEYS_ON)
    if read_only:
        conn.execute(sql.SET_QUERY_ONLY)


async def connect(
    database: str, *, busy_timeout: float, read_only: bool = False
) -> aiosqlite.Connection:
    """Open and configure a connection: WAL for files, foreign keys on, busy timeout.

    Autocommit mode (``isolation_level=None``): the store opens its transactions
    itself, so the sqlite3 module never begins or commits one behind its back.

    Raises:
        UnavailableError: the file cannot be opened or is not a SQLite database.
    """
    file = database != MEMORY
    if file:
        _check_path(database)
    try:
        connection = await aiosqlite.connect(database, isolation_level=None, timeout=busy_timeout)
    except sqlite3.Error as exc:
        raise map_error(exc, database) from exc
    try:
        await run(connection, database, _configure, file, read_only)
    except BaseException:
        await connection.close()
        raise
    return connection


def _check_path(database: str) -> None:
    """Refuse a path SQLite cannot open, with a message that says why.

    Checked up front because a failed aiosqlite.connect leaves its worker thread
    reporting to the event loop after the caller may have closed it.
    """
    if Path(database).is_dir():
        raise UnavailableError(f"SQLite {database}: this is a directory, not a database file")
    if not Path(database).parent.is_dir():
        raise UnavailableError(
            f"SQLite {database}: cannot create the database, "
            f"directory {str(Path(database).parent)!r} does not exist"
        )
