"""Targeted tests for docs/contract.md §3, errors.

`test_isolation.py` proves ``errors.scope.not_found``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from contract_tests.clauses import clause
from contract_tests.harness import Harness, call, new_key_hash, new_tenant, raises
from skillbox_store import (
    AlreadyExistsError,
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    MigrationError,
    NotFoundError,
    SkillRecord,
    Store,
    StoreError,
    UnavailableError,
)
from skillbox_store import errors as errors_module

Case = tuple[str, Callable[[Store], Awaitable[object]]]

_ERRORS: dict[type[Exception], tuple[type[Exception], ...]] = {
    StoreError: (Exception,),
    NotFoundError: (StoreError, LookupError),
    ConflictError: (StoreError,),
    AlreadyExistsError: (ConflictError,),
    AlreadyRevokedError: (ConflictError,),
    AlreadyFinishedError: (ConflictError,),
    InvalidArgumentError: (StoreError, ValueError),
    UnavailableError: (StoreError,),
    MigrationError: (StoreError,),
}


def _execution(tenant: str, **changes: Any) -> Execution:
    # model_copy skips validation, so values the record type refuses still reach the store.
    base = Execution(tenant_id=tenant, skill_name="skill", skill_version="1.0")
    return base.model_copy(update=changes)


def _file(tenant: str, **changes: Any) -> File:
    return File(tenant_id=tenant, name="f.txt", s3_key="s3/key").model_copy(update=changes)


def _skill(tenant: str, **changes: Any) -> SkillRecord:
    return SkillRecord(tenant_id=tenant, name="s", version="1").model_copy(update=changes)


async def _snapshot(store: Store, tenant: str) -> list[Any]:
    """Everything the tenant holds that a failed call could have changed."""
    return [
        await call(store.list_keys(tenant)),
        await call(store.list_executions(tenant, limit=100)),
        await call(store.list_files(FileFilter(tenant_id=tenant, limit=200))),
        await call(store.list_skills(tenant)),
        [
            await call(store.get_session_by_external_id(tenant, external_id))
            for external_id in ("x",)
        ],
    ]


def _refused(harness: Harness, tenant: str, cases: list[Case], field_named: bool = True) -> None:
    """Each call is InvalidArgumentError naming its field (the label's first word)."""
    store = harness.store
    before = harness.run(_snapshot(store, tenant))
    for label, make_call in cases:
        field = label.split()[0]
        try:
            error = harness.run(raises(InvalidArgumentError, make_call(store)))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
        if field_named:
            assert field in str(error), f"{label}: {field} not named in {error}"
    assert harness.run(_snapshot(store, tenant)) == before


def _fixtures(harness: Harness, tenant: str) -> tuple[Execution, File]:
    store = harness.store
    harness.run(call(store.get_or_create_session(tenant, "x")))
    running = harness.run(call(store.create_execution(_execution(tenant))))
    file = harness.run(call(store.create_file(_file(tenant))))
    return running, file


@clause("errors.classes")
def test_error_classes_and_bases() -> None:
    """Each error has its bases, lives in skillbox_store.errors and is re-exported."""
    import skillbox_store

    for error, bases in _ERRORS.items():
        assert error.__module__ == "skillbox_store.errors", error
        assert getattr(errors_module, error.__name__) is error
        assert getattr(skillbox_store, error.__name__) is error
        for base in bases:
            assert issubclass(error, base), (error, base)
    assert not issubclass(InvalidArgumentError, LookupError)
    assert not issubclass(NotFoundError, ValueError)
    assert not issubclass(ConflictError, (LookupError, ValueError))


@clause("errors.from_store")
def test_every_failure_is_a_contract_error(harness: Harness) -> None:
    """Conflicts, misses and bad input raise exactly the contract's classes."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    harness.run(call(store.revoke_key(tenant, key.id)))
    done = harness.run(call(store.insert_execution(_execution(tenant, status="success"))))
    root = harness.run(call(store.create_file(_file(tenant))))
    harness.run(call(store.create_file_version(tenant, root.id, size_bytes=1, s3_key="k")))
    attempts: list[tuple[type[Exception], Awaitable[object]]] = [
        (AlreadyExistsError, store.create_key(tenant, "k", key.key_hash)),
        (AlreadyRevokedError, store.revoke_key(tenant, key.id)),
        (AlreadyFinishedError, store.update_execution(done)),
        (ConflictError, store.delete_file(tenant, root.id)),
        (ConflictError, store.create_file(_file(tenant, parent_id=root.id, version=1))),
        (NotFoundError, store.get_execution(tenant, str(uuid.uuid4()))),
        (NotFoundError, store.get_session(tenant, "x")),
        (NotFoundError, store.resolve_latest_version(tenant, "nope")),
        (InvalidArgumentError, store.list_executions(tenant, limit=0)),
        (InvalidArgumentError, store.upsert_skill(_skill(tenant, name=""))),
    ]
    for expected, attempt in attempts:
        error = harness.run(raises(expected, attempt))
        assert type(error) in _ERRORS, f"{type(error).__module__}.{type(error).__name__}"


@clause("errors.invalid.empty")
def test_empty_required_text_is_refused(harness: Harness) -> None:
    """Every required text field, empty: InvalidArgumentError naming it."""
    t = new_tenant()
    running, file = _fixtures(harness, t)
    h = new_key_hash()
    cases: list[Case] = [
        ("tenant_id create_key", lambda s: s.create_key("", "n", h)),
        ("name create_key", lambda s: s.create_key(t, "", h)),
        ("key_hash create_key", lambda s: s.create_key(t, "n", "")),
        ("key_hash validate_key", lambda s: s.validate_key("")),
        ("tenant_id list_keys", lambda s: s.list_keys("")),
        ("tenant_id create_execution", lambda s: s.create_execution(_execution(""))),
        ("skill_name", lambda s: s.create_execution(_execution(t, skill_name=""))),
        ("skill_version", lambda s: s.insert_execution(_execution(t, skill_version=""))),
        ("tenant_id list_executions", lambda s: s.list_executions("")),
        ("name create_file", lambda s: s.create_file(_file(t, name=""))),
        ("s3_key create_file", lambda s: s.create_file(_file(t, s3_key=""))),
        ("name update_file", lambda s: s.update_file(file.model_copy(update={"name": ""}))),
        (
            "s3_key create_file_version",
            lambda s: s.create_file_version(t, file.id, size_bytes=1, s3_key=""),
        ),
        (
            "name create_file_version",
            lambda s: s.create_file_version(t, file.id, name="", size_bytes=1, s3_key="k"),
        ),
        ("external_id", lambda s: s.get_or_create_session(t, "")),
        ("tenant_id get_or_create_session", lambda s: s.get_or_create_session("", "x")),
        ("name upsert_skill", lambda s: s.upsert_skill(_skill(t, name=""))),
        ("version upsert_skill", lambda s: s.upsert_skill(_skill(t, version=""))),
        ("name resolve_latest_version", lambda s: s.resolve_latest_version(t, "")),
    ]
    _refused(harness, t, cases)
    assert harness.run(call(harness.store.get_execution(t, running.id))) == running


@clause("errors.invalid.nul")
def test_nul_anywhere_is_refused(harness: Harness) -> None:
    """A NUL or lone surrogate in any text, JSON keys and strings too: InvalidArgumentError."""
    t = new_tenant()
    running, file = _fixtures(harness, t)
    nul = "a\x00b"
    cases: list[Case] = [
        ("tenant_id", lambda s: s.list_keys(t + "\x00")),
        ("name create_key", lambda s: s.create_key(t, nul, new_key_hash())),
        ("skill_name", lambda s: s.create_execution(_execution(t, skill_name=nul))),
        ("input string", lambda s: s.create_execution(_execution(t, input=[nul]))),
        ("input key", lambda s: s.create_execution(_execution(t, input={nul: 1}))),
        ("output", lambda s: s.update_execution(running.model_copy(update={"output": {"k": nul}}))),
        ("logs", lambda s: s.update_execution(running.model_copy(update={"logs": nul}))),
        ("files_list", lambda s: s.insert_execution(_execution(t, files_list=["ok", nul]))),
        ("error", lambda s: s.insert_execution(_execution(t, error=nul))),
        ("content_type", lambda s: s.create_file(_file(t, content_type=nul))),
        ("s3_key", lambda s: s.update_file(file.model_copy(update={"s3_key": nul}))),
        ("external_id", lambda s: s.get_or_create_session(t, nul)),
        ("description", lambda s: s.upsert_skill(_skill(t, description=nul))),
        ("lang", lambda s: s.upsert_skill(_skill(t, lang=nul))),
        ("name surrogate", lambda s: s.create_key(t, "a\ud800", new_key_hash())),
        ("external_id surrogate", lambda s: s.get_or_create_session(t, "\udfff")),
        ("input surrogate", lambda s: s.insert_execution(_execution(t, input={"k": "\ud800"}))),
        ("description surrogate", lambda s: s.upsert_skill(_skill(t, description="\ud83d"))),
    ]
    _refused(harness, t, cases)


@clause("errors.invalid.values")
def test_values_out_of_range_are_refused(harness: Harness) -> None:
    """Bad status, negative numbers, version 0, naive time, non-JSON: InvalidArgumentError."""
    t = new_tenant()
    running, file = _fixtures(harness, t)
    naive = datetime(2024, 1, 1, 12, 0, 0)
    cases: list[Case] = [
        ("status insert", lambda s: s.insert_execution(_execution(t, status="done"))),
        ("status update", lambda s: s.update_execution(running.model_copy(update={"status": "x"}))),
        ("duration_ms", lambda s: s.insert_execution(_execution(t, duration_ms=-1))),
        ("size_bytes", lambda s: s.create_file(_file(t, size_bytes=-1))),
        (
            "size_bytes version",
            lambda s: s.create_file_version(t, file.id, size_bytes=-1, s3_key="k"),
        ),
        ("version create", lambda s: s.create_file(_file(t, version=0))),
        ("version int32", lambda s: s.create_file(_file(t, version=2**31))),
        ("size_bytes int64", lambda s: s.create_file(_file(t, size_bytes=2**63))),
        ("duration_ms int64", lambda s: s.insert_execution(_execution(t, duration_ms=2**63))),
        ("version update", lambda s: s.update_file(file.model_copy(update={"version": 0}))),
        ("finished_at", lambda s: s.insert_execution(_execution(t, finished_at=naive))),
        (
            "finished_at update",
            lambda s: s.update_execution(running.model_copy(update={"finished_at": naive})),
        ),
        ("input nan", lambda s: s.create_execution(_execution(t, input=float("nan")))),
        ("output inf", lambda s: s.insert_execution(_execution(t, output=[float("inf")]))),
        ("input key", lambda s: s.create_execution(_execution(t, input={1: "a"}))),
        ("output object", lambda s: s.insert_execution(_execution(t, output={"a": object()}))),
    ]
    _refused(harness, t, cases)
    assert harness.run(call(harness.store.get_execution(t, running.id))) == running
    assert harness.run(call(harness.store.get_file(t, file.id))) == file


@clause("errors.invalid.page")
def test_bad_limit_or_offset_is_refused(harness: Harness) -> None:
    """limit < 1 or offset < 0, for executions and files: InvalidArgumentError."""
    t = new_tenant()
    _fixtures(harness, t)
    cases: list[Case] = [
        ("limit executions 0", lambda s: s.list_executions(t, limit=0)),
        ("limit executions -1", lambda s: s.list_executions(t, limit=-1)),
        ("offset executions", lambda s: s.list_executions(t, offset=-1)),
        ("limit files 0", lambda s: s.list_files(FileFilter(tenant_id=t, limit=0))),
        ("limit files -5", lambda s: s.list_files(FileFilter(tenant_id=t, limit=-5))),
        ("offset files", lambda s: s.list_files(FileFilter(tenant_id=t, offset=-1))),
    ]
    _refused(harness, t, cases)


@clause("errors.invalid.nothing_written")
def test_refused_writes_leave_no_trace(harness: Harness) -> None:
    """Writes whose only fault is in a late field change nothing at all."""
    t = new_tenant()
    store = harness.store
    running, file = _fixtures(harness, t)
    key = harness.run(call(store.create_key(t, "k", new_key_hash())))
    skill = harness.run(call(store.upsert_skill(_skill(t, description="kept"))))
    cases: list[Case] = [
        ("create_key", lambda s: s.create_key(t, "new\x00", new_key_hash())),
        ("create_execution", lambda s: s.create_execution(_execution(t, error="e\x00"))),
        ("insert_execution", lambda s: s.insert_execution(_execution(t, output=[float("nan")]))),
        (
            "update_execution",
            lambda s: s.update_execution(
                running.model_copy(update={"status": "success", "duration_ms": -1})
            ),
        ),
        ("create_file", lambda s: s.create_file(_file(t, version=0))),
        (
            "update_file",
            lambda s: s.update_file(file.model_copy(update={"name": "new", "size_bytes": -1})),
        ),
        (
            "create_file_version",
            lambda s: s.create_file_version(t, file.id, name="n", size_bytes=1, s3_key=""),
        ),
        ("get_or_create_session", lambda s: s.get_or_create_session(t, "y\x00")),
        ("upsert_skill", lambda s: s.upsert_skill(_skill(t, description="new", lang="\x00"))),
    ]
    _refused(harness, t, cases, field_named=False)
    assert harness.run(call(store.validate_key(key.key_hash))) == key
    assert harness.run(call(store.get_skill(t, "s", "1"))) == skill
    assert harness.run(call(store.list_file_versions(t, file.id))) == [file]


@clause("errors.id.malformed")
def test_malformed_ids_are_not_found_or_match_nothing(harness: Harness) -> None:
    """Lookups and changes raise NotFoundError; listings and filters return []."""
    t = new_tenant()
    store = harness.store
    running, file = _fixtures(harness, t)
    session = harness.run(call(store.get_or_create_session(t, "x")))
    harness.run(call(store.create_file(_file(t, session_id=session.id))))
    for bad in ("not-a-uuid", running.id.upper() + "x", running.id[:-1], "{" + running.id + "}x"):
        for attempt in [
            store.revoke_key(t, bad),
            store.get_execution(t, bad),
            store.update_execution(running.model_copy(update={"id": bad})),
            store.get_file(t, bad),
            store.update_file(file.model_copy(update={"id": bad})),
            store.delete_file(t, bad),
            store.create_file_version(t, bad, size_bytes=1, s3_key="k"),
            store.create_file(_file(t, parent_id=bad, version=2)),
            store.create_file(_file(t, execution_id=bad)),
            store.get_session(t, bad),
            store.touch_session(t, bad),
        ]:
            harness.run(raises(NotFoundError, attempt))
        assert harness.run(call(store.list_session_files(t, bad))) == []
        assert harness.run(call(store.list_file_versions(t, bad))) == []
        for wanted in (
            FileFilter(tenant_id=t, session_id=bad),
            FileFilter(tenant_id=t, execution_id=bad),
        ):
            assert harness.run(call(store.list_files(wanted))) == []
