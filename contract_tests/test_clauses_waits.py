"""Targeted test for docs/contract.md §9: calls that wait for a busy store.

The suite opens every store with its default options, so it cannot time a backend's
wait limit; what it proves on every target is the shape of the outcome. The limits
themselves are timed per backend in ``tests/faults/`` (``test_sqlite_busy.py``,
``test_postgres_timeouts.py``).
"""

from __future__ import annotations

import asyncio

from contract_tests.clauses import clause
from contract_tests.harness import Harness, call, new_tenant
from skillbox_store import Execution, Store, UnavailableError

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
