"""Bulk paths against the raw SQL they are built on, in one run on one machine.

    python benchmarks/bulk.py                 # N = 50,000 executions
    python benchmarks/bulk.py --scale         # N = 1,000,000
    python benchmarks/bulk.py -n 200000

1. ``copy``: `skillbox_store.transfer.copy_store` of a SQLite file holding N executions
   into PostgreSQL (records/s; the copy phase, then the verification that reads the
   destination back), against raw ``COPY … FROM STDIN`` of the same rows, prepared as
   Python tuples beforehand, into an identical table. Target: the copy within 3x.
2. ``purge``: `purge_tenant` of the tenant (N executions) on PostgreSQL, against the
   same statement (`PURGE_TENANT`, the DELETEs of every table) run raw on the raw copy.

The server is ``SKILLBOX_TEST_POSTGRES_URL`` when set, else a throwaway cluster; each
run uses fresh schemas and drops them at the end. A script, not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from psycopg import AsyncConnection, sql
from psycopg.types.json import Jsonb

from benchmarks.postgres_bench import _server
from skillbox_store import open_store
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.sqlite import statements as sqlite_sql
from skillbox_store.backends.sqlite.rows import dump_json, dump_time
from skillbox_store.transfer import copy_store

TENANT = "bench-tenant"
DEFAULT_N = 50_000
SCALE_N = 1_000_000
TARGET = 3.0

_COPY_TYPES = [
    "text",
    "text",
    "text",
    "text",
    "text",
    "jsonb",
    "jsonb",
    "text",
    "text",
    "text[]",
    "int8",
    "text",
    "timestamptz",
    "timestamptz",
]


def _rows(n: int) -> list[tuple[Any, ...]]:
    """N finished executions of one tenant, as Python values in column order."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        created = start + timedelta(milliseconds=i)
        rows.append(
            (
                str(uuid.uuid4()),
                "bench",
                "1.0.0",
                TENANT,
                "success",
                {"n": i, "args": ["a", "b"]},
                {"ok": True, "took": i % 97},
                "",
                "",
                [f"out-{i % 7}.txt"],
                i % 1000,
                None,
                created,
                created + timedelta(seconds=1),
            )
        )
    return rows


def _seed_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    """Write the rows with the SQLite backend's own INSERT, in one transaction."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("BEGIN")
        conn.executemany(
            sqlite_sql.INSERT_EXECUTION,
            (
                (
                    *r[:5],
                    dump_json(r[5]),
                    dump_json(r[6]),
                    r[7],
                    r[8],
                    dump_json(r[9]),
                    r[10],
                    r[11],
                    dump_time(r[12]),
                    dump_time(r[13]),
                )
                for r in rows
            ),
        )
        conn.execute("COMMIT")


async def _raw_copy(
    conn: AsyncConnection[Any], q: Statements, rows: list[tuple[Any, ...]]
) -> float:
    """COPY the prepared rows into the raw schema; return the seconds it took."""
    prepared = [(*r[:5], Jsonb(r[5]), Jsonb(r[6]), *r[7:]) for r in rows]
    started = time.perf_counter()
    async with conn.cursor().copy(q.COPY_BULK_EXECUTIONS) as copy:
        copy.set_types(_COPY_TYPES)
        for row in prepared:
            await copy.write_row(row)
    return time.perf_counter() - started


async def _migrated(url: str, schema: str) -> None:
    async with open_store(url, schema=schema):
        pass


async def run(n: int) -> int:
    """Run both comparisons for N executions; print the lines; 0 when the target is met."""
    rows = _rows(n)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "source.db"
        async with open_store(f"sqlite:///{db}"):
            pass
        _seed_sqlite(db, rows)
        async with _server() as url:
            copied, raw = f"bulk_copy_{uuid.uuid4().hex[:8]}", f"bulk_raw_{uuid.uuid4().hex[:8]}"
            await _migrated(url, copied)
            await _migrated(url, raw)
            conn = await AsyncConnection.connect(url, autocommit=True)
            try:
                return await _compare(url, db, conn, copied, raw, rows, n)
            finally:
                for schema in (copied, raw):
                    with contextlib.suppress(Exception):
                        await conn.execute(
                            sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))
                        )
                await conn.close()


async def _compare(
    url: str,
    db: Path,
    conn: AsyncConnection[Any],
    copied: str,
    raw: str,
    rows: list[tuple[Any, ...]],
    n: int,
) -> int:
    raw_q = Statements.for_schema(raw)
    raw_seconds = await _raw_copy(conn, raw_q, rows)
    async with (
        open_store(f"sqlite:///{db}", migrate=False) as source,
        open_store(url, schema=copied) as destination,
    ):
        started = time.perf_counter()
        report = await copy_store(source, destination)
        total = time.perf_counter() - started
        copy_seconds = report.tables["executions"].seconds
        verify_seconds = total - sum(p.seconds for p in report.tables.values())

        purge_started = time.perf_counter()
        purged = await destination.purge_tenant(TENANT)
        purge_seconds = time.perf_counter() - purge_started
    assert purged.executions == n, purged
    raw_purge_started = time.perf_counter()
    cursor = await conn.execute(raw_q.PURGE_TENANT, {"tenant_id": TENANT})
    raw_purged = await cursor.fetchone()
    raw_purge_seconds = time.perf_counter() - raw_purge_started
    assert raw_purged is not None
    assert raw_purged[1] == n, raw_purged

    ratio = copy_seconds / raw_seconds
    print(f"bulk benchmark, N = {n:,} executions of one tenant")
    print(
        f"copy sqlite -> postgres: {n / copy_seconds:,.0f} records/s ({copy_seconds:.2f} s); "
        f"then verify (read back, digest) {verify_seconds:.2f} s; "
        f"copy + verify {n / total:,.0f} records/s"
    )
    print(f"raw COPY of the same rows: {n / raw_seconds:,.0f} records/s ({raw_seconds:.2f} s)")
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"copy / raw COPY: {ratio:.2f}x (target <= {TARGET:.0f}x: {verdict})")
    print(
        f"purge_tenant: {purge_seconds:.2f} s; the same statement raw: {raw_purge_seconds:.2f} s "
        f"(ratio {purge_seconds / raw_purge_seconds:.2f})"
    )
    return 0 if ratio <= TARGET else 1


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("-n", type=int, default=DEFAULT_N, help="executions to copy and purge")
    size.add_argument("--scale", action="store_true", help=f"N = {SCALE_N:,}")
    args = parser.parse_args(argv)
    return asyncio.run(run(SCALE_N if args.scale else args.n))


if __name__ == "__main__":
    sys.exit(main())
