"""One targeted test per clause of docs/contract.md, "Retry-safe creates".

Each create is sent the way a caller retries after an ambiguous failure: the same
request again, with the id the caller chose the first time.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from skillbox_store import (
    AlreadyExistsError,
    APIKey,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    Store,
)

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises

_LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)


def _id() -> str:
    return str(uuid.uuid4())


def _execution(tenant: str, **fields: object) -> Execution:
    """An execution with every field set away from its default."""
    values: dict[str, object] = {
        "tenant_id": tenant,
        "skill_name": "résumé",
        "skill_version": "2.1",
        "status": "running",
        "input": {"args": [1, 2.5, "x"], "flag": True, "nested": {"a": None}},
        "output": ["out", 3],
        "logs": "line 1\nline 2",
        "files_url": "s3://bucket/prefix",
        "files_list": ["a.txt", "b.txt"],
        "duration_ms": 1234,
        "error": "boom",
        "finished_at": _LONG_AGO + timedelta(seconds=1),
    }
    return Execution.model_validate({**values, **fields})


def _file(tenant: str, **fields: object) -> File:
    return File.model_validate(
        {
            "tenant_id": tenant,
            "name": "f.txt",
            "content_type": "text/plain",
            "size_bytes": 10,
            "s3_key": "k",
            **fields,
        }
    )


async def _root(store: Store, tenant: str) -> File:
    """A file that starts a chain, with a session and an execution to inherit."""
    execution = await call(store.create_execution(_execution(tenant)))
    return await call(store.create_file(_file(tenant, session_id=_id(), execution_id=execution.id)))


async def _everything(store: Store, tenant: str) -> dict[str, list[Any]]:
    """Every record of the tenant a create can make, to show that nothing changed."""
    return {
        "keys": await call(store.list_keys(tenant)),
        "executions": await call(store.list_executions(tenant, 100)),
        "files": await call(store.list_files(FileFilter(tenant_id=tenant, limit=200))),
    }


# The five creates, each as (name, call with an id): a request per tenant, made fresh
# for each call so that a retry repeats it exactly. A create_file_version needs a chain,
# which `_prepared` builds first.
Create = Callable[[Store, str, dict[str, Any], str], Awaitable[APIKey | Execution | File]]


async def _create_key(store: Store, tenant: str, ctx: dict[str, Any], id: str) -> APIKey:
    return await store.create_key(tenant, "ci", ctx["key_hash"], id=id)


async def _create_execution(store: Store, tenant: str, ctx: dict[str, Any], id: str) -> Execution:
    return await store.create_execution(_execution(tenant), id=id)


async def _insert_execution(store: Store, tenant: str, ctx: dict[str, Any], id: str) -> Execution:
    return await store.insert_execution(_execution(tenant, status="success"), id=id)


async def _create_file(store: Store, tenant: str, ctx: dict[str, Any], id: str) -> File:
    return await store.create_file(
        _file(tenant, parent_id=ctx["root"].id, version=5, s3_key="child"), id=id
    )


async def _create_file_version(store: Store, tenant: str, ctx: dict[str, Any], id: str) -> File:
    return await store.create_file_version(
        tenant, ctx["root"].id, size_bytes=7, s3_key="v-next", id=id
    )


CREATES: dict[str, Create] = {
    "create_key": _create_key,
    "create_execution": _create_execution,
    "insert_execution": _insert_execution,
    "create_file": _create_file,
    "create_file_version": _create_file_version,
}


async def _prepared(store: Store, tenant: str) -> dict[str, Any]:
    """What the creates of one tenant need: a key hash of its own, a chain to extend."""
    return {"key_hash": new_key_hash(), "root": await _root(store, tenant)}


async def _read_back(store: Store, record: APIKey | Execution | File) -> object:
    """Read a created record back: a key by its hash, the others by tenant and id."""
    if isinstance(record, APIKey):
        return await call(store.get_key_by_hash(record.key_hash))
    if isinstance(record, Execution):
        return await call(store.get_execution(record.tenant_id, record.id))
    return await call(store.get_file(record.tenant_id, record.id))


@clause("idempotent.id.chosen")
@pytest.mark.parametrize("create", sorted(CREATES))
@pytest.mark.parametrize("spelling", ["lower", "upper"])
def test_the_chosen_id_is_the_records(harness: Harness, create: str, spelling: str) -> None:
    """The new record has the id given, in lower case, and is found by it."""
    tenant, wanted = new_tenant(), _id()
    given = wanted.upper() if spelling == "upper" else wanted

    async def scenario() -> None:
        store = harness.store
        ctx = await _prepared(store, tenant)
        created = await call(CREATES[create](store, tenant, ctx, given))
        assert created.id == wanted
        assert await _read_back(store, created) == created
        if isinstance(created, File):
            assert created in await call(store.list_file_versions(tenant, given))
        if isinstance(created, Execution):
            # A reference names it: a file of this execution.
            file = await call(store.create_file(_file(tenant, execution_id=given)))
            assert file.execution_id == wanted

    harness.run(scenario())


@clause("idempotent.id.chosen")
def test_one_id_may_name_one_record_of_each_kind(harness: Harness) -> None:
    """Ids are unique per kind of record: a key, an execution and a file may share one."""
    tenant, shared_id = new_tenant(), _id()

    async def scenario() -> None:
        store = harness.store
        key = await call(store.create_key(tenant, "ci", new_key_hash(), id=shared_id))
        execution = await call(store.create_execution(_execution(tenant), id=shared_id))
        file = await call(store.create_file(_file(tenant, execution_id=shared_id), id=shared_id))
        assert key.id == execution.id == file.id == file.execution_id == shared_id
        assert await call(store.get_execution(tenant, shared_id)) == execution
        assert await call(store.get_file(tenant, shared_id)) == file
        assert await call(store.list_keys(tenant)) == [key]

    harness.run(scenario())


_BAD_IDS: list[object] = [
    "",
    "not-a-uuid",
    " " + _id(),
    _id() + " ",
    "{" + _id() + "}",
    _id().replace("-", ""),
    "urn:" + uuid.uuid4().hex,  # 36 characters, which uuid.UUID reads
    _id()[:-1] + "g",
    uuid.uuid4(),
    type("Id", (str,), {})(_id()),
    1,
    b"0" * 36,
]


@clause("idempotent.id.invalid")
@pytest.mark.parametrize("create", sorted(CREATES))
def test_a_bad_id_is_refused_by_name(harness: Harness, create: str) -> None:
    """Anything but None or a canonical UUID string is InvalidArgumentError naming id."""
    tenant = new_tenant()

    async def scenario() -> None:
        store = harness.store
        ctx = await _prepared(store, tenant)
        before = await _everything(store, tenant)
        for bad in _BAD_IDS:
            error = await raises(
                InvalidArgumentError,
                CREATES[create](store, tenant, ctx, bad),  # type: ignore[arg-type]
            )
            assert "id" in str(error), (bad, str(error))
        assert await _everything(store, tenant) == before
        assert await call(store.validate_key(ctx["key_hash"])) is None

    harness.run(scenario())


@clause("keys.create.idempotent")
def test_a_retried_create_key_returns_the_key(harness: Harness) -> None:
    """The same key again: no second key, the first one back; revoked, still the same."""
    tenant, key_hash, key_id = new_tenant(), new_key_hash(), _id()

    async def scenario() -> None:
        store = harness.store
        first = await call(store.create_key(tenant, "ci", key_hash, id=key_id))
        again = await call(store.create_key(tenant, "ci", key_hash, id=key_id.upper()))
        assert again == first
        assert await call(store.list_keys(tenant)) == [first]
        revoked = await call(store.revoke_key(tenant, key_id))
        after_revoke = await call(store.create_key(tenant, "ci", key_hash, id=key_id))
        assert after_revoke == revoked
        assert after_revoke.revoked_at is not None
        assert await call(store.validate_key(key_hash)) is None
        assert await call(store.list_keys(tenant)) == [revoked]

    harness.run(scenario())


@clause("executions.create.idempotent")
@pytest.mark.parametrize("method", ["create_execution", "insert_execution"])
def test_a_retried_execution_is_the_first(harness: Harness, method: str) -> None:
    """The same execution again: the first one back, equal in every field, and only one."""
    tenant, execution_id = new_tenant(), _id()
    status = "running" if method == "create_execution" else "timeout"

    async def scenario() -> None:
        store = harness.store
        create = getattr(store, method)
        first = await call(create(_execution(tenant, status=status), id=execution_id))
        # What the store ignores or normalises is no difference: the record's own id and
        # created_at, another status passed to create_execution, the key order of JSON
        # objects, and finished_at in another UTC offset.
        again_given = _execution(
            tenant,
            id=_id(),
            created_at=_LONG_AGO,
            status="failed" if method == "create_execution" else status,
            input={"nested": {"a": None}, "flag": True, "args": [1, 2.5, "x"]},
            finished_at=(_LONG_AGO + timedelta(seconds=1)).astimezone(
                timezone(timedelta(hours=-5))
            ),
        )
        again = await call(create(again_given, id=execution_id))
        assert again == first
        assert again.status == status
        assert await call(store.get_execution(tenant, execution_id)) == first
        assert await call(store.list_executions(tenant)) == [first]

    harness.run(scenario())


@clause("files.create.idempotent")
def test_a_retried_create_file_is_the_first(harness: Harness) -> None:
    """The same file again: the first one back, though its version is now in the chain."""
    tenant, file_id = new_tenant(), _id()

    async def scenario() -> None:
        store = harness.store
        root = await _root(store, tenant)
        given = _file(
            tenant,
            session_id=root.session_id,
            execution_id=root.execution_id,
            parent_id=root.id,
            version=3,
            s3_key="child",
        )
        first = await call(store.create_file(given, id=file_id))
        # Ids spelled in upper case and the record's own id are no difference.
        again_given = given.model_copy(
            update={
                "id": _id(),
                "parent_id": root.id.upper(),
                "execution_id": (root.execution_id or "").upper(),
            }
        )
        again = await call(store.create_file(again_given, id=file_id))
        assert again == first
        assert await call(store.list_file_versions(tenant, root.id)) == [first, root]
        root_id = _id()
        lone = await call(store.create_file(_file(tenant), id=root_id))
        assert await call(store.create_file(_file(tenant), id=root_id)) == lone
        listed = await call(store.list_files(FileFilter(tenant_id=tenant)))
        assert listed == [lone, first, root]

    harness.run(scenario())


@clause("files.version.idempotent")
def test_a_retried_file_version_is_the_version_it_made(harness: Harness) -> None:
    """A retry returns version n+1 made the first time, never appends n+2."""
    tenant, version_id = new_tenant(), _id()

    async def scenario() -> None:
        store = harness.store
        root = await _root(store, tenant)
        first = await call(
            store.create_file_version(tenant, root.id, size_bytes=7, s3_key="v2", id=version_id)
        )
        assert (first.id, first.version, first.parent_id) == (version_id, 2, root.id)
        assert (first.name, first.content_type) == (root.name, root.content_type)
        again = await call(
            store.create_file_version(tenant, root.id, size_bytes=7, s3_key="v2", id=version_id)
        )
        assert again == first
        assert await call(store.list_file_versions(tenant, root.id)) == [first, root]
        # A free id on a missing file is the missing file, as without an id.
        await raises(
            NotFoundError,
            store.create_file_version(tenant, _id(), size_bytes=7, s3_key="v2", id=_id()),
        )
        # Others append meanwhile; a late retry, naming any member of the chain (the
        # new head, itself), still gets version 2 and appends nothing.
        third = await call(store.create_file_version(tenant, root.id, size_bytes=8, s3_key="v3"))
        for member in (root.id, third.id, version_id):
            late = await call(
                store.create_file_version(tenant, member, size_bytes=7, s3_key="v2", id=version_id)
            )
            assert late == first
        # A name and content type given the first time must be given again.
        named_id = _id()
        named = await call(
            store.create_file_version(
                tenant,
                root.id,
                name="renamed.txt",
                content_type="text/csv",
                size_bytes=9,
                s3_key="v4",
                id=named_id,
            )
        )
        retried = await call(
            store.create_file_version(
                tenant,
                root.id,
                name="renamed.txt",
                content_type="text/csv",
                size_bytes=9,
                s3_key="v4",
                id=named_id,
            )
        )
        assert retried == named
        assert await call(store.list_file_versions(tenant, root.id)) == [
            named,
            third,
            first,
            root,
        ]

    harness.run(scenario())


# One other value per field a create stores from its request (JSON values that Python
# holds equal but the store does not: 1.0 for 1, 1 for True, and shape changes).
_OTHER_EXECUTION_FIELDS: list[dict[str, object]] = [
    {"skill_name": "other"},
    {"skill_version": "9"},
    {"input": {"args": [1.0, 2.5, "x"], "flag": True, "nested": {"a": None}}},
    {"input": {"args": [1, 2.5, "x"], "flag": 1, "nested": {"a": None}}},
    {"input": {"args": [1, 2.5, "x"], "flag": True, "nested": {"a": None}, "more": 1}},
    {"input": {"args": [1, 2.5, "x", 4], "flag": True, "nested": {"a": None}}},
    {"input": None},
    {"output": ["out", 3.0]},
    {"output": None},
    {"logs": "other"},
    {"files_url": ""},
    {"files_list": ["a.txt"]},
    {"duration_ms": 1},
    {"error": None},
    {"finished_at": None},
]
_OTHER_FILE_FIELDS: list[dict[str, object]] = [
    {"session_id": "11111111-1111-4111-8111-111111111111"},
    {"name": "other.txt"},
    {"content_type": "application/octet-stream"},
    {"size_bytes": 11},
    {"s3_key": "other"},
    {"version": 6},
    {"parent_id": None, "version": 5},
]

Mismatch = Callable[[Store, dict[str, Any], str], Awaitable[object]]


def _execution_mismatch(tenant: str, method: str, fields: dict[str, object]) -> Mismatch:
    """The `CREATES` request of ``method`` with ``fields`` changed."""

    def create(s: Store, c: dict[str, Any], i: str) -> Awaitable[object]:
        execution = _execution(tenant, **fields)
        if method == "create_execution":
            return s.create_execution(execution, id=i)
        return s.insert_execution(execution, id=i)

    return create


def _file_mismatch(tenant: str, fields: dict[str, object]) -> Mismatch:
    """The `CREATES` request of ``create_file`` with ``fields`` changed."""

    def create(s: Store, c: dict[str, Any], i: str) -> Awaitable[object]:
        given = {"parent_id": c["root"].id, "version": 5, "s3_key": "child", **fields}
        return s.create_file(_file(tenant, **given), id=i)

    return create


def _mismatches(tenant: str) -> list[tuple[str, Mismatch]]:
    """Requests that differ from the `CREATES` request of the same name, one way each."""
    cases: list[tuple[str, Mismatch]] = [
        ("create_key", lambda s, c, i: s.create_key(tenant, "other", c["key_hash"], id=i)),
        ("create_key", lambda s, c, i: s.create_key(tenant, "ci", c["other_hash"], id=i)),
        # The same fields under the other method: the stored status differs.
        (
            "create_execution",
            lambda s, c, i: s.insert_execution(_execution(tenant, status="success"), id=i),
        ),
        (
            "insert_execution",
            lambda s, c, i: s.insert_execution(_execution(tenant, status="failed"), id=i),
        ),
        (
            "insert_execution",
            lambda s, c, i: s.create_execution(_execution(tenant, status="success"), id=i),
        ),
        (
            "create_file",
            lambda s, c, i: s.create_file(
                _file(
                    tenant,
                    parent_id=c["root"].id,
                    version=5,
                    s3_key="child",
                    execution_id=c["root"].execution_id,
                ),
                id=i,
            ),
        ),
        (
            "create_file_version",
            lambda s, c, i: s.create_file_version(
                tenant, c["root"].id, size_bytes=8, s3_key="v-next", id=i
            ),
        ),
        (
            "create_file_version",
            lambda s, c, i: s.create_file_version(
                tenant, c["root"].id, size_bytes=7, s3_key="v-other", id=i
            ),
        ),
        (
            "create_file_version",
            lambda s, c, i: s.create_file_version(
                tenant, c["root"].id, name="other.txt", size_bytes=7, s3_key="v-next", id=i
            ),
        ),
        (
            "create_file_version",
            lambda s, c, i: s.create_file_version(
                tenant, c["root"].id, content_type="x/y", size_bytes=7, s3_key="v-next", id=i
            ),
        ),
        (
            # The same arguments on another chain of the tenant.
            "create_file_version",
            lambda s, c, i: s.create_file_version(
                tenant, c["other_root"].id, size_bytes=7, s3_key="v-next", id=i
            ),
        ),
    ]
    for method, status in (("create_execution", "running"), ("insert_execution", "success")):
        for other in _OTHER_EXECUTION_FIELDS:
            fields = {"status": status, **other}
            cases.append((method, _execution_mismatch(tenant, method, fields)))
    for other in _OTHER_FILE_FIELDS:
        cases.append(("create_file", _file_mismatch(tenant, other)))
    return cases


@clause("idempotent.mismatch.refused")
def test_the_same_id_for_another_request_is_refused(harness: Harness) -> None:
    """Each different request with a used id: AlreadyExistsError, and nothing changes."""
    tenant = new_tenant()

    async def scenario() -> None:
        store = harness.store
        ctx = await _prepared(store, tenant)
        ctx["other_hash"] = new_key_hash()
        ctx["other_root"] = await call(store.create_file(_file(tenant, s3_key="other root")))
        made = {}
        for name, create in CREATES.items():
            made[name] = await call(create(store, tenant, ctx, _id()))
        before = await _everything(store, tenant)
        for name, mismatch in _mismatches(tenant):
            error = await raises(AlreadyExistsError, mismatch(store, ctx, made[name].id))
            assert made[name].id in str(error), str(error)
            assert await _everything(store, tenant) == before, name
        # The hash only the refused call gave stays free.
        assert await call(store.validate_key(ctx["other_hash"])) is None
        # The id of a file that is no version (a chain's first file) is no version either.
        await raises(
            AlreadyExistsError,
            store.create_file_version(
                tenant, ctx["root"].id, size_bytes=10, s3_key="k", id=ctx["root"].id
            ),
        )
        assert await _everything(store, tenant) == before

    harness.run(scenario())


@clause("idempotent.mismatch.refused")
def test_a_record_changed_since_is_no_longer_its_request(harness: Harness) -> None:
    """After update_execution or update_file, the original request is refused."""
    tenant, execution_id, file_id = new_tenant(), _id(), _id()

    async def scenario() -> None:
        store = harness.store
        created = await call(store.create_execution(_execution(tenant), id=execution_id))
        updated = await call(
            store.update_execution(created.model_copy(update={"status": "success"}))
        )
        await raises(
            AlreadyExistsError, store.create_execution(_execution(tenant), id=execution_id)
        )
        assert await call(store.get_execution(tenant, execution_id)) == updated
        await call(store.create_file(_file(tenant), id=file_id))
        changed = await call(store.update_file(_file(tenant, id=file_id, s3_key="moved")))
        await raises(AlreadyExistsError, store.create_file(_file(tenant), id=file_id))
        assert await call(store.get_file(tenant, file_id)) == changed

    harness.run(scenario())


@clause("idempotent.scope.tenant")
@pytest.mark.parametrize("create", sorted(CREATES))
def test_another_tenants_id_is_not_seen(harness: Harness, create: str) -> None:
    """Tenant B's create with A's id makes B's own record; A's is untouched and unnamed."""
    owner, other, shared_id = new_tenant(), new_tenant(), _id()

    async def scenario() -> None:
        store = harness.store
        owner_ctx = await _prepared(store, owner)
        mine = await call(CREATES[create](store, owner, owner_ctx, shared_id))
        owner_before = await _everything(store, owner)
        other_ctx = await _prepared(store, other)
        theirs = await call(CREATES[create](store, other, other_ctx, shared_id))
        assert theirs.id == shared_id
        assert theirs.tenant_id == other
        assert await _read_back(store, theirs) == theirs
        assert await _read_back(store, mine) == mine
        assert await _everything(store, owner) == owner_before
        # A retry by the other tenant is its own, and a clash names only its own data.
        again = await call(CREATES[create](store, other, other_ctx, shared_id))
        assert again == theirs
        clashes: dict[str, Callable[[], Awaitable[object]]] = {
            "create_key": lambda: store.create_key(other, "x", new_key_hash(), id=shared_id),
            "create_execution": lambda: store.create_execution(
                _execution(other, logs="x"), id=shared_id
            ),
            "insert_execution": lambda: store.insert_execution(_execution(other), id=shared_id),
            "create_file": lambda: store.create_file(_file(other), id=shared_id),
            "create_file_version": lambda: store.create_file_version(
                other, other_ctx["root"].id, size_bytes=1, s3_key="x", id=shared_id
            ),
        }
        error = await raises(AlreadyExistsError, clashes[create]())
        for secret in (owner, owner_ctx["key_hash"], owner_ctx["root"].id):
            assert secret not in str(error), str(error)
        assert await _everything(store, owner) == owner_before

    harness.run(scenario())


@clause("idempotent.concurrent.once")
@pytest.mark.parametrize("create", sorted(CREATES))
def test_concurrent_identical_creates_store_one(harness: Harness, create: str) -> None:
    """16 identical creates at once with one id: one record, returned to all 16.

    Several rounds, each on a fresh id: on PostgreSQL the racing attempts meet the
    other unique indexes (a key's hash, a chain's version) in a narrow window, which one
    round would often miss.
    """
    tenant = new_tenant()

    async def scenario() -> None:
        store = harness.store
        for _ in range(4):
            ctx, shared_id = await _prepared(store, tenant), _id()
            before = await _everything(store, tenant)
            results = await asyncio.gather(
                *(call(CREATES[create](store, tenant, ctx, shared_id)) for _ in range(16))
            )
            assert all(r == results[0] for r in results), results
            assert results[0].id == shared_id
            after = await _everything(store, tenant)
            added = {
                table: [r for r in records if r not in before[table]]
                for table, records in after.items()
            }
            assert sum(len(v) for v in added.values()) == 1, added

    harness.run(scenario())
