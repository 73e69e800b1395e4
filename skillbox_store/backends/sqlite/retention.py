"""The SQL work of `purge_tenant` and `prune_executions`, one unit each (see `units`)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from skillbox_store.backends.sqlite import statements as sql
from skillbox_store.backends.sqlite.rows import dump_time
from skillbox_store.records import RetentionReport

__all__ = ["prune_executions", "purge_tenant"]


def purge_tenant(conn: sqlite3.Connection, tenant_id: str) -> RetentionReport:
    """Delete every row of the tenant, all or nothing, and report what went."""
    conn.execute(sql.SAVEPOINT_PURGE)
    try:
        s3_keys = [row[0] for row in conn.execute(sql.DELETE_TENANT_FILES, (tenant_id,))]
        counts = [
            conn.execute(statement, (tenant_id,)).rowcount
            for statement in (
                sql.DELETE_TENANT_EXECUTIONS,
                sql.DELETE_TENANT_SESSIONS,
                sql.DELETE_TENANT_SKILLS,
                sql.DELETE_TENANT_KEYS,
            )
        ]
    except BaseException:
        # An error that rolled back the whole transaction (SQLITE_FULL) took the
        # savepoint with it.
        if conn.in_transaction:
            conn.execute(sql.ROLLBACK_TO_SAVEPOINT_PURGE)
            conn.execute(sql.RELEASE_SAVEPOINT_PURGE)
        raise
    conn.execute(sql.RELEASE_SAVEPOINT_PURGE)
    executions, sessions, skills, api_keys = counts
    return RetentionReport(
        api_keys=api_keys,
        executions=executions,
        files=len(s3_keys),
        sessions=sessions,
        skills=skills,
        s3_keys=sorted(s3_keys),
    )


def prune_executions(
    conn: sqlite3.Connection, tenant_id: str, finished_before: datetime
) -> RetentionReport:
    """Delete the finished executions no file names; count the ones files keep."""
    params = {"tenant_id": tenant_id, "before": dump_time(finished_before)}
    removed = conn.execute(sql.DELETE_FINISHED_EXECUTIONS, params).rowcount
    (kept,) = conn.execute(sql.SELECT_FINISHED_EXECUTION_COUNT, params).fetchone()
    return RetentionReport(executions=removed, kept_referenced=kept)
