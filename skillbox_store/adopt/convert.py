"""The conversion itself, inside the caller's transaction: build, copy, number, swap.

The tables are built by the store's own migrator in a staging schema, so they are the
exact migration files and the tracking rows carry their checksums, as on any store;
then every Go row is copied by `statements`' rules, the identities and
``skills_upload_seq`` are set past their maxima, and the schemas swap names. Nothing is
dropped: the Go tables (and the goose table) end in the backup schema.
"""

from __future__ import annotations

from typing import Any, Final

from psycopg import AsyncConnection

from skillbox_store.adopt import statements as q
from skillbox_store.adopt.detect import GoDatabase
from skillbox_store.backends.postgres.migrate import migrate
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.errors import MigrationError
from skillbox_store.migrations import load_migrations

__all__ = ["build_and_copy", "swap_schemas"]

Row = tuple[Any, ...]

# Parents before children: files name executions through a foreign key.
_COPIES: Final = (
    q.INSERT_KEYS,
    q.INSERT_EXECUTIONS,
    q.INSERT_SESSIONS,
    q.INSERT_FILES,
    q.INSERT_SKILLS,
)
SEQUENCES: Final = (
    ("api_keys", "seq"),
    ("executions", "seq"),
    ("files", "seq"),
    ("skills", "upload_seq"),
)


async def build_and_copy(conn: AsyncConnection[Row], go: GoDatabase, staging: str) -> None:
    """Build this store's schema in ``staging`` and copy every Go row into it.

    Runs in the caller's transaction: the migrator's own transactions become savepoints.

    Raises:
        MigrationError: a migration cannot run inside a transaction (it could not be
            undone with the rest), or one failed.
    """
    single = [m.name for m in load_migrations("postgres") if not m.transactional]
    if single:
        raise MigrationError(
            f"migration(s) {', '.join(single)} cannot run inside a transaction, so "
            "adoption cannot apply them atomically: adopt with the skillbox-store release "
            "before them, then run skillbox-store migrate"
        )
    await migrate(conn, Statements.for_schema(staging))
    for statement in _COPIES:
        await conn.execute(q.compose(statement, go=go.schema, new=staging))
    for table, column in SEQUENCES:
        await conn.execute(
            q.compose(q.SET_SEQUENCE, new=staging, table=table, column=column),
            (f"{staging}.{table}", column),
        )


async def swap_schemas(
    conn: AsyncConnection[Row], go: GoDatabase, staging: str, backup: str
) -> None:
    """Move the Go tables (and goose's) to ``backup`` and give ``staging`` their name."""
    await conn.execute(q.compose(q.RENAME_SCHEMA, old=go.schema, new=backup))
    await conn.execute(q.compose(q.RENAME_SCHEMA, old=staging, new=go.schema))
    if go.goose_schema != go.schema:
        for table in go.goose_tables:
            await conn.execute(
                q.compose(q.MOVE_TABLE, goose=go.goose_schema, table=table, backup=backup)
            )
