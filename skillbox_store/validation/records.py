"""Records: the checks of a whole `Execution`, `File` or `SkillRecord` a caller passes in.

Each returns the record as the backends store it (canonical ids, UTC datetimes, a new
execution's status), a new record only when something changed.
"""

from __future__ import annotations

from datetime import datetime

from skillbox_store.errors import InvalidArgumentError, shown
from skillbox_store.limits import INT32_MAX, INT64_MAX
from skillbox_store.records import EXECUTION_STATUSES, Execution, File, SkillRecord
from skillbox_store.validation.fields import (
    Text,
    check_int,
    check_text,
    check_time,
    is_plain_name,
    is_plain_text,
)
from skillbox_store.validation.ids import canonical_uuid, lookup_id, optional_reference
from skillbox_store.validation.json_values import check_json

__all__ = [
    "check_execution",
    "check_execution_update",
    "check_file",
    "check_file_update",
    "check_file_version",
    "check_skill",
]


def _optional_time(field: str, value: object) -> datetime | None:
    return None if value is None else check_time(field, value)


def _check_outcome(execution: Execution, status: str | None = None) -> None:
    """The fields an update writes, shared by inserts; ``status`` overrides the record's."""
    wanted = execution.status if status is None else status
    if type(wanted) is not str or wanted not in EXECUTION_STATUSES:
        raise InvalidArgumentError(
            f"status must be one of {', '.join(sorted(EXECUTION_STATUSES))}, got {shown(wanted)}"
        )
    output = execution.output
    if output is not None:
        check_json(Text.OUTPUT, output)
    logs = execution.logs
    if not is_plain_text(logs):
        check_text(Text.LOGS, logs, required=False)
    files_url = execution.files_url
    if not is_plain_text(files_url):
        check_text(Text.FILES_URL, files_url, required=False)
    files_list = execution.files_list
    if type(files_list) is not list:
        raise InvalidArgumentError("files_list must be a list of strings")
    for item in files_list:
        if not is_plain_text(item):
            check_text(Text.FILES_LIST, item, required=False)
    duration_ms = execution.duration_ms
    if type(duration_ms) is not int or not 0 <= duration_ms <= INT64_MAX:
        check_int("duration_ms", duration_ms, minimum=0)
    error = execution.error
    if error is not None and not is_plain_text(error):
        check_text(Text.ERROR, error, required=False)


def check_execution(execution: Execution, *, keep_status: bool) -> Execution:
    """Return a new execution to insert, with status ``running`` unless ``keep_status``."""
    if not isinstance(execution, Execution):
        raise InvalidArgumentError("execution must be an Execution record")
    tenant_id, skill_name, skill_version = (
        execution.tenant_id,
        execution.skill_name,
        execution.skill_version,
    )
    if not is_plain_name(tenant_id):
        check_text(Text.TENANT_ID, tenant_id)
    if not is_plain_name(skill_name):
        check_text(Text.SKILL_NAME, skill_name)
    if not is_plain_name(skill_version):
        check_text(Text.SKILL_VERSION, skill_version)
    check_json(Text.INPUT, execution.input)
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
    check_text(Text.TENANT_ID, execution.tenant_id)
    _check_outcome(execution)
    return execution.model_copy(
        update={
            "id": lookup_id("execution id", execution.id, tenant_id=execution.tenant_id),
            "finished_at": _optional_time("finished_at", execution.finished_at),
        }
    )


def _check_file_fields(file: File) -> None:
    check_text(Text.NAME, file.name)
    check_text(Text.CONTENT_TYPE, file.content_type, required=False)
    check_int("size_bytes", file.size_bytes, minimum=0)
    check_text(Text.S3_KEY, file.s3_key)
    check_int("version", file.version, minimum=1, maximum=INT32_MAX)


def check_file(file: File) -> File:
    """Return a new file to insert, its ids canonical and empty ids made None.

    Raises:
        NotFoundError: `parent_id` or `execution_id` is not a UUID, so it names nothing.
    """
    if not isinstance(file, File):
        raise InvalidArgumentError("file must be a File record")
    check_text(Text.TENANT_ID, file.tenant_id)
    _check_file_fields(file)
    session_id = file.session_id
    if session_id is not None and not (type(session_id) is str and not session_id):
        session_id = canonical_uuid(session_id)
        if session_id is None:
            raise InvalidArgumentError(f"session_id must be a UUID, got {shown(file.session_id)}")
    return file.model_copy(
        update={
            "session_id": session_id or None,
            "execution_id": optional_reference(
                file.tenant_id, "execution", "execution_id", file.execution_id
            ),
            "parent_id": optional_reference(file.tenant_id, "file", "parent_id", file.parent_id),
        }
    )


def check_file_update(file: File) -> File:
    """Return the file whose fields `update_file` writes, its id canonical."""
    if not isinstance(file, File):
        raise InvalidArgumentError("file must be a File record")
    check_text(Text.TENANT_ID, file.tenant_id)
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
    check_text(Text.TENANT_ID, tenant_id)
    if name is not None:
        check_text(Text.NAME, name)
    if content_type is not None:
        check_text(Text.CONTENT_TYPE, content_type, required=False)
    check_int("size_bytes", size_bytes, minimum=0)
    check_text(Text.S3_KEY, s3_key)
    return lookup_id("file id", file_id, tenant_id=tenant_id)


def check_skill(record: SkillRecord) -> SkillRecord:
    """Return the skill record to upsert."""
    if not isinstance(record, SkillRecord):
        raise InvalidArgumentError("record must be a SkillRecord")
    check_text(Text.TENANT_ID, record.tenant_id)
    check_text(Text.NAME, record.name)
    check_text(Text.VERSION, record.version)
    check_text(Text.DESCRIPTION, record.description, required=False)
    check_text(Text.LANG, record.lang, required=False)
    return record
