"""Targeted tests: calls that wait for a busy store, or are cancelled.

The rules are docs/contract.md's, section "Transactions and concurrency".

The suite opens every store with its default options, so it cannot time a backend's
wait limit; what it proves on every target is the shape of the outcome. The limits
themselves are timed per backend in ``tests/faults/`` (``test_sqlite_busy.py``,
``test_postgres_timeouts.py``).
"""

from __future__ import annotations

import asyncio

from skillbox_store import Execution, Store, UnavailableError

from .clauses import clause
from .harness import Harness, call, new_tenant

WAITERS = 16


async def _outcome(store: Store, tenant: str, index: int) -> str:
    execution = Execution(tenant_id=tenant, skill_name=f"waiter-{index}", skill_version="1")
    try:
        await call(store.create_execution(execution))
    except UnavailableError:
        return "gave up"
    return "written"


@clause("concurrency.waits.bounded")
def test_calls_waiting_for_a_block_go_on_or_give_up_cleanly(harness: Harness) -> None:
    """Writes of other tasks queued behind an open block: each is written once the
    block ends, or raises `UnavailableError` and leaves nothing behind."""
    tenant = new_tenant()
    store = harness.store

    async def scenario() -> list[str]:
        inside = asyncio.Event()
        release = asyncio.Event()

        async def holder() -> None:
            async with store.transaction() as tx:
                execution = Execution(tenant_id=tenant, skill_name="block", skill_version="1")
                await call(tx.create_execution(execution))
                inside.set()
                await release.wait()

        block = asyncio.create_task(holder())
        await inside.wait()
        waiters = [asyncio.create_task(_outcome(store, tenant, i)) for i in range(WAITERS)]
        await asyncio.sleep(0.2)
        release.set()
        await block
        return list(await asyncio.gather(*waiters))

    outcomes = harness.run(asyncio.wait_for(scenario(), timeout=60))
    listed = harness.run(call(store.list_executions(tenant, limit=100)))
    written = sorted(e.skill_name for e in listed if e.skill_name.startswith("waiter-"))
    expected = sorted(f"waiter-{i}" for i, o in enumerate(outcomes) if o == "written")
    assert written == expected, (outcomes, written)
    assert [e.skill_name for e in listed].count("block") == 1


CANCEL_ROUNDS = 60


@clause("concurrency.cancel.settled")
def test_a_cancelled_write_has_happened_or_never_will(harness: Harness) -> None:
    """Writes cancelled at every point of their way (before the first step, while queued,
    while running): what the tenant holds right after the cancellation stays so."""
    tenant = new_tenant()
    store = harness.store

    async def names() -> list[str]:
        return [e.skill_name for e in await call(store.list_executions(tenant, limit=500))]

    async def scenario() -> list[tuple[int, list[str], list[str]]]:
        changed: list[tuple[int, list[str], list[str]]] = []
        for number in range(CANCEL_ROUNDS):
            execution = Execution(tenant_id=tenant, skill_name=f"w{number}", skill_version="1")
            # Other writes queued ahead, so that the cancellation finds this one waiting
            # its turn as well as running.
            ahead = [
                asyncio.create_task(store.create_execution(execution.model_copy()))
                for _ in range(number % 3)
            ]
            task = asyncio.create_task(store.create_execution(execution))
            for _ in range(number % 7):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, *ahead, return_exceptions=True)
            seen = await names()
            # Give anything still running on another thread or server time to land.
            await asyncio.sleep(0.02)
            later = await names()
            if later != seen:
                changed.append((number, seen, later))
        return changed

    changed = harness.run(asyncio.wait_for(scenario(), timeout=120))
    assert changed == [], changed[:3]
