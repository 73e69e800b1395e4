"""Proof before COMMIT that the converted tables hold what the Go tables held.

Per-table counts, every row compared column by column after the stated conversions,
every chain one ``chain_id`` (checked link by link, not by the walk that set them),
`resolve_latest_version` against Go's ``ORDER BY uploaded_at DESC`` for every
(tenant, name), and the sequences past their maxima. A difference rolls everything back.
"""

from __future__ import annotations

from typing import Any, Final

from psycopg import AsyncConnection

from skillbox_store.adopt import statements as q
from skillbox_store.adopt.convert import SEQUENCES
from skillbox_store.adopt.detect import GO_TABLES
from skillbox_store.adopt.report import Tie

__all__ = ["verify"]

Row = tuple[Any, ...]

_ROW_COMPARISONS: Final = (
    ("api_keys", q.SELECT_KEY_DIFFERENCES),
    ("executions", q.SELECT_EXECUTION_DIFFERENCES),
    ("files", q.SELECT_FILE_DIFFERENCES),
    ("sessions", q.SELECT_SESSION_DIFFERENCES),
    ("skills", q.SELECT_SKILL_DIFFERENCES),
)


async def _one(conn: AsyncConnection[Row], statement: Any, params: Any = None) -> Row:
    cursor = await conn.execute(statement, params)
    row = await cursor.fetchone()
    assert row is not None  # aggregates always return a row
    return row


async def verify(
    conn: AsyncConnection[Row], go_schema: str, staging: str
) -> tuple[list[str], list[Tie]]:
    """Return what differs between the Go tables and ``staging`` (empty: equal), and ties."""
    differences: list[str] = []
    counts = await _one(conn, q.compose(q.SELECT_COUNTS, go=go_schema, new=staging))
    for index, table in enumerate(GO_TABLES):
        go_count, new_count = counts[2 * index], counts[2 * index + 1]
        if go_count != new_count:
            differences.append(f"{table}: {go_count} Go rows, {new_count} converted")
    for table, template in _ROW_COMPARISONS:
        count, ids = await _one(conn, q.compose(template, go=go_schema, new=staging))
        if count:
            differences.append(
                f"{table}: {count} row(s) missing, added or changed, e.g. {', '.join(ids)}"
            )
    count, ids = await _one(conn, q.compose(q.SELECT_CHAIN_DIFFERENCES, new=staging))
    if count:
        differences.append(
            f"files: {count} file(s) not in their parent's chain, e.g. {', '.join(ids)}"
        )
    ties: list[Tie] = []
    cursor = await conn.execute(q.compose(q.SELECT_LATEST_VERSIONS, go=go_schema, new=staging))
    for tenant, name, go_versions, ours in await cursor.fetchall():
        versions = tuple(str(v) for v in go_versions or ())
        if ours is not None and str(ours) in versions:
            # Several newest uploads at one instant: Go's answer was any of them.
            ties.append(Tie(str(tenant), str(name), versions, str(ours)))
        else:
            differences.append(
                f"skills: latest version of {name!r} for tenant {tenant!r} is {ours!r}, "
                f"Go's is {' or '.join(versions) or 'none'}"
            )
    for table, column in SEQUENCES:
        (behind,) = await _one(
            conn,
            q.compose(q.SELECT_SEQUENCE_BEHIND, new=staging, table=table, column=column),
            (f"{staging}.{table}", column),
        )
        if behind:
            differences.append(f"{table}.{column}: the sequence is not past the maximum")
    return differences, ties
