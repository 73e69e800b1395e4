"""The PostgreSQL server stopped (fast) and started again under 16 busy tasks.

During the outage every call fails with `UnavailableError` and none waits longer than
the store's ``timeout``; once the server is back the same store serves every call
again, without reopening; no write that was acknowledged is lost.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Final

import pytest

from skillbox_store import Store, UnavailableError, open_store
from skillbox_store.records import Execution
from skillbox_store.testing_postgres import PrivateServer

pytestmark = pytest.mark.postgres

TASKS: Final = 16
TIMEOUT: Final = 1.0
# Scheduling noise on top of TIMEOUT (2 shared cores, 16 tasks and a server starting).
NOISE: Final = 1.0
# Several timeouts long, so that calls also meet an empty pool, not only dead connections.
OUTAGE: Final = 3.0
# The pool reconnects with a backoff: the store must serve again within this after the
# server is back.
RECOVERY_LIMIT: Final = 15.0
SCENARIO_LIMIT: Final = 60.0


@dataclass(slots=True)
class Call:
    """One store call made by a worker, and how it ended."""

    began: float
    ended: float
    error: BaseException | None


@dataclass(slots=True)
class Worker:
    """What one task did: its calls, and the executions the store acknowledged."""

    tenant: str
    calls: list[Call] = field(default_factory=list)
    acknowledged: dict[str, Execution] = field(default_factory=dict)


async def _work(store: Store, worker: Worker, stop: asyncio.Event) -> None:
    """Write and read back executions until told to stop, recording every call."""
    rng = random.Random(worker.tenant)
    while not stop.is_set():
        began = time.monotonic()
        error: BaseException | None = None
        try:
            if worker.acknowledged and rng.random() < 0.5:
                wanted = rng.choice(sorted(worker.acknowledged))
                read = await store.get_execution(worker.tenant, wanted)
                assert read == worker.acknowledged[wanted]
            else:
                execution = await store.create_execution(
                    Execution(tenant_id=worker.tenant, skill_name="s", skill_version="1")
                )
                # Acknowledged: the await returned.
                worker.acknowledged[execution.id] = execution
        except Exception as exc:
            error = exc
        worker.calls.append(Call(began, time.monotonic(), error))
        # Failing calls return at once during the outage: do not spin on them.
        await asyncio.sleep(0.01 if error is None else 0.05)


async def _recovered(store: Store) -> float:
    """Return when the store first serves a call again."""
    while True:
        try:
            await store.ping()
        except UnavailableError:
            await asyncio.sleep(0.1)
        else:
            return time.monotonic()


def test_sixteen_tasks_ride_out_a_server_restart(private_postgres: PrivateServer) -> None:
    workers = [Worker(f"w{i}") for i in range(TASKS)]
    marks: dict[str, float] = {}

    async def scenario() -> None:
        async with open_store(
            private_postgres.url,
            min_size=4,
            max_size=8,
            timeout=TIMEOUT,
            connect_timeout=TIMEOUT,
        ) as store:
            stop = asyncio.Event()
            tasks = [asyncio.create_task(_work(store, w, stop)) for w in workers]
            try:
                await asyncio.sleep(1.0)
                marks["outage"] = time.monotonic()
                await asyncio.to_thread(private_postgres.stop, "fast")
                await asyncio.sleep(OUTAGE)
                await asyncio.to_thread(private_postgres.start)
                marks["started"] = time.monotonic()
                async with asyncio.timeout(RECOVERY_LIMIT):
                    marks["recovered"] = await _recovered(store)
                # Let the pool grow back, then every call must succeed.
                await asyncio.sleep(0.5)
                marks["steady"] = time.monotonic()
                await asyncio.sleep(1.5)
            finally:
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
            # No acknowledged write lost, through the same store.
            for worker in workers:
                for execution_id, execution in worker.acknowledged.items():
                    assert await store.get_execution(worker.tenant, execution_id) == execution

    async def bounded() -> None:
        async with asyncio.timeout(SCENARIO_LIMIT):
            await scenario()

    try:
        asyncio.run(bounded())
    finally:
        # Whatever happened, leave the module's server running for the next test.
        if "outage" in marks and "started" not in marks:
            private_postgres.start()

    calls = [call for worker in workers for call in worker.calls]
    print(  # shown with -s: what the outage looked like
        f"calls {len(calls)}, failed {sum(c.error is not None for c in calls)}, slowest "
        f"{max(c.ended - c.began for c in calls):.2f} s, back "
        f"{marks['recovered'] - marks['started']:.2f} s after the server"
    )
    assert sum(len(w.acknowledged) for w in workers) > TASKS
    failures = [call for call in calls if call.error is not None]
    # Only UnavailableError, and only for calls that overlapped the outage.
    for call in failures:
        assert isinstance(call.error, UnavailableError), repr(call.error)
        assert call.ended >= marks["outage"], (call, marks)
        assert call.began <= marks["recovered"], (call, marks)
    assert failures, "the outage was not noticed: no call failed"
    # Every call, failed or not, within the configured timeout.
    slowest = max(call.ended - call.began for call in calls)
    assert slowest < TIMEOUT + NOISE, slowest
    # Afterwards the same store serves every call again.
    steady = [call for call in calls if call.began >= marks["steady"]]
    assert len(steady) >= TASKS
    assert all(call.error is None for call in steady), [c.error for c in steady if c.error]
