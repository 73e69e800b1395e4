"""The memory backend looks listings up instead of scanning the tenant.

The proof is not a timing: every row a listing reads goes through its partition's dict,
which the tests swap for one that counts reads. A filtered or keyset page must read the
rows it returns (plus the cursor), whatever else the tenant holds.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from skillbox_store import Execution, File, FileFilter
from skillbox_store.backends.memory.store import MemoryStore
from skillbox_store.backends.memory.tables import Ordering, Rows, Table

TENANT = "acme"


class _CountingDict(dict[Any, Any]):
    """A dict that counts the rows read by key."""

    reads = 0

    def __getitem__(self, key: Any) -> Any:
        self.reads += 1
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self.reads += 1
        return super().get(key, default)


def _count_reads(table: Table[Any, Any], partition: str) -> _CountingDict:
    rows = table.rows(partition)
    assert isinstance(rows, Rows)
    counting = _CountingDict(rows._rows)
    rows._rows = counting
    return counting


async def _tenant_with(store: MemoryStore, others: int, session: str) -> list[File]:
    """A tenant with ``others`` files of no session, and 30 files of ``session`` among them."""
    execution = await store.create_execution(
        Execution(tenant_id=TENANT, skill_name="s", skill_version="1")
    )
    mine: list[File] = []
    for i in range(others):
        await store.create_file(File(tenant_id=TENANT, name=f"o{i}", s3_key="k"))
        if i % (others // 30) == 0 and len(mine) < 30:
            file = File(
                tenant_id=TENANT,
                name=f"s{i}",
                s3_key="k",
                session_id=session,
                execution_id=execution.id if len(mine) % 2 else None,
            )
            mine.append(await store.create_file(file))
    return mine


def _reads_of_session_listings(others: int) -> dict[str, int]:
    async def scenario() -> dict[str, int]:
        store = MemoryStore()
        session = str(uuid.uuid4())
        mine = await _tenant_with(store, others, session)
        execution_id = next(f.execution_id for f in mine if f.execution_id)
        counting = _count_reads(store._shared.tables.files, TENANT)
        reads: dict[str, int] = {}

        async def measure(name: str, listing: Any, expected: int) -> None:
            counting.reads = 0
            assert len(await listing) == expected, name
            reads[name] = counting.reads

        await measure(
            "session",
            store.list_files(FileFilter(tenant_id=TENANT, session_id=session, limit=10)),
            10,
        )
        await measure("session_files", store.list_session_files(TENANT, session), 30)
        await measure(
            "execution",
            store.list_files(FileFilter(tenant_id=TENANT, execution_id=execution_id, limit=5)),
            5,
        )
        both = FileFilter(tenant_id=TENANT, session_id=session, execution_id=execution_id)
        await measure("session_and_execution", store.list_files(both), 15)
        after = FileFilter(tenant_id=TENANT, session_id=session, limit=5, after=mine[3].id)
        await measure("session_after", store.list_files(after), 3)
        oldest = await store.list_files(FileFilter(tenant_id=TENANT, limit=200, offset=others - 1))
        deep = FileFilter(tenant_id=TENANT, limit=10, after=oldest[0].id)
        await measure("tenant_after_deepest", store.list_files(deep), min(10, len(oldest) - 1))
        return reads

    return asyncio.run(scenario())


def test_filtered_and_keyset_file_listings_read_only_their_rows() -> None:
    """The rows read do not grow with the tenant's other files (1k vs 20k)."""
    small = _reads_of_session_listings(1_000)
    large = _reads_of_session_listings(20_000)
    assert small == large
    # Each listing reads its page (and the cursor's row), nothing else.
    assert large["session"] == 10
    assert large["session_files"] == 30
    assert large["execution"] == 5
    assert large["session_and_execution"] <= 15
    assert large["session_after"] == 3 + 1


def test_keyset_execution_page_reads_only_its_rows() -> None:
    """A page after the oldest-but-twenty execution of 20k reads twenty rows."""

    async def scenario() -> int:
        store = MemoryStore()
        made = [
            await store.create_execution(
                Execution(tenant_id=TENANT, skill_name="s", skill_version=str(i))
            )
            for i in range(20_000)
        ]
        counting = _count_reads(store._shared.tables.executions, TENANT)
        page = await store.list_executions(TENANT, 100, after=made[20].id)
        assert [e.id for e in page] == [e.id for e in made[19::-1]]
        return counting.reads

    assert asyncio.run(scenario()) == 20


def test_indexes_follow_every_change_and_roll_back() -> None:
    """Deletes, prunes by ``del`` and ``clear`` (retention), and rolled-back blocks."""

    async def scenario() -> None:
        store = MemoryStore()
        session = str(uuid.uuid4())
        files = [
            await store.create_file(
                File(tenant_id=TENANT, name=f"f{i}", s3_key="k", session_id=session)
            )
            for i in range(10)
        ]
        await store.delete_file(TENANT, files[5].id)
        by_session = FileFilter(tenant_id=TENANT, session_id=session, after=files[7].id)
        assert [f.id for f in await store.list_files(by_session)] == [
            files[i].id for i in (6, 4, 3, 2, 1, 0)
        ]
        try:
            async with store.transaction() as tx:
                await tx.delete_file(TENANT, files[6].id)
                await tx.create_file(
                    File(tenant_id=TENANT, name="new", s3_key="k", session_id=session)
                )
                assert len(await tx.list_session_files(TENANT, session)) == 9
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        assert [f.id for f in await store.list_session_files(TENANT, session)] == [
            files[i].id for i in (9, 8, 7, 6, 4, 3, 2, 1, 0)
        ]
        # What the retention module does: delete rows by key, clear a partition.
        rows = store._shared.tables.files.write(TENANT)
        del rows[files[9].id]
        listed = await store.list_session_files(TENANT, session)
        assert listed[0].id == files[8].id
        rows.clear()
        assert await store.list_session_files(TENANT, session) == []
        assert await store.list_files(FileFilter(tenant_id=TENANT)) == []

    asyncio.run(scenario())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), max_size=1500))
def test_ordering_matches_a_sorted_list(steps: list[tuple[bool, int]]) -> None:
    """Adding at the end, removing anywhere and seeking agree with a plain sorted list."""
    ordering: Ordering[int] = Ordering()
    model: list[int] = []
    seq = 0
    chooser = random.Random(len(steps))
    for add, pick in steps:
        if add or not model:
            ordering.add(seq, seq)
            model.append(seq)
            seq += 1
        else:
            gone = model.pop(pick % len(model))
            ordering.remove(gone)
        assert len(ordering) == len(model)
    assert list(ordering.before()) == model[::-1]
    for _ in range(20):
        below = chooser.randint(0, seq + 1)
        assert list(ordering.before(below)) == [k for k in reversed(model) if k < below]
    copied = ordering.copy()
    if model:
        ordering.remove(model[0])
        assert list(copied.before()) == model[::-1]
