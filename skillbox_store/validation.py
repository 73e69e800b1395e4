"""The bad-input rules of the contract, checked once for every backend.

Every `Store` method calls these before it reads or writes anything, so a failed call
changes nothing and the three backends cannot drift apart on what they accept. Each
check returns the value in the form the backends store (canonical UUID text, UTC
datetimes, records with defaults filled in) and raises `InvalidArgumentError` naming
the field, or `NotFoundError` for an id that cannot name any record.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from skillbox_store.errors import InvalidArgumentError, NotFoundError
from skillbox_store.limits import (
    EXECUTIONS_PAGE_DEFAULT,
    EXECUTIONS_PAGE_MAX,
    FILES_PAGE_DEFAULT,
    FILES_PAGE_MAX,
    INT32_MAX,
    INT64_MAX,
)
from skillbox_store.records import (
    EXECUTION_STATUSES,
    Execution,
    File,
    FileFilter,
    SkillRecord,
)

__all__ = [
    "EXECUTIONS_PAGE_DEFAULT",
    "EXECUTIONS_PAGE_MAX",
    "FILES_PAGE_DEFAULT",
    "FILES_PAGE_MAX",
    "FileListing",
    "ListedFiles",
    "check_execution",
    "check_execution_update",
    "check_file",
    "check_file_filter",
    "check_file_update",
    "check_file_version",
    "check_limit",
    "check_offset",
    "check_skill",
    "check_text",
    "lookup_id",
    "match_id",
]

_INT64_MAX: Final = INT64_MAX
_INT32_MAX: Final = INT32_MAX


def check_text(field: str, value: object, *, required: bool = True) -> str:
    """Return ``value`` if it is a string PostgreSQL can store, non-empty when required."""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{field} must be a string, not {type(value).__name__}")
    if required and not value:
        raise InvalidArgumentError(f"{field} must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError(f"{field} must not contain a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"{field} must be valid Unicode (it holds a lone surrogate)"
            ) from None
    return value


def _canonical_uuid(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def lookup_id(field: str, value: object) -> str:
    """Return the canonical form of an id that names a record to read or change.

    Raises:
        NotFoundError: ``value`` is not a well-formed UUID, so no record has it.
    """
    canonical = _canonical_uuid(value)
    if canonical is None:
        raise NotFoundError(f"no record has {field} {value!r}")
    return canonical


def match_id(value: object) -> str | None:
    """Return the canonical form of an id to filter a listing by, or None if none can match."""
    return _canonical_uuid(value)


def _optional_reference(field: str, value: str | None) -> str | None:
    """An id a new record points at: absent (None or ""), else it must name a record."""
    if value is None or value == "":
        return None
    return lookup_id(field, value)


def _check_int(field: str, value: object, *, minimum: int, maximum: int = _INT64_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgumentError(f"{field} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{field} must be at least {minimum}, got {value}")
    if value > maximum:
        raise InvalidArgumentError(f"{field} must be at most {maximum}, got {value}")
    return value


def check_limit(value: object, *, maximum: int) -> int:
    """Return a page size: at least 1, and ``maximum`` when larger."""
    return min(_check_int("limit", value, minimum=1), maximum)


def check_offset(value: object) -> int:
    """Return a page offset: at least 0."""
    return _check_int("offset", value, minimum=0)


def _check_time(field: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{field} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidArgumentError(f"{field} must be timezone-aware, got a naive datetime")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _check_json(field: str, value: object) -> None:
    """Refuse what JSON (and PostgreSQL's jsonb) cannot hold, without recursion."""
    pending: list[object] = [value]
    while pending:
        item = pending.pop()
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, str):
            check_text(field, item, required=False)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidArgumentError(f"{field} must be JSON: {item} is not a JSON number")
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InvalidArgumentError(
                        f"{field} must be JSON: object keys must be strings, got {key!r}"
                    )
                check_text(field, key, required=False)
                pending.append(child)
        else:
            raise InvalidArgumentError(
                f"{field} must be JSON: {type(item).__name__} is not a JSON value"
            )


def _check_outcome(execution: Execution, status: str | None = None) -> None:
    """The fields an update writes, shared by inserts; ``status`` overrides the record's."""
    if (execution.status if status is None else status) not in EXECUTION_STATUSES:
        raise InvalidArgumentError(
            f"status must be one of {', '.join(sorted(EXECUTION_STATUSES))}, "
            f"got {execution.status!r}"
        )
    _check_json("output", execution.output)
    check_text("logs", execution.logs, required=False)
    check_text("files_url", execution.files_url, required=False)
    if not isinstance(execution.files_list, list):
        raise InvalidArgumentError("files_list must be a list of strings")
    for item in execution.files_list:
        check_text("files_list", item, required=False)
    _check_int("duration_ms", execution.duration_ms, minimum=0)
    if execution.error is not None:
        check_text("error", execution.error, required=False)


def check_execution(execution: Execution, *, keep_status: bool) -> Execution:
    """Return a new execution to insert, with status ``running`` unless ``keep_status``."""
    if not isinstance(execution, Execution):
        raise InvalidArgumentError("execution must be an Execution record")
    check_text("tenant_id", execution.tenant_id)
    check_text("skill_name", execution.skill_name)
    check_text("skill_version", execution.skill_version)
    _check_json("input", execution.input)
    update: dict[str, object] = {}
    finished_at = _check_time("finished_at", execution.finished_at)
    if finished_at is not execution.finished_at:
        update["finished_at"] = finished_at
    if keep_status:
        _check_outcome(execution)
    else:
        _check_outcome(execution, status="running")
        if execution.status != "running":
            update["status"] = "running"
    # Backends only read the record they get back, so an unchanged one is not copied.
    return execution.model_copy(update=update) if update else execution


def check_execution_update(execution: Execution) -> Execution:
    """Return the execution whose outcome `update_execution` writes, id made canonical."""
    if not isinstance(execution, Execution):
        raise InvalidArgumentError("execution must be an Execution record")
    check_text("tenant_id", execution.tenant_id)
    _check_outcome(execution)
    return execution.model_copy(
        update={
            "id": lookup_id("execution id", execution.id),
            "finished_at": _check_time("finished_at", execution.finished_at),
        }
    )


def _check_file_fields(file: File) -> None:
    check_text("name", file.name)
    check_text("content_type", file.content_type, required=False)
    _check_int("size_bytes", file.size_bytes, minimum=0)
    check_text("s3_key", file.s3_key)
    _check_int("version", file.version, minimum=1, maximum=_INT32_MAX)


def check_file(file: File) -> File:
    """Return a new file to insert, its ids canonical and empty ids made None.

    Raises:
        NotFoundError: `parent_id` or `execution_id` is not a UUID, so it names nothing.
    """
    if not isinstance(file, File):
        raise InvalidArgumentError("file must be a File record")
    check_text("tenant_id", file.tenant_id)
    _check_file_fields(file)
    session_id = file.session_id
    if session_id is not None and session_id != "":
        session_id = _canonical_uuid(session_id)
        if session_id is None:
            raise InvalidArgumentError(f"session_id must be a UUID, got {file.session_id!r}")
    return file.model_copy(
        update={
            "session_id": session_id or None,
            "execution_id": _optional_reference("execution_id", file.execution_id),
            "parent_id": _optional_reference("parent_id", file.parent_id),
        }
    )


def check_file_update(file: File) -> File:
    """Return the file whose fields `update_file` writes, its id canonical."""
    if not isinstance(file, File):
        raise InvalidArgumentError("file must be a File record")
    check_text("tenant_id", file.tenant_id)
    _check_file_fields(file)
    return file.model_copy(update={"id": lookup_id("file id", file.id)})


def check_file_version(
    tenant_id: str,
    file_id: str,
    name: str | None,
    content_type: str | None,
    size_bytes: int,
    s3_key: str,
) -> str:
    """Check the arguments of `create_file_version`; return the canonical file id."""
    check_text("tenant_id", tenant_id)
    if name is not None:
        check_text("name", name)
    if content_type is not None:
        check_text("content_type", content_type, required=False)
    _check_int("size_bytes", size_bytes, minimum=0)
    check_text("s3_key", s3_key)
    return lookup_id("file id", file_id)


FileListing = Literal["tenant", "session", "execution", "session_and_execution"]
"""The filters `list_files` has a statement for; SQL backends keep one per value."""


@dataclass(frozen=True, slots=True)
class ListedFiles:
    """A checked `FileFilter`: which files to list, or `matches_nothing`."""

    tenant_id: str
    session_id: str | None
    execution_id: str | None
    limit: int
    offset: int
    matches_nothing: bool

    @property
    def narrowed_by(self) -> FileListing:
        """Which of the four listing statements serves this filter."""
        if self.session_id is not None:
            return "session_and_execution" if self.execution_id is not None else "session"
        return "execution" if self.execution_id is not None else "tenant"

    @property
    def params(self) -> tuple[str | int, ...]:
        """The statement's parameters: tenant, the filter's ids in that order, limit, offset."""
        ids = tuple(i for i in (self.session_id, self.execution_id) if i is not None)
        return (self.tenant_id, *ids, self.limit, self.offset)


def check_file_filter(filter: FileFilter) -> ListedFiles:
    """Return the filter with defaults applied; an id that is not a UUID matches nothing."""
    if not isinstance(filter, FileFilter):
        raise InvalidArgumentError("filter must be a FileFilter")
    tenant_id = check_text("tenant_id", filter.tenant_id)
    limit = check_limit(
        FILES_PAGE_DEFAULT if filter.limit is None else filter.limit, maximum=FILES_PAGE_MAX
    )
    offset = check_offset(filter.offset)
    matches_nothing = False
    ids: list[str | None] = []
    for raw in (filter.session_id, filter.execution_id):
        if raw is None or raw == "":
            ids.append(None)
            continue
        canonical = _canonical_uuid(raw)
        if canonical is None:
            if not isinstance(raw, str):
                raise InvalidArgumentError("file filter ids must be strings")
            matches_nothing = True
        ids.append(canonical)
    return ListedFiles(tenant_id, ids[0], ids[1], limit, offset, matches_nothing)


def check_skill(record: SkillRecord) -> SkillRecord:
    """Return the skill record to upsert."""
    if not isinstance(record, SkillRecord):
        raise InvalidArgumentError("record must be a SkillRecord")
    check_text("tenant_id", record.tenant_id)
    check_text("name", record.name)
    check_text("version", record.version)
    check_text("description", record.description, required=False)
    check_text("lang", record.lang, required=False)
    return record
