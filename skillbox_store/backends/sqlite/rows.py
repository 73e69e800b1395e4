"""Converting between records and SQLite rows: timestamps, JSON, and fast record building.

Timestamps are stored as fixed-width UTC text ``YYYY-MM-DDTHH:MM:SS.ffffffZ``: it sorts
as text, keeps microseconds, and ``datetime.fromisoformat`` reads it back equal to what
was written. JSON values are stored as JSON text (a JSON ``null`` as SQL NULL).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from json.scanner import make_scanner
from typing import Any, Final, TypeVar

from pydantic import BaseModel

from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    Session,
    SkillRecord,
    trusted_records,
)

__all__ = [
    "FILE_COLUMNS",
    "build",
    "dump_json",
    "dump_time",
    "execution_from_row",
    "execution_to_row",
    "executions_from_rows",
    "file_from_row",
    "file_to_row",
    "files_from_rows",
    "key_from_row",
    "keys_from_rows",
    "load_json",
    "load_time",
    "session_from_row",
    "skill_from_row",
    "skills_from_rows",
]

M = TypeVar("M", bound=BaseModel)

_KEY_FIELDS: Final = set(APIKey.model_fields)
_EXECUTION_FIELDS: Final = set(Execution.model_fields)
_FILE_FIELDS: Final = set(File.model_fields)
_SESSION_FIELDS: Final = set(Session.model_fields)
_SKILL_FIELDS: Final = set(SkillRecord.model_fields)

FILE_COLUMNS: Final = tuple(File.model_fields)
"""The `files` columns of `file_to_row`'s row, by name: the record's fields, in order."""


# The stored JSON was written by `dump_json`: no surrounding blanks, so the decoder's
# scanner (C, where `_json` is built) can run on its own, without `json.loads`'
# blank-skipping regular expressions nor `raw_decode`'s frame of Python (~0.1 µs a value).
# ``_scan_json(text, 0)`` returns the value and where it ended. (typeshed names the
# scanner's own type as its argument; what it reads of it is a decoder's settings.)
_scan_json = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]
_from_iso = datetime.fromisoformat


def dump_time(value: datetime) -> str:
    """Return the stored text of an aware UTC datetime (validation made it UTC)."""
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def load_time(text: str) -> datetime:
    """Return the aware UTC datetime of a stored timestamp (the "Z" makes it aware)."""
    return datetime.fromisoformat(text)


def _load_optional_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def dump_json(value: Any) -> str | None:
    """Return the stored text of a JSON value; ``None`` is stored as SQL NULL."""
    if value is None:
        return None
    return json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def execution_to_row(e: Execution, id: str, created_at: datetime) -> tuple[Any, ...]:
    """Return the `executions` row of ``e`` under ``id``, in `INSERT_EXECUTION`'s order."""
    return (
        id,
        e.skill_name,
        e.skill_version,
        e.tenant_id,
        e.status,
        dump_json(e.input),
        dump_json(e.output),
        e.logs,
        e.files_url,
        dump_json(e.files_list),
        e.duration_ms,
        e.error,
        dump_time(created_at),
        None if e.finished_at is None else dump_time(e.finished_at),
    )


def file_to_row(f: File, id: str, created_at: datetime, updated_at: datetime) -> tuple[Any, ...]:
    """Return the `files` row of ``f`` under ``id``, in `SELECT_FILE`'s column order.

    The one list of a file's columns for writing: a new file (`units.create_file`,
    ``chain_id`` appended) and a bulk copy (`bulk`, by name through `FILE_COLUMNS`).
    """
    return (
        id,
        f.tenant_id,
        f.session_id,
        f.execution_id,
        f.name,
        f.content_type,
        f.size_bytes,
        f.s3_key,
        f.version,
        f.parent_id,
        dump_time(created_at),
        dump_time(updated_at),
    )


def _unreadable(stop: StopIteration) -> ValueError:
    """The scanner's answer to text that is not JSON (StopIteration, at the index where it
    stopped), as the error a reader can act on: a row that was not written by the store."""
    return ValueError(f"a stored JSON value is not valid JSON (at character {stop.value})")


def load_json(text: str | None) -> Any:
    """Return the JSON value of text written by `dump_json`.

    Raises:
        ValueError: the text is not JSON.
    """
    try:
        return None if text is None else _scan_json(text, 0)[0]
    except StopIteration as stop:
        raise _unreadable(stop) from None


# pydantic keeps a record's state in four slots of BaseModel (`__dict__` among them);
# their descriptors set them without the attribute lookup of object.__setattr__ (~0.4 µs
# a record, which a page of 200 files feels). `records.trusted_records` does the same
# for whole pages.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_new = object.__new__


def build(model: type[M], values: dict[str, Any], fields: set[str]) -> M:
    """Return a record of ``values`` read from the database, without validating them.

    The values were checked when they were written and every column has its field's
    type, so validation would only cost time: ~12 µs per record against ~1 µs here,
    which decides whether a listing is faster than raw aiosqlite. This sets exactly the
    attributes pydantic's own ``__init__`` sets (`tests/test_sqlite_rows.py` compares
    the two for every record type, so a pydantic change fails loudly there).
    ``fields`` is the set of the model's field names; the record gets its own copy.
    """
    record = _new(model)
    _set_dict(record, values)
    _set_fields_set(record, fields.copy())
    _set_extra(record, None)
    _set_private(record, None)
    return record


def key_from_row(row: tuple[Any, ...]) -> APIKey:
    """Return the key of a row of `statements.SELECT_KEY_BY_HASH`'s columns."""
    values = {
        "id": row[0],
        "key_hash": row[1],
        "tenant_id": row[2],
        "name": row[3],
        "created_at": datetime.fromisoformat(row[4]),
        "revoked_at": _load_optional_time(row[5]),
    }
    return build(APIKey, values, _KEY_FIELDS)


def execution_from_row(row: tuple[Any, ...]) -> Execution:
    """Return the execution of a row of `statements.SELECT_EXECUTION`'s columns."""
    try:
        return _execution(row)
    except StopIteration as stop:
        raise _unreadable(stop) from None


def _execution(row: tuple[Any, ...]) -> Execution:
    values = {
        "id": row[0],
        "skill_name": row[1],
        "skill_version": row[2],
        "tenant_id": row[3],
        "status": row[4],
        "input": None if row[5] is None else _scan_json(row[5], 0)[0],
        "output": None if row[6] is None else _scan_json(row[6], 0)[0],
        "logs": row[7],
        "files_url": row[8],
        "files_list": [] if row[9] == "[]" else _scan_json(row[9], 0)[0],
        "duration_ms": row[10],
        "error": row[11],
        "created_at": datetime.fromisoformat(row[12]),
        "finished_at": None if row[13] is None else datetime.fromisoformat(row[13]),
    }
    return build(Execution, values, _EXECUTION_FIELDS)


def file_from_row(row: tuple[Any, ...]) -> File:
    """Return the file of a row of `statements.SELECT_FILE`'s columns (extra ones ignored)."""
    created_at = datetime.fromisoformat(row[10])
    values = {
        "id": row[0],
        "tenant_id": row[1],
        "session_id": row[2],
        "execution_id": row[3],
        "name": row[4],
        "content_type": row[5],
        "size_bytes": row[6],
        "s3_key": row[7],
        "version": row[8],
        "parent_id": row[9],
        "created_at": created_at,
        # A file never updated has one time twice: parsed once (datetimes are immutable).
        "updated_at": created_at if row[11] == row[10] else datetime.fromisoformat(row[11]),
    }
    return build(File, values, _FILE_FIELDS)


def session_from_row(row: tuple[Any, ...]) -> Session:
    """Return the session of a row of `statements.SELECT_SESSION`'s columns."""
    created_at = datetime.fromisoformat(row[3])
    values = {
        "id": row[0],
        "tenant_id": row[1],
        "external_id": row[2],
        "created_at": created_at,
        "last_accessed_at": created_at if row[4] == row[3] else datetime.fromisoformat(row[4]),
    }
    return build(Session, values, _SESSION_FIELDS)


def skill_from_row(row: tuple[Any, ...]) -> SkillRecord:
    """Return the skill record of a row of `statements.SELECT_SKILL`'s columns."""
    values = {
        "tenant_id": row[0],
        "name": row[1],
        "version": row[2],
        "description": row[3],
        "lang": row[4],
        "uploaded_at": datetime.fromisoformat(row[5]),
    }
    return build(SkillRecord, values, _SKILL_FIELDS)


# -- Pages: one record per row, each row exactly the statement's columns -------------------
#
# What a listing costs beyond the driver is these loops: a dict of the row's values,
# unpacked by name in the statement's column order, then the records of the whole page
# at once (`trusted_records`), with no function called per row. Per row that is about
# 0.3 µs for the dict, 0.35 µs for the record, 0.07 µs a timestamp and 0.2-0.5 µs a JSON
# value, against ~1-1.5 µs for sqlite3 to step to the row and build its tuple.


def keys_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[APIKey]:
    """Return the keys of rows of `statements.SELECT_KEYS`' columns."""
    return trusted_records(
        APIKey,
        [
            {
                "id": id,
                "key_hash": key_hash,
                "tenant_id": tenant_id,
                "name": name,
                "created_at": _from_iso(created_at),
                "revoked_at": None if revoked_at is None else _from_iso(revoked_at),
            }
            for id, key_hash, tenant_id, name, created_at, revoked_at in rows
        ],
    )


def executions_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[Execution]:
    """Return the executions of rows of `statements.SELECT_EXECUTIONS_PAGE`'s columns."""
    try:
        return trusted_records(Execution, _execution_values(rows))
    except StopIteration as stop:
        raise _unreadable(stop) from None


def _execution_values(rows: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
    scan = _scan_json
    return [
        {
            "id": id,
            "skill_name": skill_name,
            "skill_version": skill_version,
            "tenant_id": tenant_id,
            "status": status,
            "input": None if input is None else scan(input, 0)[0],
            "output": None if output is None else scan(output, 0)[0],
            "logs": logs,
            "files_url": files_url,
            "files_list": [] if files_list == "[]" else scan(files_list, 0)[0],
            "duration_ms": duration_ms,
            "error": error,
            "created_at": _from_iso(created_at),
            "finished_at": None if finished_at is None else _from_iso(finished_at),
        }
        for (
            id,
            skill_name,
            skill_version,
            tenant_id,
            status,
            input,
            output,
            logs,
            files_url,
            files_list,
            duration_ms,
            error,
            created_at,
            finished_at,
        ) in rows
    ]


def files_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[File]:
    """Return the files of rows of `statements.SELECT_FILES_PAGE`'s columns."""
    return trusted_records(
        File,
        [
            {
                "id": id,
                "tenant_id": tenant_id,
                "session_id": session_id,
                "execution_id": execution_id,
                "name": name,
                "content_type": content_type,
                "size_bytes": size_bytes,
                "s3_key": s3_key,
                "version": version,
                "parent_id": parent_id,
                "created_at": (created := _from_iso(created_at)),
                # A file never updated has one time twice: parsed once (immutable).
                "updated_at": created if updated_at == created_at else _from_iso(updated_at),
            }
            for (
                id,
                tenant_id,
                session_id,
                execution_id,
                name,
                content_type,
                size_bytes,
                s3_key,
                version,
                parent_id,
                created_at,
                updated_at,
            ) in rows
        ],
    )


def skills_from_rows(rows: Iterable[tuple[Any, ...]]) -> list[SkillRecord]:
    """Return the skill records of rows of `statements.SELECT_SKILLS`' columns."""
    return trusted_records(
        SkillRecord,
        [
            {
                "tenant_id": tenant_id,
                "name": name,
                "version": version,
                "description": description,
                "lang": lang,
                "uploaded_at": _from_iso(uploaded_at),
            }
            for tenant_id, name, version, description, lang, uploaded_at in rows
        ],
    )
