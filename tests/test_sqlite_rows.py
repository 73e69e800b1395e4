"""Row conversion of the SQLite backend: exact round trips and unvalidated records."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel

from skillbox_store import StoreError, open_store
from skillbox_store.backends.sqlite.rows import (
    build,
    dump_json,
    dump_time,
    execution_from_row,
    file_from_row,
    key_from_row,
    load_json,
    load_time,
    session_from_row,
    skill_from_row,
)
from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

T0 = datetime(2026, 11, 27, 2, 30, 8, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        T0,
        T0.replace(microsecond=0),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=5))).astimezone(UTC),
    ],
)
def test_timestamps_round_trip_exactly_and_sort_as_text(value: datetime) -> None:
    text = dump_time(value)
    assert len(text) == 27
    assert text.endswith("Z")
    back = load_time(text)
    assert back == value
    assert back.utcoffset() == timedelta(0)
    later = value if value.year == 9999 else value + timedelta(microseconds=1)
    assert (dump_time(value) < dump_time(later)) == (value < later)


@pytest.mark.parametrize(
    "value", [None, 0, -1.5, "é\u2028", [], {}, {"a": [1, {"b": None}], "ü": True}, 2**70]
)
def test_json_round_trips(value: object) -> None:
    assert load_json(dump_json(value)) == value


def _same(built: BaseModel, validated: BaseModel) -> None:
    """A record built from a row is indistinguishable from a validated one."""
    assert built == validated
    assert type(built) is type(validated)
    assert built.__dict__ == validated.__dict__
    for attribute in ("__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
        assert getattr(built, attribute) == getattr(validated, attribute), attribute
    assert built.model_dump(mode="json", by_alias=True) == validated.model_dump(
        mode="json", by_alias=True
    )
    assert built.model_copy(update={}) == validated


def test_built_records_equal_validated_ones() -> None:
    time = dump_time(T0)
    uid = "6f1c1b5e-8f6e-4c1e-9d3b-0a4b6c9e2f10"
    _same(
        key_from_row((uid, "h", "t", "n", time, None)),
        APIKey(id=uid, key_hash="h", tenant_id="t", name="n", created_at=T0, revoked_at=None),
    )
    _same(
        execution_from_row(
            (
                uid,
                "s",
                "1",
                "t",
                "failed",
                '{"a":1}',
                "[2]",
                "log",
                "u",
                '["f"]',
                5,
                "e",
                time,
                time,
            )
        ),
        Execution(
            id=uid,
            skill_name="s",
            skill_version="1",
            tenant_id="t",
            status="failed",
            input={"a": 1},
            output=[2],
            logs="log",
            files_url="u",
            files_list=["f"],
            duration_ms=5,
            error="e",
            created_at=T0,
            finished_at=T0,
        ),
    )
    _same(
        file_from_row((uid, "t", None, uid, "n", "text/plain", 3, "k", 2, uid, time, time)),
        File(
            id=uid,
            tenant_id="t",
            session_id=None,
            execution_id=uid,
            name="n",
            content_type="text/plain",
            size_bytes=3,
            s3_key="k",
            version=2,
            parent_id=uid,
            created_at=T0,
            updated_at=T0,
        ),
    )
    _same(
        session_from_row((uid, "t", "x", time, time)),
        Session(id=uid, tenant_id="t", external_id="x", created_at=T0, last_accessed_at=T0),
    )
    _same(
        skill_from_row(("t", "n", "1", "d", "go", time)),
        SkillRecord(
            tenant_id="t", name="n", version="1", description="d", lang="go", uploaded_at=T0
        ),
    )


def test_built_records_do_not_share_their_fields_set() -> None:
    fields = set(Session.model_fields)
    first = build(Session, {"id": "a"}, fields)
    second = build(Session, {"id": "b"}, fields)
    first.__pydantic_fields_set__.add("extra")
    assert "extra" not in second.__pydantic_fields_set__
    assert "extra" not in fields


def test_a_stored_value_that_is_not_json_is_named_as_such(tmp_path: Path) -> None:
    """A row written by another program: one StoreError that says what is wrong with it,
    from a point read and from a page alike (the scanner itself only says StopIteration)."""

    async def body() -> None:
        path = tmp_path / "corrupt.db"
        async with await open_store(f"sqlite:///{path}") as store:
            execution = await store.create_execution(
                Execution(tenant_id="t", skill_name="s", skill_version="1")
            )
            other = sqlite3.connect(path, isolation_level=None)
            try:
                other.execute(
                    "UPDATE executions SET input = '{\"a\":' WHERE id = ?", (execution.id,)
                )
            finally:
                other.close()
            for call in (
                store.get_execution("t", execution.id),
                store.list_executions("t"),
            ):
                with pytest.raises(StoreError, match="not valid JSON"):
                    await call

    asyncio.run(body())


def test_the_json_of_a_row_is_read_or_refused_by_the_converters() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        load_json("[1,")
    assert load_json(dump_json({"a": [1, "x"]})) == {"a": [1, "x"]}
