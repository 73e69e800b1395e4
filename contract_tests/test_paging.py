"""Newest first without ties, and paging that yields every record exactly once.

The state machine checks the same on random histories; this test does it on a fixed
one, so that a backend whose pages overlap fails whatever the machine happens to draw.
"""

from __future__ import annotations

import pytest

from contract_tests.clauses import clause
from contract_tests.harness import Harness, call, new_key_hash, new_tenant
from skillbox_store import Execution, File, FileFilter

COUNT = 7


async def _fill(harness: Harness, tenant: str) -> tuple[list[str], list[str], list[str]]:
    """Create COUNT executions, files and keys, some inside one transaction (same instant)."""
    store = harness.store
    executions: list[str] = []
    files: list[str] = []
    keys: list[str] = []
    for i in range(COUNT - 3):
        execution = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
        executions.append((await call(store.create_execution(execution))).id)
        file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
        files.append((await call(store.create_file(file))).id)
        keys.append((await call(store.create_key(tenant, f"k{i}", new_key_hash()))).id)
    # The last three of each in one block, where timestamps may be equal (PostgreSQL's
    # now() is the transaction's start): the order must still have no ties.
    async with store.transaction() as tx:
        for i in range(COUNT - 3, COUNT):
            execution = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
            executions.append((await call(tx.create_execution(execution))).id)
            file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
            files.append((await call(tx.create_file(file))).id)
            keys.append((await call(tx.create_key(tenant, f"k{i}", new_key_hash()))).id)
    return executions, files, keys


@clause("order.paging.once")
@pytest.mark.parametrize("limit", [1, 2, 3, 4, COUNT, 100])
def test_pages_yield_each_record_once_newest_first(harness: Harness, limit: int) -> None:
    """Walking pages of any size gives reverse creation order, each record once."""
    tenant = new_tenant()
    executions, files, keys = harness.run(_fill(harness, tenant))
    store = harness.store

    async def walk() -> tuple[list[str], list[str]]:
        seen_executions: list[str] = []
        seen_files: list[str] = []
        for offset in range(0, COUNT + limit, limit):
            page = await call(store.list_executions(tenant, limit, offset))
            assert len(page) == max(0, min(limit, COUNT - offset))
            seen_executions += [e.id for e in page]
            wanted = FileFilter(tenant_id=tenant, limit=limit, offset=offset)
            seen_files += [f.id for f in await call(store.list_files(wanted))]
        return seen_executions, seen_files

    seen_executions, seen_files = harness.run(walk())
    assert seen_executions == executions[::-1]
    assert seen_files == files[::-1]
    listed_keys = harness.run(call(store.list_keys(tenant)))
    assert [k.id for k in listed_keys] == keys[::-1]
