"""Purging a tenant and pruning its old executions (docs/contract.md, "Purge and prune")."""

from __future__ import annotations

import hashlib
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from skillbox_store import (
    APIKey,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    RetentionReport,
    Session,
    SkillRecord,
    Store,
)

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises

_CUTOFF = datetime(2024, 6, 1, tzinfo=UTC)
_OLD = _CUTOFF - timedelta(days=30)
_RECENT = _CUTOFF + timedelta(days=1)


class _Boom(Exception):
    """Raised in a block to roll it back."""


@dataclass
class _Seeded:
    """What `_seed` wrote for one tenant."""

    tenant: str
    key_hashes: list[str] = field(default_factory=list)
    s3_keys: list[str] = field(default_factory=list)


@dataclass
class _Snapshot:
    """Every contract read of one tenant, to compare before and after."""

    keys: list[APIKey]
    executions: list[Execution]
    files: list[File]
    sessions: list[Session]
    skills: list[SkillRecord]


async def _seed(store: Store, tenant: str) -> _Seeded:
    """Give the tenant two keys (one revoked), executions, a chain of files, a session, skills."""
    seeded = _Seeded(tenant)
    for name in ("ci", "ops"):
        key_hash = new_key_hash()
        key = await call(store.create_key(tenant, name, key_hash))
        seeded.key_hashes.append(key_hash)
    await call(store.revoke_key(tenant, key.id))
    running = await call(
        store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1"))
    )
    await call(
        store.insert_execution(
            Execution(
                tenant_id=tenant,
                skill_name="s",
                skill_version="1",
                status="success",
                finished_at=_OLD,
            )
        )
    )
    session = await call(store.get_or_create_session(tenant, "chat"))
    root = await call(
        store.create_file(
            File(
                tenant_id=tenant,
                name="a.txt",
                s3_key=f"{tenant}/a1",
                session_id=session.id,
                execution_id=running.id,
            )
        )
    )
    await call(store.create_file_version(tenant, root.id, size_bytes=2, s3_key=f"{tenant}/a2"))
    await call(store.create_file(File(tenant_id=tenant, name="b.txt", s3_key=f"{tenant}/b")))
    seeded.s3_keys = sorted([f"{tenant}/a1", f"{tenant}/a2", f"{tenant}/b"])
    await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1")))
    await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="2")))
    return seeded


async def _snapshot(store: Store, tenant: str) -> _Snapshot:
    sessions = []
    for external_id in ("chat", "other"):
        with suppress(NotFoundError):
            sessions.append(await call(store.get_session_by_external_id(tenant, external_id)))
    return _Snapshot(
        keys=await call(store.list_keys(tenant)),
        executions=await call(store.list_executions(tenant, limit=100)),
        files=await call(store.list_files(FileFilter(tenant_id=tenant, limit=200))),
        sessions=sessions,
        skills=await call(store.list_skills(tenant)),
    )


def _is_empty(snapshot: _Snapshot) -> bool:
    return not (
        snapshot.keys
        or snapshot.executions
        or snapshot.files
        or snapshot.sessions
        or snapshot.skills
    )


# -- purge_tenant ---------------------------------------------------------------------------


@clause("purge.tenant.removes_all")
def test_purge_removes_every_record(harness: Harness) -> None:
    """After a purge no read finds anything of the tenant, and its key hashes are free."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    harness.run(call(store.purge_tenant(seeded.tenant)))
    assert _is_empty(harness.run(_snapshot(store, seeded.tenant)))
    for key_hash in seeded.key_hashes:
        harness.run(raises(NotFoundError, store.get_key_by_hash(key_hash)))
        assert harness.run(call(store.validate_key(key_hash))) is None
    harness.run(raises(NotFoundError, store.resolve_latest_version(seeded.tenant, "s")))
    # The tenant can start again, with the same key hashes and external ids.
    harness.run(call(store.create_key(seeded.tenant, "again", seeded.key_hashes[0])))
    harness.run(call(store.get_or_create_session(seeded.tenant, "chat")))


@clause("purge.tenant.scoped")
def test_purge_leaves_other_tenants(harness: Harness) -> None:
    """Purging one tenant changes nothing any other tenant reads."""
    store = harness.store
    doomed = harness.run(_seed(store, new_tenant()))
    kept = harness.run(_seed(store, new_tenant()))
    before = harness.run(_snapshot(store, kept.tenant))
    harness.run(call(store.purge_tenant(doomed.tenant)))
    assert harness.run(_snapshot(store, kept.tenant)) == before
    for key_hash in kept.key_hashes:
        assert harness.run(call(store.get_key_by_hash(key_hash))).tenant_id == kept.tenant


@clause("purge.tenant.report")
def test_purge_reports_counts_and_s3_keys(harness: Harness) -> None:
    """The report counts each kind of record removed and lists every file's s3_key."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    report = harness.run(call(store.purge_tenant(seeded.tenant)))
    assert report == RetentionReport(
        api_keys=2,
        executions=2,
        files=3,
        sessions=1,
        skills=2,
        s3_keys=seeded.s3_keys,
    )
    assert report.removed == 10


@clause("purge.tenant.idempotent")
def test_purge_again_or_unknown_reports_nothing(harness: Harness) -> None:
    """Purging a purged tenant, or one that never existed, returns an empty report."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    harness.run(call(store.purge_tenant(seeded.tenant)))
    assert harness.run(call(store.purge_tenant(seeded.tenant))) == RetentionReport()
    assert harness.run(call(store.purge_tenant(new_tenant()))) == RetentionReport()


@clause("purge.tenant.atomic")
def test_purge_rolled_back_leaves_tenant_whole(harness: Harness) -> None:
    """A purge undone with its transaction leaves every record; a committed one removes all."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    before = harness.run(_snapshot(store, seeded.tenant))

    async def purge_then_fail() -> None:
        async with store.transaction() as tx:
            report = await call(tx.purge_tenant(seeded.tenant))
            assert report.removed == 10
            assert _is_empty(await _snapshot(tx, seeded.tenant))
            raise _Boom

    with pytest.raises(_Boom):
        harness.run(purge_then_fail())
    assert harness.run(_snapshot(store, seeded.tenant)) == before
    assert harness.run(call(store.validate_key(seeded.key_hashes[0]))) is not None

    async def purge_in_block() -> RetentionReport:
        async with store.transaction() as tx:
            return await call(tx.purge_tenant(seeded.tenant))

    assert harness.run(purge_in_block()).s3_keys == seeded.s3_keys
    assert _is_empty(harness.run(_snapshot(store, seeded.tenant)))


@clause("purge.tenant.bad_input")
def test_purge_refuses_bad_tenant(harness: Harness) -> None:
    """An empty tenant id, or one holding NUL, is InvalidArgumentError; nothing is removed."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    before = harness.run(_snapshot(store, seeded.tenant))
    harness.run(raises(InvalidArgumentError, store.purge_tenant("")))
    harness.run(raises(InvalidArgumentError, store.purge_tenant("a\x00b")))
    assert harness.run(_snapshot(store, seeded.tenant)) == before


# -- prune_executions ---------------------------------------------------------------------


async def _finished(store: Store, tenant: str, finished_at: datetime | None) -> Execution:
    return await call(
        store.insert_execution(
            Execution(
                tenant_id=tenant,
                skill_name="s",
                skill_version="1",
                status="failed",
                finished_at=finished_at,
            )
        )
    )


async def _ids(store: Store, tenant: str) -> list[str]:
    return [e.id for e in await call(store.list_executions(tenant, limit=100))]


@clause("prune.executions.finished_before")
def test_prune_removes_only_executions_finished_before(harness: Harness) -> None:
    """Finished before the time goes; at or after it, or with no finish time, stays."""
    store = harness.store
    tenant = new_tenant()
    old = harness.run(_finished(store, tenant, _OLD))
    at_cutoff = harness.run(_finished(store, tenant, _CUTOFF))
    recent = harness.run(_finished(store, tenant, _RECENT))
    undated = harness.run(_finished(store, tenant, None))
    # The same instant in another UTC offset compares as that instant.
    shifted = _CUTOFF.astimezone(timezone(timedelta(hours=2)))
    report = harness.run(call(store.prune_executions(tenant, shifted)))
    assert report.executions == 1
    assert harness.run(_ids(store, tenant)) == [undated.id, recent.id, at_cutoff.id]
    harness.run(raises(NotFoundError, store.get_execution(tenant, old.id)))


@clause("prune.executions.never_running")
def test_prune_never_removes_a_running_execution(harness: Harness) -> None:
    """A running execution stays, even with a `finished_at` long before the time."""
    store = harness.store
    tenant = new_tenant()
    running = harness.run(
        call(
            store.create_execution(
                Execution(tenant_id=tenant, skill_name="s", skill_version="1", finished_at=_OLD)
            )
        )
    )
    assert running.status == "running"
    report = harness.run(call(store.prune_executions(tenant, _RECENT)))
    assert report == RetentionReport()
    assert harness.run(call(store.get_execution(tenant, running.id))).status == "running"


@clause("prune.executions.keeps_referenced")
def test_prune_keeps_executions_that_files_name(harness: Harness) -> None:
    """An execution a file names stays, is counted as kept, and the file still names it."""
    store = harness.store
    tenant = new_tenant()
    named = harness.run(_finished(store, tenant, _OLD))
    loose = harness.run(_finished(store, tenant, _OLD))
    file = harness.run(
        call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k", execution_id=named.id)))
    )
    report = harness.run(call(store.prune_executions(tenant, _CUTOFF)))
    assert report == RetentionReport(executions=1, kept_referenced=1)
    assert harness.run(call(store.get_execution(tenant, named.id))) == named
    harness.run(raises(NotFoundError, store.get_execution(tenant, loose.id)))
    assert harness.run(call(store.get_file(tenant, file.id))).execution_id == named.id
    # Once the file is gone, the execution goes with the next prune.
    harness.run(call(store.delete_file(tenant, file.id)))
    again = harness.run(call(store.prune_executions(tenant, _CUTOFF)))
    assert again == RetentionReport(executions=1)


@clause("prune.executions.report")
def test_prune_reports_executions_only(harness: Harness) -> None:
    """The report counts the executions removed; every other count is zero, no s3_keys."""
    store = harness.store
    seeded = harness.run(_seed(store, new_tenant()))
    harness.run(_finished(store, seeded.tenant, _OLD))
    report = harness.run(call(store.prune_executions(seeded.tenant, _CUTOFF)))
    # _seed's own finished execution is old too; its running one is named by a file.
    assert report == RetentionReport(executions=2)
    assert harness.run(call(store.prune_executions(seeded.tenant, _CUTOFF))) == RetentionReport()
    assert len(harness.run(call(store.list_keys(seeded.tenant)))) == 2
    assert len(harness.run(call(store.list_files(FileFilter(tenant_id=seeded.tenant))))) == 3


@clause("prune.executions.scoped")
def test_prune_leaves_other_tenants(harness: Harness) -> None:
    """Pruning one tenant removes nothing of another, however old."""
    store = harness.store
    tenant, other = new_tenant(), new_tenant()
    harness.run(_finished(store, tenant, _OLD))
    theirs = harness.run(_finished(store, other, _OLD))
    assert harness.run(call(store.prune_executions(tenant, _CUTOFF))).executions == 1
    assert harness.run(_ids(store, other)) == [theirs.id]


@clause("prune.executions.atomic")
def test_prune_rolled_back_with_its_transaction(harness: Harness) -> None:
    """A prune inside a block that raises removes nothing."""
    store = harness.store
    tenant = new_tenant()
    old = harness.run(_finished(store, tenant, _OLD))

    async def prune_then_fail() -> None:
        async with store.transaction() as tx:
            assert (await call(tx.prune_executions(tenant, _CUTOFF))).executions == 1
            raise _Boom

    with pytest.raises(_Boom):
        harness.run(prune_then_fail())
    assert harness.run(_ids(store, tenant)) == [old.id]


@clause("prune.executions.bad_input")
def test_prune_refuses_naive_time(harness: Harness) -> None:
    """A naive or missing time is InvalidArgumentError, and nothing is removed."""
    store = harness.store
    tenant = new_tenant()
    old = harness.run(_finished(store, tenant, _OLD))
    naive = _CUTOFF.replace(tzinfo=None)
    harness.run(raises(InvalidArgumentError, store.prune_executions(tenant, naive)))
    harness.run(raises(InvalidArgumentError, store.prune_executions(tenant, None)))  # type: ignore[arg-type]
    harness.run(raises(InvalidArgumentError, store.prune_executions("", _CUTOFF)))
    assert harness.run(_ids(store, tenant)) == [old.id]


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


# -- purge.tenant.removes_all: a purged tenant starts again from nothing -------------------


@clause("purge.tenant.removes_all")
def test_purged_tenant_can_be_used_again(harness: Harness) -> None:
    """After purge_tenant, the same tenant id writes and lists records as a new tenant."""
    store = harness.store
    tenant = new_tenant()

    async def one_of_each(label: str) -> None:
        await call(store.create_key(tenant, label, hashlib.sha256(label.encode()).hexdigest()))
        execution = await call(
            store.create_execution(Execution(tenant_id=tenant, skill_name=label, skill_version="1"))
        )
        await call(
            store.create_file(
                File(tenant_id=tenant, name=label, s3_key="k", execution_id=execution.id)
            )
        )
        await call(store.get_or_create_session(tenant, label))
        await call(store.upsert_skill(SkillRecord(tenant_id=tenant, name=label, version="1")))

    async def names() -> list[list[str]]:
        return [
            [k.name for k in await call(store.list_keys(tenant))],
            [e.skill_name for e in await call(store.list_executions(tenant))],
            [f.name for f in await call(store.list_files(FileFilter(tenant_id=tenant)))],
            [s.name for s in await call(store.list_skills(tenant))],
        ]

    harness.run(one_of_each(f"old-{tenant}"))
    harness.run(call(store.purge_tenant(tenant)))
    assert harness.run(names()) == [[], [], [], []]
    harness.run(one_of_each(f"new-{tenant}"))
    assert harness.run(names()) == [[f"new-{tenant}"]] * 4
    session = harness.run(call(store.get_session_by_external_id(tenant, f"new-{tenant}")))
    assert session.external_id == f"new-{tenant}"
