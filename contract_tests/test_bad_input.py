"""Bad input is InvalidArgumentError and writes nothing; bad ids are NotFound.

The rules are docs/contract.md's, section "Bad input and limits".

Every call goes through `raises`, which also fails when the exception is not the
store's own (a driver exception escaping).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from hypothesis import assume, given
from hypothesis import strategies as st

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    NotFoundError,
    SkillRecord,
    Store,
)

from .harness import Harness, call, new_key_hash, new_tenant, raises

R = TypeVar("R")
Case = tuple[str, Callable[[Store], Awaitable[object]]]

NUL = "a\x00b"


async def _snapshot(store: Store, tenant: str, external_ids: list[str]) -> list[Any]:
    """Everything the tenant holds, to compare before and after a failed call."""
    state: list[Any] = [
        [k.model_dump() for k in await call(store.list_keys(tenant))],
        [e.model_dump() for e in await call(store.list_executions(tenant, limit=100))],
        [f.model_dump() for f in await call(store.list_files(FileFilter(tenant_id=tenant)))],
        [s.model_dump() for s in await call(store.list_skills(tenant))],
    ]
    for external_id in external_ids:
        try:
            session = await store.get_session_by_external_id(tenant, external_id)
        except NotFoundError:
            state.append(None)
        else:
            state.append(session.model_dump())
    return state


def _execution(tenant: str, **changes: Any) -> Execution:
    # model_copy skips validation, so values the record type refuses still reach the store.
    base = Execution(tenant_id=tenant, skill_name="skill", skill_version="1.0")
    return base.model_copy(update=changes)


def _file(tenant: str, **changes: Any) -> File:
    return File(tenant_id=tenant, name="f.txt", s3_key="s3/key").model_copy(update=changes)


def _bind(
    record: R, method: Callable[[Store, R], Awaitable[object]]
) -> Callable[[Store], Awaitable[object]]:
    """Bind a record to a call now; a lambda in a loop would see the last one."""
    return lambda store: method(store, record)


def _check_cases(harness: Harness, tenant: str, external_ids: list[str], cases: list[Case]) -> None:
    store = harness.store
    before = harness.run(_snapshot(store, tenant, external_ids))
    for label, make_call in cases:
        try:
            harness.run(raises(InvalidArgumentError, make_call(store)))
        except AssertionError as exc:
            raise AssertionError(f"{label}: {exc}") from exc
        after = harness.run(_snapshot(store, tenant, external_ids))
        assert after == before, f"{label}: the failed call changed the store"


def test_bad_key_input(harness: Harness) -> None:
    """Empty or NUL-holding key fields are refused."""
    t = new_tenant()
    h = new_key_hash()
    key = harness.run(call(harness.store.create_key(t, "kept", new_key_hash())))
    cases: list[Case] = [
        ("create_key tenant_id empty", lambda s: s.create_key("", "n", h)),
        ("create_key name empty", lambda s: s.create_key(t, "", h)),
        ("create_key key_hash empty", lambda s: s.create_key(t, "n", "")),
        ("create_key tenant_id NUL", lambda s: s.create_key(t + "\x00", "n", h)),
        ("create_key name NUL", lambda s: s.create_key(t, NUL, h)),
        ("create_key key_hash NUL", lambda s: s.create_key(t, "n", h[:-1] + "\x00")),
        ("get_key_by_hash empty", lambda s: s.get_key_by_hash("")),
        ("get_key_by_hash NUL", lambda s: s.get_key_by_hash(NUL)),
        ("validate_key empty", lambda s: s.validate_key("")),
        ("validate_key NUL", lambda s: s.validate_key(NUL)),
        ("list_keys tenant_id empty", lambda s: s.list_keys("")),
        ("revoke_key tenant_id empty", lambda s: s.revoke_key("", key.id)),
        ("revoke_key tenant_id NUL", lambda s: s.revoke_key(NUL, key.id)),
    ]
    _check_cases(harness, t, [], cases)
    harness.run(raises(NotFoundError, harness.store.get_key_by_hash(h)))
    assert harness.run(call(harness.store.validate_key(key.key_hash))) is not None


def test_bad_execution_input(harness: Harness) -> None:
    """Empty names, NUL, bad status, negative duration, naive time, non-JSON are refused."""
    t = new_tenant()
    running = harness.run(call(harness.store.create_execution(_execution(t))))
    naive = datetime(2024, 1, 1, 12, 0, 0)
    bad_fields: list[tuple[str, dict[str, Any]]] = [
        ("tenant_id empty", {"tenant_id": ""}),
        ("skill_name empty", {"skill_name": ""}),
        ("skill_version empty", {"skill_version": ""}),
        ("skill_name NUL", {"skill_name": NUL}),
        ("logs NUL", {"logs": NUL}),
        ("error NUL", {"error": NUL}),
        ("files_url NUL", {"files_url": NUL}),
        ("files_list NUL", {"files_list": ["ok", NUL]}),
        ("status outside the list", {"status": "bogus"}),
        ("duration_ms negative", {"duration_ms": -1}),
        ("finished_at naive", {"finished_at": naive}),
        ("input NaN", {"input": float("nan")}),
        ("input infinity", {"input": {"x": [float("inf")]}}),
        ("input non-string key", {"input": {1: "one"}}),
        ("input object", {"input": object()}),
        ("input NUL string", {"input": {"k": NUL}}),
        ("input NUL key", {"input": {NUL: 1}}),
        ("output NaN", {"output": [float("-inf")]}),
        ("output object", {"output": {"when": naive}}),
    ]
    cases: list[Case] = []
    for label, changes in bad_fields:
        bad = _execution(t, **changes)
        if "status" not in changes:
            # create_execution stores `running` whatever status it is given.
            cases.append(
                (f"create_execution {label}", _bind(bad, lambda s, e: s.create_execution(e)))
            )
        cases.append((f"insert_execution {label}", _bind(bad, lambda s, e: s.insert_execution(e))))
        if label not in {"skill_name empty", "skill_version empty", "skill_name NUL"} and not (
            label.startswith("input")
        ):
            # update_execution writes only the outcome; these fields are part of it.
            update = bad.model_copy(update={"id": running.id})
            if changes.get("status") is None:
                update = update.model_copy(update={"status": "success"})
            cases.append(
                (f"update_execution {label}", _bind(update, lambda s, e: s.update_execution(e)))
            )
    cases += [
        ("list_executions limit 0", lambda s: s.list_executions(t, limit=0)),
        ("list_executions offset -1", lambda s: s.list_executions(t, offset=-1)),
        ("list_executions tenant_id empty", lambda s: s.list_executions("")),
        ("get_execution tenant_id empty", lambda s: s.get_execution("", running.id)),
    ]
    _check_cases(harness, t, [], cases)


def test_bad_file_input(harness: Harness) -> None:
    """Empty names and keys, negative sizes, versions below 1, NUL are refused."""
    t = new_tenant()
    stored = harness.run(call(harness.store.create_file(_file(t))))
    bad_fields: list[tuple[str, dict[str, Any]]] = [
        ("tenant_id empty", {"tenant_id": ""}),
        ("name empty", {"name": ""}),
        ("s3_key empty", {"s3_key": ""}),
        ("name NUL", {"name": NUL}),
        ("content_type NUL", {"content_type": NUL}),
        ("s3_key NUL", {"s3_key": NUL}),
        ("size_bytes negative", {"size_bytes": -1}),
        ("version 0", {"version": 0}),
        ("version negative", {"version": -3}),
    ]
    cases: list[Case] = []
    for label, changes in bad_fields:
        new = _file(t, **changes)
        cases.append((f"create_file {label}", _bind(new, lambda s, f: s.create_file(f))))
        update = new.model_copy(update={"id": stored.id})
        cases.append((f"update_file {label}", _bind(update, lambda s, f: s.update_file(f))))
    session_not_uuid = _file(t, session_id="not-a-uuid")
    cases += [
        ("create_file session_id not a UUID", lambda s: s.create_file(session_not_uuid)),
        (
            "create_file_version s3_key empty",
            lambda s: s.create_file_version(t, stored.id, size_bytes=1, s3_key=""),
        ),
        (
            "create_file_version size_bytes negative",
            lambda s: s.create_file_version(t, stored.id, size_bytes=-1, s3_key="k"),
        ),
        (
            "create_file_version name empty",
            lambda s: s.create_file_version(t, stored.id, name="", size_bytes=1, s3_key="k"),
        ),
        (
            "create_file_version name NUL",
            lambda s: s.create_file_version(t, stored.id, name=NUL, size_bytes=1, s3_key="k"),
        ),
        (
            "create_file_version tenant_id empty",
            lambda s: s.create_file_version("", stored.id, size_bytes=1, s3_key="k"),
        ),
        ("list_files limit 0", lambda s: s.list_files(FileFilter(tenant_id=t, limit=0))),
        ("list_files offset -1", lambda s: s.list_files(FileFilter(tenant_id=t, offset=-1))),
        ("list_files tenant_id empty", lambda s: s.list_files(FileFilter(tenant_id=""))),
        ("get_file tenant_id empty", lambda s: s.get_file("", stored.id)),
        ("delete_file tenant_id empty", lambda s: s.delete_file("", stored.id)),
        ("list_file_versions tenant_id empty", lambda s: s.list_file_versions("", stored.id)),
        ("list_session_files tenant_id empty", lambda s: s.list_session_files("", stored.id)),
    ]
    _check_cases(harness, t, [], cases)


def test_bad_session_and_skill_input(harness: Harness) -> None:
    """Empty or NUL-holding session and skill fields are refused."""
    t = new_tenant()
    session = harness.run(call(harness.store.get_or_create_session(t, "kept")))
    cases: list[Case] = [
        ("get_or_create_session tenant_id empty", lambda s: s.get_or_create_session("", "x")),
        ("get_or_create_session external_id empty", lambda s: s.get_or_create_session(t, "")),
        ("get_or_create_session external_id NUL", lambda s: s.get_or_create_session(t, NUL)),
        ("get_session tenant_id empty", lambda s: s.get_session("", session.id)),
        ("get_session_by_external_id empty", lambda s: s.get_session_by_external_id(t, "")),
        ("touch_session tenant_id empty", lambda s: s.touch_session("", session.id)),
        ("delete_session external_id empty", lambda s: s.delete_session(t, "")),
        ("delete_session external_id NUL", lambda s: s.delete_session(t, NUL)),
        ("upsert_skill tenant_id empty", lambda s: s.upsert_skill(_skill("", "n", "1"))),
        ("upsert_skill name empty", lambda s: s.upsert_skill(_skill(t, "", "1"))),
        ("upsert_skill version empty", lambda s: s.upsert_skill(_skill(t, "n", ""))),
        ("upsert_skill name NUL", lambda s: s.upsert_skill(_skill(t, NUL, "1"))),
        (
            "upsert_skill description NUL",
            lambda s: s.upsert_skill(_skill(t, "n", "1").model_copy(update={"description": NUL})),
        ),
        (
            "upsert_skill lang NUL",
            lambda s: s.upsert_skill(_skill(t, "n", "1").model_copy(update={"lang": NUL})),
        ),
        ("get_skill name empty", lambda s: s.get_skill(t, "", "1")),
        ("get_skill version empty", lambda s: s.get_skill(t, "n", "")),
        ("delete_skill name empty", lambda s: s.delete_skill(t, "", "1")),
        ("list_skills tenant_id empty", lambda s: s.list_skills("")),
        ("resolve_latest_version name empty", lambda s: s.resolve_latest_version(t, "")),
    ]
    _check_cases(harness, t, ["kept", "x", "n"], cases)


def _skill(tenant: str, name: str, version: str) -> SkillRecord:
    return SkillRecord(tenant_id=tenant, name=name, version=version)


@given(
    field=st.sampled_from(["name", "key_hash", "external_id", "skill_name", "s3_key"]),
    prefix=st.text(max_size=5),
    suffix=st.text(max_size=5),
)
def test_any_nul_is_refused(harness: Harness, field: str, prefix: str, suffix: str) -> None:
    """A NUL character anywhere in a text field is InvalidArgumentError."""
    t = new_tenant()
    value = f"{prefix}\x00{suffix}"
    store = harness.store
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "name": lambda: store.create_key(t, value, new_key_hash()),
        "key_hash": lambda: store.create_key(t, "n", value),
        "external_id": lambda: store.get_or_create_session(t, value),
        "skill_name": lambda: store.create_execution(_execution(t, skill_name=value)),
        "s3_key": lambda: store.create_file(_file(t, s3_key=value)),
    }
    harness.run(raises(InvalidArgumentError, calls[field]()))
    assert harness.run(_snapshot(store, t, [])) == [[], [], [], []]


def _malformed(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return True
    return False


malformed_ids = st.sampled_from(["", "not-a-uuid", "1234", "g" * 36]) | st.text(max_size=40)


@given(bad_id=malformed_ids)
def test_malformed_ids_are_not_found(harness: Harness, bad_id: str) -> None:
    """A malformed id is NotFoundError for lookups and changes, and matches no listing."""
    assume(_malformed(bad_id))
    t = new_tenant()
    store = harness.store
    not_found: list[Case] = [
        ("get_execution", lambda s: s.get_execution(t, bad_id)),
        ("update_execution", lambda s: s.update_execution(_execution(t, id=bad_id))),
        ("get_file", lambda s: s.get_file(t, bad_id)),
        ("update_file", lambda s: s.update_file(_file(t, id=bad_id))),
        ("delete_file", lambda s: s.delete_file(t, bad_id)),
        (
            "create_file_version",
            lambda s: s.create_file_version(t, bad_id, size_bytes=1, s3_key="k"),
        ),
        ("get_session", lambda s: s.get_session(t, bad_id)),
        ("touch_session", lambda s: s.touch_session(t, bad_id)),
        ("revoke_key", lambda s: s.revoke_key(t, bad_id)),
    ]
    if bad_id:
        # An empty reference means "none"; a malformed one names nothing.
        not_found += [
            ("create_file parent_id", lambda s: s.create_file(_file(t, parent_id=bad_id))),
            ("create_file execution_id", lambda s: s.create_file(_file(t, execution_id=bad_id))),
        ]
    for label, make_call in not_found:
        try:
            harness.run(raises(NotFoundError, make_call(store)))
        except AssertionError as exc:
            raise AssertionError(f"{label}({bad_id!r}): {exc}") from exc
    assert harness.run(call(store.list_file_versions(t, bad_id))) == []
    assert harness.run(call(store.list_session_files(t, bad_id))) == []
    if bad_id:
        for wanted in (
            FileFilter(tenant_id=t, session_id=bad_id),
            FileFilter(tenant_id=t, execution_id=bad_id),
        ):
            assert harness.run(call(store.list_files(wanted))) == []
    assert harness.run(_snapshot(store, t, [])) == [[], [], [], []]
