"""The bad-input rules of the contract, checked once for every backend.

Every `Store` method calls these before it reads or writes anything, so a failed call
changes nothing and the three backends cannot drift apart on what they accept. Each
check returns the value in the form the backends store (canonical UUID text, UTC
datetimes, records with defaults filled in) and raises `InvalidArgumentError` naming
the field, or `NotFoundError` for an id that cannot name any record.

The limits (`skillbox_store.limits`, docs/contract.md §10) keep every accepted value
readable on every backend: text that fits a PostgreSQL index row, JSON shallow enough to
read back at any reasonable stack depth and with 64-bit integers, datetimes that exist in
UTC, and values of exactly the built-in types, whose behaviour no caller can redefine.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeGuard, cast

from skillbox_store.errors import InvalidArgumentError, NotFoundError, not_found, not_in_listing
from skillbox_store.errors import shown as _shown
from skillbox_store.limits import (
    EXECUTIONS_PAGE_DEFAULT,
    EXECUTIONS_PAGE_MAX,
    FILES_PAGE_DEFAULT,
    FILES_PAGE_MAX,
    INDEXED_TEXT_MAX_BYTES,
    INT32_MAX,
    INT64_MAX,
    JSON_INT_MAX,
    JSON_INT_MIN,
    JSON_MAX_DEPTH,
    JSON_MAX_VALUES,
    KEY_HASH_MIN_LENGTH,
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
    "check_after",
    "check_execution",
    "check_execution_update",
    "check_file",
    "check_file_filter",
    "check_file_update",
    "check_file_version",
    "check_key_hash",
    "check_limit",
    "check_offset",
    "check_skill",
    "check_text",
    "check_time",
    "lookup_id",
    "match_id",
]

_INT64_MAX: Final = INT64_MAX
_INT32_MAX: Final = INT32_MAX
_INF: Final = math.inf


# The fields PostgreSQL keeps in a btree index, and the names and versions that go with
# them (an execution's skill_name is a skill's name): their length is bounded so that no
# index row passes PostgreSQL's limit, and the bound is the same on every backend. A
# field's rules come with its name, so every backend that checks "tenant_id" applies them.
_INDEXED_TEXT_FIELDS: Final = frozenset(
    {"tenant_id", "key_hash", "external_id", "name", "version", "skill_name", "skill_version"}
)

_KEY_HASH: Final = re.compile(
    f"[0-9a-f]{{{KEY_HASH_MIN_LENGTH},{INDEXED_TEXT_MAX_BYTES}}}", re.ASCII
)


def check_text(field: str, value: object, *, required: bool = True) -> str:
    """Return ``value`` if it is a string PostgreSQL can store, non-empty when required.

    The field's name brings its own rules: `key_hash` must look like `hash_key`'s digest,
    and indexed fields (tenant_id, external_id, names, versions) are at most
    `INDEXED_TEXT_MAX_BYTES` long in UTF-8.
    """
    if field == "key_hash":
        return check_key_hash(value)
    if type(value) is not str:
        # Subclasses too: one with its own __eq__ or __hash__ could match another
        # tenant's rows in memory, and would read back as a plain str elsewhere.
        raise InvalidArgumentError(f"{field} must be a string (str), not {type(value).__name__}")
    if required and not value:
        raise InvalidArgumentError(f"{field} must not be empty")
    if "\x00" in value:
        raise InvalidArgumentError(f"{field} must not contain a NUL character")
    size = len(value)
    if not value.isascii():
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                f"{field} must be valid Unicode (it holds a lone surrogate)"
            ) from None
    if size > INDEXED_TEXT_MAX_BYTES and field in _INDEXED_TEXT_FIELDS:
        raise InvalidArgumentError(
            f"{field} must be at most {INDEXED_TEXT_MAX_BYTES} bytes in UTF-8, got {size}"
        )
    return value


def check_key_hash(value: object) -> str:
    """Return ``value`` if it looks like the hex digest `hash_key` makes.

    Lowercase hex, `KEY_HASH_MIN_LENGTH` to `INDEXED_TEXT_MAX_BYTES` characters. A
    plaintext key is refused above all, so that no store ever holds a live secret; the
    message never repeats the value, which may be one.
    """
    if type(value) is not str:
        raise InvalidArgumentError(f"key_hash must be a string (str), not {type(value).__name__}")
    if _KEY_HASH.fullmatch(value) is None:
        looks_like = (
            "; this looks like a plaintext key, which must never be stored or sent as a hash"
            if value.startswith("sk-")
            else ""
        )
        raise InvalidArgumentError(
            f"key_hash must be the hex digest hash_key() returns (lowercase hex, "
            f"{KEY_HASH_MIN_LENGTH} to {INDEXED_TEXT_MAX_BYTES} characters): pass "
            f"hash_key(plaintext){looks_like}"
        )
    return value


# An id already in canonical form, as every id a store hands out is: checked by a regular
# expression in a tenth of the time parsing it costs (every point lookup pays it).
_CANONICAL_UUID: Final = re.compile(
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)


def _canonical_uuid(value: object) -> str | None:
    if type(value) is not str or len(value) != 36:
        return None
    if _CANONICAL_UUID.fullmatch(value) is not None:
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def lookup_id(field: str, value: object, *, tenant_id: str | None = None) -> str:
    """Return the canonical form of an id that names a record to read or change.

    With ``tenant_id``, ``field`` names the record (``"execution id"``, ``"key id"``)
    and a malformed id is refused with the words of a missing record
    (`skillbox_store.errors.not_found`): the two are the same to the caller.

    Raises:
        NotFoundError: ``value`` is not a well-formed UUID, so no record has it.
    """
    canonical = _canonical_uuid(value)
    if canonical is None:
        if tenant_id is not None:
            noun = "API key" if field == "key id" else field.removesuffix(" id")
            raise not_found(tenant_id, f"{noun} {_shown(value)}")
        raise NotFoundError(f"no record has {field} {_shown(value)}")
    return canonical


def match_id(value: object) -> str | None:
    """Return the canonical form of an id to filter a listing by, or None if none can match."""
    return _canonical_uuid(value)


def _optional_reference(tenant_id: str, noun: str, field: str, value: str | None) -> str | None:
    """An id a new record points at: absent (None or ""), else it must name a record."""
    if value is None or (type(value) is str and not value):
        return None
    canonical = _canonical_uuid(value)
    if canonical is None:
        raise not_found(tenant_id, f"{noun} {_shown(value)} (named by {field})")
    return canonical


def _check_int(field: str, value: object, *, minimum: int, maximum: int | None = _INT64_MAX) -> int:
    # Exactly int: bool is an int to Python but not to any column, and a subclass's own
    # comparisons or str() could disagree with the number the backends store.
    if type(value) is not int:
        raise InvalidArgumentError(f"{field} must be an integer, not {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{field} must be at least {minimum}, got {_shown(value)}")
    if maximum is not None and value > maximum:
        raise InvalidArgumentError(f"{field} must be at most {maximum}, got {_shown(value)}")
    return value


def check_limit(value: object, *, maximum: int) -> int:
    """Return a page size: at least 1, and ``maximum`` when larger."""
    return min(_check_int("limit", value, minimum=1, maximum=None), maximum)


def check_offset(value: object) -> int:
    """Return a page offset: at least 0, at most what a 64-bit OFFSET holds."""
    return _check_int("offset", value, minimum=0)


def _optional_time(field: str, value: object) -> datetime | None:
    return None if value is None else check_time(field, value)


def check_time(field: str, value: object) -> datetime:
    """Return ``value`` as an aware UTC datetime, refusing what cannot be one.

    Raises:
        InvalidArgumentError: not a datetime, naive, a tzinfo that fails or is a day or
            more off UTC, or outside years 1 to 9999 once moved to UTC.
    """
    if not isinstance(value, datetime):
        raise InvalidArgumentError(f"{field} must be a datetime, not {type(value).__name__}")
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    if value.tzinfo is None:
        raise InvalidArgumentError(f"{field} must be timezone-aware, got a naive datetime")
    try:
        offset = value.utcoffset()
    except Exception as exc:
        # The tzinfo is the caller's code: whatever it raises (a ValueError for an offset
        # of a day or more, anything from its own utcoffset) is a bad argument.
        raise InvalidArgumentError(
            f"{field} has a tzinfo whose utcoffset() fails: {type(exc).__name__}"
        ) from exc
    if offset is None:
        raise InvalidArgumentError(f"{field} must be timezone-aware, got a naive datetime")
    # Built field by field, so a datetime subclass comes back as a plain datetime.
    naive = datetime(
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )
    try:
        return (naive - offset).replace(tzinfo=UTC)
    except OverflowError:
        raise InvalidArgumentError(
            f"{field} falls outside years 1 to 9999 when moved to UTC"
        ) from None


def _check_depth(field: str, depth: int) -> None:
    """Refuse a list or object that ``depth`` others enclose, if that is too deep."""
    if depth >= JSON_MAX_DEPTH:
        raise InvalidArgumentError(
            f"{field} nests lists and objects more than {JSON_MAX_DEPTH} deep"
        )


def _check_json_scalar(field: str, item: object) -> None:
    if item is None or type(item) is bool:
        return
    if type(item) is str:
        check_text(field, item, required=False)
    elif type(item) is int:
        if not JSON_INT_MIN <= item <= JSON_INT_MAX:
            raise InvalidArgumentError(
                f"{field} must be JSON with 64-bit integers: a {item.bit_length()}-bit "
                f"integer is outside {JSON_INT_MIN} to {JSON_INT_MAX}"
            )
    elif type(item) is float:
        if not math.isfinite(item):
            raise InvalidArgumentError(f"{field} must be JSON: {item} is not a JSON number")
    else:
        raise InvalidArgumentError(
            f"{field} must be JSON: {type(item).__name__} is not a JSON value "
            "(use dict, list, str, int, float, bool or None)"
        )


def _json_children(field: str, container: Any) -> list[object]:
    if type(container) is list:
        return cast(list[object], container)
    for key in container:
        _check_json_key(field, key)
    return list(container.values())


def _too_many_values(field: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{field} holds more than {JSON_MAX_VALUES:,} JSON values "
        "(counted as written out: a list or object used twice counts twice)"
    )


# Most JSON values are small and shallow. Checked recursively, without the bookkeeping
# that bounds the walk of huge or self-sharing values, they cost a fifth as much (every
# create_execution pays it); a value bigger or deeper than this is walked again in full.
_SMALL_JSON_VALUES: Final = min(256, JSON_MAX_VALUES)
_SMALL_JSON_DEPTH: Final = min(8, JSON_MAX_DEPTH - 1)


def _check_json_key(field: str, key: object) -> None:
    if type(key) is not str:
        raise InvalidArgumentError(
            f"{field} must be JSON: object keys must be strings, got {_shown(key)}"
        )
    check_text(field, key, required=False)


def _check_small_json(field: str, value: object, depth: int, budget: int) -> int:
    """Check ``value`` as `_check_json` does; return how many values the budget has left.

    Returns -1, having concluded nothing, when ``value`` holds more than ``budget``
    values or nests deeper than `_SMALL_JSON_DEPTH`. Values are visited in the order of
    the full walk (an object's keys before its values), so the first bad one raises the
    same error: no limit of the full walk can be reached within this path's bounds.
    The common good values (ASCII text, 64-bit ints, finite floats) are recognized
    inline, and only the others go through the checks that name what is wrong.
    """
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        _check_json_scalar(field, value)
        return budget - 1
    if depth > _SMALL_JSON_DEPTH or len(value) >= budget:
        return -1
    if type(value) is dict:
        for key in value:
            if type(key) is not str or "\x00" in key or not key.isascii():
                _check_json_key(field, key)
    budget -= 1
    for child in children:
        kind = type(child)
        if kind is str:
            if "\x00" in child or not child.isascii():
                check_text(field, child, required=False)
        elif kind is int:
            if not JSON_INT_MIN <= child <= JSON_INT_MAX:
                _check_json_scalar(field, child)
        elif kind is float:
            # False for NaN and both infinities.
            if not -_INF < child < _INF:
                _check_json_scalar(field, child)
        elif kind is list or kind is dict:
            budget = _check_small_json(field, child, depth + 1, budget)
            if budget < 0:
                return -1
            continue
        elif child is not None and kind is not bool:
            _check_json_scalar(field, child)
        budget -= 1
        if budget < 0:
            return -1
    return budget


def _check_json(field: str, value: object) -> None:
    """Refuse what JSON (and PostgreSQL's jsonb) cannot hold, without recursion.

    Values must be exactly dict, list, str, int, float, bool or None (a subclass would
    read back as its base type from SQL backends but not from memory), ints within 64
    bits, floats finite, lists and objects nested at most `JSON_MAX_DEPTH` deep (which
    also ends the walk of a value that contains itself), and at most `JSON_MAX_VALUES`
    values as written out.

    Each distinct list or object is walked once and remembered with its size and
    height, so a Python value that shares one list many times over (``v = [v, v]``,
    sixty times: 2**60 values once written) is measured, and refused, at once.
    """
    if type(value) is not list and type(value) is not dict:
        _check_json_scalar(field, value)
        return
    if _check_small_json(field, value, 0, _SMALL_JSON_VALUES) >= 0:
        return
    # id -> (values it holds as written out, itself included; lists and objects on its
    # deepest path, itself included). The ids stay valid: `value` keeps them alive.
    measured: dict[int, tuple[int, int]] = {}
    # One frame per open container: the container, its children, the next child's index,
    # its depth, and its size and height so far.
    stack: list[list[Any]] = []

    def enter(container: Any, depth: int) -> None:
        _check_depth(field, depth)
        children = _json_children(field, container)
        if len(children) >= JSON_MAX_VALUES:
            raise _too_many_values(field)
        stack.append([container, children, 0, depth, 1, 1])

    enter(value, 0)
    while stack:
        frame = stack[-1]
        container, children, index, depth = frame[0], frame[1], frame[2], frame[3]
        if index == len(children):
            stack.pop()
            size, height = frame[4], frame[5]
            measured[id(container)] = (size, height)
            if not stack:
                return
            parent = stack[-1]
            parent[4] += size
            parent[5] = max(parent[5], height + 1)
            if parent[4] > JSON_MAX_VALUES:
                raise _too_many_values(field)
            continue
        frame[2] = index + 1
        child = children[index]
        if type(child) is not list and type(child) is not dict:
            _check_json_scalar(field, child)
            frame[4] += 1
            if frame[4] > JSON_MAX_VALUES:
                raise _too_many_values(field)
            continue
        known = measured.get(id(child))
        if known is None:
            enter(child, depth + 1)
            continue
        size, height = known
        _check_depth(field, depth + height)
        frame[4] += size
        frame[5] = max(frame[5], height + 1)
        if frame[4] > JSON_MAX_VALUES:
            raise _too_many_values(field)


def _is_plain_text(value: object) -> TypeGuard[str]:
    """Whether ``value`` is ASCII text without NUL, which `check_text` accepts if short.

    Every write of an execution checks about ten fields; testing this first and calling
    `check_text` only for other values (which it accepts or names what is wrong with)
    halves what the checks cost.
    """
    return type(value) is str and value.isascii() and "\x00" not in value


def _is_plain_name(value: object) -> TypeGuard[str]:
    """Whether ``value`` is plain text that `check_text` accepts for an indexed field."""
    return (
        type(value) is str
        and 0 < len(value) <= INDEXED_TEXT_MAX_BYTES
        and value.isascii()
        and "\x00" not in value
    )


def _check_outcome(execution: Execution, status: str | None = None) -> None:
    """The fields an update writes, shared by inserts; ``status`` overrides the record's."""
    wanted = execution.status if status is None else status
    if type(wanted) is not str or wanted not in EXECUTION_STATUSES:
        raise InvalidArgumentError(
            f"status must be one of {', '.join(sorted(EXECUTION_STATUSES))}, got {_shown(wanted)}"
        )
    output = execution.output
    if output is not None:
        _check_json("output", output)
    logs = execution.logs
    if not _is_plain_text(logs):
        check_text("logs", logs, required=False)
    files_url = execution.files_url
    if not _is_plain_text(files_url):
        check_text("files_url", files_url, required=False)
    files_list = execution.files_list
    if type(files_list) is not list:
        raise InvalidArgumentError("files_list must be a list of strings")
    for item in files_list:
        if not _is_plain_text(item):
            check_text("files_list", item, required=False)
    duration_ms = execution.duration_ms
    if type(duration_ms) is not int or not 0 <= duration_ms <= _INT64_MAX:
        _check_int("duration_ms", duration_ms, minimum=0)
    error = execution.error
    if error is not None and not _is_plain_text(error):
        check_text("error", error, required=False)


def check_execution(execution: Execution, *, keep_status: bool) -> Execution:
    """Return a new execution to insert, with status ``running`` unless ``keep_status``."""
    if not isinstance(execution, Execution):
        raise InvalidArgumentError("execution must be an Execution record")
    tenant_id, skill_name, skill_version = (
        execution.tenant_id,
        execution.skill_name,
        execution.skill_version,
    )
    if not _is_plain_name(tenant_id):
        check_text("tenant_id", tenant_id)
    if not _is_plain_name(skill_name):
        check_text("skill_name", skill_name)
    if not _is_plain_name(skill_version):
        check_text("skill_version", skill_version)
    _check_json("input", execution.input)
    update: dict[str, object] = {}
    finished_at = execution.finished_at
    if finished_at is not None:
        checked = check_time("finished_at", finished_at)
        if checked is not finished_at:
            update["finished_at"] = checked
    if keep_status:
        _check_outcome(execution)
    else:
        _check_outcome(execution, status="running")
        # Compared as a plain object: a str subclass's own __eq__ must not keep its status.
        given: object = execution.status
        if type(given) is not str or given != "running":
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
            "id": lookup_id("execution id", execution.id, tenant_id=execution.tenant_id),
            "finished_at": _optional_time("finished_at", execution.finished_at),
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
    if session_id is not None and not (type(session_id) is str and not session_id):
        session_id = _canonical_uuid(session_id)
        if session_id is None:
            raise InvalidArgumentError(f"session_id must be a UUID, got {_shown(file.session_id)}")
    return file.model_copy(
        update={
            "session_id": session_id or None,
            "execution_id": _optional_reference(
                file.tenant_id, "execution", "execution_id", file.execution_id
            ),
            "parent_id": _optional_reference(file.tenant_id, "file", "parent_id", file.parent_id),
        }
    )


def check_file_update(file: File) -> File:
    """Return the file whose fields `update_file` writes, its id canonical."""
    if not isinstance(file, File):
        raise InvalidArgumentError("file must be a File record")
    check_text("tenant_id", file.tenant_id)
    _check_file_fields(file)
    return file.model_copy(update={"id": lookup_id("file id", file.id, tenant_id=file.tenant_id)})


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
    return lookup_id("file id", file_id, tenant_id=tenant_id)


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
    # Keyset paging: the canonical id of the file the page follows, or None.
    after: str | None = None

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

    @property
    def named_params(self) -> dict[str, str | int | None]:
        """The keyset statements' parameters, by name (their ``after`` among them)."""
        return {
            "tenant_id": self.tenant_id,
            "session_id": self.session_id,
            "execution_id": self.execution_id,
            "limit": self.limit,
            "after": self.after,
        }


def check_after(after: object, offset: int, *, tenant_id: str, record: str) -> str | None:
    """Return the canonical id of the record a keyset page follows; None for the first page.

    ``None`` and ``""`` mean no cursor; ``record`` names what the listing lists.

    Raises:
        InvalidArgumentError: ``after`` is not a string, or comes with a non-zero ``offset``.
        NotFoundError: ``after`` is not a UUID, so it names no record.
    """
    if after is None or (type(after) is str and not after):
        return None
    if type(after) is not str:
        raise InvalidArgumentError(f"after must be a string (str), not {type(after).__name__}")
    if offset:
        raise InvalidArgumentError(
            f"after and offset {offset} exclude each other: a page follows a record or "
            "skips records, not both"
        )
    canonical = _canonical_uuid(after)
    if canonical is None:
        raise not_in_listing(tenant_id, record, after)
    return canonical


def check_file_filter(filter: FileFilter) -> ListedFiles:
    """Return the filter with defaults applied; an id that is not a UUID matches nothing.

    Raises:
        NotFoundError: ``after`` is not a UUID, or the filter matches nothing, so no file
            of the listing has that id.
    """
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
        if raw is None or (type(raw) is str and not raw):
            ids.append(None)
            continue
        canonical = _canonical_uuid(raw)
        if canonical is None:
            if type(raw) is not str:
                raise InvalidArgumentError("file filter ids must be strings")
            matches_nothing = True
        ids.append(canonical)
    after = check_after(filter.after, offset, tenant_id=tenant_id, record="file")
    if after is not None and matches_nothing:
        # The filter names a session or execution that cannot exist: no file follows.
        raise not_in_listing(tenant_id, "file", after)
    return ListedFiles(tenant_id, ids[0], ids[1], limit, offset, matches_nothing, after)


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
