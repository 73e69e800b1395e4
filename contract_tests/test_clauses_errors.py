"""Targeted tests for docs/contract.md, "Errors".

`test_isolation.py` proves ``errors.scope.not_found``.
"""

from __future__ import annotations

import hashlib
import inspect
import typing
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

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

from .clauses import clause
from .harness import Harness, call, message_names, new_key_hash, new_tenant, raises

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


# -- Sharper tests of the same clauses, written to kill mutants (EQUIVALENT_MUTANTS.md) ----


# -- errors.invalid.empty: every tenant-scoped method names `tenant_id` ------------------


def _argument(name: str, annotation: Any, tenant: str) -> Any:
    """A well-formed argument for parameter ``name``, in ``tenant`` (which may be "")."""
    if name == "tenant_id":
        return tenant
    if name == "key_hash":
        return hashlib.sha256(b"mutants").hexdigest()
    if name.endswith("_id") and name != "external_id":
        return str(uuid.uuid4())
    records: dict[Any, Any] = {
        Execution: Execution(tenant_id=tenant, skill_name="s", skill_version="1"),
        File: File(tenant_id=tenant, name="f", s3_key="k"),
        FileFilter: FileFilter(tenant_id="x").model_copy(update={"tenant_id": tenant}),
        SkillRecord: SkillRecord(tenant_id=tenant, name="s", version="1"),
        str: "x",
        int: 1,
        datetime: datetime.now(UTC),
    }
    for candidate in (annotation, *typing.get_args(annotation)):
        if candidate in records:
            value = records[candidate]
            if hasattr(value, "model_copy") and hasattr(value, "tenant_id"):
                # model_copy skips validation: the store itself must refuse "".
                return value.model_copy(update={"tenant_id": tenant})
            return value
    raise AssertionError(f"no sample argument for {name}: {annotation!r}")


def _tenant_scoped_calls(tenant: str) -> list[tuple[str, typing.Callable[[Store], Any]]]:
    """Every Store method that takes a tenant, directly or in its record, with ``tenant``."""
    calls: list[tuple[str, typing.Callable[[Store], Any]]] = []
    for name, method in inspect.getmembers(Store, inspect.isfunction):
        if name.startswith("_") or name in ("get_key_by_hash", "validate_key"):
            continue
        hints = typing.get_type_hints(method)
        parameters = list(inspect.signature(method).parameters.values())[1:]
        scoped = any(
            p.name == "tenant_id"
            or any(
                t in (Execution, File, FileFilter, SkillRecord)
                for t in (hints.get(p.name), *typing.get_args(hints.get(p.name)))
            )
            for p in parameters
        )
        if not scoped:
            continue
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in parameters:
            if p.default is not inspect.Parameter.empty:
                continue
            value = _argument(p.name, hints[p.name], tenant)
            if p.kind is inspect.Parameter.KEYWORD_ONLY:
                kwargs[p.name] = value
            else:
                args.append(value)

        def make(store: Store, name: str = name, args: Any = args, kwargs: Any = kwargs) -> Any:
            return getattr(store, name)(*args, **kwargs)

        calls.append((name, make))
    return calls


@clause("errors.invalid.empty")
def test_empty_tenant_is_named_by_every_method(harness: Harness) -> None:
    """An empty tenant_id is InvalidArgumentError naming `tenant_id`, in every method."""
    calls = _tenant_scoped_calls("")
    assert len(calls) >= 20, [name for name, _ in calls]
    for name, make in calls:
        error = harness.run(raises(InvalidArgumentError, make(harness.store)))
        assert message_names("tenant_id", str(error)), f"{name}: tenant_id not named in {error}"


@clause("errors.invalid.empty")
def test_empty_skill_name_or_version_is_named(harness: Harness) -> None:
    """An empty skill name or version is refused by name in every skill lookup."""
    store = harness.store
    tenant = new_tenant()
    cases = [
        ("name", store.get_skill(tenant, "", "1")),
        ("version", store.get_skill(tenant, "s", "")),
        ("name", store.delete_skill(tenant, "", "1")),
        ("version", store.delete_skill(tenant, "s", "")),
        ("name", store.resolve_latest_version(tenant, "")),
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert message_names(field, str(error)), f"{field} not named in {error}"


# -- errors.invalid.nul: the refused field is named, exactly, in every write ---------------


def _nul_cases(tenant: str, execution: Execution, file: File) -> list[tuple[str, Any]]:
    """(field, a call passing NUL in that field) for every text field a write takes."""
    nul = "a\x00b"

    def run_with(record: Any, **changes: Any) -> Any:
        return record.model_copy(update=changes)

    new_execution = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    new_file = File(tenant_id=tenant, name="f", s3_key="k")
    skill = SkillRecord(tenant_id=tenant, name="s", version="1")
    cases: list[tuple[str, Any]] = [
        ("name", lambda s: s.create_key(tenant, nul, hashlib.sha256(b"n").hexdigest())),
        ("external_id", lambda s: s.get_or_create_session(tenant, nul)),
    ]
    for field in ("skill_name", "skill_version", "logs", "files_url", "error"):
        cases.append(
            (field, lambda s, f=field: s.create_execution(run_with(new_execution, **{f: nul})))
        )
        cases.append(
            (field, lambda s, f=field: s.insert_execution(run_with(new_execution, **{f: nul})))
        )
    for field in ("logs", "files_url", "error"):
        cases.append(
            (field, lambda s, f=field: s.update_execution(run_with(execution, **{f: nul})))
        )
    for field in ("name", "content_type", "s3_key"):
        cases.append((field, lambda s, f=field: s.create_file(run_with(new_file, **{f: nul}))))
        cases.append((field, lambda s, f=field: s.update_file(run_with(file, **{f: nul}))))
    cases += [
        (
            "name",
            lambda s: s.create_file_version(tenant, file.id, name=nul, size_bytes=1, s3_key="k"),
        ),
        (
            "content_type",
            lambda s: s.create_file_version(
                tenant, file.id, content_type=nul, size_bytes=1, s3_key="k"
            ),
        ),
        ("s3_key", lambda s: s.create_file_version(tenant, file.id, size_bytes=1, s3_key=nul)),
    ]
    for field in ("name", "version", "description", "lang"):
        cases.append((field, lambda s, f=field: s.upsert_skill(run_with(skill, **{f: nul}))))
    return cases


@clause("errors.invalid.nul")
def test_nul_is_refused_naming_the_field(harness: Harness) -> None:
    """A NUL in any text field of any write is InvalidArgumentError naming that field."""
    store = harness.store
    tenant = new_tenant()
    execution = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    file = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    wrong = []
    for field, make in _nul_cases(tenant, execution, file):
        error = harness.run(raises(InvalidArgumentError, make(store)))
        if not message_names(field, str(error)):
            wrong.append(f"{field}: {error}")
    assert wrong == []


# -- errors.invalid.values: the refused number, time or type is named ----------------------


@clause("errors.invalid.values", "prune.executions.bad_input")
def test_refused_values_name_their_field(harness: Harness) -> None:
    """Negative sizes, a naive cut-off and a non-string hash are refused by field name."""
    store = harness.store
    tenant = new_tenant()
    head = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    naive = datetime(2020, 1, 1)  # naive on purpose
    cases: list[tuple[str, Any]] = [
        (
            "size_bytes",
            store.create_file_version(tenant, head.id, size_bytes=-1, s3_key="k"),
        ),
        (
            "size_bytes",
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k").model_copy(update={"size_bytes": -1})
            ),
        ),
        ("finished_before", store.prune_executions(tenant, naive)),
        ("key_hash", store.create_key(tenant, "n", 12345)),  # type: ignore[arg-type]
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert message_names(field, str(error)), f"{field} not named in {error}"


@clause("errors.invalid.values", "errors.invalid.nul", "errors.invalid.page")
def test_every_refused_execution_or_page_field_is_named(harness: Harness) -> None:
    """Bad JSON, times, counts, statuses, list items and page bounds name their field."""
    store = harness.store
    tenant = new_tenant()
    running = harness.run(
        call(store.create_execution(Execution(tenant_id=tenant, skill_name="s", skill_version="1")))
    )
    base = Execution(tenant_id=tenant, skill_name="s", skill_version="1")
    naive = datetime(2020, 1, 1)  # naive on purpose
    bad: list[tuple[str, dict[str, Any]]] = [
        ("input", {"input": {"x": float("nan")}}),
        ("output", {"output": [float("inf")]}),
        ("finished_at", {"finished_at": naive}),
        ("duration_ms", {"duration_ms": -1}),
        ("status", {"status": "paused"}),
        ("files_list", {"files_list": ["ok", "a\x00b"]}),
    ]
    cases: list[tuple[str, Any]] = []
    for field, changes in bad:
        cases.append((field, store.insert_execution(base.model_copy(update=changes))))
        if field != "input":
            cases.append((field, store.update_execution(running.model_copy(update=changes))))
    cases += [
        (
            "version",
            store.create_file(
                File(tenant_id=tenant, name="f", s3_key="k").model_copy(update={"version": 0})
            ),
        ),
        ("limit", store.list_executions(tenant, 0)),
        ("offset", store.list_executions(tenant, 10, -1)),
        ("limit", store.list_files(FileFilter(tenant_id=tenant).model_copy(update={"limit": 0}))),
        (
            "offset",
            store.list_files(FileFilter(tenant_id=tenant).model_copy(update={"offset": -1})),
        ),
    ]
    wrong = []
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        if not message_names(field, str(error)):
            wrong.append(f"{field}: {error}")
    assert wrong == []


@clause("errors.invalid.values")
def test_wrong_types_are_named_and_maxima_accepted(harness: Harness) -> None:
    """A text or number of the wrong type names its field; the largest values are kept."""
    store = harness.store
    tenant = new_tenant()
    file = File(tenant_id=tenant, name="f", s3_key="k")
    cases: list[tuple[str, Any]] = [
        ("size_bytes", store.create_file(file.model_copy(update={"size_bytes": "12"}))),
        ("name", store.create_file(file.model_copy(update={"name": 12}))),
        ("size_bytes", store.create_file(file.model_copy(update={"size_bytes": 2**63}))),
    ]
    for field, awaitable in cases:
        error = harness.run(raises(InvalidArgumentError, awaitable))
        assert message_names(field, str(error)), f"{field} not named in {error}"
    biggest = harness.run(
        call(
            store.create_file(
                file.model_copy(update={"size_bytes": 2**63 - 1, "version": 2**31 - 1})
            )
        )
    )
    assert (biggest.size_bytes, biggest.version) == (2**63 - 1, 2**31 - 1)
    assert harness.run(call(store.get_file(tenant, biggest.id))) == biggest


@clause("errors.id.malformed", "paging.after.unknown")
def test_ids_of_the_wrong_type_or_unknown_after_are_not_found(harness: Harness) -> None:
    """An id that is not even a string is NotFoundError; so is `after` in an empty tenant."""
    store = harness.store
    tenant = new_tenant()
    harness.run(raises(NotFoundError, store.get_file(tenant, 12345)))  # type: ignore[arg-type]
    harness.run(raises(NotFoundError, store.get_execution(tenant, None)))  # type: ignore[arg-type]
    after = str(uuid.uuid4())
    harness.run(raises(NotFoundError, store.list_files(FileFilter(tenant_id=tenant, after=after))))


@clause("errors.invalid.values", "errors.from_store")
def test_execution_names_of_the_wrong_type_are_named(harness: Harness) -> None:
    """A tenant_id, skill_name or skill_version that is not text names its field."""
    store = harness.store
    base = Execution(tenant_id=new_tenant(), skill_name="s", skill_version="1")
    wrong: list[str] = []
    for field in ("tenant_id", "skill_name", "skill_version"):
        for value in (12, ["a"], b"a"):
            bad = base.model_copy(update={field: value})
            for name, awaitable in (
                ("create", store.create_execution(bad)),
                ("insert", store.insert_execution(bad)),
            ):
                error = harness.run(raises(InvalidArgumentError, awaitable))
                if not message_names(field, str(error)):
                    wrong.append(f"{name} {field}={value!r}: {error}")
    assert wrong == []
