"""Targeted tests for docs/contract.md, "Transactions and concurrency".

`test_lifecycle.py` proves the other ``tx.*`` clauses and `test_concurrency.py` the
``concurrency.*`` ones.
"""

from __future__ import annotations

import asyncio

from skillbox_store import Execution, SkillRecord, Store, StoreError

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises


async def _seen(store: Store, tenant: str) -> tuple[list[str], list[str], list[str]]:
    keys = [k.name for k in await call(store.list_keys(tenant))]
    executions = [e.skill_name for e in await call(store.list_executions(tenant))]
    skills = [s.name for s in await call(store.list_skills(tenant))]
    return keys, executions, skills


@clause("tx.isolated")
def test_other_tasks_do_not_see_uncommitted_writes(harness: Harness) -> None:
    """A read by another task that completes before the block ends sees none of its writes.

    Where reads wait for an open block (a single connection), the read completes after
    the commit and must then see everything; either way it never sees a part.
    """
    tenant = new_tenant()
    store = harness.store
    harness.run(call(store.create_key(tenant, "before", new_key_hash())))
    Seen = tuple[list[str], list[str], list[str]]
    nothing_new: Seen = (["before"], [], [])
    everything: Seen = (["inside", "before"], ["inside"], ["inside"])

    async def scenario() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "inside", new_key_hash()))
            execution = Execution(tenant_id=tenant, skill_name="inside", skill_version="1")
            await call(tx.create_execution(execution))
            await call(tx.upsert_skill(SkillRecord(tenant_id=tenant, name="inside", version="1")))
            reader = asyncio.create_task(_seen(store, tenant))
            done, _ = await asyncio.wait({reader}, timeout=0.5)
            if done:
                assert reader.result() == nothing_new, "read inside the block saw its writes"
        seen = await reader
        assert seen in (nothing_new, everything), seen
        assert await _seen(store, tenant) == everything

    harness.run(asyncio.wait_for(scenario(), timeout=60))


@clause("tx.outer_block")
def test_outer_block_inside_own_block_is_refused(harness: Harness) -> None:
    """A block on the outer store from inside a block raises at once, never deadlocks."""
    tenant = new_tenant()
    store = harness.store

    async def block() -> None:
        async with store.transaction() as tx:
            await call(tx.create_key(tenant, "inside", new_key_hash()))
            async with asyncio.timeout(5):
                await raises(StoreError, _enter(store))
            async with tx.transaction() as inner:
                await call(inner.create_key(tenant, "nested", new_key_hash()))

    harness.run(asyncio.wait_for(block(), timeout=60))
    assert harness.run(_seen(store, tenant))[0] == ["nested", "inside"]


async def _enter(store: Store) -> None:
    async with store.transaction():
        pass
