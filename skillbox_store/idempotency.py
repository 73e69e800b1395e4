"""Retried creates: telling a repeat of the request that made a record from a clash.

A create given a caller-chosen ``id`` (`create_key`, `create_execution`,
`insert_execution`, `create_file`, `create_file_version`) may be sent again after an
ambiguous failure, such as an `UnavailableError` while a PostgreSQL primary fails over,
when the write may or may not have committed. When the tenant already has a record of
that kind with that id, the backend hands it here with the request: the same request
gets the stored record back, anything else is `AlreadyExistsError` and writes nothing
(docs/contract.md, "Retry-safe creates"). Written once, so that the three backends
cannot disagree on what "the same request" means.

"The same" is judged against the record as it is stored now, field by field, with JSON
compared by type as well as value (``1`` is not ``1.0``, ``True`` is not ``1``: the
store keeps the difference, so the comparison does too). A record changed since it was
created (`update_execution`, `update_file`) no longer matches its request: the retry
is refused, and the caller, who knows the id, reads the record instead.
"""

from __future__ import annotations

from typing import TypeVar

from skillbox_store.errors import AlreadyExistsError, shown
from skillbox_store.records import APIKey, Execution, File

__all__ = [
    "execution_differences",
    "file_differences",
    "file_version_differences",
    "id_taken",
    "key_differences",
    "replayed",
]

R = TypeVar("R", APIKey, Execution, File)

# What a create writes from its request, besides the tenant and the id it is looked up
# by; the store's own `created_at` (and a file's `updated_at`) is no part of a request.
_EXECUTION_FIELDS = (
    "skill_name",
    "skill_version",
    "status",
    "logs",
    "files_url",
    "files_list",
    "duration_ms",
    "error",
    "finished_at",
)
_FILE_FIELDS = (
    "session_id",
    "execution_id",
    "name",
    "content_type",
    "size_bytes",
    "s3_key",
    "version",
    "parent_id",
)


def _same_json(a: object, b: object) -> bool:
    """Whether two JSON values are equal and of the same type at every depth.

    Object keys are compared as sets: PostgreSQL's jsonb does not keep their order.
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def key_differences(stored: APIKey, name: str, key_hash: str) -> list[str]:
    """Return the fields in which `create_key`'s request differs from the stored key.

    A revocation since is no difference: `revoked_at` is not part of the request.
    """
    differences = []
    if stored.name != name:
        differences.append("name")
    if stored.key_hash != key_hash:
        differences.append("key_hash")
    return differences


def execution_differences(stored: Execution, request: Execution) -> list[str]:
    """Return the fields in which a checked execution differs from the stored one.

    ``request`` is what `validation.check_execution` returned: its status is already
    ``running`` for `create_execution`, the caller's for `insert_execution`.
    """
    differences = [f for f in _EXECUTION_FIELDS if getattr(stored, f) != getattr(request, f)]
    for field in ("input", "output"):
        if not _same_json(getattr(stored, field), getattr(request, field)):
            differences.append(field)
    return differences


def file_differences(stored: File, request: File) -> list[str]:
    """Return the fields in which a checked file differs from the stored one."""
    return [f for f in _FILE_FIELDS if getattr(stored, f) != getattr(request, f)]


def file_version_differences(
    stored: File,
    *,
    in_chain: bool,
    name: str | None,
    content_type: str | None,
    size_bytes: int,
    s3_key: str,
) -> list[str]:
    """Return how `create_file_version`'s request differs from the stored file.

    ``in_chain`` tells whether the request's ``file_id`` names a member of the stored
    file's chain: the version a retry finds must have been appended to that chain (it
    has a parent), not to another one. The version number is no part of the request: it
    was computed when the version was first created, and a retry returns that version
    however many were appended since. An inherited ``name`` or ``content_type`` (None)
    matches whatever was inherited then.
    """
    differences = []
    if not in_chain or stored.parent_id is None:
        differences.append("file_id")
    if name is not None and stored.name != name:
        differences.append("name")
    if content_type is not None and stored.content_type != content_type:
        differences.append("content_type")
    if stored.size_bytes != size_bytes:
        differences.append("size_bytes")
    if stored.s3_key != s3_key:
        differences.append("s3_key")
    return differences


def id_taken(
    tenant_id: str, record: str, record_id: str, differences: list[str]
) -> AlreadyExistsError:
    """Return the `AlreadyExistsError` of an id the tenant's record has, for another request.

    The message names only the caller's own tenant, id and the fields that differ: the
    record is the tenant's, so nothing of another tenant's data can be in it.
    """
    return AlreadyExistsError(
        f"tenant {shown(tenant_id)} already has {record} {record_id!r}, made by a different "
        f"request (it differs in {', '.join(differences)}): a retry must repeat its request "
        f"exactly, and a new {record} needs a new id"
    )


def replayed(stored: R, record: str, differences: list[str]) -> R:
    """Return the stored record if the request matches it, else refuse.

    Raises:
        AlreadyExistsError: ``differences`` is not empty.
    """
    if differences:
        raise id_taken(stored.tenant_id, record, stored.id, differences)
    return stored
