"""Capability ``stats``: `StoreStats.table_counts`, the operators' totals.

The rules are docs/contract.md's, section "Optional capabilities".

Runs on every target that declares ``stats``; elsewhere it is skipped and reported as
such at the end of the run (see `contract_tests.plugin.require_capability`).
"""

from __future__ import annotations

from skillbox_store import Execution, File, SkillRecord, Store
from skillbox_store.capabilities import STATS
from skillbox_store.stats import TABLES, StoreStats

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant
from .plugin import RequireCapability


def _stats(require_capability: RequireCapability) -> StoreStats:
    store = require_capability(STATS)
    assert isinstance(store, StoreStats)
    return store


async def _one_of_each(store: Store) -> None:
    tenant = new_tenant()
    await call(store.create_key(tenant, "n", new_key_hash()))
    execution = await call(
        store.create_execution(Execution(skill_name="s", skill_version="1", tenant_id=tenant))
    )
    await call(
        store.create_file(File(tenant_id=tenant, name="f", s3_key="k", execution_id=execution.id))
    )
    await call(store.get_or_create_session(tenant, "ext"))
    await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))


@clause("capabilities.stats.tables")
def test_table_counts_name_every_table(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """The counts are keyed by exactly TABLES, in order, each a non-negative int."""
    stats = _stats(require_capability)
    counts = harness.run(call(stats.table_counts()))
    assert list(counts) == list(TABLES), counts
    for table, count in counts.items():
        assert type(count) is int, (table, count)
        assert count >= 0, (table, count)


@clause("capabilities.stats.counts")
def test_table_counts_count_every_tenant(
    harness: Harness, require_capability: RequireCapability
) -> None:
    """One record per table, for a new tenant, raises every count by exactly one."""
    stats = _stats(require_capability)
    before = harness.run(call(stats.table_counts()))
    harness.run(_one_of_each(harness.store))
    after = harness.run(call(stats.table_counts()))
    grown = {table: after[table] - before[table] for table in TABLES}
    assert grown == dict.fromkeys(TABLES, 1), grown
