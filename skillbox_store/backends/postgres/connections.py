"""How a `PostgresStore` reaches the database: a pooled connection, or its block's.

Every statement goes through `Connections.query`, the one place that picks the
connection, confines a failed write inside a transaction block to a savepoint, runs a
read (or a block's BEGIN) again after a server restart, and turns driver errors into
store errors. Each call has one deadline, the pool's ``timeout`` from its start: the
wait for a connection, the pool's check after a dead connection, the statement itself
(a row-lock wait, a commit waiting for a synchronous standby) and the second attempt
all come out of it, so no call outlives ``timeout``. At the deadline the server is asked
to cancel the statement, and the call gives up whether or not it answers
(`Deadlines`); a write cut off that way may still have committed, and its error
says so.

Nothing is ever set on a server connection for longer than one transaction: behind a
transaction-pooling proxy the next transaction on it is another client's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, Final, Literal, cast

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from skillbox_store.backends.postgres.deadline import Deadlines
from skillbox_store.backends.postgres.errors import (
    is_dead_connection,
    is_missing_table,
    is_session_terminated,
    translate,
)
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.postgres.tenancy import Declared, declared_params
from skillbox_store.errors import (
    OUTER_STORE_IN_TRANSACTION,
    NotFoundError,
    SchemaOutdatedError,
    StoreError,
    UnavailableError,
)
from skillbox_store.migrations import latest_version
from skillbox_store.retries import retried

__all__ = ["Connections", "Fetch", "Pool", "Row", "Shared", "timed_out"]

Row = tuple[Any, ...]
Pool = AsyncConnectionPool[AsyncConnection[Row]]
Fetch = Literal["one", "all", "count"]
"""What a statement's result is wanted as: a row, every row, or the row count."""

_DRIVER_ERRORS: Final = (psycopg.Error, PoolTimeout, TooManyRequests)
_IDLE: Final = psycopg.pq.TransactionStatus.IDLE
# A connection cut off mid-statement (by the deadline) or broken: ending its
# transaction would wait on the server again; the pool closes it instead.
_UNUSABLE: Final = frozenset(
    {psycopg.pq.TransactionStatus.ACTIVE, psycopg.pq.TransactionStatus.UNKNOWN}
)
_MAY_HAVE_COMMITTED: Final = (
    "; the write may have been applied before the connection was cut off (a create "
    "given the same id again returns the record if it was)"
)


def timed_out(timeout: float, *, write: bool) -> UnavailableError:
    """Return the error of a call that reached its deadline."""
    message = f"PostgreSQL did not complete the call within timeout ({timeout:g} s)"
    return UnavailableError(message + (_MAY_HAVE_COMMITTED if write else ""))


def _committed(conn: AsyncConnection[Row]) -> None:
    """Raise `UnavailableError` if a block ended without error on a dead connection.

    psycopg ends a transaction on a broken connection silently, without COMMIT: a
    block whose failed call was caught inside it would otherwise seem committed.
    """
    if conn.closed:
        raise UnavailableError(
            "PostgreSQL is unavailable: the transaction's connection was lost; "
            "nothing of the block was committed"
        )


def _check_committed(
    conn: AsyncConnection[Row],
    exc_type: type[BaseException] | None,
    exc: BaseException | None,
    tb: TracebackType | None,
) -> bool:
    if exc_type is None:
        _committed(conn)
    return False


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass(slots=True)
class Shared:
    """What every view of one store shares."""

    pool: Pool
    sql: Statements
    owns_pool: bool
    # Only to scrub messages; never in a repr (loggers and error trackers print reprs).
    password: str | None = field(repr=False)
    closed: bool = False
    # Tasks inside a transaction() block of this store: their writes (and blocks)
    # through the outer store would run in a second transaction that can wait forever
    # on the block's own row locks, so they are refused, as on the other backends.
    block_tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    # The pool check after a dead connection, shared by every call that met one: a
    # restart kills all idle connections at once, and one check replaces them all.
    checking: asyncio.Task[None] | None = None
    # False for a caller's pool, which nobody migrated or checked: the first call
    # checks the schema version instead (no I/O in a constructor).
    schema_checked: bool = False
    # Whether the connections prepare statements: a statement mix-up is then named as
    # a pooler in the way (see errors.PREPARED_BEHIND_POOLER).
    prepared: bool = False
    # lock_timeout of each transaction() block, as set_config takes it ("500ms").
    lock_timeout: str | None = None
    # Row-level security: each statement to the query that declares its tenant (or
    # key hash, or the operators' scope) with it; None when the store declares nothing.
    declared: Declared | None = None
    # Every call's deadline, the pool's timeout from its start (deadline.py).
    deadlines: Deadlines = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.deadlines = Deadlines(self.pool.timeout)


@dataclass(slots=True)
class _Scope:
    """An open transaction block (or savepoint) and the connection it holds."""

    conn: AsyncConnection[Row]
    active: bool = True


async def _give_back(pool: Pool, conn: AsyncConnection[Row], exc: BaseException | None) -> None:
    """Return a connection taken with ``getconn``, as leaving ``pool.connection()`` would.

    The pool's own context manager is a generator that also enters the connection's
    context (a lock and an empty COMMIT on an autocommit connection) and keeps usage
    statistics: about 5 µs of CPU a call, a twentieth of what a whole call costs the
    client, which under many concurrent tasks is what bounds throughput. A connection
    left inside a transaction (a pool the caller made without autocommit) is ended as
    the connection's context would: COMMIT, or ROLLBACK after an error.
    """
    try:
        status = conn.pgconn.transaction_status
        if status != _IDLE and status not in _UNUSABLE:
            if exc is None:
                await conn.__aexit__(None, None, None)
            else:
                await conn.__aexit__(type(exc), exc, exc.__traceback__)
    finally:
        await pool.putconn(conn)


def _declaring_cursor(conn: AsyncConnection[Row]) -> AsyncClientCursor[Row]:
    """A cursor that binds on the client, as a statement sent with its declaration needs.

    The pools the store opens lend AsyncClientCursors (open.py); a caller's pool may
    not. Through the connection's factory where it can, so that
    opentelemetry-instrumentation-psycopg (which wraps the factory) sees them.
    """
    if issubclass(conn.cursor_factory, AsyncClientCursor):
        return cast("AsyncClientCursor[Row]", conn.cursor())
    return AsyncClientCursor(conn)


class Connections:
    """The pool of a store, or one transaction block's connection on it."""

    __slots__ = ("_scope", "shared")

    def __init__(self, shared: Shared, scope: _Scope | None = None) -> None:
        """Reach the database through ``shared``'s pool, or ``scope``'s connection."""
        self.shared = shared
        self._scope = scope

    @property
    def sql(self) -> Statements:
        """The store's statements, qualified with its schema."""
        return self.shared.sql

    def check_usable(self) -> None:
        """Raise `StoreError` once the store is closed or the block has ended."""
        if self.shared.closed:
            raise StoreError("the store is closed")
        if self._scope is not None and not self._scope.active:
            raise StoreError("the transaction has ended; use the store it was opened on")

    def error(
        self,
        exc: BaseException,
        referenced: type[StoreError] = NotFoundError,
        *,
        write: bool = False,
    ) -> StoreError:
        """Return the store error for a driver error, its password scrubbed.

        A write whose connection failed under it may have been applied: its
        `UnavailableError` says so.
        """
        error = translate(
            exc,
            password=self.shared.password,
            referenced=referenced,
            prepared=self.shared.prepared,
        )
        if (
            write
            and type(error) is UnavailableError
            and isinstance(exc, psycopg.Error)
            and is_dead_connection(exc)
            and not is_session_terminated(exc)
        ):
            return UnavailableError(str(error) + _MAY_HAVE_COMMITTED)
        return error

    def _refuse_write_beside_block(self) -> None:
        if asyncio.current_task() in self.shared.block_tasks:
            raise StoreError(OUTER_STORE_IN_TRANSACTION)

    def _refuse_block_beside_block(self) -> None:
        if asyncio.current_task() in self.shared.block_tasks:
            raise StoreError(OUTER_STORE_IN_TRANSACTION)

    async def _check_pool(self, deadline: float) -> None:
        """Drop the pool's dead connections, waiting for that at most until ``deadline``.

        The check runs in its own task, shielded: cancelling `AsyncConnectionPool.check`
        midway would lose the connections it had taken out of the pool.
        """
        shared = self.shared
        if shared.checking is None or shared.checking.done():
            shared.checking = asyncio.ensure_future(shared.pool.check())
            # Its callers may all have given up: retrieve its outcome regardless.
            shared.checking.add_done_callback(_retrieve)
        checking = shared.checking
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await asyncio.shield(checking)
        except TimeoutError:
            raise PoolTimeout(
                "checking the pool's connections took longer than its timeout"
            ) from None

    @staticmethod
    async def _send(conn: AsyncConnection[Row], query: bytes, params: Any, fetch: Fetch) -> Any:
        cursor = await conn.execute(query, params)
        if fetch == "one":
            return await cursor.fetchone()
        if fetch == "all":
            return await cursor.fetchall()
        return cursor.rowcount

    @staticmethod
    async def _send_declared(
        conn: AsyncConnection[Row], query: bytes, params: Any, fetch: Fetch
    ) -> Any:
        """Send a statement with its declaration: two statements in one query.

        One query of the simple protocol, so one round trip and one implicit
        transaction, to which the declaration is local; psycopg binds the parameters
        on the client (`AsyncClientCursor`), quoting each as a literal. The first
        result is the declaration's.
        """
        cursor = _declaring_cursor(conn)
        await cursor.execute(query, params, prepare=False)
        cursor.nextset()
        if fetch == "one":
            return await cursor.fetchone()
        if fetch == "all":
            return await cursor.fetchall()
        return cursor.rowcount

    async def query(
        self,
        query: bytes,
        params: Sequence[Any] | dict[str, Any],
        fetch: Fetch,
        *,
        write: bool,
        referenced: type[StoreError] = NotFoundError,
    ) -> Any:
        """Run one statement: on the block's connection, else on a pooled one.

        The call ends by the pool's ``timeout`` from now, whatever it waits for.
        """
        self.check_usable()
        if not self.shared.schema_checked and query not in self._schema_free():
            await self._check_schema()
        scope = self._scope
        if write and scope is None and self.shared.block_tasks:
            self._refuse_write_beside_block()
        pool = self.shared.pool
        conn: AsyncConnection[Row] | None = None
        try:
            with self.shared.deadlines.start() as bound:
                declared = self.shared.declared
                found = None if declared is None else declared.get(query)
                if found is not None:
                    query, declaration = found
                    params = declared_params(declaration, params)
                    send = self._send_declared
                else:
                    send = self._send
                if scope is not None:
                    if not write:
                        return await send(scope.conn, query, params, fetch)
                    # A failed statement aborts the whole block; the savepoint confines it.
                    async with scope.conn.transaction():
                        return await send(scope.conn, query, params, fetch)
                result: Any
                try:
                    # `_send` and `_send_declared`, written out: every coroutine frame
                    # between the caller and psycopg is resumed at each wait for the
                    # server, and these are the paths of nearly every call.
                    if found is not None:
                        conn = await pool.getconn(bound.left())
                        try:
                            declaring = _declaring_cursor(conn)
                            await declaring.execute(query, params, prepare=False)
                            declaring.nextset()
                            if fetch == "one":
                                result = await declaring.fetchone()
                            elif fetch == "all":
                                result = await declaring.fetchall()
                            else:
                                result = declaring.rowcount
                        except BaseException as exc:
                            await _give_back(pool, conn, exc)
                            raise
                        await _give_back(pool, conn, None)
                        return result
                    conn = await pool.getconn(bound.left())
                    try:
                        cursor = await conn.execute(query, params)
                        if fetch == "one":
                            result = await cursor.fetchone()
                        elif fetch == "all":
                            result = await cursor.fetchall()
                        else:
                            result = cursor.rowcount
                    except BaseException as exc:
                        await _give_back(pool, conn, exc)
                        raise
                    await _give_back(pool, conn, None)
                    return result
                except (PoolTimeout, TooManyRequests):
                    # Both are OperationalErrors without a SQLSTATE, like a dead
                    # connection; waiting again would double the caller's timeout.
                    raise
                except psycopg.Error as exc:
                    if not is_dead_connection(exc) or (write and not is_session_terminated(exc)):
                        raise
                # The connection had died (server restart, failover): drop the pool's
                # other dead ones and run once more on a fresh connection, within what
                # is left of the call's timeout.
                retried()
                await self._check_pool(bound.polite_at)
                left = bound.left()
                if left <= 0:
                    raise PoolTimeout("no live connection before the pool's timeout")
                async with pool.connection(timeout=left) as conn:
                    return await send(conn, query, params, fetch)
        except TimeoutError:
            timeout = pool.timeout
            if scope is None and conn is None:
                # Nothing was sent: the wait was for the pool, as for a PoolTimeout.
                raise self.error(PoolTimeout(f"no connection within {timeout:g} s")) from None
            raise timed_out(timeout, write=write) from None
        except _DRIVER_ERRORS as exc:
            raise self.error(exc, referenced, write=write) from exc

    def _schema_free(self) -> tuple[bytes, ...]:
        """The statements that work on any schema, even none: no version check first."""
        return (self.sql.SELECT_ONE, self.sql.SELECT_SCHEMA_VERSION)

    async def _check_schema(self) -> None:
        """Refuse a caller's pool whose schema is behind this code; once it passed, never again."""
        try:
            # Inside a block, as a write: its savepoint confines a missing table.
            row = await self.one(self.sql.SELECT_SCHEMA_VERSION, (), write=self._scope is not None)
        except StoreError as exc:
            if not is_missing_table(exc.__cause__):
                raise
            row = None
        found = 0 if row is None else int(row[0])
        needed = latest_version()
        if found < needed:
            raise SchemaOutdatedError(found, needed)
        self.shared.schema_checked = True

    def one(self, query: bytes, params: Any, *, write: bool = False) -> Awaitable[Row | None]:
        """Run a statement and return its first row, if any.

        Not a coroutine itself but `query`'s: one frame less to resume at each wait.
        """
        row: Awaitable[Row | None] = self.query(query, params, "one", write=write)
        return row

    def all(self, query: bytes, params: Any) -> Awaitable[list[Row]]:
        """Run a read and return every row (`query`'s coroutine, as for `one`)."""
        found: Awaitable[list[Row]] = self.query(query, params, "all", write=False)
        return found

    async def _begin(self) -> tuple[AsyncExitStack, AsyncConnection[Row]]:
        """Take a pooled connection and BEGIN on it, within the pool's timeout.

        A dead connection (server restart) fails at BEGIN, before anything ran: the
        pool is checked and BEGIN tried once more on a fresh connection, as for reads.
        The stack returned commits (or rolls back) and gives the connection back.
        A configured ``lock_timeout`` is set for this transaction only.
        """
        pool = self.shared.pool
        with self.shared.deadlines.start() as bound:
            for attempt in (1, 2):
                left = bound.left()
                if left <= 0:
                    raise PoolTimeout("no live connection before the pool's timeout")
                stack = AsyncExitStack()
                conn = await stack.enter_async_context(pool.connection(timeout=left))
                # Runs after COMMIT and before the pool takes the connection back (and
                # may close it for its age).
                stack.push(partial(_check_committed, conn))
                try:
                    await stack.enter_async_context(conn.transaction())
                    setting = self.shared.lock_timeout
                    if setting is not None:
                        await conn.execute(self.sql.SET_LOCAL_LOCK_TIMEOUT, (setting,))
                except BaseException as exc:
                    # Gives the connection back (the pool drops it if it is broken).
                    await stack.__aexit__(type(exc), exc, exc.__traceback__)
                    if (
                        attempt == 2
                        or not isinstance(exc, psycopg.Error)
                        or isinstance(exc, PoolTimeout | TooManyRequests)
                        or not is_dead_connection(exc)
                    ):
                        raise
                    retried()
                    await self._check_pool(bound.polite_at)
                    continue
                return stack, conn
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def _end(self, stack: AsyncExitStack, exc: BaseException | None) -> None:
        """COMMIT (or, after ``exc``, ROLLBACK) a block and give its connection back.

        Bounded by the pool's ``timeout`` like a call: a COMMIT that waits for a
        synchronous standby that never answers is cut off, and its error says that the
        transaction may have committed. A ROLLBACK cut off is left to the pool, which
        closes the connection: the server then rolls the transaction back itself.
        """
        timeout = self.shared.pool.timeout
        try:
            with self.shared.deadlines.start():
                if exc is None:
                    await stack.__aexit__(None, None, None)
                else:
                    await stack.__aexit__(type(exc), exc, exc.__traceback__)
        except TimeoutError:
            if exc is None:
                raise UnavailableError(
                    f"PostgreSQL did not confirm the COMMIT within timeout ({timeout:g} s): "
                    "the transaction may have committed"
                ) from None

    @asynccontextmanager
    async def block(self) -> AsyncIterator[Connections]:
        """Hold a transaction (a savepoint inside a block) for the ``async with`` block."""
        self.check_usable()
        if not self.shared.schema_checked:
            await self._check_schema()
        if self._scope is None and self.shared.block_tasks:
            # A second block on the outer store would wait forever for the row locks
            # of the block this task holds open (or for its connection, at max_size 1).
            self._refuse_block_beside_block()
        own_error: BaseException | None = None
        try:
            if self._scope is None:
                task = asyncio.current_task()
                try:
                    stack, conn = await self._begin()
                except TimeoutError:
                    raise timed_out(self.shared.pool.timeout, write=False) from None
                scope = _Scope(conn)
                if task is not None:
                    self.shared.block_tasks.add(task)
                try:
                    yield Connections(self.shared, scope)
                except BaseException as exc:
                    own_error = exc
                    scope.active = False
                    self.shared.block_tasks.discard(task)
                    await self._end(stack, exc)  # ROLLBACK, then the connection goes back
                    raise
                scope.active = False
                self.shared.block_tasks.discard(task)
                await self._end(stack, None)  # COMMIT, then the connection goes back
            else:
                conn = self._scope.conn
                async with conn.transaction():
                    scope = _Scope(conn)
                    try:
                        yield Connections(self.shared, scope)
                    except BaseException as exc:
                        own_error = exc
                        raise
                    finally:
                        scope.active = False
                _committed(conn)
        except _DRIVER_ERRORS as exc:
            # The block's own exception passes unchanged; BEGIN, COMMIT or the pool's
            # failures become StoreErrors.
            if exc is own_error:
                raise
            raise self.error(exc) from exc

    async def close(self) -> None:
        """Close the pool if the store opened it; calling it again does nothing."""
        shared = self.shared
        if shared.closed:
            return
        shared.closed = True
        checking = shared.checking
        if checking is not None and not checking.done():
            # Closing the pool under a running check would leak the connections the
            # check holds; it ends within the pool's timeout.
            await asyncio.wait([checking], timeout=shared.pool.timeout)
        if shared.owns_pool:
            await shared.pool.close()
