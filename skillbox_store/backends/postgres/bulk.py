"""Bulk reads and writes of a PostgreSQL store (`skillbox_store.bulk.StoreBulk`).

Reads stream through a server-side cursor in a ``REPEATABLE READ, READ ONLY``
transaction, a batch per round trip. Writes are one ``COPY … FROM STDIN`` per batch:
one statement, so a batch is stored whole or not at all, and the fastest way into
PostgreSQL short of skipping its constraints (the identity column numbers the rows in
the order they are copied, which keeps "newest first"; files are numbered by `_file_rows`).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Final

import psycopg
from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import PoolTimeout, TooManyRequests

from skillbox_store.backends.postgres import rows
from skillbox_store.backends.postgres.connections import Connections, Row
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.bulk import BULK_TABLES, DEFAULT_BATCH, BulkRecord, record_key
from skillbox_store.errors import InvalidArgumentError, NotFoundError

__all__ = ["PostgresBulkReader", "check_batch", "find", "insert", "snapshot"]

_DRIVER_ERRORS: Final = (psycopg.Error, PoolTimeout, TooManyRequests)
_cursor_names = itertools.count()

_CONVERT: Final[dict[str, Callable[[Row], Any]]] = {
    "api_keys": rows.key_from_row,
    "executions": rows.execution_from_row,
    "files": rows.file_from_row,
    "sessions": rows.session_from_row,
    "skills": rows.skill_from_row,
}


def _reads(sql: Statements, table: str) -> tuple[bytes, bytes, bytes]:
    """Return the table's statements: every tenant, one tenant, found by keys."""
    return {
        "api_keys": (sql.SELECT_BULK_KEYS, sql.SELECT_BULK_TENANT_KEYS, sql.SELECT_BULK_FOUND_KEYS),
        "executions": (
            sql.SELECT_BULK_EXECUTIONS,
            sql.SELECT_BULK_TENANT_EXECUTIONS,
            sql.SELECT_BULK_FOUND_EXECUTIONS,
        ),
        "files": (
            sql.SELECT_BULK_FILES,
            sql.SELECT_BULK_TENANT_FILES,
            sql.SELECT_BULK_FOUND_FILES,
        ),
        "sessions": (
            sql.SELECT_BULK_SESSIONS,
            sql.SELECT_BULK_TENANT_SESSIONS,
            sql.SELECT_BULK_FOUND_SESSIONS,
        ),
        "skills": (
            sql.SELECT_BULK_SKILLS,
            sql.SELECT_BULK_TENANT_SKILLS,
            sql.SELECT_BULK_FOUND_SKILLS,
        ),
    }[table]


def check_batch(table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
    """Refuse an unknown table or a record of another tenant, before any I/O."""
    if table not in BULK_TABLES:
        raise InvalidArgumentError(f"table must be one of {', '.join(BULK_TABLES)}, got {table!r}")
    for record in records:
        if record.tenant_id != tenant_id:
            raise InvalidArgumentError(
                f"a bulk batch holds one tenant's records: {tenant_id!r}, "
                f"got one of {record.tenant_id!r}"
            )


# -- reading ----------------------------------------------------------------------------


class PostgresBulkReader:
    """A `BulkReader` on a connection inside a repeatable-read transaction."""

    def __init__(self, conn: AsyncConnection[Row], db: Connections) -> None:
        """Read through ``conn``; ``db`` gives the statements and the error mapping."""
        self._conn = conn
        self._db = db

    async def tenants(self) -> list[str]:
        """Return every tenant with a record in any table, sorted by code point."""
        try:
            cursor = await self._conn.execute(self._db.sql.SELECT_BULK_TENANTS)
            return [row[0] for row in await cursor.fetchall()]
        except _DRIVER_ERRORS as exc:
            raise self._db.error(exc) from exc

    async def records(
        self, table: str, tenant_ids: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH
    ) -> AsyncIterator[list[BulkRecord]]:
        """Yield the table's records, one tenant per batch, in the table's stable order."""
        check_batch(table, "", ())
        every, one, _ = _reads(self._db.sql, table)
        convert = _CONVERT[table]
        if tenant_ids is None:
            async for batch in self._stream(every, (), batch_size, convert):
                yield batch
            return
        for tenant_id in tenant_ids:
            async for batch in self._stream(one, (tenant_id,), batch_size, convert):
                yield batch

    async def _stream(
        self, query: bytes, params: tuple[Any, ...], size: int, convert: Callable[[Row], Any]
    ) -> AsyncIterator[list[BulkRecord]]:
        """Fetch a batch per round trip from a server-side cursor; cut where the tenant changes."""
        pending: list[BulkRecord] = []
        try:
            async with self._conn.cursor(name=f"skillbox_bulk_{next(_cursor_names)}") as cursor:
                await cursor.execute(query, params)
                while fetched := await cursor.fetchmany(size):
                    for record in map(convert, fetched):
                        if pending and (
                            record.tenant_id != pending[0].tenant_id or len(pending) >= size
                        ):
                            yield pending
                            pending = []
                        pending.append(record)
        except _DRIVER_ERRORS as exc:
            raise self._db.error(exc) from exc
        if pending:
            yield pending


@asynccontextmanager
async def snapshot(db: Connections) -> AsyncIterator[PostgresBulkReader]:
    """Hold a pooled connection in a read-only repeatable-read transaction."""
    db.check_usable()
    own_error: BaseException | None = None
    try:
        async with db.shared.pool.connection() as conn, conn.transaction():
            await conn.execute(db.sql.SET_TRANSACTION_SNAPSHOT)
            if db.shared.declared is not None:
                # The operators' declared path: the snapshot reads every tenant.
                await conn.execute(db.sql.SET_LOCAL_SCOPE_ALL)
            try:
                yield PostgresBulkReader(conn, db)
            except BaseException as exc:
                own_error = exc
                raise
    except _DRIVER_ERRORS as exc:
        # The reader's own errors were translated already; the caller's pass unchanged.
        if exc is own_error:
            raise
        raise db.error(exc) from exc


# -- writing ----------------------------------------------------------------------------


async def find(
    db: Connections, table: str, tenant_id: str, records: Sequence[BulkRecord]
) -> list[BulkRecord | None]:
    """Return the stored record with each record's key, or None, in one query."""
    _, _, query = _reads(db.sql, table)
    params: tuple[Any, ...]
    if table == "skills":
        keys = [record_key(r) for r in records]
        params = (tenant_id, [k[0] for k in keys], [k[1] for k in keys])
    else:
        params = (tenant_id, [record_key(r)[0] for r in records])
    convert = _CONVERT[table]
    stored = {record_key(found): found for found in map(convert, await db.all(query, params))}
    return [stored.get(record_key(record)) for record in records]


def _json(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _key_row(k: Any) -> Row:
    return (k.id, k.key_hash, k.tenant_id, k.name, k.created_at, k.revoked_at)


def _execution_row(e: Any) -> Row:
    return (
        e.id,
        e.skill_name,
        e.skill_version,
        e.tenant_id,
        e.status,
        _json(e.input),
        _json(e.output),
        e.logs,
        e.files_url,
        e.files_list,
        e.duration_ms,
        e.error,
        e.created_at,
        e.finished_at,
    )


def _session_row(s: Any) -> Row:
    return (s.id, s.tenant_id, s.external_id, s.created_at, s.last_accessed_at)


def _skill_row(s: Any) -> Row:
    return (s.tenant_id, s.name, s.version, s.description, s.lang, s.uploaded_at)


# How COPY dumps each column's values: an empty list or None as what the column holds.
# Ids are str, sent as text (the uuid dumper wants `uuid.UUID`); the server parses them.
_TYPES: Final[dict[str, list[str]]] = {
    "api_keys": ["text", "text", "text", "text", "timestamptz", "timestamptz"],
    "executions": [
        "text",
        "text",
        "text",
        "text",
        "text",
        "jsonb",
        "jsonb",
        "text",
        "text",
        "text[]",
        "int8",
        "text",
        "timestamptz",
        "timestamptz",
    ],
    "files": [
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "int8",
        "text",
        "int4",
        "text",
        "timestamptz",
        "timestamptz",
        "text",
        "int8",
    ],
    "sessions": ["text", "text", "text", "timestamptz", "timestamptz"],
    "skills": ["text", "text", "text", "text", "text", "timestamptz"],
}


async def _file_rows(db: Connections, tenant_id: str, files: Sequence[Any]) -> list[Row]:
    """Return the files' COPY rows, each with its chain and its seq.

    files.seq has no default (migration 0003): the batch is numbered on from the
    tenant's highest, in row order. A file the tenant gets meanwhile takes a number
    of the batch's; the unique index then refuses the batch, as it would a duplicate.
    """
    chain: dict[str, str] = {}
    highest = await db.one(db.sql.SELECT_FILES_MAX_SEQ, (tenant_id,))
    seq = 0 if highest is None else int(highest[0])
    outside = sorted({f.parent_id for f in files if f.parent_id is not None})
    if outside:
        found = await db.all(db.sql.SELECT_BULK_CHAIN_IDS, (tenant_id, outside))
        chain.update((file_id, chain_id) for file_id, chain_id in found)
    result: list[Row] = []
    for f in files:
        if f.parent_id is None:
            chain_id = f.id
        elif f.parent_id in chain:
            chain_id = chain[f.parent_id]
        else:
            raise NotFoundError(f"file {f.id}: parent_id names no file of the tenant")
        chain[f.id] = chain_id
        seq += 1
        result.append(
            (
                f.id,
                f.tenant_id,
                f.session_id,
                f.execution_id,
                f.name,
                f.content_type,
                f.size_bytes,
                f.s3_key,
                f.version,
                f.parent_id,
                f.created_at,
                f.updated_at,
                chain_id,
                seq,
            )
        )
    return result


async def insert(
    db: Connections, table: str, tenant_id: str, records: Sequence[BulkRecord]
) -> None:
    """Copy the records in, in order, with one COPY statement."""
    sql = db.sql
    statement, insert, to_row = {
        "api_keys": (sql.COPY_BULK_KEYS, sql.INSERT_BULK_KEYS, _key_row),
        "executions": (sql.COPY_BULK_EXECUTIONS, sql.INSERT_BULK_EXECUTIONS, _execution_row),
        "files": (sql.COPY_BULK_FILES, sql.INSERT_BULK_FILES, None),
        "sessions": (sql.COPY_BULK_SESSIONS, sql.INSERT_BULK_SESSIONS, _session_row),
        "skills": (sql.COPY_BULK_SKILLS, sql.INSERT_BULK_SKILLS, _skill_row),
    }[table]
    if to_row is None:
        copied = await _file_rows(db, tenant_id, records)
    else:
        copied = [to_row(record) for record in records]
    db.check_usable()
    try:
        async with db.shared.pool.connection() as conn:
            cursor = conn.cursor()
            if db.shared.declared is not None:
                # Under row-level security: INSERTs, in one transaction that declares
                # the tenant (the records are all of ``tenant_id``).
                async with conn.transaction():
                    await conn.execute(sql.SET_LOCAL_TENANT, (tenant_id,))
                    await cursor.executemany(insert, copied)
                return
            async with cursor.copy(statement) as copy:
                copy.set_types(_TYPES[table])
                for row in copied:
                    await copy.write_row(row)
    except _DRIVER_ERRORS as exc:
        raise db.error(exc) from exc
