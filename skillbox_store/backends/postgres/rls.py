"""Row-level security at open: the ``rls`` option made true, and whether it protects.

``rls=on`` (the default) makes the tenant tables enforce their policies (the migration
creates them enforced; an ``rls=off`` opener may have turned them off) and has every
statement declare what it may see (`tenancy`). ``rls=required`` is ``on`` and refuses
to open where the policies would not apply: a superuser or a role with ``BYPASSRLS``
is never subject to them, nor is anyone when the tables do not enforce them (the role
does not own them, so could not turn them on). ``rls=off`` turns enforcement off (the
role must own the tables) and declares nothing: the statements' own predicates are
then the only wall.

The option is the schema's state as much as the store's: every process on one schema
should open it with the same ``rls``.

On Citus the policies cannot protect: a statement on a distributed table runs on the
shards, in the workers' own transactions, which never see the coordinator's
declaration, so every write would fail the policies' check. ``migrate --distribute``
turns enforcement off, ``rls=on`` leaves it off there, and the state says why;
``rls=required`` refuses to open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import psycopg
from psycopg import AsyncConnection

from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.errors import MigrationError

__all__ = ["RLS_MODES", "RlsMode", "RlsState", "apply_rls", "rls_state"]

RlsMode = Literal["off", "on", "required"]
RLS_MODES: Final = ("off", "on", "required")
_TABLES: Final = 5

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RlsState:
    """Row-level security as a store found it.

    Attributes:
        mode: the ``rls`` option the store was opened with.
        enforced: the tenant tables enforce their policies (ENABLE and FORCE).
        bypassed: the connected role escapes every policy (superuser or BYPASSRLS).
        declaring: the store declares each statement's tenant (``mode`` is not off,
            or the tables enforce the policies anyway).
        distributed: Citus distributes tables of the schema (see above).
    """

    mode: RlsMode
    enforced: bool
    bypassed: bool
    declaring: bool
    distributed: bool = False

    @property
    def effective(self) -> bool:
        """Tell whether the policies stand between this store's role and other tenants."""
        return self.enforced and not self.bypassed and not self.distributed

    def describe(self) -> str:
        """One line for `status`: whether it protects, and why not when it does not."""
        if self.effective:
            return f"{self.mode}, effective"
        if self.distributed:
            return (
                f"{self.mode}, not effective: Citus distributes the tables, and its shards "
                "do not see the transaction's tenant, so the policies are off there"
            )
        if not self.enforced:
            return f"{self.mode}, not effective: the tenant tables do not enforce their policies"
        return (
            f"{self.mode}, not effective: the role is a superuser or has BYPASSRLS; "
            "connect as an application role"
        )


async def rls_state(conn: AsyncConnection[Row], sql: Statements, mode: RlsMode) -> RlsState:
    """Read whether the tables enforce their policies and whether the role escapes them."""
    cursor = await conn.execute(sql.SELECT_RLS_STATE, (sql.schema,))
    row = await cursor.fetchone()
    enforced = row is not None and int(row[0]) == _TABLES
    bypassed = row is not None and bool(row[1])
    distributed = False
    if row is not None and row[2]:
        cursor = await conn.execute(sql.SELECT_CITUS_TABLES_IN_SCHEMA, (sql.schema,))
        counted = await cursor.fetchone()
        distributed = counted is not None and int(counted[0]) > 0
    return RlsState(
        mode, enforced, bypassed, declaring=mode != "off" or enforced, distributed=distributed
    )


async def apply_rls(conn: AsyncConnection[Row], sql: Statements, mode: RlsMode) -> RlsState:
    """Bring the tables' enforcement to ``mode`` on an autocommit connection.

    Only changes what differs, so an open that finds the schema as it wants it runs
    no DDL (which would wait for every other session's lock on the tables).

    Raises:
        MigrationError: ``required`` where the policies would not protect, or the role
            may not change the tables' enforcement to what ``mode`` asks.
    """
    state = await rls_state(conn, sql, mode)
    wanted = mode != "off" and not state.distributed
    if state.enforced != wanted:
        try:
            async with conn.transaction():
                await conn.execute(sql.ENABLE_RLS if wanted else sql.DISABLE_RLS)
        except psycopg.errors.InsufficientPrivilege as exc:
            if mode == "on":
                # Not the owner: the store still declares, and status says it is not
                # effective; an owner can turn enforcement on.
                return state
            if mode == "off":
                # Enforced by its owner: declaring keeps this store working.
                return state
            raise MigrationError(
                f"rls=required, but the role may not make the tables of schema "
                f"{sql.schema!r} enforce row-level security (it does not own them): {exc}"
            ) from exc
        state = await rls_state(conn, sql, mode)
    if mode == "required" and not state.effective:
        raise MigrationError(f"rls=required, but row-level security is {state.describe()}")
    return state
