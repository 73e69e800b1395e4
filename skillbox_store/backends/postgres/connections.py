"""How a `PostgresStore` reaches the database: a pooled connection, or its block's.

Every statement goes through `Connections.query`, the one place that picks the
connection, confines a failed write inside a transaction block to a savepoint, runs a
read again after a server restart, and turns driver errors into store errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from skillbox_store.backends.postgres.errors import (
    is_dead_connection,
    is_session_terminated,
    translate,
)
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.errors import NotFoundError, StoreError

__all__ = ["Connections", "Fetch", "Pool", "Row", "Shared"]

Row = tuple[Any, ...]
Pool = AsyncConnectionPool[AsyncConnection[Row]]
Fetch = Literal["one", "all", "count"]
"""What a statement's result is wanted as: a row, every row, or the row count."""

_DRIVER_ERRORS: Final = (psycopg.Error, PoolTimeout, TooManyRequests)


@dataclass(slots=True)
class Shared:
    """What every view of one store shares."""

    pool: Pool
    sql: Statements
    owns_pool: bool
    password: str | None
    closed: bool = False
    # Tasks inside a transaction() block of this store: their writes through the outer
    # store would run in a second transaction that can wait forever on the block's own
    # row locks, so they are refused, as on the other backends.
    block_tasks: set[asyncio.Task[Any]] = field(default_factory=set)


@dataclass(slots=True)
class _Scope:
    """An open transaction block (or savepoint) and the connection it holds."""

    conn: AsyncConnection[Row]
    active: bool = True


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

    def error(self, exc: BaseException, referenced: type[StoreError] = NotFoundError) -> StoreError:
        """Return the store error for a driver error, its password scrubbed."""
        return translate(exc, password=self.shared.password, referenced=referenced)

    def _refuse_write_beside_block(self) -> None:
        if asyncio.current_task() in self.shared.block_tasks:
            raise StoreError(
                "this task has a transaction open on the store: "
                "write through the transaction's store instead"
            )

    @staticmethod
    async def _send(conn: AsyncConnection[Row], query: bytes, params: Any, fetch: Fetch) -> Any:
        cursor = await conn.execute(query, params)
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
        """Run one statement: on the block's connection, else on a pooled one."""
        self.check_usable()
        scope = self._scope
        if write and scope is None and self.shared.block_tasks:
            self._refuse_write_beside_block()
        try:
            if scope is not None:
                if not write:
                    return await self._send(scope.conn, query, params, fetch)
                # A failed statement aborts the whole block; the savepoint confines it.
                async with scope.conn.transaction():
                    return await self._send(scope.conn, query, params, fetch)
            pool = self.shared.pool
            try:
                async with pool.connection() as conn:
                    return await self._send(conn, query, params, fetch)
            except psycopg.Error as exc:
                if not is_dead_connection(exc) or (write and not is_session_terminated(exc)):
                    raise
            # The connection had died (server restart): drop the pool's other dead
            # ones and run once more on a fresh connection.
            await pool.check()
            async with pool.connection() as conn:
                return await self._send(conn, query, params, fetch)
        except _DRIVER_ERRORS as exc:
            raise self.error(exc, referenced) from exc

    async def one(self, query: bytes, params: Any, *, write: bool = False) -> Row | None:
        """Run a statement and return its first row, if any."""
        row: Row | None = await self.query(query, params, "one", write=write)
        return row

    async def all(self, query: bytes, params: Any) -> list[Row]:
        """Run a read and return every row."""
        found: list[Row] = await self.query(query, params, "all", write=False)
        return found

    @asynccontextmanager
    async def block(self) -> AsyncIterator[Connections]:
        """Hold a transaction (a savepoint inside a block) for the ``async with`` block."""
        self.check_usable()
        own_error: BaseException | None = None
        try:
            if self._scope is None:
                task = asyncio.current_task()
                async with self.shared.pool.connection() as conn, conn.transaction():
                    scope = _Scope(conn)
                    if task is not None:
                        self.shared.block_tasks.add(task)
                    try:
                        yield Connections(self.shared, scope)
                    except BaseException as exc:
                        own_error = exc
                        raise
                    finally:
                        scope.active = False
                        self.shared.block_tasks.discard(task)
            else:
                async with self._scope.conn.transaction():
                    scope = _Scope(self._scope.conn)
                    try:
                        yield Connections(self.shared, scope)
                    except BaseException as exc:
                        own_error = exc
                        raise
                    finally:
                        scope.active = False
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
        if shared.owns_pool:
            await shared.pool.close()
