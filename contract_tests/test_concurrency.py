"""Concurrent calls on one store: the atomic operations of the contract stay atomic."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from skillbox_store import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    Execution,
    File,
)

from .clauses import clause
from .harness import Harness, assert_from_store, call, new_key_hash, new_tenant

T = TypeVar("T")


async def _gather(calls: Sequence[Awaitable[T]]) -> tuple[list[T], list[BaseException]]:
    """Run the calls at once; return the results and the exceptions, each checked."""
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    results: list[T] = []
    errors: list[BaseException] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            assert_from_store(outcome)
            errors.append(outcome)
        else:
            results.append(outcome)
    return results, errors


@clause("concurrency.sessions.get_or_create")
def test_concurrent_get_or_create_session_gives_one(harness: Harness) -> None:
    """64 concurrent get_or_create_session on one pair return one session."""
    tenant = new_tenant()
    store = harness.store
    calls = [store.get_or_create_session(tenant, "shared") for _ in range(64)]
    sessions, errors = harness.run(_gather(calls))
    assert errors == []
    assert len({s.id for s in sessions}) == 1
    assert len({s.created_at for s in sessions}) == 1
    stored = harness.run(call(store.get_session_by_external_id(tenant, "shared")))
    assert stored.id == sessions[0].id
    assert stored.last_accessed_at >= max(s.last_accessed_at for s in sessions)


@clause("concurrency.files.version")
def test_concurrent_file_versions_are_consecutive(harness: Harness) -> None:
    """32 concurrent create_file_version on one chain give 32 distinct consecutive versions."""
    tenant = new_tenant()
    store = harness.store
    root = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="v1"))))
    calls = [
        store.create_file_version(tenant, root.id, size_bytes=i, s3_key=f"v{i}")
        for i in range(2, 34)
    ]
    files, errors = harness.run(_gather(calls))
    assert errors == []
    assert sorted(f.version for f in files) == list(range(2, 34))
    chain = harness.run(call(store.list_file_versions(tenant, root.id)))
    assert [f.version for f in chain] == list(range(33, 0, -1))
    by_version = {f.version: f for f in chain}
    for version in range(2, 34):
        assert by_version[version].parent_id == by_version[version - 1].id


@clause("concurrency.executions.update")
def test_concurrent_updates_finish_once(harness: Harness) -> None:
    """32 concurrent finishing updates of a running execution: exactly one succeeds."""
    tenant = new_tenant()
    store = harness.store
    running = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    calls = [
        store.update_execution(
            running.model_copy(update={"status": "success", "duration_ms": i, "logs": f"run {i}"})
        )
        for i in range(32)
    ]
    finished, errors = harness.run(_gather(calls))
    assert len(finished) == 1, f"{len(finished)} updates succeeded"
    assert len(errors) == 31
    assert all(isinstance(e, AlreadyFinishedError) for e in errors), errors
    stored = harness.run(call(store.get_execution(tenant, running.id)))
    assert stored.model_dump() == finished[0].model_dump()


@clause("concurrency.keys.revoke")
def test_concurrent_revocations_succeed_once(harness: Harness) -> None:
    """Of 16 concurrent revocations of one key, exactly one succeeds."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    revoked, errors = harness.run(_gather([store.revoke_key(tenant, key.id) for _ in range(16)]))
    assert len(revoked) == 1, f"{len(revoked)} revocations succeeded"
    assert len(errors) == 15
    assert all(isinstance(e, AlreadyRevokedError) for e in errors), errors
    assert harness.run(call(store.validate_key(key.key_hash))) is None
    stored = harness.run(call(store.get_key_by_hash(key.key_hash)))
    assert stored.revoked_at == revoked[0].revoked_at


@clause("concurrency.keys.create")
def test_concurrent_duplicate_keys_store_one(harness: Harness) -> None:
    """Of 16 concurrent create_key with one hash, exactly one succeeds."""
    tenants = [new_tenant() for _ in range(16)]
    key_hash = new_key_hash()
    store = harness.store
    created, errors = harness.run(_gather([store.create_key(t, "k", key_hash) for t in tenants]))
    assert len(created) == 1, f"{len(created)} keys with one hash"
    assert len(errors) == 15
    assert all(isinstance(e, AlreadyExistsError) for e in errors), errors
    found = harness.run(call(store.get_key_by_hash(key_hash)))
    assert found.model_dump() == created[0].model_dump()
