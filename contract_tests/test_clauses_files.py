"""One targeted test per clause of docs/contract.md, "Files and version chains"."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest

from skillbox_store import (
    ConflictError,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    Store,
)
from skillbox_store.records import utc_now

from .clauses import clause
from .harness import Harness, call, new_tenant, raises

_LONG_AGO = datetime(2001, 2, 3, 4, 5, 6, 7, tzinfo=UTC)


def _past(moment: datetime) -> datetime:
    """Wait until the clock has passed ``moment``; return the time then."""
    while (now := utc_now()) <= moment:
        time.sleep(0.001)
    return now


def _file(tenant: str, **fields: object) -> File:
    return File.model_validate({"tenant_id": tenant, "name": "f.txt", "s3_key": "k", **fields})


def _ids(files: list[File]) -> list[str]:
    return [f.id for f in files]


async def _execution_id(store: Store, tenant: str) -> str:
    execution = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    return (await call(store.create_execution(execution))).id


def _create(harness: Harness, file: File) -> File:
    return harness.run(call(harness.store.create_file(file)))


def _chain(harness: Harness, tenant: str, length: int, **fields: object) -> list[File]:
    """Build a chain of ``length`` versions with create_file_version; lowest first."""

    async def build() -> list[File]:
        store = harness.store
        chain = [await call(store.create_file(_file(tenant, s3_key="v1", **fields)))]
        for version in range(2, length + 1):
            chain.append(
                await call(
                    store.create_file_version(
                        tenant, chain[0].id, size_bytes=version, s3_key=f"v{version}"
                    )
                )
            )
        return chain

    return harness.run(build())


def _many(harness: Harness, tenant: str, count: int, **fields: object) -> list[File]:
    """Create ``count`` files in order; return them oldest first."""

    async def create() -> list[File]:
        store = harness.store
        return [
            await call(store.create_file(_file(tenant, s3_key=f"k{i}", **fields)))
            for i in range(count)
        ]

    return harness.run(create())


# -- create_file --------------------------------------------------------------------------


@clause("files.create.returns")
def test_create_file_returns_the_stored_file(harness: Harness) -> None:
    """A new id, created_at == updated_at == now, every other field as given."""
    tenant = new_tenant()
    store = harness.store
    execution_id = harness.run(_execution_id(store, tenant))
    given = _file(
        tenant,
        id=str(uuid.uuid4()),
        session_id=str(uuid.uuid4()),
        execution_id=execution_id,
        name="report.pdf",
        content_type="application/pdf",
        size_bytes=4096,
        s3_key="tenant/report.pdf",
        version=3,
        created_at=_LONG_AGO,
        updated_at=_LONG_AGO,
    )
    before = utc_now()
    created = _create(harness, given)
    after = utc_now()
    assert created.id
    assert created.id != given.id
    assert before <= created.created_at <= after, (before, created.created_at, after)
    assert created.updated_at == created.created_at
    assert created == given.model_copy(
        update={
            "id": created.id,
            "created_at": created.created_at,
            "updated_at": created.updated_at,
        }
    )
    assert harness.run(call(store.get_file(tenant, created.id))) == created
    defaults = _create(harness, _file(tenant))
    assert (defaults.content_type, defaults.version) == ("application/octet-stream", 1)


@clause("files.create.empty_ids")
def test_empty_ids_mean_none(harness: Harness) -> None:
    """An empty session_id, execution_id or parent_id is stored as None."""
    tenant = new_tenant()
    created = _create(harness, _file(tenant, session_id="", execution_id="", parent_id=""))
    assert (created.session_id, created.execution_id, created.parent_id) == (None, None, None)
    stored = harness.run(call(harness.store.get_file(tenant, created.id)))
    assert (stored.session_id, stored.execution_id, stored.parent_id) == (None, None, None)


@clause("files.create.session")
def test_session_id_must_be_a_uuid_not_a_session(harness: Harness) -> None:
    """Any UUID is accepted without a session behind it; a non-UUID is refused."""
    tenant = new_tenant()
    store = harness.store
    loose = str(uuid.uuid4())
    created = _create(harness, _file(tenant, session_id=loose))
    assert created.session_id == loose
    harness.run(raises(InvalidArgumentError, store.create_file(_file(tenant, session_id="s-1"))))
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == [created]


@clause("files.create.execution")
def test_execution_id_must_name_the_tenants_execution(harness: Harness) -> None:
    """Another tenant's or an unknown execution: NotFoundError, nothing written."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    own = harness.run(_execution_id(store, tenant))
    foreign = harness.run(_execution_id(store, other))
    for execution_id in (foreign, str(uuid.uuid4()), "not-a-uuid"):
        harness.run(
            raises(NotFoundError, store.create_file(_file(tenant, execution_id=execution_id)))
        )
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == []
    assert _create(harness, _file(tenant, execution_id=own)).execution_id == own


@clause("files.create.parent")
def test_parent_id_must_name_the_tenants_file(harness: Harness) -> None:
    """Another tenant's or an unknown parent: NotFoundError, nothing written."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    foreign = _create(harness, _file(other))
    for parent_id in (foreign.id, str(uuid.uuid4()), "not-a-uuid"):
        harness.run(
            raises(NotFoundError, store.create_file(_file(tenant, parent_id=parent_id, version=2)))
        )
    assert harness.run(call(store.list_files(FileFilter(tenant_id=tenant)))) == []
    assert harness.run(call(store.list_file_versions(other, foreign.id))) == [foreign]


@clause("files.create.chain_order")
def test_child_version_must_exceed_parents(harness: Harness) -> None:
    """Equal or lower than the parent's: ConflictError; greater joins the chain."""
    tenant = new_tenant()
    store = harness.store
    parent = _create(harness, _file(tenant, version=3))
    for version in (1, 2, 3):
        harness.run(
            raises(
                ConflictError,
                store.create_file(_file(tenant, parent_id=parent.id, version=version)),
            )
        )
    child = _create(harness, _file(tenant, parent_id=parent.id, version=5))
    assert harness.run(call(store.list_file_versions(tenant, parent.id))) == [child, parent]


@clause("files.create.chain_unique")
def test_child_version_must_be_unused_in_chain(harness: Harness) -> None:
    """A version another member has, above the parent's: ConflictError."""
    tenant = new_tenant()
    store = harness.store
    root = _create(harness, _file(tenant))
    skipped = _create(harness, _file(tenant, parent_id=root.id, version=4))
    harness.run(
        raises(ConflictError, store.create_file(_file(tenant, parent_id=root.id, version=4)))
    )
    assert harness.run(call(store.list_file_versions(tenant, root.id))) == [skipped, root]
    # The same version in another chain is no conflict.
    other_root = _create(harness, _file(tenant))
    _create(harness, _file(tenant, parent_id=other_root.id, version=4))


# -- get_file, update_file, delete_file ---------------------------------------------------


@clause("files.get.returns")
def test_get_file(harness: Harness) -> None:
    """The named file; another tenant's, unknown or malformed ids: NotFoundError."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    files = _many(harness, tenant, 3)
    for file in files:
        assert harness.run(call(store.get_file(tenant, file.id))) == file
    for owner, file_id in [(other, files[0].id), (tenant, str(uuid.uuid4())), (tenant, "x")]:
        harness.run(raises(NotFoundError, store.get_file(owner, file_id)))


def _renamed(file: File) -> File:
    return file.model_copy(
        update={
            "name": "renamed.csv",
            "content_type": "text/csv",
            "size_bytes": 77,
            "s3_key": "new/key",
            "version": file.version + 10,
        }
    )


@clause("files.update.writes")
def test_update_file_writes_five_fields(harness: Harness) -> None:
    """name, content_type, size_bytes, s3_key and version are written and returned."""
    tenant = new_tenant()
    store = harness.store
    file = _create(harness, _file(tenant))
    wanted = _renamed(file)
    updated = harness.run(call(store.update_file(wanted)))
    assert updated == wanted.model_copy(update={"updated_at": updated.updated_at})
    assert harness.run(call(store.get_file(tenant, file.id))) == updated


@clause("files.update.keeps")
def test_update_file_keeps_the_rest(harness: Harness) -> None:
    """session_id, execution_id, parent_id and created_at are not written."""
    tenant = new_tenant()
    store = harness.store
    execution_id = harness.run(_execution_id(store, tenant))
    other_execution = harness.run(_execution_id(store, tenant))
    root = _create(harness, _file(tenant))
    other_root = _create(harness, _file(tenant))
    file = _create(
        harness,
        _file(
            tenant,
            session_id=str(uuid.uuid4()),
            execution_id=execution_id,
            parent_id=root.id,
            version=2,
        ),
    )
    sneaky = _renamed(file).model_copy(
        update={
            "session_id": str(uuid.uuid4()),
            "execution_id": other_execution,
            "parent_id": other_root.id,
            "created_at": _LONG_AGO,
        }
    )
    updated = harness.run(call(store.update_file(sneaky)))
    kept = ("session_id", "execution_id", "parent_id", "created_at")
    assert [getattr(updated, f) for f in kept] == [getattr(file, f) for f in kept]
    stored = harness.run(call(store.get_file(tenant, file.id)))
    assert stored == updated
    assert _ids(harness.run(call(store.list_file_versions(tenant, root.id)))) == [file.id, root.id]


@clause("files.update.bumps")
def test_update_file_bumps_updated_at(harness: Harness) -> None:
    """updated_at becomes the time of the call, later than before, even with nothing new."""
    tenant = new_tenant()
    store = harness.store
    file = _create(harness, _file(tenant, updated_at=_LONG_AGO))
    previous = file.updated_at
    for wanted in (_renamed(file), _renamed(file)):
        before = _past(previous)
        updated = harness.run(
            call(store.update_file(wanted.model_copy(update={"updated_at": _LONG_AGO})))
        )
        after = utc_now()
        assert before <= updated.updated_at <= after, (previous, before, updated.updated_at)
        assert updated.created_at == file.created_at
        assert harness.run(call(store.get_file(tenant, file.id))).updated_at == updated.updated_at
        previous = updated.updated_at


@clause("files.update.chain_order")
def test_update_file_keeps_chain_order(harness: Harness) -> None:
    """A middle version may move between its neighbours only; nothing written otherwise."""
    tenant = new_tenant()
    store = harness.store
    root = _create(harness, _file(tenant, version=1))
    middle = _create(harness, _file(tenant, parent_id=root.id, version=5))
    head = _create(harness, _file(tenant, parent_id=middle.id, version=10))
    side = _create(harness, _file(tenant, parent_id=root.id, version=7))
    # 1: the parent's; 10: the child's; 12: above the child; 7: used by a sibling.
    for version in (1, 10, 12, 7):
        harness.run(
            raises(ConflictError, store.update_file(middle.model_copy(update={"version": version})))
        )
    assert harness.run(call(store.get_file(tenant, middle.id))) == middle
    for version in (5, 2, 9):
        moved = harness.run(call(store.update_file(middle.model_copy(update={"version": version}))))
        assert moved.version == version
    versions = harness.run(call(store.list_file_versions(tenant, root.id)))
    assert [(f.id, f.version) for f in versions] == [
        (head.id, 10),
        (middle.id, 9),
        (side.id, 7),
        (root.id, 1),
    ]


@clause("files.update.scoped")
def test_update_file_of_another_tenant_is_not_found(harness: Harness) -> None:
    """Wrong tenant, unknown or malformed id: NotFoundError; the owner's file unchanged."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    file = _create(harness, _file(owner))
    for attempt in [
        _renamed(file).model_copy(update={"tenant_id": other}),
        _renamed(file).model_copy(update={"id": str(uuid.uuid4())}),
        _renamed(file).model_copy(update={"id": "not-a-uuid"}),
    ]:
        harness.run(raises(NotFoundError, store.update_file(attempt)))
    assert harness.run(call(store.get_file(owner, file.id))) == file
    assert harness.run(call(store.list_files(FileFilter(tenant_id=other)))) == []


@clause("files.delete.removes")
def test_delete_file_removes_that_file_only(harness: Harness) -> None:
    """The file goes, nothing else; a chain loses its head, then the next."""
    tenant = new_tenant()
    store = harness.store
    loose = _many(harness, tenant, 3)
    chain = _chain(harness, tenant, 3)
    harness.run(call(store.delete_file(tenant, loose[1].id)))
    harness.run(raises(NotFoundError, store.get_file(tenant, loose[1].id)))
    harness.run(call(store.delete_file(tenant, chain[2].id)))
    assert harness.run(call(store.list_file_versions(tenant, chain[0].id))) == chain[1::-1]
    harness.run(call(store.delete_file(tenant, chain[1].id)))
    assert harness.run(call(store.list_file_versions(tenant, chain[0].id))) == [chain[0]]
    listed = harness.run(call(store.list_files(FileFilter(tenant_id=tenant))))
    assert listed == [chain[0], loose[2], loose[0]]


@clause("files.delete.parent")
def test_delete_file_that_is_a_parent_conflicts(harness: Harness) -> None:
    """The root and a middle version of a chain cannot go; nothing is deleted."""
    tenant = new_tenant()
    store = harness.store
    chain = _chain(harness, tenant, 3)
    for file in chain[:2]:
        harness.run(raises(ConflictError, store.delete_file(tenant, file.id)))
    assert harness.run(call(store.list_file_versions(tenant, chain[0].id))) == chain[::-1]


@clause("files.delete.missing")
def test_delete_missing_or_foreign_file_is_not_found(harness: Harness) -> None:
    """Wrong tenant, unknown, malformed or already deleted: NotFoundError."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    file, gone = _many(harness, owner, 2)
    harness.run(call(store.delete_file(owner, gone.id)))
    for tenant, file_id in [
        (other, file.id),
        (owner, gone.id),
        (owner, str(uuid.uuid4())),
        (owner, "not-a-uuid"),
    ]:
        harness.run(raises(NotFoundError, store.delete_file(tenant, file_id)))
    assert harness.run(call(store.get_file(owner, file.id))) == file


# -- listings -----------------------------------------------------------------------------


@clause("files.list.newest_first")
def test_list_files_newest_first_only_the_tenants(harness: Harness) -> None:
    """Reverse creation order, versions included; another tenant's files left out."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    first = _many(harness, tenant, 2)
    chain = _chain(harness, tenant, 2)
    last = _many(harness, tenant, 1)
    _many(harness, other, 2)
    listed = harness.run(call(store.list_files(FileFilter(tenant_id=tenant))))
    assert listed == (first + chain + last)[::-1]


@clause("files.list.filters")
def test_list_files_filters(harness: Harness) -> None:
    """session_id, execution_id, and both together select exactly the matching files."""
    tenant = new_tenant()
    store = harness.store
    s1, s2 = str(uuid.uuid4()), str(uuid.uuid4())
    e1 = harness.run(_execution_id(store, tenant))
    e2 = harness.run(_execution_id(store, tenant))
    files = {
        (s, e): _create(harness, _file(tenant, session_id=s, execution_id=e))
        for s in (s1, s2, None)
        for e in (e1, e2, None)
    }

    def listed(session_id: str | None, execution_id: str | None) -> list[str]:
        wanted = FileFilter(tenant_id=tenant, session_id=session_id, execution_id=execution_id)
        return _ids(harness.run(call(store.list_files(wanted))))

    def expected(session_id: str | None, execution_id: str | None) -> list[str]:
        return [
            f.id
            for (s, e), f in reversed(files.items())
            if session_id in (None, s) and execution_id in (None, e)
        ]

    for session_id in (s1, s2, None):
        for execution_id in (e1, e2, None):
            assert listed(session_id, execution_id) == expected(session_id, execution_id), (
                session_id,
                execution_id,
            )
    assert listed(str(uuid.uuid4()), None) == []


@clause("files.list.default")
def test_list_files_default_limit_is_50(harness: Harness) -> None:
    """Of 51 files, the default page holds the newest 50."""
    tenant = new_tenant()
    created = _many(harness, tenant, 51)
    listed = harness.run(call(harness.store.list_files(FileFilter(tenant_id=tenant))))
    assert _ids(listed) == _ids(created[::-1][:50])


@clause("files.list.clamp")
def test_list_files_limit_clamped_to_200(harness: Harness) -> None:
    """Of 201 files, a limit of 201 or 1000 gives the newest 200."""
    tenant = new_tenant()
    created = _many(harness, tenant, 201)
    newest = _ids(created[::-1][:200])
    for limit in (201, 1000):
        wanted = FileFilter(tenant_id=tenant, limit=limit)
        listed = harness.run(call(harness.store.list_files(wanted)))
        assert _ids(listed) == newest, f"limit={limit}: {len(listed)} returned"
    wanted = FileFilter(tenant_id=tenant, limit=200, offset=200)
    assert _ids(harness.run(call(harness.store.list_files(wanted)))) == [created[0].id]


@clause("files.list.offset")
def test_list_files_offset_after_filtering(harness: Harness) -> None:
    """offset counts filtered files only; past the end is []."""
    tenant = new_tenant()
    store = harness.store
    session = str(uuid.uuid4())
    mine: list[File] = []
    for _ in range(4):
        mine += _many(harness, tenant, 1, session_id=session)
        _many(harness, tenant, 1)
    newest_first = mine[::-1]
    for offset in (0, 1, 3):
        wanted = FileFilter(tenant_id=tenant, session_id=session, limit=2, offset=offset)
        listed = harness.run(call(store.list_files(wanted)))
        assert _ids(listed) == _ids(newest_first[offset : offset + 2]), f"offset={offset}"
    for offset in (4, 99):
        wanted = FileFilter(tenant_id=tenant, session_id=session, offset=offset)
        assert harness.run(call(store.list_files(wanted))) == []


@clause("files.session.all")
def test_list_session_files_has_no_cap(harness: Harness) -> None:
    """All 201 files of a session, newest first, none of another session or tenant."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    session = str(uuid.uuid4())
    _many(harness, tenant, 1, session_id=str(uuid.uuid4()))
    _many(harness, tenant, 1)
    _many(harness, other, 1, session_id=session)
    created = _many(harness, tenant, 201, session_id=session)
    listed = harness.run(call(store.list_session_files(tenant, session)))
    assert _ids(listed) == _ids(created[::-1]), f"{len(listed)} returned"
    assert harness.run(call(store.list_session_files(tenant, str(uuid.uuid4())))) == []


# -- version chains -----------------------------------------------------------------------


@clause("files.version.appends")
@pytest.mark.parametrize("member", [0, 1, 2])
def test_create_file_version_appends_to_head(harness: Harness, member: int) -> None:
    """Named by any member, the new version is head + 1 and its parent is the head."""
    tenant = new_tenant()
    store = harness.store
    root = _create(harness, _file(tenant, version=2))
    middle = _create(harness, _file(tenant, parent_id=root.id, version=5))
    head = _create(harness, _file(tenant, parent_id=middle.id, version=9))
    named = (root, middle, head)[member]
    new = harness.run(call(store.create_file_version(tenant, named.id, size_bytes=1, s3_key="n")))
    assert (new.version, new.parent_id) == (10, head.id)
    assert harness.run(call(store.get_file(tenant, new.id))) == new


@clause("files.version.inherits")
def test_create_file_version_inherits_from_head(harness: Harness) -> None:
    """name, content_type, session_id, execution_id and tenant come from the head."""
    tenant = new_tenant()
    store = harness.store
    root_execution = harness.run(_execution_id(store, tenant))
    root = _create(
        harness,
        _file(
            tenant,
            name="old.txt",
            content_type="text/plain",
            session_id=str(uuid.uuid4()),
            execution_id=root_execution,
        ),
    )
    head_execution = harness.run(_execution_id(store, tenant))
    head_session = str(uuid.uuid4())
    head = _create(
        harness,
        _file(
            tenant,
            name="new.csv",
            content_type="text/csv",
            session_id=head_session,
            execution_id=head_execution,
            parent_id=root.id,
            version=2,
        ),
    )
    new = harness.run(call(store.create_file_version(tenant, root.id, size_bytes=3, s3_key="v3")))
    inherited = ("tenant_id", "name", "content_type", "session_id", "execution_id")
    assert [getattr(new, f) for f in inherited] == [getattr(head, f) for f in inherited]
    assert harness.run(call(store.list_session_files(tenant, head_session))) == [new, head]


@clause("files.version.given")
def test_create_file_version_takes_given_fields(harness: Harness) -> None:
    """size_bytes, s3_key, and name/content_type when given; new id; times now."""
    tenant = new_tenant()
    store = harness.store
    root = _create(harness, _file(tenant, name="a", content_type="text/plain", size_bytes=5))
    before = _past(root.updated_at)
    new = harness.run(
        call(
            store.create_file_version(
                tenant, root.id, name="b", content_type="image/png", size_bytes=9, s3_key="k2"
            )
        )
    )
    after = utc_now()
    assert (new.name, new.content_type, new.size_bytes, new.s3_key) == ("b", "image/png", 9, "k2")
    assert new.id not in ("", root.id)
    assert before <= new.created_at <= after, (before, new.created_at, after)
    assert new.updated_at == new.created_at
    empty_type = harness.run(
        call(store.create_file_version(tenant, root.id, content_type="", size_bytes=0, s3_key="k3"))
    )
    assert (empty_type.name, empty_type.content_type, empty_type.size_bytes) == ("b", "", 0)
    assert harness.run(call(store.get_file(tenant, root.id))) == root


@clause("files.version.missing")
def test_create_file_version_of_missing_file_is_not_found(harness: Harness) -> None:
    """Another tenant's, unknown or malformed id: NotFoundError; nothing written."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    file = _create(harness, _file(owner))
    for tenant, file_id in [(other, file.id), (owner, str(uuid.uuid4())), (owner, "nope")]:
        harness.run(
            raises(
                NotFoundError, store.create_file_version(tenant, file_id, size_bytes=1, s3_key="k")
            )
        )
    assert harness.run(call(store.list_files(FileFilter(tenant_id=other)))) == []
    assert harness.run(call(store.list_file_versions(owner, file.id))) == [file]


@clause("files.versions.chain")
def test_list_file_versions_whole_chain_from_any_member(harness: Harness) -> None:
    """A 12-long chain, asked from first, middle and head, highest first; no other chain."""
    tenant = new_tenant()
    store = harness.store
    chain = _chain(harness, tenant, 12)
    _chain(harness, tenant, 3)
    for member in (chain[0], chain[5], chain[-1]):
        listed = harness.run(call(store.list_file_versions(tenant, member.id)))
        assert _ids(listed) == _ids(chain[::-1]), f"from version {member.version}"
        assert listed == chain[::-1]


@clause("files.versions.missing")
def test_list_file_versions_of_missing_file_is_empty(harness: Harness) -> None:
    """Another tenant's, unknown or malformed id: []."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    chain = _chain(harness, owner, 2)
    for tenant, file_id in [(other, chain[0].id), (owner, str(uuid.uuid4())), (owner, "nope")]:
        assert harness.run(call(store.list_file_versions(tenant, file_id))) == []


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


# -- files.update.chain_order: the boundaries ---------------------------------------------


@clause("files.update.chain_order")
def test_update_to_a_neighbours_version_conflicts(harness: Harness) -> None:
    """A version equal to the parent's or to a child's is refused, and nothing written."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    middle = harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k2", parent_id=head.id, version=2)
            )
        )
    )
    harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k3", parent_id=middle.id, version=3)
            )
        )
    )
    for version in (1, 3):
        harness.run(
            raises(ConflictError, store.update_file(middle.model_copy(update={"version": version})))
        )
        assert harness.run(call(store.get_file(tenant, middle.id))).version == 2
    # Strictly between the neighbours is not possible here; the unchanged version is.
    harness.run(call(store.update_file(middle.model_copy(update={"name": "g"}))))


# -- files.list.filters: both filters, one of them matching nothing ------------------------


@clause("files.list.filters")
def test_both_filters_with_an_empty_group(harness: Harness) -> None:
    """Filtering by a session and an execution of which one has no file gives []."""
    store = harness.store
    tenant = new_tenant()
    execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    session = str(uuid.uuid4())
    harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k", execution_id=execution.id)
            )
        )
    )
    harness.run(
        call(store.create_file(File(tenant_id=tenant, name="g", s3_key="k", session_id=session)))
    )
    unused_execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    for session_id, execution_id in [
        (str(uuid.uuid4()), execution.id),
        (session, unused_execution.id),
    ]:
        wanted = FileFilter(tenant_id=tenant, session_id=session_id, execution_id=execution_id)
        assert harness.run(call(store.list_files(wanted))) == [], (session_id, execution_id)


# -- files.delete.removes: past the memory backend's ordering blocks -----------------------

_MANY = 600  # more than one of the memory backend's 512-row ordering blocks


@clause("files.delete.removes", "order.paging.once")
def test_delete_among_many_files(harness: Harness) -> None:
    """Deleting files at both ends and in the middle of a long listing removes just them."""
    store = harness.store
    tenant = new_tenant()

    async def create_many() -> list[str]:
        ids = []
        # One block: a SQL backend commits once instead of 600 times.
        async with store.transaction() as tx:
            for n in range(_MANY):
                file = await call(tx.create_file(File(tenant_id=tenant, name=f"f{n}", s3_key="k")))
                ids.append(file.id)
        return ids

    async def every_file() -> list[str]:
        listed: list[str] = []
        while True:
            page = await call(
                store.list_files(FileFilter(tenant_id=tenant, limit=200, offset=len(listed)))
            )
            listed += [f.id for f in page]
            if len(page) < 200:
                return listed

    ids = harness.run(create_many())
    doomed = [ids[0], ids[1], ids[300], ids[520], ids[_MANY - 1]]
    for file_id in doomed:
        harness.run(call(store.delete_file(tenant, file_id)))
    kept = [file_id for file_id in reversed(ids) if file_id not in doomed]
    assert harness.run(every_file()) == kept


# -- files.version.given: a given content type wins over the head's -----------------------


@clause("files.version.given")
def test_new_version_takes_the_given_name_and_content_type(harness: Harness) -> None:
    """Given name and content_type are the new version's, not the head's."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(
        call(
            store.create_file(
                File(tenant_id=tenant, name="a.txt", content_type="text/plain", s3_key="k")
            )
        )
    )
    new = harness.run(
        call(
            store.create_file_version(
                tenant, head.id, name="b.csv", content_type="text/csv", size_bytes=3, s3_key="k2"
            )
        )
    )
    assert (new.name, new.content_type) == ("b.csv", "text/csv")
    assert harness.run(call(store.get_file(tenant, new.id))) == new


# -- files.list.empty_filter: "" is no filter ----------------------------------------------


@clause("files.list.empty_filter")
def test_an_empty_filter_id_filters_nothing(harness: Harness) -> None:
    """session_id or execution_id of "" lists what None lists."""
    store = harness.store
    tenant = new_tenant()
    run = harness.run
    session = str(uuid.uuid4())
    files = [
        run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k")))),
        run(
            call(
                store.create_file(File(tenant_id=tenant, name="g", s3_key="k", session_id=session))
            )
        ),
    ]
    everything = [f.id for f in reversed(files)]
    for changes in (
        {"session_id": ""},
        {"execution_id": ""},
        {"session_id": "", "execution_id": ""},
    ):
        wanted = FileFilter(tenant_id=tenant).model_copy(update=changes)
        assert [f.id for f in run(call(store.list_files(wanted)))] == everything, changes
    wanted = FileFilter(tenant_id=tenant).model_copy(
        update={"session_id": session, "execution_id": ""}
    )
    assert [f.id for f in run(call(store.list_files(wanted)))] == [files[1].id]
