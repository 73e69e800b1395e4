"""Messages: the same words for the same failure, whichever backend raises it.

Each test expects one exact text, written here independently of any backend, so a
backend that words a failure its own way fails on its own target.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from skillbox_store import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    Execution,
    File,
    FileFilter,
    NotFoundError,
    SkillRecord,
    Store,
    StoreError,
)
from skillbox_store.errors import OUTER_STORE_IN_TRANSACTION

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises

_MISSING = str(uuid.UUID(int=0x5EED))


def _file(tenant: str, **fields: object) -> File:
    return File.model_validate(
        {"tenant_id": tenant, "name": "a.txt", "s3_key": "k", "version": 1, **fields}
    )


# (what is looked up, the call on (store, tenant, id), the record as the message names it)
_LOOKUPS: list[tuple[str, Callable[[Store, str, str], Awaitable[object]], str]] = [
    ("revoke_key", lambda s, t, i: s.revoke_key(t, i), "API key {id}"),
    ("get_execution", lambda s, t, i: s.get_execution(t, i), "execution {id}"),
    (
        "update_execution",
        lambda s, t, i: s.update_execution(
            Execution.model_validate(
                {"id": i, "tenant_id": t, "skill_name": "s", "skill_version": "1"}
                | {"status": "success"}
            )
        ),
        "execution {id}",
    ),
    ("get_file", lambda s, t, i: s.get_file(t, i), "file {id}"),
    ("delete_file", lambda s, t, i: s.delete_file(t, i), "file {id}"),
    (
        "update_file",
        lambda s, t, i: s.update_file(_file(t, id=i)),
        "file {id}",
    ),
    (
        "create_file_version",
        lambda s, t, i: s.create_file_version(t, i, size_bytes=1, s3_key="k2"),
        "file {id}",
    ),
    ("get_session", lambda s, t, i: s.get_session(t, i), "session {id}"),
    ("touch_session", lambda s, t, i: s.touch_session(t, i), "session {id}"),
    (
        "create_file parent_id",
        lambda s, t, i: s.create_file(_file(t, parent_id=i, version=2)),
        "file {id} (named by parent_id)",
    ),
    (
        "create_file execution_id",
        lambda s, t, i: s.create_file(_file(t, execution_id=i)),
        "execution {id} (named by execution_id)",
    ),
]


@clause("errors.messages.uniform")
@pytest.mark.parametrize(("method", "lookup", "record"), _LOOKUPS, ids=[m for m, _, _ in _LOOKUPS])
@pytest.mark.parametrize("record_id", [_MISSING, "not-a-uuid"], ids=["missing", "malformed"])
def test_not_found_names_tenant_record_and_id(
    harness: Harness,
    method: str,
    lookup: Callable[[Store, str, str], Awaitable[object]],
    record: str,
    record_id: str,
) -> None:
    """A missing record and a malformed id in its place read alike on every backend."""
    tenant = new_tenant()
    error = harness.run(raises(NotFoundError, lookup(harness.store, tenant, record_id)))
    expected = f"tenant {tenant!r} has no {record.format(id=repr(record_id))}"
    assert str(error) == expected, method


# (the listing, the call on (store, tenant, cursor), the record it lists)
_CURSORS: list[tuple[str, Callable[[Store, str, str], Awaitable[object]], str]] = [
    ("list_executions", lambda s, t, i: s.list_executions(t, after=i), "execution"),
    ("list_files", lambda s, t, i: s.list_files(FileFilter(tenant_id=t, after=i)), "file"),
    (
        "list_files of a session that cannot exist",
        lambda s, t, i: s.list_files(FileFilter(tenant_id=t, session_id="no-uuid", after=i)),
        "file",
    ),
]


@clause("errors.messages.uniform")
@pytest.mark.parametrize(("listing", "page", "record"), _CURSORS, ids=[n for n, _, _ in _CURSORS])
@pytest.mark.parametrize("cursor", [_MISSING, "not-a-uuid"], ids=["missing", "malformed"])
def test_a_cursor_naming_no_record_reads_alike(
    harness: Harness,
    listing: str,
    page: Callable[[Store, str, str], Awaitable[object]],
    record: str,
    cursor: str,
) -> None:
    """An ``after`` that names no record of the listing: the not-found words, and why."""
    tenant = new_tenant()
    error = harness.run(raises(NotFoundError, page(harness.store, tenant, cursor)))
    assert str(error) == f"tenant {tenant!r} has no {record} {cursor!r} to list after", listing


@clause("errors.messages.uniform")
def test_not_found_by_name_names_tenant_and_name(harness: Harness) -> None:
    """Lookups by external id or skill name say what was asked for, in the same words."""
    tenant = new_tenant()
    store = harness.store
    cases: list[tuple[Awaitable[object], str]] = [
        (store.get_session_by_external_id(tenant, "ext-1"), "session with external id 'ext-1'"),
        (store.delete_session(tenant, "ext-1"), "session with external id 'ext-1'"),
        (store.get_skill(tenant, "pdf", "1.0"), "skill 'pdf' version '1.0'"),
        (store.resolve_latest_version(tenant, "pdf"), "version of skill 'pdf'"),
    ]
    for awaitable, record in cases:
        error = harness.run(raises(NotFoundError, awaitable))
        assert str(error) == f"tenant {tenant!r} has no {record}"


@clause("errors.messages.uniform")
def test_the_outer_store_inside_a_block_reads_alike(harness: Harness) -> None:
    """A write or a block through the outer store, in the block's task: one message."""
    tenant = new_tenant()
    store = harness.store

    async def inside() -> list[str]:
        messages: list[str] = []
        async with store.transaction() as tx:
            await call(tx.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))
            write = await raises(StoreError, store.create_key(tenant, "k", new_key_hash()))
            messages.append(str(write))
            try:
                async with store.transaction():
                    pass
            except StoreError as exc:
                messages.append(str(exc))
        return messages

    assert harness.run(inside()) == [OUTER_STORE_IN_TRANSACTION, OUTER_STORE_IN_TRANSACTION]


@clause("errors.messages.uniform")
def test_conflicts_read_alike(harness: Harness) -> None:
    """Each `ConflictError` of the contract has one text, whichever backend finds it.

    Written out here, not taken from `skillbox_store.errors`' helpers, so that a helper
    reworded on purpose shows up as a change of the contract.
    """
    tenant = new_tenant()
    store = harness.store

    async def conflicts() -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        key_hash = new_key_hash()
        key = await call(store.create_key(tenant, "k", key_hash))
        taken = await raises(AlreadyExistsError, store.create_key(tenant, "k2", key_hash))
        found.append((str(taken), "an API key with this hash already exists"))
        await call(store.revoke_key(tenant, key.id))
        revoked = await raises(AlreadyRevokedError, store.revoke_key(tenant, key.id))
        found.append((str(revoked), f"API key {key.id!r} is already revoked"))

        running = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
        execution = await call(store.create_execution(running))
        done = execution.model_copy(update={"status": "success"})
        await call(store.update_execution(done))
        finished = await raises(AlreadyFinishedError, store.update_execution(done))
        found.append(
            (str(finished), f"execution {execution.id!r} already finished with status 'success'")
        )

        # The chain: head v1 <- middle v3 <- tail v5.
        head = await call(store.create_file(_file(tenant)))
        middle = await call(store.create_file(_file(tenant, parent_id=head.id, version=3)))
        tail = await call(store.create_file(_file(tenant, parent_id=middle.id, version=5)))
        low = await raises(ConflictError, store.create_file(_file(tenant, parent_id=middle.id)))
        found.append((str(low), "version 1 must be greater than the parent's (3)"))
        used = _file(tenant, parent_id=head.id, version=5)
        in_chain = await raises(ConflictError, store.create_file(used))
        found.append((str(in_chain), "version 5 is already in the file's chain"))
        misplaced = (
            "version {v} does not fit the file's chain: it must be unused there, greater "
            "than the parent's and smaller than every child's"
        )
        for file, version in [(tail, 1), (tail, 2), (head, 4)]:
            moved = file.model_copy(update={"version": version})
            error = await raises(ConflictError, store.update_file(moved))
            found.append((str(error), misplaced.format(v=version)))
        parent = await raises(ConflictError, store.delete_file(tenant, middle.id))
        found.append((str(parent), f"file {middle.id!r} is the parent of a later version"))
        return found

    for message, expected in harness.run(conflicts()):
        assert message == expected
