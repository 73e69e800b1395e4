"""The `Store` contract: the one place a reader learns the API.

Every backend (in-memory, SQLite, PostgreSQL, and any third-party one) implements this
Protocol and passes the contract suite in `contract_tests`. The docstrings below are the
short form of the contract; ``docs/contract.md`` is the whole of it, one numbered clause
per promise (``keys.revoke.once``, ``files.version.inherits``, ...), each proved by a
test of the suite that names it. Backends document only what differs (locking, cost).

Rules that hold for every method:

* Every method is a coroutine except `transaction`, which returns an async context
  manager.
* A method that takes ``tenant_id`` reads and changes only that tenant's records;
  another tenant's record behaves exactly like a missing one (`NotFoundError`). Only
  `get_key_by_hash` and `validate_key` look across tenants, because authentication
  learns the tenant from the key.
* Input is checked before anything is read or written; bad input raises
  `InvalidArgumentError` naming the field, and a failed call leaves the store as it was.
* An id that is not a well-formed UUID is `NotFoundError` where a record is looked up or
  changed, and matches nothing where records are listed.
* Records passed in are never modified; the store returns new ones.
* "Newest first" is reverse creation order with no ties, even for records created in the
  same transaction or the same microsecond. Text sorts by Unicode code point.
* After `close`, every method raises `StoreError`.
* Creates are retry-safe when the caller chooses the id: `create_key`,
  `create_execution`, `insert_execution`, `create_file` and `create_file_version` take a
  keyword-only ``id``. Sent again with the same ``id`` and the same request, a create
  writes nothing and returns the record the first call stored, so a call that failed
  ambiguously (`UnavailableError` while a primary fails over: it may have committed) can
  simply be repeated. The same ``id`` with a different request is `AlreadyExistsError`.
  Ids are scoped by tenant like everything else: another tenant's record with that id is
  not seen, and the call creates the caller's own record under it.
* No driver exception ever escapes: failures to reach the database are
  `UnavailableError`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    FileFilter,
    RetentionReport,
    Session,
    SkillRecord,
)

__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """The storage contract of Skillbox: API keys, executions, files, sessions, skills."""

    # -- API keys -----------------------------------------------------------------------

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        """Store a new API key for a tenant and return it with its id and `created_at`.

        ``id`` is the key's id, chosen by the caller so that the call may be repeated
        (see the module's rules); by default the store chooses one. When the tenant has a
        key with this ``id``, the call writes nothing and returns that key as it is now
        (revoked or not) if its name and hash are the ones given.

        Raises:
            AlreadyExistsError: a key with this hash exists, for any tenant; or the
                tenant's key with this ``id`` has another name or hash.
            InvalidArgumentError: ``key_hash`` is not what `hash_key` returns (lowercase
                hex, 64 to 512 characters: a plaintext ``sk-…`` key above all), ``id``
                is not a UUID, or another argument is empty, too long or holds a NUL
                character.
        """
        ...

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        """Return the key with this hash, whichever tenant owns it, revoked keys included.

        Raises:
            NotFoundError: no key has this hash.
            InvalidArgumentError: ``key_hash`` is not what `hash_key` returns (lowercase
                hex, 64 to 512 characters).
        """
        ...

    async def validate_key(self, key_hash: str) -> APIKey | None:
        """Return the key with this hash if it exists and is not revoked, else ``None``.

        A revoked key never validates again, whatever path revoked it.

        Raises:
            InvalidArgumentError: ``key_hash`` is not what `hash_key` returns (lowercase
                hex, 64 to 512 characters).
        """
        ...

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        """Return all of the tenant's keys, newest first, revoked keys included.

        Raises:
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        """Set the key's `revoked_at` to now and return the revoked key.

        Of many concurrent revocations of one key, exactly one succeeds.

        Raises:
            NotFoundError: the tenant owns no key with this id.
            AlreadyRevokedError: the key was revoked before.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    # -- Executions ---------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        """Store a new execution with status ``running``, whatever status was passed.

        The store chooses `created_at`, and `id` unless the caller passes ``id`` (the
        record's own `id` field is ignored either way); every other field is kept as
        given. Repeated with the same ``id`` and the same fields, the call writes
        nothing and returns the execution the first call stored, equal in every field.

        Raises:
            AlreadyExistsError: the tenant has an execution with this ``id`` whose
                fields differ from the ones given (it was made by another request, or
                has been updated since).
            InvalidArgumentError: a field breaks the rules (empty `tenant_id`,
                `skill_name` or `skill_version`, NUL characters, negative
                `duration_ms`, a naive `finished_at`, `input`/`output` not JSON), or
                ``id`` is not a UUID.
        """
        ...

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        """Store a new execution keeping the caller's status; otherwise as `create_execution`.

        A repeat with the same ``id`` matches only with the same status too.

        Raises:
            AlreadyExistsError: as for `create_execution`.
            InvalidArgumentError: as for `create_execution`, or a status outside
                `EXECUTION_STATUSES`.
        """
        ...

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        """Return the tenant's execution with this id.

        Raises:
            NotFoundError: the tenant has no execution with this id.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        """Return a page of the tenant's executions, newest first.

        ``limit`` above 100 is taken as 100. ``after`` is keyset paging: the page starts
        with the execution that follows execution ``after`` (the last one the caller has
        seen) and costs the same at any depth; passing each page's last id as the next
        ``after`` yields every execution exactly once, even while others are created.
        ``offset`` skips that many executions and costs what it skips. Paging over an
        unchanged store yields every execution exactly once either way.

        Raises:
            InvalidArgumentError: ``limit`` < 1, ``offset`` < 0, ``after`` with a non-zero
                ``offset``, or a bad ``tenant_id``.
            NotFoundError: ``after`` names no execution of the tenant.
        """
        ...

    async def update_execution(self, execution: Execution) -> Execution:
        """Write the outcome of a running execution and return the stored execution.

        Writes `status`, `output`, `logs`, `files_url`, `files_list`, `duration_ms`,
        `error` and `finished_at` of the row with this `id` and `tenant_id`, only while
        its stored status is ``running``: of many concurrent updates of one running
        execution, exactly one succeeds unless it leaves the status ``running``.

        Raises:
            NotFoundError: the tenant has no execution with this id.
            AlreadyFinishedError: the stored status is no longer ``running``.
            InvalidArgumentError: a written field breaks the rules.
        """
        ...

    # -- Files and version chains -------------------------------------------------------

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        """Store a new file; the store chooses `created_at`, `updated_at` and `id`.

        ``id``, when given, is the new file's id instead (the record's own `id` field is
        ignored either way). Repeated with the same ``id`` and the same fields, the call
        writes nothing and returns the file the first call stored, equal in every field.

        A file with a `parent_id` joins its parent's version chain: its `version` must
        be greater than the parent's and unused in the chain.

        Raises:
            AlreadyExistsError: the tenant has a file with this ``id`` whose fields differ
                from the ones given (made by another request, or updated since).
            NotFoundError: `parent_id` or `execution_id` names no record of this tenant.
            ConflictError: the version is not greater than the parent's, or is already
                used in the chain.
            InvalidArgumentError: a field breaks the rules (empty `tenant_id`, `name` or
                `s3_key`, negative `size_bytes`, `version` < 1, a `session_id` that is
                not a UUID, NUL characters), or ``id`` is not a UUID.
        """
        ...

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        """Return the tenant's file with this id.

        Raises:
            NotFoundError: the tenant has no file with this id.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def update_file(self, file: File) -> File:
        """Write `name`, `content_type`, `size_bytes`, `s3_key` and `version` of a file.

        Scoped by `id` and `tenant_id`; sets `updated_at` to now and returns the stored
        file. The new version must keep the chain ordered: greater than the parent's,
        smaller than every child's, unused elsewhere in the chain.

        Raises:
            NotFoundError: the tenant has no file with this id.
            ConflictError: the new version would break the chain's order.
            InvalidArgumentError: a written field breaks the rules.
        """
        ...

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        """Delete the tenant's file with this id.

        Raises:
            NotFoundError: the tenant has no file with this id.
            ConflictError: a later version names this file as its parent; nothing is
                deleted.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def list_files(self, filter: FileFilter) -> list[File]:
        """Return a page of the tenant's files, newest first.

        When set, `session_id` and `execution_id` keep only the files that carry them.
        `limit` defaults to 50 and is taken as 200 above 200. `after` is keyset paging, as
        in `list_executions`: the page follows file `after` in this filtered listing.

        Raises:
            InvalidArgumentError: `limit` < 1, `offset` < 0, `after` with a non-zero
                `offset`, or a bad `tenant_id`.
            NotFoundError: `after` names no file of the tenant that the filter keeps.
        """
        ...

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        """Return every file of the tenant that carries this `session_id`, newest first.

        There is no cap on how many are returned.

        Raises:
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def create_file_version(
        self,
        tenant_id: str,
        file_id: str,
        *,
        name: str | None = None,
        content_type: str | None = None,
        size_bytes: int,
        s3_key: str,
        id: str | None = None,
    ) -> File:
        """Append a new version to the chain that ``file_id`` belongs to, and return it.

        The new file's `version` is the chain's highest plus one and its `parent_id` is
        the chain's previous head (the file with the highest version), whichever member
        ``file_id`` names. `name` and `content_type` are inherited from that head unless
        given; `tenant_id`, `session_id` and `execution_id` are inherited always.
        Atomic: concurrent calls on one chain get distinct, consecutive versions.

        ``id``, when given, is the new version's id. Repeated with the same ``id`` and
        arguments, the call appends nothing and returns the version the first call
        created, with the version number it got then, however many were appended since.

        Raises:
            NotFoundError: the tenant has no file with this id.
            AlreadyExistsError: the tenant has a file with this ``id`` that is not a
                version of this chain, or whose `size_bytes`, `s3_key` or (when given)
                `name` or `content_type` differ.
            InvalidArgumentError: ``s3_key`` empty, ``size_bytes`` negative, ``id`` not a
                UUID, or another argument breaks the rules.
        """
        ...

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        """Return every file of the chain that ``file_id`` belongs to, highest version first.

        The whole chain is returned from any member, however long it is; an empty list
        when the tenant has no file with this id.

        Raises:
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    # -- Sessions -----------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        """Return the tenant's session with this external id, creating it if needed.

        Always sets `last_accessed_at` to now. Atomic: any number of concurrent calls
        with the same pair return the same session. Retry-safe as it is: the external id
        is the caller's key for the session, so a repeat never creates a second one.

        Raises:
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        """Return the tenant's session with this internal id.

        Raises:
            NotFoundError: the tenant has no session with this id.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        """Return the tenant's session with this external id.

        Raises:
            NotFoundError: the tenant has no session with this external id.
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        """Set the session's `last_accessed_at` to now and return the session.

        Raises:
            NotFoundError: the tenant has no session with this id.
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        """Delete the tenant's session with this external id; its files stay.

        Raises:
            NotFoundError: the tenant has no session with this external id.
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    # -- Skills -------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        """Store a skill version, or update `description` and `lang` of a stored one.

        Either way `uploaded_at` is set to now, so this version becomes the one
        `resolve_latest_version` returns.

        Raises:
            InvalidArgumentError: `tenant_id`, `name` or `version` empty, or a NUL
                character in any field.
        """
        ...

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        """Return the tenant's skill record for this name and version.

        Raises:
            NotFoundError: the tenant has no such skill version.
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        """Delete the tenant's skill record for this name and version, if there is one.

        Raises:
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        """Return all of the tenant's skill records, ordered by name, then version.

        Raises:
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        """Return the version of the named skill that was uploaded most recently.

        Raises:
            NotFoundError: the tenant has no version of this skill.
            InvalidArgumentError: an argument is empty or holds a NUL character.
        """
        ...

    # -- Keeping data -------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        """Delete every record of the tenant, in every table, and report what went.

        Atomic: either every record of the tenant is gone or, when the call fails,
        none is; inside a `transaction()` block it is part of the block. The report
        counts the records removed per table and lists the `s3_key` of every file row
        removed (sorted), for the caller to delete the objects. No other tenant's
        record is touched; an unknown or already purged tenant gives an empty report.

        Raises:
            InvalidArgumentError: ``tenant_id`` is empty or holds a NUL character.
        """
        ...

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        """Delete the tenant's finished executions whose `finished_at` is before a time.

        Only executions whose status is not ``running`` and whose `finished_at` is set
        and earlier than ``finished_before`` go; a running execution never does. An
        execution that one of the tenant's files names (`File.execution_id`) is kept,
        so no reference is left dangling, and counted in the report's
        `kept_referenced`. Atomic, like `purge_tenant`; the report counts the
        executions removed (other counts are zero, `s3_keys` empty).

        Raises:
            InvalidArgumentError: ``finished_before`` is naive or not a datetime, or
                ``tenant_id`` is empty or holds a NUL character.
            ConflictError: a file naming a candidate execution was created meanwhile
                (PostgreSQL); nothing was deleted, and the call may be repeated.
        """
        ...

    # -- The store itself ---------------------------------------------------------------

    async def ping(self) -> None:
        """Check that the database answers.

        Raises:
            UnavailableError: it does not.
        """
        ...

    async def schema_version(self) -> int:
        """Return the number of the highest migration applied to the database."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """Open a transaction: ``async with store.transaction() as tx:``.

        Every method of ``tx`` runs in one transaction, committed when the block ends
        and rolled back entirely if it raises. ``tx.transaction()`` opens a nested
        transaction (a savepoint) that rolls back alone. ``tx`` must not be used after
        its block ends (`StoreError`).
        """
        ...

    async def close(self) -> None:
        """Release the store's connections; calling it again does nothing.

        A connection or pool that the caller handed to the backend stays open.
        """
        ...

    async def __aenter__(self) -> Self:
        """Return the store itself, so ``async with store:`` closes it at the end."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        ...
