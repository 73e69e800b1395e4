"""Pages of rows to records: the same records pydantic builds, one per row, sharing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from skillbox_store.backends.postgres import rows as pg
from skillbox_store.backends.sqlite import rows as lite
from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    Session,
    SkillRecord,
    trusted_record,
    trusted_records,
)

T0 = datetime(2026, 11, 27, 2, 30, 8, 123456, tzinfo=UTC)
T1 = T0 + timedelta(days=1, microseconds=1)
ID = "6f1c1b5e-8f6e-4c1e-9d3b-0a4b6c9e2f10"
OTHER = "0b8c7a52-3d1e-4f6a-9b2c-5e7d8f9a0b1c"

KEYS = [
    APIKey(id=ID, key_hash="h", tenant_id="t", name="n", created_at=T0, revoked_at=None),
    APIKey(id=OTHER, key_hash="g", tenant_id="t", name="m", created_at=T0, revoked_at=T1),
]
EXECUTIONS = [
    Execution(
        id=ID,
        skill_name="s",
        skill_version="1",
        tenant_id="t",
        status="failed",
        input={"a": [1, 2.5, None, True], "é": "\u2028"},
        output=[2],
        logs="log",
        files_url="u",
        files_list=["f", "g"],
        duration_ms=5,
        error="e",
        created_at=T0,
        finished_at=T1,
    ),
    Execution(
        id=OTHER, skill_name="s", skill_version="1", tenant_id="t", input=None, created_at=T1
    ),
]
FILES = [
    File(
        id=ID,
        tenant_id="t",
        session_id=OTHER,
        execution_id=None,
        name="n",
        content_type="text/plain",
        size_bytes=3,
        s3_key="k",
        version=2,
        parent_id=OTHER,
        created_at=T0,
        updated_at=T1,
    ),
    File(id=OTHER, tenant_id="t", name="m", s3_key="j", created_at=T0, updated_at=T0),
]
SESSIONS = [
    Session(id=ID, tenant_id="t", external_id="x", created_at=T0, last_accessed_at=T1),
    Session(id=OTHER, tenant_id="t", external_id="y", created_at=T0, last_accessed_at=T0),
]
SKILLS = [
    SkillRecord(tenant_id="t", name="n", version="1", description="d", lang="go", uploaded_at=T0),
    SkillRecord(tenant_id="t", name="n", version="2", uploaded_at=T1),
]


def _same(built: list[Any], validated: list[Any]) -> None:
    """Records built from rows are indistinguishable from validated ones, and independent."""
    assert len(built) == len(validated)
    for mine, theirs in zip(built, validated, strict=True):
        assert type(mine) is type(theirs)
        assert mine == theirs
        assert mine.__dict__ == theirs.__dict__
        assert [type(v) for v in mine.__dict__.values()] == [
            type(v) for v in theirs.__dict__.values()
        ]
        assert list(mine.__dict__) == list(type(theirs).model_fields)
        for slot in ("__pydantic_extra__", "__pydantic_private__"):
            assert getattr(mine, slot) is None
        assert mine.model_fields_set == set(type(theirs).model_fields)
        assert mine.model_dump(mode="json", by_alias=True) == theirs.model_dump(
            mode="json", by_alias=True
        )
        assert mine.model_copy(update={"tenant_id": "u"}).tenant_id == "u"
    if len(built) > 1:
        first, second = built[0], built[1]
        assert first.model_fields_set is not second.model_fields_set
        assert first.__dict__ is not second.__dict__
        first.tenant_id = "changed"
        assert second.tenant_id == "t"


def _lite_rows(records: list[Any]) -> list[tuple[Any, ...]]:
    """The rows SQLite returns for records: text timestamps, JSON text."""
    found = []
    for r in records:
        if isinstance(r, Execution):
            found.append(lite.execution_to_row(r, r.id, r.created_at))
        elif isinstance(r, File):
            found.append(lite.file_to_row(r, r.id, r.created_at, r.updated_at))
        else:
            found.append(
                tuple(
                    None if v is None else lite.dump_time(v) if isinstance(v, datetime) else v
                    for v in r.__dict__.values()
                )
            )
    return found


def _pg_rows(records: list[Any], zone: timezone = UTC) -> list[tuple[Any, ...]]:
    """The rows psycopg returns for records: in the session's time zone, JSON loaded."""
    return [
        tuple(v.astimezone(zone) if isinstance(v, datetime) else v for v in r.__dict__.values())
        for r in records
    ]


def test_sqlite_pages_equal_validated_records() -> None:
    _same(lite.keys_from_rows(_lite_rows(KEYS)), KEYS)
    _same(lite.executions_from_rows(_lite_rows(EXECUTIONS)), EXECUTIONS)
    _same(lite.files_from_rows(_lite_rows(FILES)), FILES)
    _same(lite.skills_from_rows(_lite_rows(SKILLS)), SKILLS)
    _same([lite.session_from_row(row) for row in _lite_rows(SESSIONS)], SESSIONS)


def test_sqlite_pages_equal_their_rows_one_by_one() -> None:
    """A page and its rows read one at a time (the point reads) build the same records."""
    for page, one, records in (
        (lite.keys_from_rows, lite.key_from_row, KEYS),
        (lite.executions_from_rows, lite.execution_from_row, EXECUTIONS),
        (lite.files_from_rows, lite.file_from_row, FILES),
        (lite.skills_from_rows, lite.skill_from_row, SKILLS),
    ):
        found = _lite_rows(records)
        _same(page(found), [one(row) for row in found])


@pytest.mark.parametrize("zone", [UTC, timezone(timedelta(hours=-7, minutes=-30))])
def test_postgres_pages_equal_validated_records(zone: timezone) -> None:
    _same(pg.keys_from_rows(_pg_rows(KEYS, zone)), KEYS)
    _same(pg.executions_from_rows(_pg_rows(EXECUTIONS, zone)), EXECUTIONS)
    _same(pg.files_from_rows(_pg_rows(FILES, zone)), FILES)
    _same(pg.sessions_from_rows(_pg_rows(SESSIONS, zone)), SESSIONS)
    _same(pg.skills_from_rows(_pg_rows(SKILLS, zone)), SKILLS)
    _same([pg.key_from_row(row) for row in _pg_rows(KEYS, zone)], KEYS)
    _same([pg.execution_from_row(row) for row in _pg_rows(EXECUTIONS, zone)], EXECUTIONS)
    _same([pg.file_from_row(row) for row in _pg_rows(FILES, zone)], FILES)
    _same([pg.session_from_row(row) for row in _pg_rows(SESSIONS, zone)], SESSIONS)
    _same([pg.skill_from_row(row) for row in _pg_rows(SKILLS, zone)], SKILLS)


def test_postgres_rows_of_the_wrong_width_are_refused() -> None:
    row = _pg_rows(FILES)[0]
    with pytest.raises(ValueError, match="unpack"):
        pg.file_from_row((*row, True))
    with pytest.raises(ValueError, match="unpack"):
        pg.file_from_row(row[:-1])


def test_empty_pages() -> None:
    assert lite.files_from_rows([]) == []
    assert pg.executions_from_rows([]) == []
    assert trusted_records(File, []) == []


def test_trusted_records_build_what_trusted_record_builds() -> None:
    records: list[Any] = [*KEYS, *EXECUTIONS, *FILES, *SESSIONS, *SKILLS]
    for record in records:
        cls = type(record)
        (built,) = trusted_records(cls, [dict(record.__dict__)])
        _same([built, trusted_record(cls, dict(record.__dict__))], [record, record])


def test_a_page_changed_record_by_record_stays_what_validation_builds() -> None:
    """A page's records share their set of field names (`trusted_records`): assigning a
    field or copying one with changes must leave every other record as it was."""
    values = [dict(KEYS[0].__dict__, id=f"key-{i}", name=f"n{i}") for i in range(12)]
    page = trusted_records(APIKey, values)
    expected = [APIKey.model_validate(one) for one in values]
    page[0].name = "renamed"
    copied = page[1].model_copy(update={"name": "copied"})
    page[2].revoked_at = None
    assert copied.name == "copied"
    assert copied.model_fields_set == set(APIKey.model_fields)
    for record, wanted in zip(page[3:], expected[3:], strict=True):
        assert record.model_dump(exclude_unset=True) == wanted.model_dump(exclude_unset=True)
        assert record.model_fields_set == wanted.model_fields_set
    # Each page has a set of its own: a caller emptying one touches no other page.
    page[3].model_fields_set.clear()
    (fresh,) = trusted_records(APIKey, [dict(values[0])])
    assert fresh.model_fields_set == set(APIKey.model_fields)
    assert trusted_records(APIKey, values)[5].model_fields_set == set(APIKey.model_fields)
