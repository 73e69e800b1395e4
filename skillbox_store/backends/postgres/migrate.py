"""Applying the PostgreSQL migrations, so that many processes starting at once migrate once.

Each transactional file runs with its tracking-table row in one transaction that first
takes a transaction-scoped advisory lock (keyed by the schema) and re-reads what is
applied: a process that waited for the lock finds the work done. A file marked
``-- skillbox:no-transaction`` runs in autocommit under the session-level form of the
same lock, sent as one simple query: PostgreSQL refuses ``CREATE INDEX CONCURRENTLY``
among other statements, so such a file holds one statement, and one that does not fails
loudly instead of being split.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import AsyncConnection

from skillbox_store.backends.postgres.errors import is_dead_connection, is_lock_timeout
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.errors import MigrationError, UnavailableError
from skillbox_store.migrations import AppliedMigration, Migration, pending_migrations

__all__ = ["migrate"]

Row = tuple[Any, ...]


async def _applied(conn: AsyncConnection[Row], sql: Statements) -> list[AppliedMigration]:
    cursor = await conn.execute(sql.SELECT_APPLIED_MIGRATIONS)
    return [AppliedMigration(int(v), str(n), str(c)) for v, n, c in await cursor.fetchall()]


async def _prepare(conn: AsyncConnection[Row], sql: Statements) -> list[Migration]:
    """Under the lock: create the schema and tracking table, return what is pending."""
    await _lock(conn, sql, sql.LOCK_MIGRATIONS)
    cursor = await conn.execute(sql.SELECT_SCHEMA_EXISTS, (sql.schema,))
    if await cursor.fetchone() is None:
        await conn.execute(sql.CREATE_SCHEMA)
    await conn.execute(sql.CREATE_MIGRATIONS_TABLE)
    return pending_migrations("postgres", await _applied(conn, sql))


async def _lock(conn: AsyncConnection[Row], sql: Statements, statement: bytes) -> None:
    try:
        await conn.execute(statement, (sql.schema,))
    except psycopg.Error as exc:
        if not is_lock_timeout(exc):
            raise
        raise UnavailableError(
            f"another process is still migrating PostgreSQL schema {sql.schema!r}: its "
            "lock was not released within connect_timeout; try opening again"
        ) from exc


async def migrate(
    conn: AsyncConnection[Row], sql: Statements, *, lock_timeout: float | None = None
) -> int:
    """Apply every pending migration on an autocommit connection; return how many ran.

    ``lock_timeout`` (seconds) bounds each lock wait of each migration's transaction,
    the migrations' own lock included. It is set for that transaction only, so that
    nothing of it stays on a server connection a pooler lends to the next client.

    Raises:
        MigrationError: a file was changed after it was applied, the database is newer
            than this code, or a migration failed (psycopg errors propagate to the
            caller, which maps them).
        UnavailableError: another process held the migrations' lock past
            ``lock_timeout``.
    """
    # At least 1 ms: lock_timeout 0 would mean no bound at all.
    setting = None if lock_timeout is None else f"{max(1, int(lock_timeout * 1000))}ms"
    applied = 0
    while True:
        try:
            async with conn.transaction():
                if setting is not None:
                    await conn.execute(sql.SET_LOCAL_LOCK_TIMEOUT, (setting,))
                pending = await _prepare(conn, sql)
                if not pending:
                    return applied
                migration = pending[0]
                if migration.transactional:
                    await conn.execute(sql.SET_LOCAL_SEARCH_PATH)
                    await _run_file(conn, migration)
                    await conn.execute(
                        sql.INSERT_MIGRATION,
                        (migration.version, migration.name, migration.checksum),
                    )
                    applied += 1
                    continue
        except MigrationError:
            await _refuse_go_database(conn, sql)
            raise
        await _run_outside_transaction(conn, sql, migration)
        applied += 1


async def _refuse_go_database(conn: AsyncConnection[Row], sql: Statements) -> None:
    """Name a Go Skillbox database as such once a migration failed (and rolled back) on it.

    Its tables make the first migration fail with "relation api_keys already exists",
    which tells the operator nothing. Looked at only after a failure, so that opening a
    store costs no query for it.
    """
    # Imported here: the adoption package imports this module.
    from skillbox_store.adopt.detect import refuse_unadopted_go_database

    try:
        await refuse_unadopted_go_database(conn, sql.schema)
    except psycopg.Error:
        return  # the migration's own failure says more than a failed look


async def _run_file(conn: AsyncConnection[Row], migration: Migration) -> None:
    try:
        # No parameters: psycopg sends the file as one simple query, many statements.
        await conn.execute(migration.sql.encode())
    except Exception as exc:
        if isinstance(exc, psycopg.Error) and is_dead_connection(exc):
            # The file is sound; the connection is not. The caller names a lost
            # connection as such (UnavailableError): running again finishes the work.
            raise
        raise MigrationError(f"migration postgres/{migration.name} failed: {exc}") from exc


async def _run_outside_transaction(
    conn: AsyncConnection[Row], sql: Statements, migration: Migration
) -> None:
    await _lock(conn, sql, sql.LOCK_MIGRATIONS_SESSION)
    try:
        applied = {row.version for row in await _applied(conn, sql)}
        if migration.version in applied:
            return
        await conn.execute(sql.SET_SEARCH_PATH)
        try:
            await _run_file(conn, migration)
        finally:
            await conn.execute(sql.RESET_SEARCH_PATH)
        await conn.execute(
            sql.INSERT_MIGRATION, (migration.version, migration.name, migration.checksum)
        )
    finally:
        await conn.execute(sql.UNLOCK_MIGRATIONS_SESSION, (sql.schema,))
