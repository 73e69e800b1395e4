"""Tasks cancelled mid-write and mid-block, hundreds of times, on every backend.

Afterwards, on each backend:

* no block is half committed: each block writes two keys, an execution and a file, and
  for every block either all four are there or none is;
* no writer lock is stuck: a write, then a block, completes within `PROMPTLY` seconds;
* every pooled connection is back (PostgreSQL: the pool's own statistics);
* no task exception went unretrieved: the loop's exception handler, which asyncio
  calls for "Task exception was never retrieved" among others, was never called.

The cancellation points are drawn from a seeded `random.Random`, so a failure replays.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

from skillbox_store import Execution, File, FileFilter, Store, open_store

T = TypeVar("T")

SCENARIO_LIMIT: Final = 30.0
"""Seconds a backend's whole scenario may take."""

PROMPTLY: Final = 5.0
"""Seconds within which a write must complete once the cancelled tasks are gone."""

ROUNDS: Final = 200
"""Rounds per backend; each cancels a plain write and a block running side by side."""


def _key_hash() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


async def _write(store: Store, tenant: str, n: int) -> None:
    await store.create_execution(
        Execution(tenant_id=tenant, skill_name=f"w{n}", skill_version="1", input={"n": n})
    )


async def _block(store: Store, tenant: str, n: int) -> None:
    """Four writes in one block; the block's records are all named after ``n``.

    The block yields to the loop between writes, as a caller doing other I/O inside a
    block would, so that a cancellation can land between any two of them.
    """
    async with store.transaction() as tx:
        await tx.create_key(tenant, f"a{n}", _key_hash())
        await asyncio.sleep(0)
        execution = await tx.create_execution(
            Execution(tenant_id=tenant, skill_name=f"b{n}", skill_version="1")
        )
        await asyncio.sleep(0)
        await tx.create_file(
            File(tenant_id=tenant, name=f"b{n}", s3_key=f"k{n}", execution_id=execution.id)
        )
        await asyncio.sleep(0)
        await tx.create_key(tenant, f"z{n}", _key_hash())


async def _cancel_at_random(
    rng: random.Random, works: Mapping[str, Callable[[], Awaitable[None]]]
) -> dict[str, str]:
    """Run ``works`` as concurrent tasks, cancel each at a random point, retrieve them.

    Returns what each cancellation hit: "before" the work started, "mid" it, or "after"
    it was done. Running a plain write next to a block makes the write wait for the
    writer lock (SQLite, memory) or a row (PostgreSQL), which is where a cancellation
    must not leave the lock held.
    """
    started: set[str] = set()

    async def tracked(name: str, work: Callable[[], Awaitable[None]]) -> None:
        started.add(name)
        await work()

    tasks = {name: asyncio.ensure_future(tracked(name, work)) for name, work in works.items()}
    for task in rng.sample(list(tasks.values()), len(tasks)):
        if rng.random() < 0.5:
            for _ in range(rng.randrange(8)):
                await asyncio.sleep(0)
        else:
            await asyncio.sleep(rng.uniform(0, 0.003))
        task.cancel()
    # Retrieved, so no exception may be left for the loop to report: done, cancelled,
    # or failed with a store error are all fine here; whether the writes stayed whole
    # is checked afterwards.
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    return {
        name: "before" if name not in started else "mid" if task.cancelled() else "after"
        for name, task in tasks.items()
    }


async def _all_connections_back(store: Store) -> dict[str, int]:
    """PostgreSQL: wait until the pool holds every connection idle; return its stats."""
    pool: Any = getattr(store, "pool", None)
    if pool is None:
        return {}
    stats: dict[str, int] = pool.get_stats()
    deadline = asyncio.get_running_loop().time() + PROMPTLY
    # A connection given back mid-transaction is rolled back by the pool's workers
    # before it is available again: give them the time to.
    while asyncio.get_running_loop().time() < deadline:
        stats = pool.get_stats()
        if stats.get("pool_available") == stats.get("pool_size") and not stats.get(
            "requests_waiting"
        ):
            return stats
        await asyncio.sleep(0.05)
    raise AssertionError(f"connections not given back to the pool: {stats}")


async def _scenario(url: str, seed: int) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    rng = random.Random(seed)
    tenant = f"t-{uuid.uuid4().hex[:12]}"
    store = await open_store(url)
    try:
        hits: dict[str, list[str]] = {"write": [], "block": []}
        # The scenario proves something only if many cancellations landed mid-work. Where
        # they land depends on the machine's speed and load, so rounds go on (up to three
        # times as many) until enough of each kind did.
        rounds = 0
        while rounds < ROUNDS or (
            rounds < 3 * ROUNDS and min(h.count("mid") for h in hits.values()) < ROUNDS // 10
        ):
            works = {
                "block": functools.partial(_block, store, tenant, rounds),
                "write": functools.partial(_write, store, tenant, rounds),
            }
            for kind, hit in (await _cancel_at_random(rng, works)).items():
                hits[kind].append(hit)
            rounds += 1
        for kind, outcomes in hits.items():
            assert outcomes.count("mid") >= ROUNDS // 10, (kind, Counter(outcomes))

        async with asyncio.timeout(PROMPTLY):
            await _write(store, tenant, -1)
            await _block(store, tenant, -1)
        await _all_connections_back(store)

        keys = {k.name for k in await store.list_keys(tenant)}
        executions = await store.list_executions(tenant, limit=100, offset=0)
        every_execution = list(executions)
        while len(executions) == 100:
            executions = await store.list_executions(tenant, 100, len(every_execution))
            every_execution += executions
        skills = {e.skill_name for e in every_execution}
        files: set[str] = set()
        offset = 0
        while True:
            page = await store.list_files(FileFilter(tenant_id=tenant, limit=200, offset=offset))
            files |= {f.name for f in page}
            offset += len(page)
            if len(page) < 200:
                break
        half_done = []
        for n in [*range(rounds), -1]:
            parts = (f"a{n}" in keys, f"b{n}" in skills, f"b{n}" in files, f"z{n}" in keys)
            if any(parts) and not all(parts):
                half_done.append((n, parts))
        assert half_done == [], f"half committed (key a, execution, file, key z): {half_done}"
        assert {"a-1", "z-1"} <= keys
        assert "w-1" in skills
    finally:
        await store.close()
    # Tasks whose exception nobody retrieved are reported when they are collected.
    gc.collect()
    await asyncio.sleep(0)
    return reported


def test_cancelled_writes_and_blocks_leave_the_store_whole(fresh_store_url: str) -> None:
    """300 cancellations: no half block, no stuck lock, no lost connection, no lost error."""

    async def bounded() -> list[dict[str, Any]]:
        async with asyncio.timeout(SCENARIO_LIMIT):
            return await _scenario(fresh_store_url, seed=20261127)

    reported = asyncio.run(bounded())
    assert reported == [], reported
