"""The shared bad-input rules: one package, so every backend refuses the same things."""

from __future__ import annotations

import enum
import inspect
import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from skillbox_store import validation as check
from skillbox_store.errors import InvalidArgumentError, NotFoundError
from skillbox_store.keys import generate_key
from skillbox_store.limits import INDEXED_TEXT_MAX_BYTES, JSON_INT_MAX, JSON_INT_MIN, JSON_MAX_DEPTH
from skillbox_store.records import Execution, File, FileFilter, SkillRecord
from skillbox_store.store import Store

GOOD_ID = "0b6d1f2e-7c1a-4c1e-9a43-3f1f8b2f9a10"


class Colour(enum.IntEnum):
    RED = 1


class Text(str):
    pass


class Real(float):
    pass


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


# -- The limits of docs/contract.md, "Bad input and limits" -------------------------------


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_json_depth_limit() -> None:
    check.check_execution(execution(input=nested(JSON_MAX_DEPTH)), keep_status=True)
    for too_deep in (nested(JSON_MAX_DEPTH + 1), nested(100_000)):
        with pytest.raises(InvalidArgumentError, match=r"input nests .* more than 64 deep"):
            check.check_execution(execution(input=too_deep), keep_status=True)
    with pytest.raises(InvalidArgumentError, match="output"):
        check.check_execution_update(execution(id=GOOD_ID, output=nested(JSON_MAX_DEPTH + 1)))


def test_json_that_contains_itself_is_refused_not_walked_forever() -> None:
    loop: list[object] = []
    loop.append(loop)
    wide: list[object] = []
    wide.extend([wide] * 1000)
    for value in (loop, wide):
        with pytest.raises(InvalidArgumentError, match="deep"):
            check.check_execution(execution(input=value), keep_status=True)


@pytest.mark.parametrize(
    "number",
    [JSON_INT_MAX + 1, JSON_INT_MIN - 1, 10**5000, -(10**5000)],
    ids=["2**64", "-2**63-1", "5001 digits", "-5001 digits"],
)
def test_json_integers_beyond_64_bits(number: int) -> None:
    with pytest.raises(InvalidArgumentError, match="input must be JSON with 64-bit integers"):
        check.check_execution(execution(input={"n": [number]}), keep_status=True)


def test_json_integers_at_the_bounds() -> None:
    edges = [JSON_INT_MIN, JSON_INT_MAX, 2**63]
    assert check.check_execution(execution(input=edges), keep_status=True).input == edges


@pytest.mark.parametrize(
    "value",
    [Colour.RED, Text("x"), Real(1.5), ("a",), {"k": {1}}, b"x", bytearray(b"x")],
    ids=["IntEnum", "str subclass", "float subclass", "tuple", "set", "bytes", "bytearray"],
)
def test_json_values_of_exactly_the_json_types(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="input must be JSON"):
        check.check_execution(execution(input=[value]), keep_status=True)


def test_huge_ints_in_int_fields_are_refused_without_formatting_them() -> None:
    with pytest.raises(InvalidArgumentError, match="size_bytes must be at most"):
        check.check_file(file(size_bytes=10**5000))
    with pytest.raises(InvalidArgumentError, match="duration_ms must be at least"):
        check.check_execution(execution(duration_ms=-(10**5000)), keep_status=True)
    with pytest.raises(InvalidArgumentError, match="offset"):
        check.check_offset(10**5000)


def test_huge_limits_are_clamped() -> None:
    assert check.check_limit(10**100, maximum=100) == 100


@pytest.mark.parametrize("value", [True, Colour.RED, 1.0, "1"])
def test_int_fields_take_exactly_int(value: object) -> None:
    with pytest.raises(InvalidArgumentError, match="size_bytes must be an integer"):
        check.check_file(file(size_bytes=value))


class Failing(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        raise RuntimeError("zone database missing")

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "failing"


class DayAndAHalf(Failing):
    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=30)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        (datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))), "years 1 to 9999"),
        (datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=5))), "years 1 to 9999"),
        (datetime(2024, 1, 1, tzinfo=DayAndAHalf()), "utcoffset"),
        (datetime(2024, 1, 1, tzinfo=Failing()), "utcoffset"),
    ],
)
def test_times_that_cannot_be_utc(when: datetime, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=f"finished_at .*{message}"):
        check.check_execution(execution(finished_at=when), keep_status=True)


class Stamp(datetime):
    """A datetime subclass, as pandas' Timestamp is."""


def test_times_are_made_plain_utc_datetimes() -> None:
    when = Stamp(2024, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    checked = check.check_time("finished_at", when)
    assert type(checked) is datetime
    assert checked == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert checked.tzinfo is UTC
    utc = datetime(2024, 1, 1, tzinfo=UTC)
    assert check.check_time("finished_at", utc) is utc
    with pytest.raises(InvalidArgumentError, match="naive"):
        check.check_time("before", datetime(2024, 1, 1))
    with pytest.raises(InvalidArgumentError, match="must be a datetime"):
        check.check_time("before", None)


@pytest.mark.parametrize(
    "field", ["tenant_id", "external_id", "name", "version", "skill_name", "skill_version"]
)
def test_indexed_text_length(field: str) -> None:
    assert check.check_text(field, "x" * INDEXED_TEXT_MAX_BYTES)
    assert check.check_text(field, "日" * (INDEXED_TEXT_MAX_BYTES // 3))  # 510 bytes
    for too_long in ("x" * (INDEXED_TEXT_MAX_BYTES + 1), "日" * 171, "x" * 10_000_000):
        with pytest.raises(InvalidArgumentError, match=f"{field} must be at most 512 bytes"):
            check.check_text(field, too_long)


def test_text_that_is_not_indexed_is_not_limited() -> None:
    big = "x" * 10_000_000
    for field in ("logs", "s3_key", "description", "content_type"):
        assert check.check_text(field, big) is big


def test_key_hashes() -> None:
    plaintext, key_hash = generate_key()
    assert check.check_key_hash(key_hash) == key_hash
    assert check.check_text("key_hash", "ab" * 256) == "ab" * 256
    bad = [plaintext, "not-a-hash", key_hash.upper(), key_hash[:63], "a" * 513, "٣" * 64, ""]
    for value in bad:
        with pytest.raises(InvalidArgumentError, match=r"key_hash .*hash_key\(") as caught:
            check.check_text("key_hash", value)
        if value:
            assert value not in str(caught.value)
    with pytest.raises(InvalidArgumentError, match="plaintext key"):
        check.check_key_hash(plaintext)
    with pytest.raises(InvalidArgumentError, match="must be a string"):
        check.check_key_hash(key_hash.encode())


class EqualsAll(str):
    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def test_text_is_exactly_str() -> None:
    for value in (EqualsAll("t"), b"t", Text("t")):
        with pytest.raises(InvalidArgumentError, match="tenant_id must be a string"):
            check.check_text("tenant_id", value)
    with pytest.raises(InvalidArgumentError, match="status"):
        check.check_execution(execution(status=EqualsAll("running")), keep_status=True)
    with pytest.raises(InvalidArgumentError, match="status"):
        check.check_execution(execution(status=[]), keep_status=True)
    forced: object = check.check_execution(
        execution(status=EqualsAll("running")), keep_status=False
    ).status
    assert type(forced) is str
    with pytest.raises(InvalidArgumentError, match="files_list"):
        check.check_execution(execution(files_list=("a",)), keep_status=True)


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_messages_never_run_the_callers_code_nor_grow_with_the_value() -> None:
    with pytest.raises(NotFoundError, match="Unprintable"):
        check.lookup_id("file id", Unprintable())
    with pytest.raises(NotFoundError) as caught:
        check.lookup_id("file id", "x" * 10_000_000)
    assert len(str(caught.value)) < 200
    with pytest.raises(InvalidArgumentError, match="status"):
        check.check_execution(execution(status=Unprintable()), keep_status=True)
    with pytest.raises(InvalidArgumentError, match="session_id"):
        check.check_file(file(session_id="y" * 10_000_000))


def test_a_misspelt_text_field_fails_loudly() -> None:
    """A field named by a string that is no `Text` member is a bug, not a field without rules."""
    with pytest.raises(ValueError, match="'tenantid' is not a text field"):
        check.check_text("tenantid", "acme")
    assert check.check_text(check.Text.TENANT_ID, "acme") == "acme"
    # The string form still brings the field's rules.
    with pytest.raises(InvalidArgumentError, match="key_hash must be the hex digest"):
        check.check_text("key_hash", "sk-not-a-hash")


# The Protocol's methods that take no argument to check.
_UNCHECKED = {"ping", "schema_version", "close", "transaction"}


def test_every_store_method_has_one_check_with_its_parameters() -> None:
    """`check.<method>` exists for each `Store` method and takes the method's parameters."""
    methods = [
        name
        for name, _ in inspect.getmembers(Store, inspect.isfunction)
        if not name.startswith("_") and name not in _UNCHECKED
    ]
    assert len(methods) == 30
    for name in methods:
        wanted = [p for p in inspect.signature(getattr(Store, name)).parameters if p != "self"]
        assert list(inspect.signature(getattr(check, name)).parameters) == wanted, name
