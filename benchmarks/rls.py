"""Row-level security's cost: the same store calls with the policies in force and off.

    python benchmarks/rls.py --rounds 15 --iterations 300

Two schemas of one server, seeded alike, opened by one plain application role: one
with ``rls=on`` (the policies enforced, every statement sent with its tenant's
declaration, as one query), one with ``rls=off`` (no policies, statements alone). The
rounds interleave and alternate which side goes first (`benchmarks.timing.compare`).
Both schemas' tables are analyzed after seeding, as autovacuum would have done on a
live database: without statistics, each side's plan for a page would depend on whether
autovacuum happened to wake during the run.
The target: each call at most 1.1x with RLS on. Round trips per call are counted on
the wire for the RLS side. A script, not a timed test: the numbers are the machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg import AsyncConnection, pq
from psycopg_pool import AsyncConnectionPool

from benchmarks.timing import Case, compare
from skillbox_store import Execution, Store, hash_key, open_store
from skillbox_store.backends.postgres import PostgresStore

TARGET = 1.1
KEYS = 1_000
EXECUTIONS = 2_000
TENANTS = 10
POOL_SIZE = 4


@asynccontextmanager
async def _application_url() -> AsyncIterator[str]:
    from skillbox_store.testing_postgres import application_url, provide_postgres

    with provide_postgres() as url:
        yield application_url(url)


async def _seed(store: Store) -> tuple[list[str], list[tuple[str, str]]]:
    hashes = [hash_key(f"key-{i}") for i in range(KEYS)]
    for i, key_hash in enumerate(hashes):
        await store.create_key(f"tenant-{i % TENANTS}", f"key {i}", key_hash)
    runs = []
    for i in range(EXECUTIONS):
        run = await store.create_execution(
            Execution(
                skill_name="bench",
                skill_version="1.0.0",
                tenant_id=f"tenant-{i % TENANTS}",
                input={"n": i},
            )
        )
        runs.append((run.tenant_id, run.id))
    return hashes, runs


def _calls(store: Store, hashes: list[str], runs: list[tuple[str, str]]) -> dict[str, Any]:
    async def validate(i: int) -> Any:
        return await store.validate_key(hashes[i % len(hashes)])

    async def get(i: int) -> Any:
        tenant, run_id = runs[i % len(runs)]
        return await store.get_execution(tenant, run_id)

    async def create(i: int) -> Any:
        return await store.create_execution(
            Execution(skill_name="bench", skill_version="1.0.0", tenant_id="tenant-new")
        )

    async def page(i: int) -> Any:
        return await store.list_executions(f"tenant-{i % TENANTS}", limit=20)

    return {
        "validate_key": validate,
        "get_execution": get,
        "create_execution": create,
        "list_executions(20)": page,
    }


async def _round_trips(url: str, schema: str, hashes: list[str], runs: Any) -> dict[str, float]:
    pool: AsyncConnectionPool[AsyncConnection[tuple[Any, ...]]] = AsyncConnectionPool(
        url, kwargs={"autocommit": True}, min_size=1, max_size=1, open=False
    )
    await pool.open(wait=True)
    trips: dict[str, float] = {}
    try:
        store = PostgresStore(pool, schema=schema)
        for call in _calls(store, hashes, runs).values():
            await call(0)  # the first call checks the schema's version: not counted
        with tempfile.TemporaryFile("w+") as trace:
            for name, call in _calls(store, hashes, runs).items():
                start = trace.seek(0, 2)
                async with pool.connection() as conn:
                    conn.pgconn.trace(trace.fileno())
                    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                for i in range(20):
                    await call(i)
                async with pool.connection() as conn:
                    conn.pgconn.untrace()
                trace.seek(start)
                trips[name] = sum("\tReadyForQuery\t" in line for line in trace) / 20
    finally:
        await pool.close()
    return trips


async def _analyze(url: str, *schemas: str) -> None:
    """Give the planner the seeded tables' statistics, on both sides alike."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        for schema in schemas:
            for table in ("api_keys", "executions"):
                await conn.execute(
                    psycopg.sql.SQL("ANALYZE {}.{}").format(
                        psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                    )
                )


async def run(rounds: int, iterations: int) -> int:
    """Time both sides; print the table, the round trips and the verdict."""
    began = time.monotonic()
    async with _application_url() as url:
        on_schema, off_schema = f"rls_on_{uuid.uuid4().hex[:6]}", f"rls_off_{uuid.uuid4().hex[:6]}"
        on = await open_store(
            url, schema=on_schema, rls="on", min_size=POOL_SIZE, max_size=POOL_SIZE
        )
        off = await open_store(
            url, schema=off_schema, rls="off", min_size=POOL_SIZE, max_size=POOL_SIZE
        )
        try:
            assert isinstance(on, PostgresStore)
            assert on.row_level_security is not None
            print(f"rls=on: {on.row_level_security.describe()}")
            hashes_on, runs_on = await _seed(on)
            hashes_off, runs_off = await _seed(off)
            await _analyze(url, on_schema, off_schema)
            calls_on = _calls(on, hashes_on, runs_on)
            calls_off = _calls(off, hashes_off, runs_off)
            cases = [Case(name, calls_on[name], calls_off[name]) for name in calls_on]
            results = await compare("postgres", cases, rounds, iterations)
            trips = await _round_trips(url, on_schema, hashes_on, runs_on)
        finally:
            await on.close()
            await off.close()
            with contextlib.suppress(psycopg.Error):
                async with await AsyncConnection.connect(url, autocommit=True) as conn:
                    for schema in (on_schema, off_schema):
                        await conn.execute(
                            psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
                                psycopg.sql.Identifier(schema)
                            )
                        )
    print(f"{'operation':<20} {'rls on µs':>10} {'rls off µs':>11} {'on/off':>7} {'trips':>6}")
    worst = 0.0
    for r in results:
        worst = max(worst, r.ratio)
        print(
            f"{r.name:<20} {r.store_us:>10.1f} {r.raw_us:>11.1f} {r.ratio:>7.2f} "
            f"{trips[r.name]:>6g}"
        )
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"worst on/off {worst:.2f}, target <= {TARGET:.2f}: {verdict}")
    print(f"({rounds} rounds of {iterations} calls a side; {time.monotonic() - began:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args(argv)
    return asyncio.run(run(args.rounds, args.iterations))


if __name__ == "__main__":
    sys.exit(main())
