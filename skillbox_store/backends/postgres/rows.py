"""Rows to records: each statement selects its columns in the record's field order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord, trusted_record

__all__ = [
    "execution_from_row",
    "file_from_params",
    "file_from_row",
    "key_from_row",
    "session_from_row",
    "skill_from_row",
    "utc",
]

_KEY_FIELDS: Final = ("id", "key_hash", "tenant_id", "name", "created_at", "revoked_at")
_EXECUTION_FIELDS: Final = tuple(Execution.model_fields)
_FILE_FIELDS: Final = tuple(File.model_fields)
_SESSION_FIELDS: Final = tuple(Session.model_fields)
_SKILL_FIELDS: Final = tuple(SkillRecord.model_fields)


def utc(value: datetime) -> datetime:
    """Return a timestamptz read back in UTC, whatever the session's TimeZone."""
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def key_from_row(row: tuple[Any, ...]) -> APIKey:
    """Build an `APIKey` from a row of `_KEY_COLUMNS`."""
    values = dict(zip(_KEY_FIELDS, row, strict=True))
    values["created_at"] = utc(values["created_at"])
    if values["revoked_at"] is not None:
        values["revoked_at"] = utc(values["revoked_at"])
    return trusted_record(APIKey, values)


def execution_from_row(row: tuple[Any, ...]) -> Execution:
    """Build an `Execution` from a row of `_EXECUTION_COLUMNS`."""
    values = dict(zip(_EXECUTION_FIELDS, row, strict=True))
    values["created_at"] = utc(values["created_at"])
    if values["finished_at"] is not None:
        values["finished_at"] = utc(values["finished_at"])
    return trusted_record(Execution, values)


def file_from_row(row: tuple[Any, ...]) -> File:
    """Build a `File` from a row of `_FILE_COLUMNS`."""
    values = dict(zip(_FILE_FIELDS, row, strict=True))
    values["created_at"] = utc(values["created_at"])
    values["updated_at"] = utc(values["updated_at"])
    return trusted_record(File, values)


def file_from_params(params: dict[str, Any]) -> File:
    """Build the `File` that ``INSERT_FILE``'s named parameters stored.

    The parameters are the record's fields by name, ``now`` standing for both
    timestamps: the checked values become the record as they are, with no list of a
    file's fields written out a second time.
    """
    values = {f: params[f] for f in _FILE_FIELDS if f not in ("created_at", "updated_at")}
    values["created_at"] = values["updated_at"] = params["now"]
    return trusted_record(File, values)


def session_from_row(row: tuple[Any, ...]) -> Session:
    """Build a `Session` from a row of `_SESSION_COLUMNS`."""
    values = dict(zip(_SESSION_FIELDS, row, strict=True))
    values["created_at"] = utc(values["created_at"])
    values["last_accessed_at"] = utc(values["last_accessed_at"])
    return trusted_record(Session, values)


def skill_from_row(row: tuple[Any, ...]) -> SkillRecord:
    """Build a `SkillRecord` from a row of `_SKILL_COLUMNS`."""
    values = dict(zip(_SKILL_FIELDS, row, strict=True))
    values["uploaded_at"] = utc(values["uploaded_at"])
    return trusted_record(SkillRecord, values)
