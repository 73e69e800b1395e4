"""Every field reads back exactly as written: unicode, empty vs None, big values, time.

Each example works in a fresh tenant of one store opened for the test.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from skillbox_store import Execution, File, FileFilter, SkillRecord

from .clauses import clause
from .harness import Harness, call, new_key_hash, new_tenant
from .strategies import (
    STATUSES,
    aware_datetimes,
    json_values,
    optional_text,
    required_text,
    text,
)

executions = st.builds(
    Execution,
    skill_name=required_text,
    skill_version=required_text,
    tenant_id=st.just("replaced per example"),
    status=st.sampled_from(STATUSES),
    input=json_values,
    output=json_values,
    logs=text,
    files_url=text,
    files_list=st.lists(text, max_size=4),
    duration_ms=st.integers(min_value=0, max_value=2**63 - 1),
    error=optional_text,
    finished_at=st.none() | aware_datetimes,
)


@given(execution=executions)
def test_execution_round_trip(harness: Harness, execution: Execution) -> None:
    """insert_execution keeps every field; get and list return the same record."""
    sent = execution.model_copy(update={"tenant_id": new_tenant()})
    stored = harness.run(call(harness.store.insert_execution(sent)))
    expected = {**sent.model_dump(), "id": stored.id, "created_at": stored.created_at}
    assert stored.model_dump() == expected
    got = harness.run(call(harness.store.get_execution(sent.tenant_id, stored.id)))
    assert got.model_dump() == expected
    listed = harness.run(call(harness.store.list_executions(sent.tenant_id)))
    assert [e.model_dump() for e in listed] == [expected]


@given(
    name=required_text,
    content_type=text,
    size_bytes=st.integers(min_value=0, max_value=2**63 - 1),
    s3_key=required_text,
    version=st.integers(min_value=1, max_value=2**31 - 1),
    session_id=st.none() | st.uuids(version=4).map(str),
)
def test_file_round_trip(
    harness: Harness,
    name: str,
    content_type: str,
    size_bytes: int,
    s3_key: str,
    version: int,
    session_id: str | None,
) -> None:
    """create_file keeps every field, up to the largest size and version a store holds."""
    tenant = new_tenant()
    sent = File(
        tenant_id=tenant,
        name=name,
        content_type=content_type,
        size_bytes=size_bytes,
        s3_key=s3_key,
        version=version,
        session_id=session_id,
    )
    stored = harness.run(call(harness.store.create_file(sent)))
    expected = {
        **sent.model_dump(),
        "id": stored.id,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    assert stored.model_dump() == expected
    got = harness.run(call(harness.store.get_file(tenant, stored.id)))
    assert got.model_dump() == expected
    listed = harness.run(call(harness.store.list_files(FileFilter(tenant_id=tenant))))
    assert [f.model_dump() for f in listed] == [expected]


@given(name=required_text, external_id=required_text, description=text, lang=text)
def test_text_round_trip(
    harness: Harness, name: str, external_id: str, description: str, lang: str
) -> None:
    """Keys, sessions and skills keep any Unicode text exactly."""
    tenant = new_tenant()
    store = harness.store
    key = harness.run(call(store.create_key(tenant, name, new_key_hash())))
    assert harness.run(call(store.get_key_by_hash(key.key_hash))).model_dump() == key.model_dump()
    session = harness.run(call(store.get_or_create_session(tenant, external_id)))
    again = harness.run(call(store.get_session_by_external_id(tenant, external_id)))
    assert again.model_dump() == session.model_dump()
    record = SkillRecord(
        tenant_id=tenant, name=name, version=external_id, description=description, lang=lang
    )
    skill = harness.run(call(store.upsert_skill(record)))
    assert skill.model_dump() == {**record.model_dump(), "uploaded_at": skill.uploaded_at}
    got = harness.run(call(store.get_skill(tenant, name, external_id)))
    assert got.model_dump() == skill.model_dump()


@clause("records.empty.kept")
def test_empty_is_not_none(harness: Harness) -> None:
    """Empty text, empty containers, zero and None stay what they were."""
    tenant = new_tenant()
    cases: list[dict[str, Any]] = [
        {"input": None, "output": None, "error": None},
        {"input": "", "output": "", "error": ""},
        {"input": {}, "output": [], "error": ""},
        {"input": 0, "output": False, "error": None},
        {"input": [None], "output": {"": None}, "error": " "},
    ]
    for case in cases:
        sent = Execution(tenant_id=tenant, skill_name="s", skill_version="1", **case)
        stored = harness.run(call(harness.store.insert_execution(sent)))
        got = harness.run(call(harness.store.get_execution(tenant, stored.id)))
        for field, value in case.items():
            kept = getattr(got, field)
            assert (kept, type(kept)) == (value, type(value)), field


def test_large_values_round_trip(harness: Harness) -> None:
    """1 MB of logs (multi-byte text) and a large JSON document come back intact."""
    tenant = new_tenant()
    logs = ("línea ✓ 日志 🚀\n" * 80_000)[: 1 << 20]
    document: dict[str, JsonValue] = {
        f"key-{i}": {"n": i, "f": i / 7, "s": "é" * (i % 17), "l": [i, None, True]}
        for i in range(5_000)
    }
    sent = Execution(
        tenant_id=tenant,
        skill_name="big",
        skill_version="1",
        input=document,
        output=[document, document],
        logs=logs,
        files_list=[f"file-{i}" for i in range(2_000)],
    )
    stored = harness.run(call(harness.store.insert_execution(sent)))
    got = harness.run(call(harness.store.get_execution(tenant, stored.id)))
    assert got.logs == logs
    assert got.input == document
    assert got.output == [document, document]
    assert got.files_list == sent.files_list


@given(finished_at=aware_datetimes)
def test_timestamps_keep_microseconds(harness: Harness, finished_at: datetime) -> None:
    """An aware datetime in any offset reads back as the same instant, to the microsecond."""
    tenant = new_tenant()
    sent = Execution(
        tenant_id=tenant,
        skill_name="s",
        skill_version="1",
        status="success",
        finished_at=finished_at,
    )
    stored = harness.run(call(harness.store.insert_execution(sent)))
    got = harness.run(call(harness.store.get_execution(tenant, stored.id)))
    assert got.finished_at == finished_at
    assert got.finished_at is not None
    assert got.finished_at.utcoffset() is not None
    assert got.created_at == stored.created_at
    assert got.created_at.utcoffset() is not None


def test_store_chosen_timestamps_are_aware_utc(harness: Harness) -> None:
    """created_at and friends are aware, with microseconds kept on read-back."""
    tenant = new_tenant()
    before = datetime.now(UTC) - timedelta(minutes=5)
    after = datetime.now(UTC) + timedelta(minutes=5)
    store = harness.store
    key = harness.run(call(store.create_key(tenant, "k", new_key_hash())))
    session = harness.run(call(store.get_or_create_session(tenant, "x")))
    file = harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k"))))
    for stamp in (key.created_at, session.created_at, file.created_at, file.updated_at):
        assert stamp.utcoffset() == timedelta(0)
        assert before <= stamp <= after
    local = timezone(timedelta(hours=-7, minutes=-30))
    edge = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=local)
    sent = Execution(tenant_id=tenant, skill_name="s", skill_version="1", finished_at=edge)
    stored = harness.run(call(store.insert_execution(sent)))
    assert harness.run(call(store.get_execution(tenant, stored.id))).finished_at == edge


@clause("records.ids.uuid")
def test_ids_are_canonical_uuids(harness: Harness) -> None:
    """Ids chosen by the store are canonical lower-case UUID text."""
    tenant = new_tenant()
    store = harness.store
    ids = [
        harness.run(call(store.create_key(tenant, "k", new_key_hash()))).id,
        harness.run(
            call(
                store.create_execution(
                    Execution(tenant_id=tenant, skill_name="s", skill_version="1")
                )
            )
        ).id,
        harness.run(call(store.create_file(File(tenant_id=tenant, name="f", s3_key="k")))).id,
        harness.run(call(store.get_or_create_session(tenant, "x"))).id,
    ]
    for value in ids:
        assert str(uuid.UUID(value)) == value
    assert len(set(ids)) == len(ids)


@clause("order.text.code_point")
def test_skills_sort_by_code_point(harness: Harness) -> None:
    """list_skills orders by name then version, by Unicode code point."""
    tenant = new_tenant()
    names = ["é", "b", "a", "_x", "Z", "B"]
    versions = ["b", "B", "10", "9", "é"]
    for name in names:
        for version in versions:
            record = SkillRecord(tenant_id=tenant, name=name, version=version)
            harness.run(call(harness.store.upsert_skill(record)))
    listed = harness.run(call(harness.store.list_skills(tenant)))
    assert [(s.name, s.version) for s in listed] == sorted((n, v) for n in names for v in versions)
    assert [s.name for s in listed][:: len(versions)] == ["B", "Z", "_x", "a", "b", "é"]
