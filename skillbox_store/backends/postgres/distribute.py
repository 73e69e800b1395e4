"""Distributing a migrated schema on a Citus coordinator (``migrate --distribute``).

The layout is the README's: ``api_keys`` a reference table (its hash lookups cross
tenants and must stay local on every node), the other tables hash-distributed on
``tenant_id`` and co-located with ``executions``, so every tenant's rows of every table
share one shard group and the foreign keys between them stay inside it.

Idempotent: a table already laid out as wanted is left alone, so the command can run
after every migration. A table laid out otherwise (distributed on another column, or
not co-located) is refused rather than moved: undistributing copies every row through
the coordinator, a decision for an operator, not a side effect. Each table is
distributed by its own autocommit statement, under the schema's session-level
migration lock: Citus refuses some distributions inside a transaction that already ran
parallel commands on shards, and a second ``--distribute`` waits, then finds the work done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import psycopg

from skillbox_store.backends.postgres.connections import Connections, Row
from skillbox_store.backends.postgres.rls import rls_state
from skillbox_store.errors import MigrationError, StoreError

__all__ = ["DISTRIBUTED", "REFERENCE", "TABLES", "Placement", "distribute_tables"]

REFERENCE: Final = "api_keys"
DISTRIBUTED: Final = ("executions", "files", "sessions", "skills")
TABLES: Final = (REFERENCE, *DISTRIBUTED)
# Every distributed table is co-located with the first one, which the others reference.
_ANCHOR: Final = DISTRIBUTED[0]


@dataclass(frozen=True, slots=True)
class Placement:
    """How one table ended up: ``action`` is "distributed", "reference" or "unchanged"."""

    table: str
    layout: str
    action: str


def _qualified(schema: str, table: str) -> str:
    # A regclass given as a value, never composed into the statement. Schema names are
    # lower-case ASCII (`check_schema`), so this spelling needs no quoting.
    return f"{schema}.{table}"


async def _layout(conn: psycopg.AsyncConnection[Row], sql: bytes, name: str) -> Row | None:
    cursor = await conn.execute(sql, (name,))
    return await cursor.fetchone()


async def distribute_tables(db: Connections) -> list[Placement]:
    """Distribute the store's tables as documented; return what each table became.

    Raises:
        MigrationError: Citus is not installed in the database, the schema is not
            migrated, or a table is already distributed another way.
        StoreError: any other failure, translated.
    """
    sql = db.sql
    schema = sql.schema
    db.check_usable()
    try:
        async with db.shared.pool.connection() as conn:
            cursor = await conn.execute(sql.SELECT_CITUS_VERSION)
            if await cursor.fetchone() is None:
                raise MigrationError(
                    "--distribute needs a Citus coordinator: the citus extension is not "
                    "installed in this database (CREATE EXTENSION citus)"
                )
            await conn.execute(sql.LOCK_MIGRATIONS_SESSION, (schema,))
            try:
                return await _distribute_tables(conn, db, schema)
            finally:
                await conn.execute(sql.UNLOCK_MIGRATIONS_SESSION, (schema,))
    except StoreError:
        raise
    except Exception as exc:
        raise db.error(exc) from exc


async def _distribute_tables(
    conn: psycopg.AsyncConnection[Row], db: Connections, schema: str
) -> list[Placement]:
    sql = db.sql
    placements: list[Placement] = []
    anchor = _qualified(schema, _ANCHOR)
    if (await rls_state(conn, sql, "on")).enforced:
        # Row-level security cannot hold on Citus (rls.py): the shards never see the
        # transaction's declaration, and every write would fail the policies' check.
        await conn.execute(sql.DISABLE_RLS)
    for table in TABLES:
        name = _qualified(schema, table)
        exists = await _layout(conn, sql.SELECT_TABLE_EXISTS, name)
        if exists is None or exists[0] is None:
            raise MigrationError(
                f"table {name} does not exist: migrate the schema before distributing it"
            )
        wanted = "reference" if table == REFERENCE else "distributed on tenant_id"
        found = await _layout(conn, sql.SELECT_CITUS_LAYOUT, name)
        if found is None:
            if table == REFERENCE:
                await conn.execute(sql.CREATE_REFERENCE_TABLE, (name,))
            else:
                colocate = "default" if table == _ANCHOR else anchor
                await conn.execute(sql.CREATE_DISTRIBUTED_TABLE, (name, colocate))
            placements.append(Placement(table, wanted, wanted.split()[0]))
            continue
        method, column, colocation = found
        anchor_layout = await _layout(conn, sql.SELECT_CITUS_LAYOUT, anchor)
        if table == REFERENCE:
            laid_out_right = method == "n"
        else:
            laid_out_right = (
                method == "h"
                and column == "tenant_id"
                and anchor_layout is not None
                and colocation == anchor_layout[2]
            )
        if not laid_out_right:
            raise MigrationError(
                f"table {name} is already distributed another way (method {method!r}, "
                f"column {column!r}); wanted: {wanted}, co-located with {anchor}. "
                "Undistribute it first (undistribute_table) if that is intended"
            )
        placements.append(Placement(table, wanted, "unchanged"))
    return placements
