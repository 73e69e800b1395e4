"""Ordering and paging (docs/contract.md, "Ordering and paging"): offset and keyset pages.

Offset pages: newest first without ties, each record exactly once. The state machine
checks the same on random histories; these tests do it on a fixed one, so that a backend
whose pages overlap fails whatever the machine happens to draw.

Keyset pages (``paging.after.*``): a walk passes each page's last id as the next
``after``. It must give every record once, newest first, at any page size, also while
records are being created between and during its pages; and a cursor that is not a
record of the listing is `NotFoundError`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence

import pytest

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    Store,
)

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises

# -- Pages by offset ----------------------------------------------------------------------

OFFSET_COUNT = 7


async def _fill_with_keys(harness: Harness, tenant: str) -> tuple[list[str], list[str], list[str]]:
    """Create OFFSET_COUNT executions, files and keys, the last three in one transaction."""
    store = harness.store
    executions: list[str] = []
    files: list[str] = []
    keys: list[str] = []
    for i in range(OFFSET_COUNT - 3):
        execution = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
        executions.append((await call(store.create_execution(execution))).id)
        file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
        files.append((await call(store.create_file(file))).id)
        keys.append((await call(store.create_key(tenant, f"k{i}", new_key_hash()))).id)
    # The last three of each in one block, where timestamps may be equal (PostgreSQL's
    # now() is the transaction's start): the order must still have no ties.
    async with store.transaction() as tx:
        for i in range(OFFSET_COUNT - 3, OFFSET_COUNT):
            execution = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
            executions.append((await call(tx.create_execution(execution))).id)
            file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
            files.append((await call(tx.create_file(file))).id)
            keys.append((await call(tx.create_key(tenant, f"k{i}", new_key_hash()))).id)
    return executions, files, keys


@clause("order.paging.once")
@pytest.mark.parametrize("limit", [1, 2, 3, 4, OFFSET_COUNT, 100])
def test_pages_yield_each_record_once_newest_first(harness: Harness, limit: int) -> None:
    """Walking pages of any size gives reverse creation order, each record once."""
    tenant = new_tenant()
    executions, files, keys = harness.run(_fill_with_keys(harness, tenant))
    store = harness.store

    async def walk() -> tuple[list[str], list[str]]:
        seen_executions: list[str] = []
        seen_files: list[str] = []
        for offset in range(0, OFFSET_COUNT + limit, limit):
            page = await call(store.list_executions(tenant, limit, offset))
            assert len(page) == max(0, min(limit, OFFSET_COUNT - offset))
            seen_executions += [e.id for e in page]
            wanted = FileFilter(tenant_id=tenant, limit=limit, offset=offset)
            seen_files += [f.id for f in await call(store.list_files(wanted))]
        return seen_executions, seen_files

    seen_executions, seen_files = harness.run(walk())
    assert seen_executions == executions[::-1]
    assert seen_files == files[::-1]
    listed_keys = harness.run(call(store.list_keys(tenant)))
    assert [k.id for k in listed_keys] == keys[::-1]


# -- Pages that follow a record (keyset) ---------------------------------------------------

COUNT = 9

Page = Callable[[str | None, int], Awaitable[Sequence[Execution | File]]]
"""Fetch the page of at most ``limit`` records after a cursor (None: the first page)."""


def _execution(tenant: str, i: int) -> Execution:
    return Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))


async def _fill(store: Store, tenant: str, count: int) -> tuple[list[str], list[str]]:
    """Create ``count`` executions and files, the last three in one transaction."""
    executions: list[str] = []
    files: list[str] = []
    for i in range(count - 3):
        executions.append((await call(store.create_execution(_execution(tenant, i)))).id)
        file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
        files.append((await call(store.create_file(file))).id)
    # Timestamps may tie inside one block (PostgreSQL's now()); the order may not.
    async with store.transaction() as tx:
        for i in range(count - 3, count):
            executions.append((await call(tx.create_execution(_execution(tenant, i)))).id)
            file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
            files.append((await call(tx.create_file(file))).id)
    return executions, files


def _filter(tenant: str, filters: dict[str, str], *, limit: int, after: str | None) -> FileFilter:
    return FileFilter(
        tenant_id=tenant,
        session_id=filters.get("session_id"),
        execution_id=filters.get("execution_id"),
        limit=limit,
        after=after,
    )


def _pages(store: Store, tenant: str, **filters: str) -> dict[str, Page]:
    """The two listings that take ``after``, as page functions."""

    async def executions(after: str | None, limit: int) -> Sequence[Execution]:
        return await call(store.list_executions(tenant, limit, after=after))

    async def files(after: str | None, limit: int) -> Sequence[File]:
        return await call(store.list_files(_filter(tenant, filters, limit=limit, after=after)))

    return {"executions": executions, "files": files}


async def _walk(page: Page, limit: int, after: str | None = None) -> list[str]:
    """Follow the cursor from ``after`` to the end; return the ids in the order seen."""
    seen: list[str] = []
    while True:
        records = await page(after, limit)
        assert len(records) <= limit, f"a page of limit {limit} held {len(records)} records"
        if not records:
            return seen
        seen += [r.id for r in records]
        after = records[-1].id


@clause("paging.after.follows", "paging.after.exactly_once")
@pytest.mark.parametrize("limit", [1, 2, 4, COUNT, 100])
def test_walk_with_after_yields_each_record_once(harness: Harness, limit: int) -> None:
    """Pages that follow the previous page's last record walk the listing exactly once."""
    tenant = new_tenant()
    store = harness.store
    executions, files = harness.run(_fill(store, tenant, COUNT))
    created = {"executions": executions, "files": files}
    for name, page in _pages(store, tenant).items():
        newest_first = created[name][::-1]
        assert harness.run(_walk(page, limit)) == newest_first, name
        # From any record: exactly the records that follow it, at most `limit`.
        for at, record_id in enumerate(newest_first):
            got = [r.id for r in harness.run(page(record_id, limit))]
            assert got == newest_first[at + 1 : at + 1 + limit], f"{name} after #{at}"
    # No cursor, None or "", is the first page.
    first = harness.run(call(store.list_executions(tenant, limit, after="")))
    assert [e.id for e in first] == executions[::-1][:limit]
    wanted = FileFilter(tenant_id=tenant, limit=limit, after="")
    assert [f.id for f in harness.run(call(store.list_files(wanted)))] == files[::-1][:limit]


@clause("paging.after.concurrent_inserts")
def test_records_created_between_pages_do_not_disturb_the_walk(harness: Harness) -> None:
    """Creating records after every page: the walk still gives the original ones once."""
    tenant = new_tenant()
    store = harness.store
    executions, files = harness.run(_fill(store, tenant, COUNT))
    created = {"executions": executions, "files": files}

    async def walk_while_creating(page: Page, rounds: int) -> list[str]:
        seen: list[str] = []
        after: str | None = None
        for round_number in range(rounds):
            records = await page(after, 2)
            if not records:
                return seen
            seen += [r.id for r in records]
            after = records[-1].id
            # Newer records: one outside a block, two in one (equal timestamps).
            await call(store.create_execution(_execution(tenant, 100 + round_number)))
            await call(store.create_file(File(tenant_id=tenant, name="new", s3_key="k")))
            async with store.transaction() as tx:
                await call(tx.create_execution(_execution(tenant, 200 + round_number)))
                await call(tx.create_file(File(tenant_id=tenant, name="new2", s3_key="k")))
        raise AssertionError("the walk did not end")

    for name, page in _pages(store, tenant).items():
        # The walk of one listing also adds to the other: compare with what was there.
        before = harness.run(_walk(page, 100))
        assert before[-COUNT:] == created[name][::-1], name
        assert harness.run(walk_while_creating(page, len(before))) == before, name
        # Afterwards a fresh walk sees the old records and the new ones, each once.
        walked = harness.run(_walk(page, 3))
        assert len(walked) == len(set(walked)) > len(before), name
        assert walked[-len(before) :] == before, name


@clause("paging.after.concurrent_inserts")
def test_records_created_during_the_walk_do_not_disturb_it(harness: Harness) -> None:
    """Tasks creating records while the walk's pages are fetched: originals once, in order."""
    tenant = new_tenant()
    store = harness.store
    executions, files = harness.run(_fill(store, tenant, COUNT))
    created = {"executions": executions, "files": files}

    async def writer(stop: asyncio.Event) -> int:
        made = 0
        while not stop.is_set():
            await call(store.create_execution(_execution(tenant, 1000 + made)))
            await call(store.create_file(File(tenant_id=tenant, name="w", s3_key="k")))
            made += 1
            await asyncio.sleep(0)
        return made

    async def walk_beside_writers(page: Page) -> list[str]:
        async def yielding(after: str | None, limit: int) -> Sequence[Execution | File]:
            # Let the writers in before every page, even on a store that never waits.
            await asyncio.sleep(0)
            return await page(after, limit)

        first = await page(None, 2)
        stop = asyncio.Event()
        writers = [asyncio.ensure_future(writer(stop)) for _ in range(2)]
        try:
            rest = await _walk(yielding, 2, after=first[-1].id)
        finally:
            stop.set()
            made = await asyncio.gather(*writers)
        assert sum(made) > 0, "no record was created during the walk"
        return [r.id for r in first] + rest

    for name, page in _pages(store, tenant).items():
        # Writers of one walk also add to the other listing: compare with what was there.
        before = harness.run(_walk(page, 100))
        assert before[-COUNT:] == created[name][::-1], name
        assert harness.run(walk_beside_writers(page)) == before, name


@clause("paging.after.with_offset")
def test_after_with_an_offset_is_invalid(harness: Harness) -> None:
    """A cursor and a non-zero offset together are refused, a malformed cursor included."""
    tenant = new_tenant()
    store = harness.store
    executions, files = harness.run(_fill(store, tenant, 4))
    for after in (executions[-1], "not-a-uuid", str(uuid.uuid4())):
        harness.run(raises(InvalidArgumentError, store.list_executions(tenant, 2, 1, after=after)))
    for after in (files[-1], "not-a-uuid", str(uuid.uuid4())):
        wanted = FileFilter(tenant_id=tenant, limit=2, offset=1, after=after)
        harness.run(raises(InvalidArgumentError, store.list_files(wanted)))
    # Offset 0 with a cursor, and an offset without one, are both fine.
    page = harness.run(call(store.list_executions(tenant, 2, 0, after=executions[-1])))
    assert [e.id for e in page] == executions[::-1][1:3]
    page = harness.run(call(store.list_executions(tenant, 2, 1, after=None)))
    assert [e.id for e in page] == executions[::-1][1:3]
    wanted = FileFilter(tenant_id=tenant, limit=2, offset=0, after=files[-1])
    assert [f.id for f in harness.run(call(store.list_files(wanted)))] == files[::-1][1:3]


@clause("paging.after.unknown")
def test_after_naming_no_record_of_the_listing_is_not_found(harness: Harness) -> None:
    """Another tenant's record, a deleted file, a filtered-out file, a malformed id."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    session = str(uuid.uuid4())
    harness.run(_fill(store, tenant, 4))
    theirs_e, theirs_f = harness.run(_fill(store, other, 4))
    mine = harness.run(call(store.create_execution(_execution(tenant, 9))))
    in_session = harness.run(
        call(store.create_file(File(tenant_id=tenant, name="s", s3_key="k", session_id=session)))
    )
    by_execution = harness.run(
        call(store.create_file(File(tenant_id=tenant, name="x", s3_key="k", execution_id=mine.id)))
    )
    deleted = harness.run(call(store.create_file(File(tenant_id=tenant, name="d", s3_key="k"))))
    harness.run(call(store.delete_file(tenant, deleted.id)))

    bad_execution_cursors = [theirs_e[0], str(uuid.uuid4()), "nope", in_session.id]
    for after in bad_execution_cursors:
        harness.run(raises(NotFoundError, store.list_executions(tenant, 5, after=after)))
    bad_file_cursors: list[tuple[dict[str, str], str]] = [
        ({}, theirs_f[0]),
        ({}, deleted.id),
        ({}, "nope"),
        ({}, mine.id),
        ({"session_id": session}, by_execution.id),
        ({"session_id": str(uuid.uuid4())}, in_session.id),
        ({"session_id": "not-a-uuid"}, in_session.id),
        ({"execution_id": mine.id}, in_session.id),
        ({"session_id": session, "execution_id": mine.id}, in_session.id),
    ]
    for filters, after in bad_file_cursors:
        wanted = _filter(tenant, filters, limit=5, after=after)
        harness.run(raises(NotFoundError, store.list_files(wanted)))
    # The same ids are fine as cursors of the listings that hold them.
    assert harness.run(call(store.list_executions(other, 5, after=theirs_e[-1]))) != []
    wanted = FileFilter(tenant_id=tenant, session_id=session, after=in_session.id)
    assert harness.run(call(store.list_files(wanted))) == []


@clause("paging.after.filters")
def test_filtered_walks_keep_only_the_filtered_files(harness: Harness) -> None:
    """Files of two sessions and two executions, interleaved: each filter walks its own."""
    tenant = new_tenant()
    store = harness.store
    sessions = [str(uuid.uuid4()), str(uuid.uuid4())]

    async def fill() -> tuple[list[str], list[File]]:
        runs = [(await call(store.create_execution(_execution(tenant, i)))).id for i in range(2)]
        made: list[File] = []
        for i in range(16):
            file = File(
                tenant_id=tenant,
                name=f"f{i}",
                s3_key="k",
                session_id=sessions[i % 2] if i % 5 else None,
                execution_id=runs[(i // 2) % 2] if i % 3 else None,
            )
            made.append(await call(store.create_file(file)))
        return runs, made

    runs, made = harness.run(fill())
    filters: list[dict[str, str]] = [
        *({"session_id": s} for s in sessions),
        *({"execution_id": r} for r in runs),
        *({"session_id": s, "execution_id": r} for s in sessions for r in runs),
    ]
    for wanted in filters:
        expected = [
            f.id
            for f in reversed(made)
            if all(getattr(f, field) == value for field, value in wanted.items())
        ]
        assert expected, wanted
        page = _pages(store, tenant, **wanted)["files"]
        for limit in (1, 2, 3):
            assert harness.run(_walk(page, limit)) == expected, (wanted, limit)
        # Following a file of the listing gives exactly the filtered files below it.
        got = [f.id for f in harness.run(page(expected[0], 100))]
        assert got == expected[1:], wanted


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


# -- paging.after.filters: both filters and a cursor, whichever group is walked ------------


@clause("paging.after.filters", "files.list.filters")
def test_after_with_both_filters_continues_the_filtered_listing(harness: Harness) -> None:
    """A page after a file, filtered by a session and an execution, continues that listing.

    Run twice: once with the session having fewer files than the execution, once the other
    way round, so a backend that walks the smaller group is tested on both.
    """
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    for extra in ("execution", "session"):
        execution = run(
            call(
                store.create_execution(
                    Execution(tenant_id=tenant, skill_name="s", skill_version="1")
                )
            )
        )
        session = str(uuid.uuid4())
        both = [
            run(
                call(
                    store.create_file(
                        File(
                            tenant_id=tenant,
                            name=f"f{n}",
                            s3_key="k",
                            session_id=session,
                            execution_id=execution.id,
                        )
                    )
                )
            )
            for n in range(3)
        ]
        # One more file in just one of the two groups makes the other the smaller one.
        lone = File(tenant_id=tenant, name="x", s3_key="k")
        if extra == "execution":
            lone = lone.model_copy(update={"execution_id": execution.id})
        else:
            lone = lone.model_copy(update={"session_id": session})
        run(call(store.create_file(lone)))
        newest_first = [f.id for f in reversed(both)]
        wanted = FileFilter(tenant_id=tenant, session_id=session, execution_id=execution.id)
        assert [f.id for f in run(call(store.list_files(wanted)))] == newest_first, extra
        for at, cursor in enumerate(newest_first):
            page = run(call(store.list_files(wanted.model_copy(update={"after": cursor}))))
            assert [f.id for f in page] == newest_first[at + 1 :], (extra, at)
        one = wanted.model_copy(update={"after": newest_first[0], "limit": 1})
        assert [f.id for f in run(call(store.list_files(one)))] == [newest_first[1]], extra
