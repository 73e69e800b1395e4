"""One targeted test per clause of docs/contract.md, "Sessions"."""

from __future__ import annotations

import time
import uuid
from datetime import datetime

from skillbox_store import File, FileFilter, NotFoundError, Session
from skillbox_store.records import utc_now

from .clauses import clause
from .harness import Harness, call, new_tenant, raises


def _past(moment: datetime) -> datetime:
    """Wait until the clock has passed ``moment``; return the time then."""
    while (now := utc_now()) <= moment:
        time.sleep(0.001)
    return now


def _session(harness: Harness, tenant: str, external_id: str) -> Session:
    return harness.run(call(harness.store.get_or_create_session(tenant, external_id)))


@clause("sessions.get_or_create.creates")
def test_get_or_create_creates_a_session(harness: Harness) -> None:
    """A new session: new id, the pair given, both times set to the time of the call."""
    tenant = new_tenant()
    other = _session(harness, tenant, "other")
    before = _past(other.created_at)
    session = _session(harness, tenant, "ext-1")
    after = utc_now()
    assert (session.tenant_id, session.external_id) == (tenant, "ext-1")
    assert session.id
    assert session.id != other.id
    assert before <= session.created_at <= after, (before, session.created_at, after)
    assert session.last_accessed_at == session.created_at
    assert harness.run(call(harness.store.get_session(tenant, session.id))) == session


@clause("sessions.get_or_create.same")
def test_get_or_create_returns_the_same_session(harness: Harness) -> None:
    """The second call finds the first call's session."""
    tenant = new_tenant()
    first = _session(harness, tenant, "ext")
    _session(harness, tenant, "another")
    again = _session(harness, tenant, "ext")
    assert (again.id, again.created_at, again.external_id) == (
        first.id,
        first.created_at,
        "ext",
    )


@clause("sessions.get_or_create.bumps")
def test_get_or_create_bumps_last_accessed_at(harness: Harness) -> None:
    """Each call on an existing session moves last_accessed_at to the time of the call."""
    tenant = new_tenant()
    store = harness.store
    previous = _session(harness, tenant, "ext")
    for _ in range(2):
        before = _past(previous.last_accessed_at)
        again = _session(harness, tenant, "ext")
        after = utc_now()
        assert previous.last_accessed_at < before <= again.last_accessed_at <= after, (
            previous.last_accessed_at,
            before,
            again.last_accessed_at,
        )
        assert again.created_at == previous.created_at
        stored = harness.run(call(store.get_session(tenant, again.id)))
        assert stored.last_accessed_at == again.last_accessed_at
        previous = again


@clause("sessions.get_or_create.scoped")
def test_same_external_id_in_two_tenants(harness: Harness) -> None:
    """Two tenants, one external id: two sessions, each its tenant's."""
    first, second = new_tenant(), new_tenant()
    a = _session(harness, first, "shared")
    b = _session(harness, second, "shared")
    assert a.id != b.id
    assert (a.tenant_id, b.tenant_id) == (first, second)
    assert _session(harness, first, "shared").id == a.id


@clause("sessions.get.returns")
def test_get_session_by_either_id(harness: Harness) -> None:
    """By internal or external id; another tenant's or missing: NotFoundError."""
    tenant, other = new_tenant(), new_tenant()
    store = harness.store
    sessions = [_session(harness, tenant, f"ext-{i}") for i in range(3)]
    for session in sessions:
        assert harness.run(call(store.get_session(tenant, session.id))) == session
        found = harness.run(call(store.get_session_by_external_id(tenant, session.external_id)))
        assert found == session
    for tenant_id, session_id in [
        (other, sessions[0].id),
        (tenant, str(uuid.uuid4())),
        (tenant, "not-a-uuid"),
    ]:
        harness.run(raises(NotFoundError, store.get_session(tenant_id, session_id)))
    for tenant_id, external_id in [(other, "ext-0"), (tenant, "ext-9")]:
        harness.run(raises(NotFoundError, store.get_session_by_external_id(tenant_id, external_id)))


@clause("sessions.touch.bumps")
def test_touch_session_bumps_last_accessed_at(harness: Harness) -> None:
    """last_accessed_at moves to the time of the call, strictly later; nothing else moves."""
    tenant = new_tenant()
    store = harness.store
    previous = _session(harness, tenant, "ext")
    for _ in range(2):
        before = _past(previous.last_accessed_at)
        touched = harness.run(call(store.touch_session(tenant, previous.id)))
        after = utc_now()
        assert previous.last_accessed_at < before <= touched.last_accessed_at <= after, (
            previous.last_accessed_at,
            before,
            touched.last_accessed_at,
        )
        assert touched == previous.model_copy(update={"last_accessed_at": touched.last_accessed_at})
        assert harness.run(call(store.get_session(tenant, previous.id))) == touched
        assert harness.run(call(store.get_session_by_external_id(tenant, "ext"))) == touched
        previous = touched


@clause("sessions.touch.missing")
def test_touch_missing_or_foreign_session_is_not_found(harness: Harness) -> None:
    """Wrong tenant, unknown or malformed id: NotFoundError; the owner's session unchanged."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    session = _session(harness, owner, "ext")
    _past(session.last_accessed_at)
    for tenant, session_id in [
        (other, session.id),
        (owner, str(uuid.uuid4())),
        (owner, "not-a-uuid"),
    ]:
        harness.run(raises(NotFoundError, store.touch_session(tenant, session_id)))
    assert harness.run(call(store.get_session(owner, session.id))) == session


@clause("sessions.delete.removes")
def test_delete_session_removes_it(harness: Harness) -> None:
    """Gone by both ids; get_or_create then makes a new session; others stay."""
    tenant = new_tenant()
    store = harness.store
    session = _session(harness, tenant, "ext")
    kept = _session(harness, tenant, "kept")
    harness.run(call(store.delete_session(tenant, "ext")))
    harness.run(raises(NotFoundError, store.get_session(tenant, session.id)))
    harness.run(raises(NotFoundError, store.get_session_by_external_id(tenant, "ext")))
    assert harness.run(call(store.get_session(tenant, kept.id))) == kept
    reborn = _session(harness, tenant, "ext")
    assert reborn.id != session.id


@clause("sessions.delete.keeps_files")
def test_delete_session_keeps_its_files(harness: Harness) -> None:
    """Files carrying the session's id stay, listed by session and by filter."""
    tenant = new_tenant()
    store = harness.store
    session = _session(harness, tenant, "ext")
    files = [
        harness.run(
            call(
                store.create_file(
                    File(tenant_id=tenant, name=f"f{i}", s3_key=f"k{i}", session_id=session.id)
                )
            )
        )
        for i in range(2)
    ]
    harness.run(call(store.delete_session(tenant, "ext")))
    assert harness.run(call(store.list_session_files(tenant, session.id))) == files[::-1]
    wanted = FileFilter(tenant_id=tenant, session_id=session.id)
    assert harness.run(call(store.list_files(wanted))) == files[::-1]
    for file in files:
        assert harness.run(call(store.get_file(tenant, file.id))) == file


@clause("sessions.delete.missing")
def test_delete_missing_or_foreign_session_is_not_found(harness: Harness) -> None:
    """Wrong tenant, unknown or already deleted: NotFoundError; the owner's session stays."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    session = _session(harness, owner, "ext")
    _session(harness, owner, "gone")
    harness.run(call(store.delete_session(owner, "gone")))
    for tenant, external_id in [(other, "ext"), (owner, "gone"), (owner, "never")]:
        harness.run(raises(NotFoundError, store.delete_session(tenant, external_id)))
    assert harness.run(call(store.get_session_by_external_id(owner, "ext"))) == session
