"""Purging a tenant and pruning its executions, as functions over a memory store's tables.

Each function changes the tables without an ``await``, so it is atomic as every memory
store method is; inside a transaction it works on the block's fork like any write.
"""

from __future__ import annotations

from datetime import datetime

from skillbox_store.backends.memory.tables import Tables
from skillbox_store.records import RetentionReport

__all__ = ["prune_executions", "purge_tenant"]


def purge_tenant(tables: Tables, tenant_id: str) -> RetentionReport:
    """Remove every record of the tenant and report what was removed."""
    keys = tables.keys.read(tenant_id)
    files = tables.files.read(tenant_id)
    report = RetentionReport(
        api_keys=len(keys),
        executions=len(tables.executions.read(tenant_id)),
        files=len(files),
        sessions=len(tables.sessions.read(tenant_id)),
        skills=len(tables.skills.read(tenant_id)),
        s3_keys=sorted(stored.file.s3_key for stored in files.values()),
    )
    if not report.removed:
        # Writing would create empty partitions (and, in a fork, copy them) for nothing.
        return report
    for key in list(keys.values()):
        del tables.keys_by_hash.write(key.key_hash)[key.key_hash]
    for table in (
        tables.keys,
        tables.executions,
        tables.files,
        tables.chains,
        tables.sessions,
        tables.session_ids,
        tables.skills,
    ):
        if table.read(tenant_id):
            table.write(tenant_id).clear()
    return report


def prune_executions(tables: Tables, tenant_id: str, finished_before: datetime) -> RetentionReport:
    """Remove the tenant's finished executions older than the time that no file names."""
    candidates = [
        execution.id
        for execution in tables.executions.read(tenant_id).values()
        if execution.status != "running"
        and execution.finished_at is not None
        and execution.finished_at < finished_before
    ]
    if not candidates:
        return RetentionReport()
    named = {
        stored.file.execution_id
        for stored in tables.files.read(tenant_id).values()
        if stored.file.execution_id is not None
    }
    doomed = [execution_id for execution_id in candidates if execution_id not in named]
    if doomed:
        rows = tables.executions.write(tenant_id)
        for execution_id in doomed:
            del rows[execution_id]
    return RetentionReport(executions=len(doomed), kept_referenced=len(candidates) - len(doomed))
