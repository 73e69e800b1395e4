"""Bulk reads and writes of a SQLite store (`skillbox_store.bulk.StoreBulk`).

Reads stream through one cursor per table, a batch per thread hop. Writes are one
``executemany`` per batch in one unit of work (``BEGIN IMMEDIATE``, or a savepoint
inside a transaction block): a batch is stored whole or not at all, at the cost of one
hop and one commit.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Final

import aiosqlite

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.connection import rollback_if_open, run
from skillbox_store.backends.sqlite.rows import (
    FILE_COLUMNS,
    dump_time,
    execution_from_row,
    execution_to_row,
    file_from_row,
    file_to_row,
    key_from_row,
    session_from_row,
    skill_from_row,
)
from skillbox_store.bulk import BULK_TABLES, DEFAULT_BATCH, BulkRecord, record_key
from skillbox_store.errors import InvalidArgumentError

__all__ = ["SqliteBulkReader", "begin_snapshot", "end_snapshot", "find", "insert"]

Row = tuple[Any, ...]

# table -> (every tenant, one tenant, found by keys, row -> record)
_READS: Final[dict[str, tuple[str, str, str, Callable[[Row], Any]]]] = {
    "api_keys": (
        sql.SELECT_BULK_KEYS,
        sql.SELECT_BULK_TENANT_KEYS,
        sql.SELECT_BULK_FOUND_KEYS,
        key_from_row,
    ),
    "executions": (
        sql.SELECT_BULK_EXECUTIONS,
        sql.SELECT_BULK_TENANT_EXECUTIONS,
        sql.SELECT_BULK_FOUND_EXECUTIONS,
        execution_from_row,
    ),
    "files": (
        sql.SELECT_BULK_FILES,
        sql.SELECT_BULK_TENANT_FILES,
        sql.SELECT_BULK_FOUND_FILES,
        file_from_row,
    ),
    "sessions": (
        sql.SELECT_BULK_SESSIONS,
        sql.SELECT_BULK_TENANT_SESSIONS,
        sql.SELECT_BULK_FOUND_SESSIONS,
        session_from_row,
    ),
    "skills": (
        sql.SELECT_BULK_SKILLS,
        sql.SELECT_BULK_TENANT_SKILLS,
        sql.SELECT_BULK_FOUND_SKILLS,
        skill_from_row,
    ),
}


def _check_table(table: str) -> None:
    if table not in BULK_TABLES:
        raise InvalidArgumentError(f"table must be one of {', '.join(BULK_TABLES)}, got {table!r}")


def _check_tenant(tenant_id: str, records: Sequence[BulkRecord]) -> None:
    for record in records:
        if record.tenant_id != tenant_id:
            raise InvalidArgumentError(
                f"a bulk batch holds one tenant's records: {tenant_id!r}, "
                f"got one of {record.tenant_id!r}"
            )


def _time(value: Any) -> str | None:
    return None if value is None else dump_time(value)


def _key_row(r: Any) -> Row:
    return (r.id, r.key_hash, r.tenant_id, r.name, dump_time(r.created_at), _time(r.revoked_at))


def _execution_row(e: Any) -> Row:
    return execution_to_row(e, e.id, e.created_at)


# Named parameters where a value is used twice (numbered ones bound from a sequence
# are deprecated from Python 3.12).
def _file_row(f: Any) -> dict[str, Any]:
    return dict(zip(FILE_COLUMNS, file_to_row(f, f.id, f.created_at, f.updated_at), strict=True))


def _session_row(s: Any) -> Row:
    return (
        s.id,
        s.tenant_id,
        s.external_id,
        dump_time(s.created_at),
        dump_time(s.last_accessed_at),
    )


def _skill_row(s: Any) -> dict[str, Any]:
    return {
        "tenant_id": s.tenant_id,
        "name": s.name,
        "version": s.version,
        "description": s.description,
        "lang": s.lang,
        "uploaded_at": dump_time(s.uploaded_at),
    }


_WRITES: Final[dict[str, tuple[str, Callable[[Any], Row | dict[str, Any]]]]] = {
    "api_keys": (sql.INSERT_BULK_KEY, _key_row),
    "executions": (sql.INSERT_EXECUTION, _execution_row),
    "files": (sql.INSERT_BULK_FILE, _file_row),
    "sessions": (sql.INSERT_BULK_SESSION, _session_row),
    "skills": (sql.INSERT_BULK_SKILL, _skill_row),
}


# -- units of work (run on the connection's thread) -----------------------------------


def begin_snapshot(conn: sqlite3.Connection) -> None:
    """Open a read transaction and fix its snapshot with a first read."""
    conn.execute(sql.BEGIN_DEFERRED)
    conn.execute(sql.START_READ_SNAPSHOT).fetchone()


def end_snapshot(conn: sqlite3.Connection) -> None:
    """End the read transaction (nothing to commit)."""
    rollback_if_open(conn)


def _tenants(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute(sql.SELECT_BULK_TENANTS)]


def _open_cursor(conn: sqlite3.Connection, statement: str, params: Row) -> sqlite3.Cursor:
    return conn.execute(statement, params)


def _fetch(
    _conn: sqlite3.Connection, cursor: sqlite3.Cursor, size: int, convert: Callable[[Row], Any]
) -> list[Any]:
    return [convert(row) for row in cursor.fetchmany(size)]


def find(
    conn: sqlite3.Connection, table: str, tenant_id: str, records: Sequence[BulkRecord]
) -> list[BulkRecord | None]:
    """Return the stored record with each record's key, or None."""
    _, _, statement, convert = _READS[table]
    # Skills are keyed by [name, version], the other tables by id.
    keys = [list(record_key(r)) if table == "skills" else record_key(r)[0] for r in records]
    stored = {
        record_key(found): found
        for found in (
            convert(row) for row in conn.execute(statement, (tenant_id, json.dumps(keys)))
        )
    }
    return [stored.get(record_key(record)) for record in records]


def insert(
    conn: sqlite3.Connection, table: str, tenant_id: str, records: Sequence[BulkRecord]
) -> None:
    """Insert the records in order with one executemany, all or nothing."""
    statement, to_row = _WRITES[table]
    conn.execute(sql.SAVEPOINT_BULK)
    try:
        conn.executemany(statement, [to_row(record) for record in records])
    except BaseException:
        if conn.in_transaction:
            conn.execute(sql.ROLLBACK_TO_SAVEPOINT_BULK)
            conn.execute(sql.RELEASE_SAVEPOINT_BULK)
        raise
    conn.execute(sql.RELEASE_SAVEPOINT_BULK)


def check_batch(table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
    """Refuse an unknown table or a record of another tenant, before any I/O."""
    _check_table(table)
    _check_tenant(tenant_id, records)


# -- the reader -------------------------------------------------------------------------


class SqliteBulkReader:
    """A `BulkReader` over a connection that holds an open read transaction."""

    def __init__(self, connection: aiosqlite.Connection, database: str) -> None:
        """Read through ``connection``, which `begin_snapshot` prepared."""
        self._connection = connection
        self._database = database

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        return await run(self._connection, self._database, work, *args)

    async def tenants(self) -> list[str]:
        """Return every tenant with a record in any table, sorted by code point."""
        found: list[str] = await self._run(_tenants)
        return found

    async def records(
        self, table: str, tenant_ids: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH
    ) -> AsyncIterator[list[BulkRecord]]:
        """Yield the table's records, one tenant per batch, in the table's stable order."""
        _check_table(table)
        every, one, _, convert = _READS[table]
        if tenant_ids is None:
            async for batch in self._stream(every, (), batch_size, convert):
                yield batch
            return
        for tenant_id in tenant_ids:
            async for batch in self._stream(one, (tenant_id,), batch_size, convert):
                yield batch

    async def _stream(
        self, statement: str, params: Row, batch_size: int, convert: Callable[[Row], Any]
    ) -> AsyncIterator[list[BulkRecord]]:
        """Fetch a batch per hop and cut it where the tenant changes."""
        cursor = await self._run(_open_cursor, statement, params)
        pending: list[BulkRecord] = []
        while True:
            fetched: list[BulkRecord] = await self._run(_fetch, cursor, batch_size, convert)
            if not fetched:
                break
            for record in fetched:
                if pending and (
                    record.tenant_id != pending[0].tenant_id or len(pending) >= batch_size
                ):
                    yield pending
                    pending = []
                pending.append(record)
        if pending:
            yield pending
