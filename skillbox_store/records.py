"""The records a store reads and writes, one SQLModel class per table.

Field names follow the Go structs and JSON names follow their JSON tags, so
``record.model_dump(mode="json", by_alias=True)`` is the document the Go service sent:
`Execution.id` is ``"execution_id"``, timestamps are RFC 3339 with trailing zeros of the
fraction trimmed, ``error`` is always present, and the fields Go tagged ``omitempty`` are
left out when empty.

The classes are SQLModel models without ``table=True``: the tables themselves are
defined by the plain-SQL migrations of each dialect, and a table model costs about 50
times more to build (SQLAlchemy instruments every instance), which the store pays for
every row it returns. Construction checks types; the contract's rules on values (empty
names, NUL characters, ranges, naive datetimes) are checked by the store when a record
is written, in `skillbox_store.validation`, so they hold however a record was made.
"""

from __future__ import annotations

import os
from collections import deque
from datetime import UTC, datetime
from itertools import repeat
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar, get_args

from pydantic import (
    BaseModel,
    JsonValue,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    SkipValidation,
    field_serializer,
    model_serializer,
)
from sqlmodel import Field, SQLModel
from sqlmodel._compat import SQLModelConfig

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "EXECUTION_STATUSES",
    "APIKey",
    "Execution",
    "ExecutionStatus",
    "File",
    "FileFilter",
    "Json",
    "RetentionReport",
    "Session",
    "SkillRecord",
    "new_id",
    "trusted_record",
    "trusted_records",
    "utc_now",
]

# JSON values are checked by the store when written (`validation`), where a bad one is an
# InvalidArgumentError naming the field; validating them again at construction would
# double the cost of every execution a store reads back.
Json = Annotated[JsonValue, SkipValidation]
"""A JSON value: dict with str keys, list, str, int, finite float, bool or None."""

ExecutionStatus = Literal["running", "success", "failed", "timeout", "mounted"]
"""The states of an execution; only a `running` one may be updated."""

EXECUTION_STATUSES: Final[frozenset[str]] = frozenset(get_args(ExecutionStatus))

DEFAULT_CONTENT_TYPE: Final = "application/octet-stream"


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime with microsecond precision."""
    return datetime.now(UTC)


# The variant digit of a version 4 UUID (RFC 4122: 0b10xx) for each random hex digit.
_VARIANT_DIGIT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_id() -> str:
    """Return a new record id: a random (version 4) UUID, as ``str(uuid.uuid4())`` writes it.

    From the same `os.urandom` bits, written out directly: the `uuid.UUID` object and its
    checks cost two thirds of ``str(uuid.uuid4())``'s 2.5 µs, and every insert pays them.
    """
    digits = os.urandom(16).hex()
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
        f"{_VARIANT_DIGIT[digits[16]]}{digits[17:20]}-{digits[20:]}"
    )


def _go_time(value: datetime) -> str:
    """Format a datetime as Go's ``time.Time`` marshals to JSON (RFC 3339, nanos trimmed)."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


_R = TypeVar("_R", bound="_Record")


# Each record class's field names, for `trusted_record`.
_FIELD_NAMES: Final[dict[type[SQLModel], set[str]]] = {}

# The four slots every pydantic v2 model instance has, set through their descriptors:
# `object.__setattr__` would look each name up on the type first, and the model's own
# `__setattr__` is Python code. `model_construct` sets the same four, but SQLModel's
# override of it is slower than validating. `tests/test_sqlite_rows.py` compares what
# these build with what pydantic's ``__init__`` builds, so a change of layout fails there.
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _field_names(cls: type[SQLModel]) -> set[str]:
    fields = _FIELD_NAMES.get(cls)
    if fields is None:
        fields = _FIELD_NAMES[cls] = set(cls.model_fields)
    return fields


def trusted_record(cls: type[_R], values: dict[str, Any]) -> _R:
    """Build a record from field values a store wrote itself, without validating them.

    For backends reading their own rows back: the values were checked when they were
    written, and checking them again costs about 10 µs a record, five times the rest of
    building it. ``values`` must hold every field, by its Python name; the dict becomes
    the record's own.
    """
    record = _new(cls)
    _set_dict(record, values)
    # Every field is set; copying a ready set costs a third of building one from values.
    _set_fields_set(record, _field_names(cls).copy())
    _set_extra(record, None)
    _set_private(record, None)
    return record


# Below this many records the five `map` loops cost more to set up than they save (a
# single record: 2.0 µs against 0.7 µs one by one); from 8 on they cost less.
_MAPPED_FROM: Final = 8


def trusted_records(cls: type[_R], values: list[dict[str, Any]]) -> list[_R]:
    """Build one record per dict of ``values``, as `trusted_record` builds each.

    For a page of rows: each of the five steps runs over the whole page in one loop of
    C (`map`, drained by a zero-length `deque`), which saves the interpreter's work per
    step and record, a twentieth of what building a record costs.
    """
    count = len(values)
    if count < _MAPPED_FROM:
        return [trusted_record(cls, one) for one in values]
    records: list[_R] = list(map(_new, repeat(cls, count)))
    deque(map(_set_dict, records, values), 0)
    # One set of field names for the whole page. Every field is set, and pydantic only
    # ever adds a field's name to it (on assignment: no change) and gives a copy its own
    # (`model_copy`), so sharing it changes no record's behaviour. It saves a tracked
    # object per record, which the garbage collector would walk again and again while a
    # long listing is built: 1,000 keys, ~1.7 ms a listing instead of ~2.5-3 ms.
    deque(map(_set_fields_set, records, repeat(_field_names(cls).copy(), count)), 0)
    deque(map(_set_extra, records, repeat(None, count)), 0)
    deque(map(_set_private, records, repeat(None, count)), 0)
    return records


class _Record(SQLModel):
    """Shared configuration: accept Python names and Go JSON names alike."""

    model_config = SQLModelConfig(populate_by_name=True)

    # Fields that Go tagged `omitempty`: left out of JSON output when empty.
    _omit_when_empty: ClassVar[tuple[str, ...]] = ()

    @field_serializer("*", mode="wrap", when_used="json")
    def _serialize_time(self, value: Any, handler: SerializerFunctionWrapHandler) -> Any:
        if isinstance(value, datetime):
            return _go_time(value)
        return handler(value)

    @model_serializer(mode="wrap")
    def _omit_empty(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if info.mode_is_json():
            for name in self._omit_when_empty:
                field = type(self).model_fields[name]
                key = (field.serialization_alias or name) if info.by_alias else name
                if key in data and data[key] in (None, "", [], {}):
                    del data[key]
        return data


class APIKey(_Record):
    """An API key of a tenant; only the SHA-256 hex hash of its plaintext is stored."""

    id: str = ""
    key_hash: str
    tenant_id: str
    name: str
    created_at: datetime = Field(default_factory=utc_now)
    revoked_at: datetime | None = None


class Execution(_Record):
    """One run of a skill for a tenant."""

    _omit_when_empty: ClassVar[tuple[str, ...]] = (
        "input",
        "output",
        "logs",
        "files_url",
        "files_list",
        "finished_at",
    )

    # Accepts `id` (the field's name) and "execution_id" (the Go JSON name) as input.
    id: str = Field(default="", validation_alias="execution_id", serialization_alias="execution_id")
    skill_name: str
    skill_version: str
    tenant_id: str
    status: ExecutionStatus = "running"
    input: Json = None
    output: Json = None
    logs: str = ""
    files_url: str = ""
    files_list: list[str] = Field(default_factory=list)
    duration_ms: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None


class File(_Record):
    """A stored file; files linked through `parent_id` form a version chain."""

    _omit_when_empty: ClassVar[tuple[str, ...]] = ("session_id", "execution_id", "parent_id")

    id: str = ""
    tenant_id: str
    session_id: str | None = None
    execution_id: str | None = None
    name: str
    content_type: str = DEFAULT_CONTENT_TYPE
    size_bytes: int = 0
    s3_key: str
    version: int = 1
    parent_id: str | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)


class Session(_Record):
    """A tenant's session, known to the caller by its `external_id`."""

    id: str = ""
    tenant_id: str
    external_id: str
    created_at: datetime = Field(default_factory=utc_now)
    last_accessed_at: datetime = Field(default_factory=utc_now)


class SkillRecord(_Record):
    """Metadata of one uploaded version of a tenant's skill."""

    tenant_id: str
    name: str
    version: str
    description: str = ""
    lang: str = "python"
    uploaded_at: datetime = Field(default_factory=utc_now)


class FileFilter(_Record):
    """Which of a tenant's files `Store.list_files` returns, and which page of them."""

    tenant_id: str
    session_id: str | None = None
    execution_id: str | None = None
    limit: int | None = None
    offset: int = 0
    # Keyset paging: the id of the last file of the previous page (None or "": from the
    # newest). Costs the same at any depth, where `offset` costs what it skips.
    after: str | None = None


class RetentionReport(_Record):
    """What `Store.purge_tenant` or `Store.prune_executions` removed, per table.

    ``s3_keys`` holds the `File.s3_key` of every file row removed (one entry per row,
    sorted by code point), so the caller can delete the objects in object storage.
    ``kept_referenced`` counts the executions a prune left in place because a file
    names them.
    """

    api_keys: int = 0
    executions: int = 0
    files: int = 0
    sessions: int = 0
    skills: int = 0
    s3_keys: list[str] = Field(default_factory=list)
    kept_referenced: int = 0

    @property
    def removed(self) -> int:
        """Return the number of records removed, all tables together."""
        return self.api_keys + self.executions + self.files + self.sessions + self.skills
