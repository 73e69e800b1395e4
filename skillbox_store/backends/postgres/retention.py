"""`purge_tenant` and `prune_executions` on PostgreSQL.

A single statement is atomic without a transaction of its own (a data-modifying CTE
per table, the foreign keys checked when the whole statement ends), costs one round
trip, and inside a `transaction()` block runs in the block's savepoint like any write.
Pruning is one; purging is two in one transaction (api_keys apart, see `purge_tenant`).
"""

from __future__ import annotations

from datetime import datetime

from skillbox_store.backends.postgres.connections import Connections
from skillbox_store.errors import ConflictError
from skillbox_store.records import RetentionReport

__all__ = ["prune_executions", "purge_tenant"]


async def purge_tenant(db: Connections, tenant_id: str) -> RetentionReport:
    """Delete the tenant's rows of every table and report them, in one transaction.

    Two statements (`PURGE_TENANT_KEYS`, `PURGE_TENANT`): on Citus, api_keys is a
    reference table, and a statement that also deletes from it is no longer routed to
    the tenant's shard but split into a subplan per table.
    """
    params = {"tenant_id": tenant_id}
    async with db.block() as scoped:
        api_keys = await scoped.query(scoped.sql.PURGE_TENANT_KEYS, params, "count", write=True)
        row = await scoped.one(scoped.sql.PURGE_TENANT, params, write=True)
    assert row is not None  # an aggregate's one row
    executions, sessions, skills, s3_keys = row
    return RetentionReport(
        api_keys=api_keys,
        executions=executions,
        files=len(s3_keys),
        sessions=sessions,
        skills=skills,
        s3_keys=sorted(s3_keys),
    )


async def prune_executions(
    db: Connections, tenant_id: str, finished_before: datetime
) -> RetentionReport:
    """Delete the finished executions no file names (`PRUNE_EXECUTIONS`).

    A file naming a candidate, committed meanwhile, fails the foreign key: the
    statement deletes nothing and the call is a `ConflictError`.
    """
    removed, candidates = await db.query(
        db.sql.PRUNE_EXECUTIONS,
        {"tenant_id": tenant_id, "before": finished_before},
        "one",
        write=True,
        referenced=ConflictError,
    )
    return RetentionReport(executions=removed, kept_referenced=candidates - removed)
