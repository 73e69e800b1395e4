"""Tenant isolation, call by call: another tenant's record behaves like a missing one.

The stateful test reaches these paths at random; here each tenant-scoped method is
tried once, deterministically, on a record of another tenant.
"""

from __future__ import annotations

from skillbox_store import Execution, File, FileFilter, NotFoundError, SkillRecord

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant, raises


@clause("errors.scope.not_found")
def test_other_tenants_records_are_not_found(harness: Harness) -> None:
    """Reads, changes, deletes, revocations and touches as another tenant: NotFoundError."""
    owner, other = new_tenant(), new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(owner, "k", new_key_hash())))
    execution = harness.run(
        call(store.create_execution(Execution(tenant_id=owner, skill_name="s", skill_version="1")))
    )
    session = harness.run(call(store.get_or_create_session(owner, "shared-external-id")))
    file = harness.run(
        call(
            store.create_file(
                File(
                    tenant_id=owner,
                    name="f",
                    s3_key="k",
                    session_id=session.id,
                    execution_id=execution.id,
                )
            )
        )
    )
    harness.run(call(store.upsert_skill(SkillRecord(tenant_id=owner, name="s", version="1"))))
    before = {
        "keys": harness.run(call(store.list_keys(owner))),
        "executions": harness.run(call(store.list_executions(owner))),
        "files": harness.run(call(store.list_files(FileFilter(tenant_id=owner)))),
        "skills": harness.run(call(store.list_skills(owner))),
        "session": harness.run(call(store.get_session(owner, session.id))),
    }

    finished = execution.model_copy(update={"tenant_id": other, "status": "success"})
    renamed = file.model_copy(update={"tenant_id": other, "name": "renamed"})
    not_found = [
        ("revoke_key", store.revoke_key(other, key.id)),
        ("get_execution", store.get_execution(other, execution.id)),
        ("update_execution", store.update_execution(finished)),
        ("get_file", store.get_file(other, file.id)),
        ("update_file", store.update_file(renamed)),
        ("delete_file", store.delete_file(other, file.id)),
        (
            "create_file_version",
            store.create_file_version(other, file.id, size_bytes=1, s3_key="k2"),
        ),
        ("get_session", store.get_session(other, session.id)),
        ("touch_session", store.touch_session(other, session.id)),
        (
            "get_session_by_external_id",
            store.get_session_by_external_id(other, "shared-external-id"),
        ),
        ("delete_session", store.delete_session(other, "shared-external-id")),
        ("get_skill", store.get_skill(other, "s", "1")),
        ("resolve_latest_version", store.resolve_latest_version(other, "s")),
        (
            "create_file with the other tenant's parent",
            store.create_file(
                File(tenant_id=other, name="f", s3_key="k", parent_id=file.id, version=2)
            ),
        ),
        (
            "create_file with the other tenant's execution",
            store.create_file(
                File(tenant_id=other, name="f", s3_key="k", execution_id=execution.id)
            ),
        ),
    ]
    for label, attempt in not_found:
        try:
            harness.run(raises(NotFoundError, attempt))
        except AssertionError as exc:
            raise AssertionError(f"{label} as another tenant: {exc}") from exc
    harness.run(call(store.delete_skill(other, "s", "1")))

    assert harness.run(call(store.list_keys(other))) == []
    assert harness.run(call(store.list_executions(other))) == []
    assert harness.run(call(store.list_files(FileFilter(tenant_id=other)))) == []
    assert harness.run(call(store.list_skills(other))) == []
    assert harness.run(call(store.list_file_versions(other, file.id))) == []
    assert harness.run(call(store.list_session_files(other, session.id))) == []
    by_session = FileFilter(tenant_id=other, session_id=session.id)
    assert harness.run(call(store.list_files(by_session))) == []
    after = {
        "keys": harness.run(call(store.list_keys(owner))),
        "executions": harness.run(call(store.list_executions(owner))),
        "files": harness.run(call(store.list_files(FileFilter(tenant_id=owner)))),
        "skills": harness.run(call(store.list_skills(owner))),
        "session": harness.run(call(store.get_session(owner, session.id))),
    }
    assert after == before
    assert harness.run(call(store.validate_key(key.key_hash))) is not None


def test_same_external_id_in_two_tenants_gives_two_sessions(harness: Harness) -> None:
    """Sessions are keyed by (tenant, external id): tenants never share one."""
    first, second = new_tenant(), new_tenant()
    store = harness.store
    a = harness.run(call(store.get_or_create_session(first, "same")))
    b = harness.run(call(store.get_or_create_session(second, "same")))
    assert a.id != b.id
    harness.run(call(store.delete_session(first, "same")))
    again = harness.run(call(store.get_session_by_external_id(second, "same")))
    assert again.model_dump() == b.model_dump()
