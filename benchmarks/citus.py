"""The store on a Citus cluster: its calls against the same statements sent raw.

``python -m benchmarks.citus`` starts a coordinator and two workers (`citus_cluster`,
from ``tests/``, which builds Citus when the server lacks it), migrates and distributes
a schema (`PostgresStore.distribute`), and prints:

- per operation (point read, insert, keyset page, ``create_file_version``): µs per call
  through the store and through a raw psycopg pool with the same statement from
  `statements`, interleaved (`benchmarks.timing.compare`), and the Citus tasks of the
  statement's plan on the coordinator;
- many tenants' concurrent ``create_execution`` calls per second with two workers, then
  with a third added and the shards rebalanced onto it, and the ratio. On one machine
  the nodes share its cores: this shows that the writes route to single shards and so
  spread over the nodes, not that a third machine adds capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from benchmarks.timing import Case, compare, format_results
from skillbox_store import Execution, File, open_store
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.backends.postgres.statements import Statements

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from citus_cluster import CitusCluster, citus_cluster

__all__ = ["main"]

Row = tuple[Any, ...]
Pool = AsyncConnectionPool[AsyncConnection[Row]]
TENANTS = 64
WRITERS = 16
POOL_SIZE = 16


async def _pool(url: str) -> Pool:
    pool: Pool = AsyncConnectionPool(
        url, kwargs={"autocommit": True}, min_size=4, max_size=POOL_SIZE, open=False
    )
    await pool.open(wait=True)
    return pool


def _execution_params(tenant: str) -> list[Any]:
    now = datetime.now(UTC)
    return [
        str(uuid.uuid4()),
        "bench",
        "1.0.0",
        tenant,
        "running",
        Jsonb({"n": 1}),
        None,
        "",
        "",
        [],
        0,
        None,
        now,
        None,
    ]


async def _tasks(pool: Pool, statement: bytes, params: Any) -> int:
    """The number of shard tasks of the statement's plan on the coordinator."""
    async with pool.connection() as conn:
        cursor = await conn.execute(b"EXPLAIN (COSTS OFF) " + statement, params)
        plan = "\n".join(str(line) for (line,) in await cursor.fetchall())
    return sum(int(n) for n in re.findall(r"Task Count: (\d+)", plan))


async def _point_ops(url: str, rounds: int, iterations: int) -> None:
    async with open_store(url, min_size=4, max_size=POOL_SIZE) as opened:
        assert isinstance(opened, PostgresStore)
        store = opened
        q = Statements.for_schema(store.schema)
        raw = await _pool(url.split("?")[0])
        try:
            tenant = "tenant-0"
            seeded = [
                await store.create_execution(
                    Execution(tenant_id=tenant, skill_name="bench", skill_version="1.0.0")
                )
                for _ in range(200)
            ]
            page_after = seeded[150].id
            root = await store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))

            async def store_get(i: int) -> object:
                return await store.get_execution(tenant, seeded[i % 200].id)

            async def raw_get(i: int) -> object:
                async with raw.connection() as conn:
                    cursor = await conn.execute(q.SELECT_EXECUTION, (tenant, seeded[i % 200].id))
                    return await cursor.fetchone()

            async def store_create(i: int) -> object:
                return await store.create_execution(
                    Execution(tenant_id=tenant, skill_name="bench", skill_version="1.0.0")
                )

            async def raw_create(i: int) -> object:
                async with raw.connection() as conn:
                    return await conn.execute(q.INSERT_EXECUTION, _execution_params(tenant))

            page = {"tenant_id": tenant, "after": page_after, "limit": 20}

            async def store_page(i: int) -> object:
                return await store.list_executions(tenant, 20, after=page_after)

            async def raw_page(i: int) -> object:
                async with raw.connection() as conn:
                    cursor = await conn.execute(q.SELECT_EXECUTIONS_AFTER, page)
                    return await cursor.fetchall()

            async def store_version(i: int) -> object:
                return await store.create_file_version(
                    tenant, root.id, size_bytes=1, s3_key=f"v{i}"
                )

            async def raw_version(i: int) -> object:
                params = {
                    "id": str(uuid.uuid4()),
                    "tenant_id": tenant,
                    "file_id": root.id,
                    "name": None,
                    "content_type": None,
                    "size_bytes": 1,
                    "s3_key": f"raw{i}",
                    "now": datetime.now(UTC),
                }
                async with raw.connection() as conn:
                    cursor = await conn.execute(q.INSERT_FILE_VERSION, params)
                    return await cursor.fetchone()

            cases = [
                Case("get_execution", store_get, raw_get),
                Case("create_execution", store_create, raw_create),
                Case("keyset page (20)", store_page, raw_page),
                Case("create_file_version", store_version, raw_version),
            ]
            results = await compare("citus", cases, rounds, iterations)
            print(format_results(results, "raw psycopg"))
            version = {
                "id": str(uuid.uuid4()),
                "tenant_id": tenant,
                "file_id": root.id,
                "name": None,
                "content_type": None,
                "size_bytes": 1,
                "s3_key": "x",
                "now": datetime.now(UTC),
            }
            tasks = {
                "get_execution": await _tasks(raw, q.SELECT_EXECUTION, (tenant, seeded[0].id)),
                "create_execution": await _tasks(
                    raw, q.INSERT_EXECUTION, _execution_params(tenant)
                ),
                "keyset page (20)": await _tasks(raw, q.SELECT_EXECUTIONS_AFTER, page),
                "create_file_version": await _tasks(raw, q.INSERT_FILE_VERSION, version),
            }
            for name, count in tasks.items():
                print(f"citus tasks  {name:<20} {count}")
        finally:
            await raw.close()


async def _throughput(url: str, seconds: float) -> float:
    """Concurrent create_execution calls per second, WRITERS tasks over TENANTS tenants."""
    async with open_store(url, min_size=4, max_size=POOL_SIZE) as store:
        done = 0
        deadline = time.monotonic() + seconds

        async def writer(number: int) -> None:
            nonlocal done
            i = number
            while time.monotonic() < deadline:
                tenant = f"tenant-{i % TENANTS}"
                await store.create_execution(
                    Execution(tenant_id=tenant, skill_name="bench", skill_version="1.0.0")
                )
                done += 1
                i += WRITERS

        await asyncio.gather(*(writer(n) for n in range(WRITERS)))
        return done / seconds


def _rebalance(cluster: CitusCluster) -> None:
    import psycopg

    # block_writes: a shard move without logical replication (wal_level stays replica).
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        conn.execute("SELECT rebalance_table_shards(shard_transfer_mode => 'block_writes')")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        cluster = stack.enter_context(citus_cluster(workers=2))
        url = f"{cluster.url}?schema=bench_{uuid.uuid4().hex[:8]}"

        async def distributed() -> None:
            async with open_store(url) as store:
                assert isinstance(store, PostgresStore)
                await store.distribute()

        asyncio.run(distributed())
        asyncio.run(_point_ops(url, args.rounds, args.iterations))
        two = asyncio.run(_throughput(url, args.seconds))
        cluster.add_worker(stack)
        _rebalance(cluster)
        three = asyncio.run(_throughput(url, args.seconds))
        print(
            f"citus writes {TENANTS} tenants x {WRITERS} writers: 2 workers {two:,.0f}/s, "
            f"3 workers {three:,.0f}/s, ratio {three / two:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
