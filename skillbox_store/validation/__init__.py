"""The bad-input rules of the contract, checked once for every backend.

Every `Store` method calls its own check here (``check.create_key(…)``, from
`methods`) before it reads or writes anything, so a failed call changes nothing and the
three backends cannot drift apart on what they accept or in which order they check it.
Each check returns the values in the form the backends store (canonical UUID text, UTC
datetimes, records with defaults filled in) and raises `InvalidArgumentError` naming the
field, or `NotFoundError` for an id that cannot name any record.

The limits (`skillbox_store.limits`, docs/contract.md, "Bad input and limits") keep
every accepted value readable on every backend: text that fits a PostgreSQL index row,
JSON shallow enough to read back at any reasonable stack depth and with 64-bit
integers, datetimes that exist in UTC, and values of exactly the built-in types, whose
behaviour no caller can redefine.

One idea per module:

* `fields`: one scalar field's rules (`Text`, the text fields, each with its rules;
  integers; datetimes);
* `ids`: UUIDs, and what a malformed one means where;
* `json_values`: what a JSON value may hold;
* `records`: a whole `Execution`, `File` or `SkillRecord`;
* `paging`: page sizes, offsets, cursors, the checked `FileFilter` and its statement
  parameters;
* `methods`: one check per `Store` method, built from the above.

``from skillbox_store import validation as check`` gives all of them.
"""

from __future__ import annotations

from skillbox_store.limits import (
    EXECUTIONS_PAGE_DEFAULT,
    EXECUTIONS_PAGE_MAX,
    FILES_PAGE_DEFAULT,
    FILES_PAGE_MAX,
)
from skillbox_store.validation.fields import (
    Text,
    check_int,
    check_key_hash,
    check_text,
    check_time,
    text_field,
)
from skillbox_store.validation.ids import check_chosen_id, lookup_id, match_id
from skillbox_store.validation.json_values import check_json
from skillbox_store.validation.methods import (
    create_execution,
    create_file,
    create_file_version,
    create_key,
    delete_file,
    delete_session,
    delete_skill,
    get_execution,
    get_file,
    get_key_by_hash,
    get_or_create_session,
    get_session,
    get_session_by_external_id,
    get_skill,
    insert_execution,
    list_executions,
    list_file_versions,
    list_files,
    list_keys,
    list_session_files,
    list_skills,
    prune_executions,
    purge_tenant,
    resolve_latest_version,
    revoke_key,
    touch_session,
    update_execution,
    update_file,
    upsert_skill,
    validate_key,
)
from skillbox_store.validation.paging import (
    FileListing,
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

# The name the JSON check had before the package split; `skillbox_store.adopt` imports it.
_check_json = check_json

__all__ = [
    "EXECUTIONS_PAGE_DEFAULT",
    "EXECUTIONS_PAGE_MAX",
    "FILES_PAGE_DEFAULT",
    "FILES_PAGE_MAX",
    "FileListing",
    "ListedFiles",
    "Text",
    "check_after",
    "check_chosen_id",
    "check_execution",
    "check_execution_update",
    "check_file",
    "check_file_filter",
    "check_file_update",
    "check_file_version",
    "check_int",
    "check_json",
    "check_key_hash",
    "check_limit",
    "check_offset",
    "check_skill",
    "check_text",
    "check_time",
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
    "lookup_id",
    "match_id",
    "prune_executions",
    "purge_tenant",
    "resolve_latest_version",
    "revoke_key",
    "text_field",
    "touch_session",
    "update_execution",
    "update_file",
    "upsert_skill",
    "validate_key",
]
