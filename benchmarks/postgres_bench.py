"""The PostgreSQL benchmark: the store against the same SQL through raw psycopg.

The store is opened with its defaults; the raw side is `benchmarks.raw_postgres`: a pool
of the same size and settings (autocommit, no server-side prepared statements) sending
the same statements the same way (each with its row-level-security declaration, as one
query), psycopg used the natural way (``async with pool.connection() as conn``), and it
gets plain tuples back where the store validates input and builds records.

The server is ``SKILLBOX_TEST_POSTGRES_URL`` when set, else a throwaway cluster from
`skillbox_store.testing_postgres`. Each run uses a fresh schema and drops it at the end.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from psycopg import pq, sql
from psycopg.types.json import Jsonb

from benchmarks.raw_postgres import Pool, RawPostgres, raw_pool
from benchmarks.timing import Case, Result, compare
from skillbox_store import Execution, open_store
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.backends.postgres.statements import Statements

__all__ = ["run_postgres"]

SEED_KEYS = 10_000
SEED_EXECUTIONS = 10_000
TENANTS = 10
POOL_SIZE = 4


async def _seed(pool: Pool, q: Statements) -> tuple[list[str], list[tuple[str, str]]]:
    """Insert the keys and executions in bulk (pipelined); return hashes and (tenant, id)."""
    now = datetime.now(UTC)
    hashes = [f"{i:064x}" for i in range(SEED_KEYS)]
    executions = [(f"tenant-{i % TENANTS}", str(uuid.uuid4())) for i in range(SEED_EXECUTIONS)]
    async with pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
        await cur.executemany(
            q.INSERT_KEY,
            [
                (str(uuid.uuid4()), h, f"tenant-{i % TENANTS}", f"key {i}", now)
                for i, h in enumerate(hashes)
            ],
        )
        await cur.executemany(
            q.INSERT_EXECUTION,
            [
                (
                    eid,
                    "bench",
                    "1.0.0",
                    tenant,
                    "running",
                    Jsonb({"n": i, "args": ["a", "b"]}),
                    None,
                    "",
                    "",
                    [],
                    0,
                    None,
                    now,
                    None,
                )
                for i, (tenant, eid) in enumerate(executions)
            ],
        )
        await conn.execute(b"ANALYZE")
    return hashes, executions


def _cases(
    store: PostgresStore,
    raw: RawPostgres,
    q: Statements,
    hashes: list[str],
    executions: list[tuple[str, str]],
) -> list[Case]:
    async def one(query: bytes, params: Any) -> Any:
        return await raw.send(query, params, "one")

    async def store_validate(i: int) -> Any:
        return await store.validate_key(hashes[i % len(hashes)])

    async def raw_validate(i: int) -> Any:
        return await one(q.SELECT_VALID_KEY_BY_HASH, (hashes[i % len(hashes)],))

    async def store_get(i: int) -> Any:
        return await store.get_execution(*executions[i % len(executions)])

    async def raw_get(i: int) -> Any:
        return await one(q.SELECT_EXECUTION, executions[i % len(executions)])

    async def store_create(i: int) -> Any:
        return await store.create_execution(
            Execution(
                skill_name="bench",
                skill_version="1.0.0",
                tenant_id="tenant-new",
                input={"n": i, "args": ["a", "b"]},
            )
        )

    async def raw_create(i: int) -> Any:
        params: tuple[Any, ...] = (
            str(uuid.uuid4()),
            "bench",
            "1.0.0",
            "tenant-new",
            "running",
            Jsonb({"n": i, "args": ["a", "b"]}),
            None,
            "",
            "",
            [],
            0,
            None,
            datetime.now(UTC),
            None,
        )
        await raw.send(q.INSERT_EXECUTION, params, "count")

    async def store_list(i: int) -> Any:
        return await store.list_executions(f"tenant-{i % TENANTS}")

    async def raw_list(i: int) -> Any:
        return await raw.send(q.SELECT_EXECUTIONS_PAGE, (f"tenant-{i % TENANTS}", 20, 0))

    return [
        Case("validate_key", store_validate, raw_validate),
        Case("get_execution", store_get, raw_get),
        Case("create_execution", store_create, raw_create),
        Case("list_executions", store_list, raw_list),
    ]


async def _round_trips(
    url: str, schema: str, cases: Callable[[PostgresStore], list[Case]]
) -> dict[str, float]:
    """Round trips per store call, counted in libpq's protocol trace (ReadyForQuery)."""
    pool = await raw_pool(url, 1)
    trips: dict[str, float] = {}
    try:
        store = PostgresStore(pool, schema=schema)
        with tempfile.TemporaryFile("w+") as trace:
            for case in cases(store):
                for i in range(10):  # past psycopg's prepare_threshold, if one is set
                    await case.store(i)
                start = trace.seek(0, 2)
                async with pool.connection() as conn:
                    conn.pgconn.trace(trace.fileno())
                    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
                calls = 20
                for i in range(calls):
                    await case.store(10 + i)
                async with pool.connection() as conn:
                    conn.pgconn.untrace()
                trace.seek(start)
                count = sum("\tReadyForQuery\t" in line for line in trace)
                trips[case.name] = count / calls
    finally:
        await pool.close()
    return trips


@asynccontextmanager
async def _server() -> AsyncIterator[str]:
    url = os.environ.get("SKILLBOX_TEST_POSTGRES_URL", "").strip()
    if url:
        yield url
        return
    from skillbox_store.testing_postgres import provide_postgres

    with provide_postgres() as started:
        yield started


async def run_postgres(rounds: int, iterations: int) -> list[Result]:
    """Seed a fresh schema, then time each case; print round trips; return the medians."""
    async with _server() as url:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        q = Statements.for_schema(schema)
        store = await open_store(url, schema=schema, min_size=POOL_SIZE, max_size=POOL_SIZE)
        assert isinstance(store, PostgresStore)
        raw = await raw_pool(url, POOL_SIZE)
        twin = RawPostgres(raw, q)
        try:
            hashes, executions = await _seed(raw, q)
            results = await compare(
                "postgres", _cases(store, twin, q, hashes, executions), rounds, iterations
            )
            trips = await _round_trips(
                url, schema, lambda s: _cases(s, twin, q, hashes, executions)
            )
            print(
                "postgres round trips per store call: "
                + ", ".join(f"{name} {count:g}" for name, count in trips.items())
            )
            return results
        finally:
            await store.close()
            with contextlib.suppress(Exception):
                async with raw.connection() as conn:
                    await conn.execute(
                        sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema))
                    )
            await raw.close()
