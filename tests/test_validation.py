"""The shared bad-input rules: one module, so every backend refuses the same things."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from skillbox_store import validation as check
from skillbox_store.errors import InvalidArgumentError, NotFoundError
from skillbox_store.records import Execution, File, FileFilter, SkillRecord

GOOD_ID = "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10"


def execution(**changes: object) -> Execution:
    record = Execution(skill_name="s", skill_version="1", tenant_id="t")
    for name, value in changes.items():
        setattr(record, name, value)  # bypasses validation, as a careless caller could
    return record


def file(**changes: object) -> File:
    record = File(tenant_id="t", name="n", s3_key="k")
    for name, value in changes.items():
        setattr(record, name, value)
    return record


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("a\x00b", "NUL"),
        ("\ud800", "surrogate"),
        (7, "must be a string"),
        (None, "must be a string"),
    ],
)
def test_text(value: object, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        check.check_text("tenant_id", value)
    assert "tenant_id" in str(caught.value)


def test_text_may_be_empty_when_optional() -> None:
    assert check.check_text("logs", "", required=False) == ""
    assert check.check_text("name", "é 日本") == "é 日本"


def test_ids() -> None:
    assert check.lookup_id("file id", GOOD_ID.upper()) == GOOD_ID
    for bad in ("", "nope", GOOD_ID + "0", "{" + GOOD_ID + "}", 12, None):
        with pytest.raises(NotFoundError):
            check.lookup_id("file id", bad)
        assert check.match_id(bad) is None


@pytest.mark.parametrize("limit", [0, -1, True, 1.5, "10"])
def test_bad_limits(limit: object) -> None:
    with pytest.raises(InvalidArgumentError, match="limit"):
        check.check_limit(limit, maximum=100)


def test_limits_clamp_and_offsets() -> None:
    assert check.check_limit(1000, maximum=100) == 100
    assert check.check_offset(0) == 0
    with pytest.raises(InvalidArgumentError, match="offset"):
        check.check_offset(-1)
    with pytest.raises(InvalidArgumentError, match="offset"):
        check.check_offset(2**63)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tenant_id": ""}, "tenant_id"),
        ({"skill_name": ""}, "skill_name"),
        ({"skill_version": ""}, "skill_version"),
        ({"logs": "a\x00"}, "logs"),
        ({"status": "done"}, "status"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"duration_ms": 2**63}, "duration_ms"),
        ({"input": math.nan}, "input"),
        ({"input": {"a": [math.inf]}}, "input"),
        ({"output": {1: "x"}}, "output"),
        ({"output": object()}, "output"),
        ({"input": {"k": "a\x00"}}, "input"),
        ({"input": {"a\x00": 1}}, "input"),
        ({"finished_at": datetime(2024, 1, 1)}, "finished_at"),
        ({"files_list": ["ok", "a\x00"]}, "files_list"),
        ({"error": "a\x00"}, "error"),
    ],
)
def test_bad_executions(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgumentError, match=field):
        check.check_execution(execution(**changes), keep_status=True)


def test_create_forces_running_and_normalizes_time() -> None:
    record = execution(status="success", finished_at=datetime(2024, 1, 1, tzinfo=UTC))
    assert check.check_execution(record, keep_status=False).status == "running"
    assert check.check_execution(record, keep_status=True).status == "success"


def test_update_needs_a_well_formed_id() -> None:
    with pytest.raises(NotFoundError):
        check.check_execution_update(execution(id="x"))
    assert check.check_execution_update(execution(id=GOOD_ID.upper())).id == GOOD_ID


@pytest.mark.parametrize(
    ("changes", "error", "field"),
    [
        ({"name": ""}, InvalidArgumentError, "name"),
        ({"s3_key": ""}, InvalidArgumentError, "s3_key"),
        ({"size_bytes": -1}, InvalidArgumentError, "size_bytes"),
        ({"version": 0}, InvalidArgumentError, "version"),
        ({"version": 2**31}, InvalidArgumentError, "version"),
        ({"session_id": "not-a-uuid"}, InvalidArgumentError, "session_id"),
        ({"parent_id": "not-a-uuid"}, NotFoundError, "parent_id"),
        ({"execution_id": "not-a-uuid"}, NotFoundError, "execution_id"),
    ],
)
def test_bad_files(changes: dict[str, object], error: type[Exception], field: str) -> None:
    with pytest.raises(error, match=field):
        check.check_file(file(**changes))


def test_empty_references_mean_none() -> None:
    checked = check.check_file(file(session_id="", parent_id="", execution_id=""))
    assert (checked.session_id, checked.parent_id, checked.execution_id) == (None, None, None)


def test_file_filter() -> None:
    listed = check.check_file_filter(FileFilter(tenant_id="t"))
    assert (listed.limit, listed.offset, listed.matches_nothing) == (50, 0, False)
    assert check.check_file_filter(FileFilter(tenant_id="t", limit=999)).limit == 200
    assert check.check_file_filter(FileFilter(tenant_id="t", session_id="x")).matches_nothing
    with pytest.raises(InvalidArgumentError, match="limit"):
        check.check_file_filter(FileFilter(tenant_id="t", limit=0))


def test_skill() -> None:
    with pytest.raises(InvalidArgumentError, match="version"):
        check.check_skill(SkillRecord(tenant_id="t", name="n", version=""))
    with pytest.raises(InvalidArgumentError, match="description"):
        check.check_skill(SkillRecord(tenant_id="t", name="n", version="1", description="\x00"))


def test_wrong_record_types_are_invalid_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        check.check_execution(file(), keep_status=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        check.check_file(execution())  # type: ignore[arg-type]
