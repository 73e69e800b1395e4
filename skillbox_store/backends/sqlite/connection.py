"""SQLite connections: opening them, and running one unit of work per thread hop.

aiosqlite gives each connection a thread and runs each call on it; a hop costs tens
to a couple of hundred µs depending on load, more than a typical statement here (~5-20
µs). So the store never awaits a
statement: it hands the connection's thread one plain function that runs all the
statements of a method (`run`), and pays for one hop per method.

Point reads of a file database pay no hop at all: the event loop's thread reads on a
connection of its own (`connect_here`, `read_here`). In WAL mode a read never waits for
a writer, and a point read by an index costs a few µs, less than the hop would; with its
busy timeout at zero such a connection never sleeps on the loop, and hands the read to
a reader thread when SQLite answers busy (a checkpoint or recovery holding the file).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar
from urllib.parse import quote

import aiosqlite

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.errors import map_error
from skillbox_store.errors import InvalidArgumentError, StoreError, UnavailableError

__all__ = [
    "MEMORY",
    "Busy",
    "BusyTimeoutConnection",
    "check_path",
    "connect",
    "connect_here",
    "file_uri",
    "in_write_transaction",
    "parse_url",
    "read_here",
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


class _Closed(Exception):
    """The aiosqlite connection was closed before the unit could run."""


def _queue(
    connection: aiosqlite.Connection, function: Callable[[sqlite3.Connection], T]
) -> asyncio.Future[T]:
    """Queue ``function(sqlite3_connection)`` on the connection's thread; return its future.

    The one use of aiosqlite's private API. aiosqlite 0.22 runs every call by putting
    ``(future, function)`` on ``Connection._tx``, the queue its thread serves in order,
    and keeps the `sqlite3.Connection` as ``Connection._connection`` (None once closed);
    its public methods only queue single statements, which costs one hop each. The
    future is ours rather than ``_execute``'s so that a caller past its deadline can
    stop waiting without cancelling it (see `run`). `tests/test_sqlite_hop.py` fails
    loudly if a new aiosqlite drops any of these names.

    Raises:
        _Closed: the connection is closed (its thread may already be gone).
    """
    if not connection._running or connection._connection is None:
        raise _Closed

    def on_thread() -> T:
        conn = connection._connection
        if conn is None:
            raise _Closed
        return function(conn)

    future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    connection._tx.put_nowait((future, on_thread))
    return future


# How far the connection's busy timeout may drift from a unit's remaining time before it
# is set again: a PRAGMA per unit would cost more than the sub-millisecond precision is
# worth (SQLite's busy handler sleeps in steps of up to 100 ms anyway).
_BUSY_SLACK_MS = 10

# How long after its deadline a unit that no thread has started is given up by the
# event loop. The thread itself gives up at the deadline (`_limit_busy_wait`); this only
# catches a thread held by work that waits for no lock (a long unit ahead in the queue).
_QUEUE_GRACE = 0.05


class BusyTimeoutConnection(sqlite3.Connection):
    """A `sqlite3.Connection` that remembers the busy timeout last set on it."""

    busy_ms: int | None = None


def _limit_busy_wait(conn: sqlite3.Connection, seconds: float) -> None:
    """Make SQLite's busy handler give up after ``seconds`` (at once when <= 0)."""
    wanted = max(0, int(seconds * 1000))
    current = conn.busy_ms if isinstance(conn, BusyTimeoutConnection) else None
    if current is not None and abs(current - wanted) <= _BUSY_SLACK_MS:
        return
    # An int formatted by us: no input reaches this statement.
    conn.execute(sql.SET_BUSY_TIMEOUT.format(milliseconds=wanted))
    if isinstance(conn, BusyTimeoutConnection):
        conn.busy_ms = wanted


def _give_up(future: asyncio.Future[Any], claim: threading.Lock, database: str) -> None:
    """Fail a unit still queued at its deadline; one the thread started is waited for."""
    if claim.acquire(blocking=False) and not future.done():
        future.set_exception(
            UnavailableError(
                f"SQLite {database}: the connection stayed busy with other calls past busy_timeout"
            )
        )


async def _settled(future: asyncio.Future[T]) -> T:
    """Await a queued unit; if the caller is cancelled, first wait until the unit is over.

    The thread runs a unit whether anyone still waits for it or not, and a write may
    commit there after its caller was cancelled: a read on another connection, or the
    caller's next step, would see the store change later under it. So a cancelled
    call passes its cancellation on once its unit has run, failed or been dropped at its
    deadline: then it has taken effect or never will.
    """
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(Exception, asyncio.CancelledError):
                # Cancelled again, or the unit failed: either way it is over or not yet.
                await asyncio.shield(future)
        if not future.cancelled():
            future.exception()  # retrieved: its outcome is not the caller's to see now
        raise


# Raised by a unit as they are: a StoreError is already the caller's, and a Warning is an
# exception only where warnings are made errors (the test suite's filterwarnings): it
# must fail the test, not pass for a StoreError.
_PASSED_ON: Final = (StoreError, Warning)


def _store_error(exc: Exception, database: str) -> StoreError:
    """Return the `StoreError` a unit's exception (not one of `_PASSED_ON`) is raised as."""
    if isinstance(exc, sqlite3.Error):
        return map_error(exc, database)
    # A fault of the unit itself (a value the driver cannot bind, a row it cannot
    # read): say what it was, the connection is still fine.
    return StoreError(f"SQLite {database}: {type(exc).__name__}: {exc}")


class Busy(Exception):
    """SQLite answered busy to a read on the event loop's thread: read on a thread instead."""


def read_here(conn: sqlite3.Connection, database: str, work: Callable[..., T], *args: Any) -> T:
    """Return ``work(conn, *args)``, run on the calling thread, for a read that never waits.

    ``conn`` is the connection `connect_here` opened: its busy timeout is zero, so SQLite
    answers busy at once where it would otherwise sleep. Errors are those of `run`.

    Raises:
        Busy: SQLite answered busy; nothing was read.
    """
    try:
        return work(conn, *args)
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
            raise Busy from exc
        raise map_error(exc, database) from exc
    except _PASSED_ON:
        raise
    except Exception as exc:
        raise _store_error(exc, database) from exc


async def run(
    connection: aiosqlite.Connection,
    database: str,
    work: Callable[..., T],
    *args: Any,
    deadline: float | None = None,
) -> T:
    """Return ``work(sqlite3_connection, *args)``, run on the connection's thread.

    A `sqlite3.Error` becomes its `StoreError` on that thread, and any other exception
    of ``work`` a `StoreError` that says what it was; a closed connection is a
    `StoreError` too. The function is queued before the first suspension, so units
    queued by one task run in the order it queued them.

    ``deadline`` (a `time.monotonic` time) bounds the whole call: the queue wait and
    SQLite's busy handler together. The thread starts the unit with the busy timeout
    cut to what is left, so of k calls queued behind a lock held elsewhere each gives
    up at its own deadline, not after k busy timeouts; a unit still queued at its
    deadline is dropped and never runs. Either way: `UnavailableError`. A cancelled call
    raises its cancellation once its unit is over (`_settled`), never while it may still
    commit.
    """

    def guarded(conn: sqlite3.Connection) -> T:
        try:
            if deadline is not None:
                _limit_busy_wait(conn, deadline - time.monotonic())
            return work(conn, *args)
        except _PASSED_ON:
            raise
        except Exception as exc:
            raise _store_error(exc, database) from exc

    try:
        if deadline is None:
            return await _settled(_queue(connection, guarded))
        # Whoever takes the claim first decides: the thread runs the unit, or the event
        # loop drops it at the deadline. Never both, so a dropped write never happens.
        claim = threading.Lock()

        def within_deadline(conn: sqlite3.Connection) -> T:
            if not claim.acquire(blocking=False):
                raise _Dropped
            return guarded(conn)

        future = _queue(connection, within_deadline)
        timer = asyncio.get_running_loop().call_later(
            max(0.0, deadline - time.monotonic()) + _QUEUE_GRACE,
            _give_up,
            future,
            claim,
            database,
        )
        try:
            return await _settled(future)
        finally:
            timer.cancel()
    except _Closed:
        raise StoreError(f"SQLite {database}: the connection is closed") from None


class _Dropped(Exception):
    """A unit reached the thread after the event loop gave up on it; nobody waits for it."""


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


def _configure(conn: sqlite3.Connection, file: bool, read_only: bool, busy_ms: int) -> None:
    if isinstance(conn, BusyTimeoutConnection):
        # sqlite3.connect(timeout=…) set it; `_limit_busy_wait` changes it per unit.
        conn.busy_ms = busy_ms
    if file:
        _switch_to_wal(conn, busy_ms)
        conn.execute(sql.SET_SYNCHRONOUS_NORMAL)
    conn.execute(sql.SET_FOREIGN_KEYS_ON)
    if read_only:
        conn.execute(sql.SET_QUERY_ONLY)


def _switch_to_wal(conn: sqlite3.Connection, busy_ms: int) -> None:
    """Put the file in WAL mode, waiting for other processes within the busy timeout.

    Switching a new file's journal mode takes its exclusive lock, and SQLite may answer
    SQLITE_BUSY at once, without its busy handler, while another process opening the
    same fresh file holds a lock (seen with six processes opening one file on a loaded
    machine): the switch is tried again until the timeout, as a wait would have been.
    """
    deadline = time.monotonic() + busy_ms / 1000
    while True:
        try:
            conn.execute(sql.SET_JOURNAL_MODE_WAL).fetchone()
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def file_uri(database: str) -> str:
    """Return the ``file:`` URI that opens exactly the file at path ``database``.

    A path handed to SQLite as it is would be read as a URI when it starts with
    ``file:`` (``file::memory:`` opening a private memory database per connection,
    ``%20`` decoded): the store always opens a URI it built itself, from the absolute
    path with every byte outside ``[A-Za-z0-9/_.~-]`` percent-encoded.
    """
    absolute = os.path.abspath(database)
    # "file://" + an empty authority: the path's own leading "//" can never be read
    # as a host name.
    return "file://" + quote(absolute.encode("utf-8"), safe="/")


async def connect(
    database: str, *, busy_timeout: float, read_only: bool = False
) -> aiosqlite.Connection:
    """Open and configure a connection: WAL for files, foreign keys on, busy timeout.

    Autocommit mode (``isolation_level=None``): the store opens its transactions
    itself, so the sqlite3 module never begins or commits one behind its back. A file
    path is taken literally (see `file_uri`).

    Raises:
        InvalidArgumentError: the path cannot name a database file (see `check_path`).
        UnavailableError: the file cannot be opened or is not a SQLite database.
    """
    file = database != MEMORY
    if file:
        check_path(database)
    pending = aiosqlite.connect(
        file_uri(database) if file else database,
        uri=file,
        isolation_level=None,
        timeout=busy_timeout,
        factory=BusyTimeoutConnection,
    )
    try:
        connection = await pending
    except sqlite3.Error as exc:
        await _thread_stopped(pending)
        raise map_error(exc, database) from exc
    try:
        await run(connection, database, _configure, file, read_only, int(busy_timeout * 1000))
    except BaseException:
        await connection.close()
        raise
    return connection


async def connect_here(database: str) -> sqlite3.Connection:
    """Open the read-only connection the event loop's thread reads a file database on.

    Its busy timeout is zero: a read on the loop's thread must never sleep in SQLite's
    busy handler (`read_here` hands such a read to a reader thread instead). Opened on a
    worker thread, since opening touches the file system; used only by the loop's thread
    afterwards, one call at a time.

    Raises:
        UnavailableError: the file cannot be opened or is not a SQLite database.
    """

    def opening() -> sqlite3.Connection:
        conn = sqlite3.connect(
            file_uri(database),
            uri=True,
            isolation_level=None,
            timeout=0,
            check_same_thread=False,
        )
        try:
            conn.execute(sql.SET_QUERY_ONLY)
        except BaseException:
            conn.close()
            raise
        return conn

    try:
        return await asyncio.to_thread(opening)
    except sqlite3.Error as exc:
        raise map_error(exc, database) from exc


async def _thread_stopped(pending: aiosqlite.Connection) -> None:
    """Wait for the thread of a connection that failed to open to end.

    aiosqlite stops it without waiting; left running, it reports to the event loop
    after the caller may have closed it ("Event loop is closed" in a thread).
    """
    await asyncio.to_thread(pending._thread.join)


def check_path(database: str) -> None:
    """Refuse a path that cannot name a database file, with a message that says why.

    Checked up front so that the caller's mistakes are `InvalidArgumentError` naming
    the problem, rather than SQLite's "unable to open database file" or a builtin
    exception of the file system calls (a NUL, a lone surrogate, a path too long).

    Raises:
        InvalidArgumentError: a NUL or a lone surrogate in the path, a path too long
            for the file system, a directory, or a missing parent directory.
        UnavailableError: the file system refuses to look at the path.
    """
    if "\x00" in database:
        raise InvalidArgumentError("the SQLite path holds a NUL character")
    try:
        database.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"the SQLite path {database!r} is not valid Unicode text (a lone surrogate)"
        ) from None
    if _kind(database) == "directory":
        raise InvalidArgumentError(f"SQLite {database}: this is a directory, not a database file")
    parent = os.path.dirname(os.path.abspath(database))
    if _kind(parent) != "directory":
        raise InvalidArgumentError(
            f"SQLite {database}: cannot create the database, directory {parent!r} does not exist"
        )


def _kind(path: str) -> str:
    """Return "directory", "other" or "missing" for ``path``.

    Raises:
        InvalidArgumentError: the path is too long for the file system.
        UnavailableError: the file system refuses to look (permissions, I/O).
    """
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return "missing"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise InvalidArgumentError(
                f"the SQLite path ({len(path)} characters) is too long for the file system"
            ) from None
        raise UnavailableError(
            f"SQLite {path}: the file system refuses access: {exc.strerror}"
        ) from exc
    return "directory" if stat.S_ISDIR(mode) else "other"
