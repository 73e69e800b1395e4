"""One check per `Store` method: the whole argument check a backend makes first.

Every backend calls ``check.<method>(…)`` with its arguments as the first thing the
method does, before any I/O, so the three backends check the same rules in the same
order (``tenant_id`` first, then the arguments in the Protocol's order) and refuse bad
input with the same error. Each returns what the backend goes on with: the values a
check may change (a canonical id, a record with defaults, an aware UTC datetime), or
None when all it does is accept.
"""

from __future__ import annotations

from datetime import datetime

from skillbox_store.limits import EXECUTIONS_PAGE_MAX
from skillbox_store.records import Execution, File, FileFilter, SkillRecord
from skillbox_store.validation.fields import Text, check_key_hash, check_text, check_time
from skillbox_store.validation.ids import check_chosen_id, lookup_id, match_id
from skillbox_store.validation.paging import (
    ListedFiles,
    check_after,
    check_file_filter,
    check_limit,
    check_offset,
)
from skillbox_store.validation.records import (
    check_execution,
    check_execution_update,
    check_file,
    check_file_update,
    check_file_version,
    check_skill,
)

__all__ = [
    "create_execution",
    "create_file",
    "create_file_version",
    "create_key",
    "delete_file",
    "delete_session",
    "delete_skill",
    "get_execution",
    "get_file",
    "get_key_by_hash",
    "get_or_create_session",
    "get_session",
    "get_session_by_external_id",
    "get_skill",
    "insert_execution",
    "list_executions",
    "list_file_versions",
    "list_files",
    "list_keys",
    "list_session_files",
    "list_skills",
    "prune_executions",
    "purge_tenant",
    "resolve_latest_version",
    "revoke_key",
    "touch_session",
    "update_execution",
    "update_file",
    "upsert_skill",
    "validate_key",
]

# -- API keys -----------------------------------------------------------------------------


def create_key(tenant_id: str | None, name: str, key_hash: str, id: str | None) -> str | None:
    """Check `Store.create_key`'s arguments; return the caller's id, canonical, or None."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.NAME, name)
    check_key_hash(key_hash)
    return check_chosen_id(id)


def get_key_by_hash(key_hash: str) -> None:
    """Check `Store.get_key_by_hash`'s argument."""
    check_key_hash(key_hash)


def validate_key(key_hash: str) -> None:
    """Check `Store.validate_key`'s argument."""
    check_key_hash(key_hash)


def list_keys(tenant_id: str | None) -> None:
    """Check `Store.list_keys`'s argument."""
    check_text(Text.TENANT_ID, tenant_id)


def revoke_key(tenant_id: str, key_id: str | None) -> str:
    """Check `Store.revoke_key`'s arguments; return the key id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("key id", key_id, tenant_id=tenant_id)


# -- Executions ---------------------------------------------------------------------------


def create_execution(execution: Execution, id: str | None) -> tuple[Execution, str | None]:
    """Check `Store.create_execution`'s arguments: the execution to insert (`running`), the id."""
    return check_execution(execution, keep_status=False), check_chosen_id(id)


def insert_execution(execution: Execution, id: str | None) -> tuple[Execution, str | None]:
    """Check `Store.insert_execution`'s arguments: the execution to insert as it is, the id."""
    return check_execution(execution, keep_status=True), check_chosen_id(id)


def get_execution(tenant_id: str, execution_id: str | None) -> str:
    """Check `Store.get_execution`'s arguments; return the execution id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("execution id", execution_id, tenant_id=tenant_id)


def list_executions(
    tenant_id: str, limit: int, offset: int, after: str | None
) -> tuple[int, int, str | None]:
    """Check `Store.list_executions`'s arguments; return the limit (clamped), offset, cursor."""
    check_text(Text.TENANT_ID, tenant_id)
    checked_limit = check_limit(limit, maximum=EXECUTIONS_PAGE_MAX)
    checked_offset = check_offset(offset)
    cursor = check_after(after, checked_offset, tenant_id=tenant_id, record="execution")
    return checked_limit, checked_offset, cursor


def update_execution(execution: Execution) -> Execution:
    """Check `Store.update_execution`'s argument; return the outcome to write."""
    return check_execution_update(execution)


# -- Files --------------------------------------------------------------------------------


def create_file(file: File, id: str | None) -> tuple[File, str | None]:
    """Check `Store.create_file`'s arguments: the file to insert, the caller's id."""
    return check_file(file), check_chosen_id(id)


def get_file(tenant_id: str, file_id: str | None) -> str:
    """Check `Store.get_file`'s arguments; return the file id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("file id", file_id, tenant_id=tenant_id)


def update_file(file: File) -> File:
    """Check `Store.update_file`'s argument; return the fields to write."""
    return check_file_update(file)


def delete_file(tenant_id: str, file_id: str | None) -> str:
    """Check `Store.delete_file`'s arguments; return the file id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("file id", file_id, tenant_id=tenant_id)


def list_files(filter: FileFilter) -> ListedFiles:
    """Check `Store.list_files`'s filter; return it with defaults applied."""
    return check_file_filter(filter)


def list_session_files(tenant_id: str | None, session_id: str | None) -> str | None:
    """Check `Store.list_session_files`'s arguments; the session id, or None: matches nothing."""
    check_text(Text.TENANT_ID, tenant_id)
    return match_id(session_id)


def create_file_version(
    tenant_id: str,
    file_id: str,
    name: str | None,
    content_type: str | None,
    size_bytes: int,
    s3_key: str,
    id: str | None,
) -> tuple[str, str | None]:
    """Check `Store.create_file_version`'s arguments; return the file id and the caller's id."""
    checked = check_file_version(tenant_id, file_id, name, content_type, size_bytes, s3_key)
    return checked, check_chosen_id(id)


def list_file_versions(tenant_id: str | None, file_id: str | None) -> str | None:
    """Check `Store.list_file_versions`'s arguments; the file id, or None: matches nothing."""
    check_text(Text.TENANT_ID, tenant_id)
    return match_id(file_id)


# -- Sessions -----------------------------------------------------------------------------


def get_or_create_session(tenant_id: str | None, external_id: str | None) -> None:
    """Check `Store.get_or_create_session`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.EXTERNAL_ID, external_id)


def get_session(tenant_id: str, session_id: str | None) -> str:
    """Check `Store.get_session`'s arguments; return the session id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("session id", session_id, tenant_id=tenant_id)


def get_session_by_external_id(tenant_id: str | None, external_id: str | None) -> None:
    """Check `Store.get_session_by_external_id`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.EXTERNAL_ID, external_id)


def touch_session(tenant_id: str, session_id: str | None) -> str:
    """Check `Store.touch_session`'s arguments; return the session id, canonical."""
    check_text(Text.TENANT_ID, tenant_id)
    return lookup_id("session id", session_id, tenant_id=tenant_id)


def delete_session(tenant_id: str | None, external_id: str | None) -> None:
    """Check `Store.delete_session`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.EXTERNAL_ID, external_id)


# -- Skills -------------------------------------------------------------------------------


def upsert_skill(record: SkillRecord) -> SkillRecord:
    """Check `Store.upsert_skill`'s argument; return the record to write."""
    return check_skill(record)


def get_skill(tenant_id: str | None, name: str, version: str) -> None:
    """Check `Store.get_skill`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.NAME, name)
    check_text(Text.VERSION, version)


def delete_skill(tenant_id: str | None, name: str, version: str) -> None:
    """Check `Store.delete_skill`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.NAME, name)
    check_text(Text.VERSION, version)


def list_skills(tenant_id: str | None) -> None:
    """Check `Store.list_skills`'s argument."""
    check_text(Text.TENANT_ID, tenant_id)


def resolve_latest_version(tenant_id: str | None, name: str) -> None:
    """Check `Store.resolve_latest_version`'s arguments."""
    check_text(Text.TENANT_ID, tenant_id)
    check_text(Text.NAME, name)


# -- Retention ----------------------------------------------------------------------------


def purge_tenant(tenant_id: str | None) -> None:
    """Check `Store.purge_tenant`'s argument."""
    check_text(Text.TENANT_ID, tenant_id)


def prune_executions(tenant_id: str | None, finished_before: datetime) -> datetime:
    """Check `Store.prune_executions`'s arguments; return the cut-off, in UTC."""
    check_text(Text.TENANT_ID, tenant_id)
    return check_time("finished_before", finished_before)
