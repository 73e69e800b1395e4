"""`StoreStats.table_counts`: the operators' totals, the same on every built-in backend."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from skillbox_store import Execution, File, SkillRecord, open_store
from skillbox_store.stats import TABLES, StoreStats


async def counts_after_one_of_each(url: str) -> tuple[dict[str, int], dict[str, int]]:
    async with open_store(url) as store:
        assert isinstance(store, StoreStats)
        before = await store.table_counts()
        assert list(before) == list(TABLES)
        tenant = f"t-{url.__hash__() & 0xFFFF:x}"
        await store.create_key(tenant, "n", f"hash-{id(store)}-{url}")
        execution = await store.create_execution(
            Execution(skill_name="s", skill_version="1", tenant_id=tenant)
        )
        await store.create_file(
            File(tenant_id=tenant, name="f", s3_key="k", execution_id=execution.id)
        )
        await store.get_or_create_session(tenant, f"ext-{id(store)}")
        await store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1"))
        return before, await store.table_counts()


def check(url: str) -> None:
    before, after = asyncio.run(counts_after_one_of_each(url))
    assert {name: after[name] - before[name] for name in TABLES} == dict.fromkeys(TABLES, 1)


@pytest.mark.parametrize("url", ["memory://", "sqlite:///:memory:"])
def test_in_process_backends(url: str) -> None:
    check(url)


def test_sqlite_file(tmp_path: Path) -> None:
    check(f"sqlite:///{tmp_path}/counts.db")


def test_postgres(postgres_url: str, pg_schema: str) -> None:
    check(f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}")
