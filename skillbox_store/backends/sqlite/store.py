"""`SqliteStore`: the contract on SQLite through aiosqlite, one thread hop per method.

Connections. A file database has one writer connection for every write and every
`transaction()` block, and ``readers`` reader connections for plain reads: in WAL mode
readers see the last commit and are never blocked by the writer, so a transaction in
one task does not hold up reads of the others. Point reads (a record by its key) and
pages read by an index in order run on the event loop's own thread, on one more reader
connection that never waits (`connection.read_here`, `_point_read`): no hop, where a hop
would cost ten times a point read. So do the first 256 rows of a listing without a limit,
whose rest (if any) a reader thread reads from the same statement (`listings`).
``:memory:`` and a caller's connection are one connection for everything: reads then
wait for another task's open transaction, since they would otherwise see its
uncommitted writes.

Locking. Every unit of work on the writer runs in ``BEGIN IMMEDIATE`` (other processes
wait up to ``busy_timeout``, then `UnavailableError`). A `transaction()` block holds an
asyncio lock for its whole block; a plain write (or, on a single connection, a read)
arriving meanwhile waits for it, then is `UnavailableError` — and one from the task
that holds the block is a `StoreError` at once, since waiting for itself would never
end.

Timeouts. Every call outside a block (and every `transaction()` start) has one
deadline, ``busy_timeout`` after it was made, for everything it waits for: another
task's block, the units queued ahead of it on the connection's thread, and another
process's lock in SQLite's busy handler (`connection.run`). However many calls queue,
each gives up at its own deadline.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import cycle
from types import TracebackType
from typing import Any, Final, Self, TypeVar

import aiosqlite

from skillbox_store import validation as check
from skillbox_store.backends.sqlite import bulk, listings, probe, retention, units
from skillbox_store.backends.sqlite.connection import (
    Busy,
    begin_immediate,
    commit,
    connect,
    in_write_transaction,
    read_here,
    release_savepoint,
    rollback_if_open,
    rollback_savepoint,
    run,
    savepoint,
)
from skillbox_store.backends.sqlite.listings import Listing, Params
from skillbox_store.bulk import BulkReader, BulkRecord
from skillbox_store.errors import (
    OUTER_STORE_IN_TRANSACTION,
    NotFoundError,
    SchemaOutdatedError,
    StoreError,
    UnavailableError,
)
from skillbox_store.migrations import latest_version
from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    FileFilter,
    RetentionReport,
    Session,
    SkillRecord,
)
from skillbox_store.store import Store

__all__ = ["SqliteStore"]

T = TypeVar("T")

# The calls that work on any schema, even none: they need no check of its version.
_SCHEMA_FREE: Final = (probe.ping, probe.schema_version)


@dataclass(slots=True)
class _Shared:
    """What every view of one store shares: connections and the transaction lock."""

    database: str
    writer: aiosqlite.Connection
    readers: list[aiosqlite.Connection]
    owns_connections: bool
    busy_timeout: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    owner: asyncio.Task[Any] | None = None
    closed: bool = False
    next_reader: Callable[[], aiosqlite.Connection] | None = None
    # The event loop thread's own reader of a file database (`connection.connect_here`).
    here: sqlite3.Connection | None = None
    # True while a reader thread reads the rest of a listing on ``here`` (`_listing`):
    # the loop's thread then reads elsewhere, and closing ``here`` waits for the end.
    here_lent: bool = False
    # False for a caller's connection, which nobody migrated or checked: the first call
    # checks the schema version instead (no I/O in a constructor).
    schema_checked: bool = True


@dataclass(slots=True)
class _Scope:
    """An open transaction block (depth 1) or savepoint (depth > 1)."""

    depth: int
    active: bool = True


class SqliteStore:
    """A `Store` on a SQLite database; open it with `open_store` or `from_connection`.

    Each method costs one hop to a connection thread, whatever number of statements it
    runs; a point read of a file database none. See the module docstring for the
    connections and locking.
    """

    # Optional capabilities this backend offers (`skillbox_store.capabilities`): "stats"
    # is `table_counts`, "bulk" the `bulk_*` methods.
    capabilities = frozenset({"stats", "bulk"})

    def __init__(
        self,
        database: str,
        writer: aiosqlite.Connection,
        readers: list[aiosqlite.Connection],
        *,
        owns_connections: bool,
        busy_timeout: float,
        here: sqlite3.Connection | None = None,
    ) -> None:
        """Wrap open connections; `open_sqlite_store` and `from_connection` call this.

        ``here`` is the reader connection point reads use on the event loop's thread
        (`connection.connect_here`); without it they hop to a reader thread too.
        """
        self._shared = _Shared(database, writer, readers, owns_connections, busy_timeout)
        self._shared.here = here
        if readers:
            self._shared.next_reader = cycle(readers).__next__
        self._scope: _Scope | None = None

    @classmethod
    def from_connection(
        cls, connection: aiosqlite.Connection, *, busy_timeout: float = 5.0
    ) -> SqliteStore:
        """Build a store on an open aiosqlite connection that the caller owns.

        The counterpart of Go's ``NewWithDB``: the schema is not migrated, and its
        version is checked at the first call other than `ping` and `schema_version`
        (`SchemaOutdatedError` when it is behind; building the store does no I/O);
        `close` leaves the connection open. Everything runs on this one connection, so
        reads wait for another task's open transaction. The connection must not be inside a
        transaction of its own when a method is called, and should have
        ``PRAGMA foreign_keys = ON``. ``busy_timeout`` (seconds) bounds each call's
        waits as on a store `open_store` made; to do so the store sets the connection's
        SQLite busy timeout to what each call has left of it.
        """
        store = cls(
            "caller's connection", connection, [], owns_connections=False, busy_timeout=busy_timeout
        )
        store._shared.schema_checked = False
        return store

    @property
    def connection(self) -> aiosqlite.Connection:
        """The aiosqlite connection that writes, for raw access (Go's ``DB()``).

        Statements run on it outside the store's lock can interleave with a
        transaction block of the store; do not use it while one may be open.
        """
        return self._shared.writer

    # -- plumbing ---------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._shared.closed:
            raise StoreError("the store is closed")
        if self._scope is not None and not self._scope.active:
            raise StoreError("the transaction has ended; use the store it was opened on")

    def _deadline(self) -> float:
        """The `time.monotonic` time by which a call made now must have given up."""
        return time.monotonic() + self._shared.busy_timeout

    async def _wait_for_transaction(self, deadline: float) -> None:
        """Return once no transaction block of another task holds the writer.

        Returns without suspending when none does; the caller then queues its unit
        before any other task runs, so a block that starts later queues behind it.
        """
        shared = self._shared
        if not shared.lock.locked():
            return
        if shared.owner is asyncio.current_task():
            raise StoreError(OUTER_STORE_IN_TRANSACTION)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                while shared.lock.locked():
                    async with shared.lock:
                        pass
        except TimeoutError:
            raise UnavailableError(
                f"SQLite {shared.database}: a transaction of another task held the store "
                f"for more than busy_timeout ({shared.busy_timeout} s)"
            ) from None

    async def _check_schema(self) -> None:
        """Refuse a caller's connection whose schema is behind this code, once checked."""
        shared = self._shared
        found = await run(shared.writer, shared.database, probe.schema_version)
        needed = latest_version()
        if found < needed:
            raise SchemaOutdatedError(found, needed)
        shared.schema_checked = True

    async def _read(self, work: Callable[..., T], *args: Any) -> T:
        self._check_usable()
        shared = self._shared
        if not shared.schema_checked and work not in _SCHEMA_FREE:
            await self._check_schema()
        if self._scope is not None:
            # The block's own connection: it sees the block's uncommitted writes.
            return await run(shared.writer, shared.database, work, *args)
        deadline = self._deadline()
        if shared.next_reader is not None:
            return await run(shared.next_reader(), shared.database, work, *args, deadline=deadline)
        await self._wait_for_transaction(deadline)
        return await run(shared.writer, shared.database, work, *args, deadline=deadline)

    async def _point_read(self, work: Callable[..., T], *args: Any) -> T:
        """Read on the event loop's thread, or as `_read` does: work that never waits and
        is bounded, a record by its key or a page read by an index in its order.

        A page of executions or files from the start or after a given record reads at
        most its limit of index entries and rows (100 or 200 at most, about 1 µs each in
        SQLite; building the records holds the interpreter's lock on a reader thread just
        the same). One by ``offset`` reads all it skips: it stays on a reader thread. The
        unbounded listings (a tenant's keys or skills, a session's files, a chain's
        versions) read as many rows as there are: `_listing` reads their first rows here.

        Only outside a block (a block reads its own writes on the writer) and when the
        store has the loop's reader; a read SQLite answers busy goes the way of `_read`.
        """
        here = self._loop_reader()
        if here is None:
            return await self._read(work, *args)
        try:
            return read_here(here, self._shared.database, work, *args)
        except Busy:
            return await self._read(work, *args)

    def _loop_reader(self) -> sqlite3.Connection | None:
        """The event loop's reader, when this call may read on it: outside a block, on an
        open store that has one, and not while a reader thread reads a listing on it."""
        shared = self._shared
        if self._scope is not None or shared.closed or shared.here_lent:
            return None
        return shared.here

    async def _listing(self, listing: Listing[T], params: Params) -> list[T]:
        """Read an unbounded listing: its first rows on the event loop's thread, as
        `_point_read` reads, and any rows after those on a reader thread (`listings`).

        The rest is a reader's unit like any other: queued under this call's deadline,
        and settled before a cancellation is raised, so the loop's connection is never
        used by two threads at once nor closed under the reader.
        """
        shared = self._shared
        here = self._loop_reader()
        if here is None or shared.next_reader is None:
            return await self._read(listings.everything, listing, params)
        try:
            first, cursor = read_here(here, shared.database, listings.first_of, listing, params)
        except Busy:
            return await self._read(listings.everything, listing, params)
        if cursor is None:
            return first
        shared.here_lent = True
        try:
            rest = await run(
                shared.next_reader(),
                shared.database,
                listings.rest_of,
                cursor,
                listing,
                deadline=self._deadline(),
            )
        finally:
            cursor.close()
            shared.here_lent = False
            if self._shared.closed:  # closed while lent (`close`)
                here.close()
        first.extend(rest)
        return first

    async def _write(self, work: Callable[..., T], *args: Any) -> T:
        self._check_usable()
        shared = self._shared
        if not shared.schema_checked:
            await self._check_schema()
        if self._scope is not None:
            # Inside a block every unit has at most one changing statement, which
            # SQLite undoes by itself when it fails: no savepoint needed per method.
            return await run(shared.writer, shared.database, work, *args)
        deadline = self._deadline()
        await self._wait_for_transaction(deadline)
        return await run(
            shared.writer, shared.database, in_write_transaction, work, *args, deadline=deadline
        )

    # -- API keys ---------------------------------------------------------------------------

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        chosen = check.create_key(tenant_id, name, key_hash, id)
        return await self._write(units.create_key, tenant_id, name, key_hash, chosen)

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        check.get_key_by_hash(key_hash)
        key = await self._point_read(units.get_key_by_hash, key_hash)
        if key is None:
            raise NotFoundError("no API key has this hash")
        return key

    async def validate_key(self, key_hash: str) -> APIKey | None:
        check.validate_key(key_hash)
        return await self._point_read(units.validate_key, key_hash)

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        check.list_keys(tenant_id)
        return await self._listing(listings.KEYS, (tenant_id,))

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        key_id = check.revoke_key(tenant_id, key_id)
        return await self._write(units.revoke_key, tenant_id, key_id)

    # -- Executions -------------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        execution, chosen = check.create_execution(execution, id)
        return await self._write(units.insert_execution, execution, chosen)

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        execution, chosen = check.insert_execution(execution, id)
        return await self._write(units.insert_execution, execution, chosen)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        execution_id = check.get_execution(tenant_id, execution_id)
        return await self._point_read(units.get_execution, tenant_id, execution_id)

    async def list_executions(
        self,
        tenant_id: str,
        limit: int = check.EXECUTIONS_PAGE_DEFAULT,
        offset: int = 0,
        *,
        after: str | None = None,
    ) -> list[Execution]:
        limit, offset, after = check.list_executions(tenant_id, limit, offset, after)
        if offset == 0:
            # A page from the start or after an execution: see `_point_read`.
            return await self._point_read(units.list_executions, tenant_id, limit, offset, after)
        return await self._read(units.list_executions, tenant_id, limit, offset, after)

    async def update_execution(self, execution: Execution) -> Execution:
        execution = check.update_execution(execution)
        return await self._write(units.update_execution, execution)

    # -- Files ------------------------------------------------------------------------------

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        file, chosen = check.create_file(file, id)
        return await self._write(units.create_file, file, chosen)

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        file_id = check.get_file(tenant_id, file_id)
        return await self._point_read(units.get_file, tenant_id, file_id)

    async def update_file(self, file: File) -> File:
        file = check.update_file(file)
        return await self._write(units.update_file, file)

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        file_id = check.delete_file(tenant_id, file_id)
        await self._write(units.delete_file, tenant_id, file_id)

    async def list_files(self, filter: FileFilter) -> list[File]:
        wanted = check.list_files(filter)
        if wanted.matches_nothing:
            self._check_usable()
            return []
        # By both filters one index serves and the other is checked row by row: the read
        # is bounded by the session's files rather than by the page.
        if wanted.offset == 0 and wanted.narrowed_by != "session_and_execution":
            return await self._point_read(units.list_files, wanted)
        return await self._read(units.list_files, wanted)

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        canonical = check.list_session_files(tenant_id, session_id)
        if canonical is None:
            self._check_usable()
            return []
        return await self._listing(listings.SESSION_FILES, (tenant_id, canonical))

    async def create_file_version(
        self,
        tenant_id: str,
        file_id: str,
        *,
        name: str | None = None,
        content_type: str | None = None,
        size_bytes: int,
        s3_key: str,
        id: str | None = None,
    ) -> File:
        file_id, chosen = check.create_file_version(
            tenant_id, file_id, name, content_type, size_bytes, s3_key, id
        )
        return await self._write(
            units.create_file_version,
            tenant_id,
            file_id,
            name,
            content_type,
            size_bytes,
            s3_key,
            chosen,
        )

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        canonical = check.list_file_versions(tenant_id, file_id)
        if canonical is None:
            self._check_usable()
            return []
        return await self._listing(
            listings.FILE_VERSIONS, {"tenant_id": tenant_id, "file_id": canonical}
        )

    # -- Sessions ---------------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        check.get_or_create_session(tenant_id, external_id)
        return await self._write(units.get_or_create_session, tenant_id, external_id)

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.get_session(tenant_id, session_id)
        return await self._point_read(units.get_session, tenant_id, session_id)

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        check.get_session_by_external_id(tenant_id, external_id)
        return await self._point_read(units.get_session_by_external_id, tenant_id, external_id)

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.touch_session(tenant_id, session_id)
        return await self._write(units.touch_session, tenant_id, session_id)

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        check.delete_session(tenant_id, external_id)
        await self._write(units.delete_session, tenant_id, external_id)

    # -- Skills -----------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        record = check.upsert_skill(record)
        return await self._write(units.upsert_skill, record)

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        check.get_skill(tenant_id, name, version)
        return await self._point_read(units.get_skill, tenant_id, name, version)

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        check.delete_skill(tenant_id, name, version)
        await self._write(units.delete_skill, tenant_id, name, version)

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        check.list_skills(tenant_id)
        return await self._listing(listings.SKILLS, (tenant_id,))

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        check.resolve_latest_version(tenant_id, name)
        return await self._read(units.resolve_latest_version, tenant_id, name)

    # -- Keeping data -----------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        check.purge_tenant(tenant_id)
        return await self._write(retention.purge_tenant, tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        finished_before = check.prune_executions(tenant_id, finished_before)
        return await self._write(retention.prune_executions, tenant_id, finished_before)

    # -- Bulk reads and writes (skillbox_store.bulk.StoreBulk) -------------------------------

    @asynccontextmanager
    async def bulk_snapshot(self) -> AsyncIterator[BulkReader]:
        """Read in a deferred transaction on a connection of its own, blocking no writer.

        With a single connection (``:memory:``, a caller's connection) the snapshot
        holds the writer like a transaction block: other tasks wait for it to close.
        """
        self._check_usable()
        shared = self._shared
        if not shared.readers:
            async with self._hold_writer(self._deadline()):
                await run(shared.writer, shared.database, bulk.begin_snapshot)
                try:
                    yield bulk.SqliteBulkReader(shared.writer, shared.database)
                finally:
                    await run(shared.writer, shared.database, bulk.end_snapshot)
            return
        conn = await connect(shared.database, busy_timeout=shared.busy_timeout, read_only=True)
        try:
            await run(conn, shared.database, bulk.begin_snapshot)
            yield bulk.SqliteBulkReader(conn, shared.database)
        finally:
            # Shielded: a cancelled export must not leave the connection's thread behind.
            await asyncio.shield(conn.close())

    async def bulk_find(
        self, table: str, tenant_id: str, records: Sequence[BulkRecord]
    ) -> list[BulkRecord | None]:
        bulk.check_batch(table, tenant_id, records)
        return await self._read(bulk.find, table, tenant_id, records)

    async def bulk_insert(self, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
        """Insert the batch with one executemany in one unit of work."""
        bulk.check_batch(table, tenant_id, records)
        await self._write(bulk.insert, table, tenant_id, records)

    # -- The store itself -------------------------------------------------------------------

    async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
        """Count the records of every tenant (`skillbox_store.stats.StoreStats`).

        Always exact: SQLite keeps no row estimates short of ``ANALYZE``.
        """
        return await self._read(probe.table_counts)

    async def ping(self) -> None:
        await self._read(probe.ping)

    async def schema_version(self) -> int:
        return await self._read(probe.schema_version)

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """Open a transaction on the writer connection (``BEGIN IMMEDIATE``).

        The block holds the writer, and the database's write lock, until it ends;
        other tasks' reads go on (file databases), their writes wait. Nested blocks are
        savepoints.
        """
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        self._check_usable()
        if not self._shared.schema_checked:
            await self._check_schema()
        if self._scope is None:
            deadline = self._deadline()
            async with (
                self._hold_writer(deadline),
                self._block(begin_immediate, commit, rollback_if_open, deadline) as tx,
            ):
                yield tx
        else:
            name = f"sp{self._scope.depth + 1}"
            async with self._block(
                partial(savepoint, name=name),
                partial(release_savepoint, name=name),
                partial(rollback_savepoint, name=name),
            ) as tx:
                yield tx

    @asynccontextmanager
    async def _hold_writer(self, deadline: float) -> AsyncIterator[None]:
        shared = self._shared
        if shared.owner is not None and shared.owner is asyncio.current_task():
            raise StoreError(OUTER_STORE_IN_TRANSACTION)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await shared.lock.acquire()
        except TimeoutError:
            raise UnavailableError(
                f"SQLite {shared.database}: a transaction of another task held the store "
                f"for more than busy_timeout ({shared.busy_timeout} s)"
            ) from None
        shared.owner = asyncio.current_task()
        try:
            yield
        finally:
            shared.owner = None
            shared.lock.release()

    @asynccontextmanager
    async def _block(
        self,
        begin: Callable[[sqlite3.Connection], None],
        end: Callable[[sqlite3.Connection], None],
        undo: Callable[[sqlite3.Connection], None],
        deadline: float | None = None,
    ) -> AsyncIterator[Store]:
        """Run ``begin``, yield the block's store, then ``end`` it, or ``undo`` on error.

        Every unit is queued on the writer before this coroutine can suspend, so a
        cancelled task's units still run, in order, before anything queued after the
        lock is released. Only ``begin`` has a ``deadline``: once the block holds the
        database, ending it must not be given up.
        """
        shared = self._shared
        try:
            await run(shared.writer, shared.database, begin, deadline=deadline)
        except asyncio.CancelledError:
            # The queued BEGIN/SAVEPOINT still runs: undo it right behind it.
            await self._undo(undo)
            raise
        scope = _Scope(1 if self._scope is None else self._scope.depth + 1)
        view = SqliteStore.__new__(SqliteStore)
        view._shared = shared
        view._scope = scope
        try:
            yield view
        except BaseException:
            scope.active = False
            await self._undo(undo)
            raise
        scope.active = False
        await run(shared.writer, shared.database, end)

    async def _undo(self, undo: Callable[[sqlite3.Connection], None]) -> None:
        """Roll back, keeping the exception that caused it as the one the caller sees."""
        # A StoreError here means the connection is gone, and SQLite rolled back on close.
        with suppress(StoreError):
            await run(self._shared.writer, self._shared.database, undo)

    async def close(self) -> None:
        """Close the connections the store opened; a caller's connection stays open."""
        shared = self._shared
        if shared.closed:
            return
        shared.closed = True
        if shared.here is not None and not shared.here_lent:
            # Lent, it is closed by the listing that lent it, once its reader is done.
            shared.here.close()
        if shared.owns_connections:
            # All at once, and shielded: a cancelled close() still closes every
            # connection (their threads would otherwise outlive the store). Closing
            # waits for the units already queued; a failure there has nothing to undo.
            closing = asyncio.gather(
                *(connection.close() for connection in [*shared.readers, shared.writer]),
                return_exceptions=True,
            )
            await asyncio.shield(closing)

    async def __aenter__(self) -> Self:
        self._check_usable()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
