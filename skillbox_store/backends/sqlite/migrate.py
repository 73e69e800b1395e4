"""Applying the SQLite migrations, as one unit of work on the writer connection.

Each missing file runs with its row in ``schema_migrations`` in one ``BEGIN
IMMEDIATE`` transaction. IMMEDIATE takes the write lock *before* the tracking table is
read, so of several processes opening a fresh file at once, the first migrates and
the others, once they get the lock, find nothing left to do.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.rows import dump_time
from skillbox_store.errors import MigrationError
from skillbox_store.migrations import AppliedMigration, Migration, pending_migrations
from skillbox_store.records import utc_now

__all__ = ["migrate", "split_statements"]


def split_statements(script: str) -> Iterator[str]:
    """Yield the statements of a SQL script one by one.

    ``executescript`` would commit the open transaction first, so the runner executes
    statement by statement; `sqlite3.complete_statement` decides where one ends, so a
    ``;`` inside a string, a comment or a trigger body does not split it.
    """
    start = 0
    position = script.find(";")
    while position != -1:
        candidate = script[start : position + 1]
        if sqlite3.complete_statement(candidate):
            yield candidate
            start = position + 1
        position = script.find(";", position + 1)
    rest = script[start:]
    # Trailing comments are dropped; a last statement without its ";" still runs.
    if _COMMENT.sub("", rest).strip():
        yield rest


# Comments only ever removed from what follows the last complete statement; a string
# holding "--" there would only make a comment-only tail look like a statement, which
# SQLite then runs as a no-op.
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    for statement in split_statements(migration.sql):
        try:
            conn.execute(statement)
        except sqlite3.Error as exc:
            raise MigrationError(
                f"migration sqlite/{migration.name} failed: {type(exc).__name__}: {exc}"
            ) from exc


def _record(conn: sqlite3.Connection, migration: Migration) -> None:
    conn.execute(
        sql.INSERT_MIGRATION,
        (migration.version, migration.name, migration.checksum, dump_time(utc_now())),
    )


def _pending(conn: sqlite3.Connection, target: int | None) -> list[Migration]:
    conn.execute(sql.CREATE_MIGRATIONS_TABLE)
    applied = [AppliedMigration(*row) for row in conn.execute(sql.SELECT_APPLIED_MIGRATIONS)]
    pending = pending_migrations("sqlite", applied)
    return [m for m in pending if target is None or m.version <= target]


def migrate(conn: sqlite3.Connection, target: int | None = None) -> list[int]:
    """Apply every missing migration up to ``target`` (all when None); return their versions.

    Raises:
        MigrationError: an applied file changed, the database is newer than this code,
            or a migration's SQL failed (nothing of that file is kept).
    """
    done: list[int] = []
    while True:
        conn.execute(sql.BEGIN_IMMEDIATE)
        try:
            pending = _pending(conn, target)
            if not pending:
                conn.execute(sql.COMMIT)
                return done
            migration = pending[0]
            if not migration.transactional:
                # Statements such as VACUUM refuse to run in a transaction: run the file
                # on its own, then record it under the lock if nobody else did meanwhile.
                conn.execute(sql.COMMIT)
                _apply(conn, migration)
                conn.execute(sql.BEGIN_IMMEDIATE)
                if migration in _pending(conn, target):
                    _record(conn, migration)
            else:
                _apply(conn, migration)
                _record(conn, migration)
            conn.execute(sql.COMMIT)
        except BaseException:
            if conn.in_transaction:
                conn.execute(sql.ROLLBACK)
            raise
        done.append(migration.version)
