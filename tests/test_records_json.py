"""Records serialize to the JSON the Go service produced."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone

from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    Session,
    SkillRecord,
    new_id,
    trusted_record,
)

T0 = datetime(2024, 5, 6, 7, 8, 9, 123450, tzinfo=UTC)


def as_go_json(record: object) -> dict[str, object]:
    text = record.model_dump_json(by_alias=True)  # type: ignore[attr-defined]
    parsed: dict[str, object] = json.loads(text)
    assert parsed == record.model_dump(mode="json", by_alias=True)  # type: ignore[attr-defined]
    return parsed


def test_execution_uses_go_names_and_omits_empty_fields() -> None:
    execution = Execution(
        id="0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10",
        skill_name="resize",
        skill_version="1.2.0",
        tenant_id="acme",
        created_at=T0,
    )
    assert as_go_json(execution) == {
        "execution_id": "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10",
        "skill_name": "resize",
        "skill_version": "1.2.0",
        "tenant_id": "acme",
        "status": "running",
        "duration_ms": 0,
        "error": None,
        "created_at": "2024-05-06T07:08:09.12345Z",
    }


def test_finished_execution_has_every_field() -> None:
    execution = Execution(
        id="0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10",
        skill_name="resize",
        skill_version="1.2.0",
        tenant_id="acme",
        status="failed",
        input={"w": 10, "tags": ["a"]},
        output=[1, 2.5, None],
        logs="line\n",
        files_url="s3://bucket/x",
        files_list=["a.png"],
        duration_ms=1500,
        error="boom",
        created_at=T0,
        finished_at=T0.replace(microsecond=0) + timedelta(seconds=2),
    )
    assert as_go_json(execution) == {
        "execution_id": "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10",
        "skill_name": "resize",
        "skill_version": "1.2.0",
        "tenant_id": "acme",
        "status": "failed",
        "input": {"w": 10, "tags": ["a"]},
        "output": [1, 2.5, None],
        "logs": "line\n",
        "files_url": "s3://bucket/x",
        "files_list": ["a.png"],
        "duration_ms": 1500,
        "error": "boom",
        "created_at": "2024-05-06T07:08:09.12345Z",
        "finished_at": "2024-05-06T07:08:11Z",
    }


def test_execution_accepts_go_json_back() -> None:
    document = {
        "execution_id": "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10",
        "skill_name": "resize",
        "skill_version": "1",
        "tenant_id": "acme",
        "status": "success",
        "duration_ms": 3,
        "error": None,
        "created_at": "2024-05-06T07:08:09.12345Z",
    }
    execution = Execution.model_validate(document)
    assert execution.id == document["execution_id"]
    assert execution.created_at == datetime(2024, 5, 6, 7, 8, 9, 123450, tzinfo=UTC)
    assert as_go_json(execution) == document


def test_file_omits_empty_references_and_keeps_defaults() -> None:
    file = File(
        id="9e1c2b5a-0000-4000-8000-000000000001",
        tenant_id="acme",
        name="report.pdf",
        s3_key="acme/report.pdf",
        created_at=T0,
        updated_at=T0,
    )
    assert as_go_json(file) == {
        "id": "9e1c2b5a-0000-4000-8000-000000000001",
        "tenant_id": "acme",
        "name": "report.pdf",
        "content_type": "application/octet-stream",
        "size_bytes": 0,
        "s3_key": "acme/report.pdf",
        "version": 1,
        "created_at": "2024-05-06T07:08:09.12345Z",
        "updated_at": "2024-05-06T07:08:09.12345Z",
    }
    child = file.model_copy(update={"parent_id": file.id, "session_id": "s", "version": 2})
    document = as_go_json(child)
    assert document["parent_id"] == file.id
    assert document["session_id"] == "s"
    assert "execution_id" not in document


def test_key_session_and_skill() -> None:
    key = APIKey(id="k", key_hash="h", tenant_id="acme", name="ci", created_at=T0)
    assert as_go_json(key) == {
        "id": "k",
        "key_hash": "h",
        "tenant_id": "acme",
        "name": "ci",
        "created_at": "2024-05-06T07:08:09.12345Z",
        "revoked_at": None,
    }
    session = Session(
        id="s", tenant_id="acme", external_id="ext", created_at=T0, last_accessed_at=T0
    )
    assert as_go_json(session)["external_id"] == "ext"
    skill = SkillRecord(tenant_id="acme", name="resize", version="1", uploaded_at=T0)
    assert as_go_json(skill) == {
        "tenant_id": "acme",
        "name": "resize",
        "version": "1",
        "description": "",
        "lang": "python",
        "uploaded_at": "2024-05-06T07:08:09.12345Z",
    }


def test_times_in_other_zones_are_written_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    key = APIKey(
        id="k",
        key_hash="h",
        tenant_id="t",
        name="n",
        created_at=datetime(2024, 1, 1, 2, tzinfo=plus_two),
    )
    assert as_go_json(key)["created_at"] == "2024-01-01T00:00:00Z"


def test_python_dump_keeps_every_field() -> None:
    execution = Execution(skill_name="s", skill_version="1", tenant_id="t", created_at=T0)
    dumped = execution.model_dump()
    assert dumped["files_list"] == []
    assert dumped["finished_at"] is None
    assert Execution(**dumped) == execution


def test_trusted_record_equals_a_validated_one() -> None:
    for record in (
        Execution(skill_name="s", skill_version="1", tenant_id="t", input={"a": 1}),
        File(tenant_id="t", name="n", s3_key="k"),
        APIKey(key_hash="h", tenant_id="t", name="n"),
        Session(tenant_id="t", external_id="e"),
        SkillRecord(tenant_id="t", name="n", version="1"),
    ):
        rebuilt = trusted_record(type(record), dict(record.__dict__))
        assert rebuilt == record
        assert rebuilt.model_dump(mode="json", by_alias=True) == record.model_dump(
            mode="json", by_alias=True
        )
        assert rebuilt.model_copy(update={"tenant_id": "u"}).tenant_id == "u"
        # Its own set of field names: changing one record leaves the others as they were.
        rebuilt.tenant_id = "v"
        again = trusted_record(type(record), dict(record.__dict__))
        assert again.model_fields_set == set(type(record).model_fields)
        assert again.model_fields_set is not rebuilt.model_fields_set


def test_new_ids_are_random_version_4_uuids_as_uuid4_writes_them() -> None:
    ids = [new_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122
    # Every one of the four variant digits and sixteen digits elsewhere occur.
    assert {text[19] for text in ids} == set("89ab")
    assert {text[0] for text in ids} == set("0123456789abcdef")
