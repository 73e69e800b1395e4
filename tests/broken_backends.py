"""Deliberately broken stores, each wrapping the memory backend and breaking one promise.

`tests/test_suite_bites.py` registers their factories as entry points (schemes
``broken-<name>``) and runs the contract suite against each: every broken one must fail
it, and the unbroken wrapper (``broken-none``) must pass. This module is put on the
subprocess's path. ``SKILLBOX_BROKEN_INNER_URL`` swaps the wrapped store (default
``memory://``), to tell a break from a bug of the memory backend itself.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from skillbox_store import (
    AlreadyFinishedError,
    APIKey,
    ConflictError,
    Execution,
    File,
    FileFilter,
    RetentionReport,
    Session,
    SkillRecord,
    Store,
    open_store,
)

__all__ = ["BREAKS", "Wrapper"]


class Wrapper:
    """A `Store` that passes every call to an inner store; subclasses break one thing.

    Transactions wrap the transaction's store in the same class, so a break holds
    inside a block too. ``owners`` remembers which tenant made each record, so that a
    break can reach across tenants as the Go package did.
    """

    def __init__(self, inner: Store, owners: dict[str, str] | None = None) -> None:
        self.inner = inner
        self.owners: dict[str, str] = {} if owners is None else owners

    def _wrap(self, inner: Store) -> Self:
        return type(self)(inner, self.owners)

    def _own(self, tenant_id: str, record_id: str) -> None:
        self.owners[record_id] = tenant_id

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        key = await self.inner.create_key(tenant_id, name, key_hash, id=id)
        self._own(tenant_id, key.id)
        return key

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        return await self.inner.get_key_by_hash(key_hash)

    async def validate_key(self, key_hash: str) -> APIKey | None:
        return await self.inner.validate_key(key_hash)

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        return await self.inner.list_keys(tenant_id)

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        return await self.inner.revoke_key(tenant_id, key_id)

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        return await self.inner.create_execution(execution, id=id)

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        return await self.inner.insert_execution(execution, id=id)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        return await self.inner.get_execution(tenant_id, execution_id)

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        return await self.inner.list_executions(tenant_id, limit, offset, after=after)

    async def update_execution(self, execution: Execution) -> Execution:
        return await self.inner.update_execution(execution)

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        return await self.inner.create_file(file, id=id)

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        return await self.inner.get_file(tenant_id, file_id)

    async def update_file(self, file: File) -> File:
        return await self.inner.update_file(file)

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        await self.inner.delete_file(tenant_id, file_id)

    async def list_files(self, filter: FileFilter) -> list[File]:
        return await self.inner.list_files(filter)

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        return await self.inner.list_session_files(tenant_id, session_id)

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
        return await self.inner.create_file_version(
            tenant_id,
            file_id,
            name=name,
            content_type=content_type,
            size_bytes=size_bytes,
            s3_key=s3_key,
            id=id,
        )

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        return await self.inner.list_file_versions(tenant_id, file_id)

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        return await self.inner.get_or_create_session(tenant_id, external_id)

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        return await self.inner.get_session(tenant_id, session_id)

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        return await self.inner.get_session_by_external_id(tenant_id, external_id)

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        return await self.inner.touch_session(tenant_id, session_id)

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        await self.inner.delete_session(tenant_id, external_id)

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        return await self.inner.upsert_skill(record)

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        return await self.inner.get_skill(tenant_id, name, version)

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        await self.inner.delete_skill(tenant_id, name, version)

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        return await self.inner.list_skills(tenant_id)

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        return await self.inner.resolve_latest_version(tenant_id, name)

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        return await self.inner.purge_tenant(tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        return await self.inner.prune_executions(tenant_id, finished_before)

    async def ping(self) -> None:
        await self.inner.ping()

    async def schema_version(self) -> int:
        return await self.inner.schema_version()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        async with self.inner.transaction() as tx:
            yield self._wrap(tx)

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        return self._transaction()

    async def close(self) -> None:
        await self.inner.close()

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc, tb)


class UnscopedRevoke(Wrapper):
    """Isolation: revoke_key finds the key in any tenant (the Go package's bug)."""

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        return await self.inner.revoke_key(self.owners.get(key_id, tenant_id), key_id)


class RevokedKeysValidate(Wrapper):
    """Revocation: validate_key ignores revoked_at."""

    async def validate_key(self, key_hash: str) -> APIKey | None:
        try:
            return await self.inner.get_key_by_hash(key_hash)
        except LookupError:
            return None


class OneLevelVersions(Wrapper):
    """Version chains: list_file_versions follows one level only (the Go package's bug)."""

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        chain = await self.inner.list_file_versions(tenant_id, file_id)
        me = next((f for f in chain if f.id == file_id), None)
        if me is None:
            return chain
        return [f for f in chain if f.id in (file_id, me.parent_id) or f.parent_id == file_id]


class OldestFirst(Wrapper):
    """Ordering: list_keys returns the oldest key first."""

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        return list(reversed(await self.inner.list_keys(tenant_id)))


class OverlappingPages(Wrapper):
    """Paging: list_executions ignores the offset past the first page."""

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        return await self.inner.list_executions(tenant_id, limit, max(offset - 1, 0), after=after)


class NoRollback(Wrapper):
    """Transactions: a block's writes go straight to the store, so raising undoes nothing."""

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        yield self


class FinishTwice(Wrapper):
    """Executions: updating a finished execution pretends to succeed."""

    async def update_execution(self, execution: Execution) -> Execution:
        try:
            return await self.inner.update_execution(execution)
        except AlreadyFinishedError:
            stored = await self.inner.get_execution(execution.tenant_id, execution.id)
            return stored.model_copy(update={"status": execution.status})


class EmptyNameAccepted(Wrapper):
    """Bad input: an empty key name is stored as "unnamed" instead of refused."""

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        return await super().create_key(tenant_id, name or "unnamed", key_hash, id=id)


class DriverErrorEscapes(Wrapper):
    """Errors: a malformed execution id raises the parser's ValueError."""

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        uuid.UUID(execution_id)
        return await self.inner.get_execution(tenant_id, execution_id)


class UploadKeepsTime(Wrapper):
    """Skills: an upsert keeps the caller's uploaded_at instead of setting now."""

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        stored = await self.inner.upsert_skill(record)
        return stored.model_copy(update={"uploaded_at": record.uploaded_at})


# -- Breaks of single clauses the suite used to miss ---------------------------------------


class TouchKeepsTime(Wrapper):
    """sessions.touch.bumps: touch_session finds the session but leaves its time alone."""

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        return await self.inner.get_session(tenant_id, session_id)


# Record id -> the value every read shows instead of the stored one. Ids are random
# UUIDs, so one table per process serves every store the process opens.
_KEPT_UPDATED_AT: dict[str, datetime] = {}
_WRITTEN_INPUT: dict[str, Any] = {}


def _kept_time(file: File) -> File:
    kept = _KEPT_UPDATED_AT.get(file.id)
    return file if kept is None else file.model_copy(update={"updated_at": kept})


class UpdateKeepsFileTime(Wrapper):
    """files.update.bumps: update_file leaves updated_at as it was, on every read."""

    async def update_file(self, file: File) -> File:
        try:
            before = await self.inner.get_file(file.tenant_id, file.id)
        except (LookupError, ValueError):
            before = None
        updated = await self.inner.update_file(file)
        if before is not None:
            _KEPT_UPDATED_AT.setdefault(file.id, before.updated_at)
        return _kept_time(updated)

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        return _kept_time(await self.inner.get_file(tenant_id, file_id))

    async def list_files(self, filter: FileFilter) -> list[File]:
        return [_kept_time(f) for f in await self.inner.list_files(filter)]

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        return [_kept_time(f) for f in await self.inner.list_session_files(tenant_id, session_id)]

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        return [_kept_time(f) for f in await self.inner.list_file_versions(tenant_id, file_id)]


class VersionTypeNotInherited(Wrapper):
    """files.version.inherits: a new version without content_type gets a default one."""

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
        return await self.inner.create_file_version(
            tenant_id,
            file_id,
            name=name,
            content_type="application/octet-stream" if content_type is None else content_type,
            size_bytes=size_bytes,
            s3_key=s3_key,
            id=id,
        )


async def _executions(
    inner: Store, tenant_id: str, limit: int, offset: int, after: str | None
) -> list[Execution]:
    # `after` is passed on only when given, so these breaks run with stores that have
    # keyset paging and with stores that do not have it yet.
    if after is None:
        return await inner.list_executions(tenant_id, limit, offset)
    return await inner.list_executions(tenant_id, limit, offset, after=after)


class ExecutionsPastClamp(Wrapper):
    """executions.list.clamp: a limit above 100 returns 101 executions."""

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        page = await _executions(self.inner, tenant_id, limit, offset, after)
        if limit > 100 and len(page) == 100 and after is None:
            page += await self.inner.list_executions(tenant_id, 1, offset + 100)
        return page


class SessionDeleteTakesFiles(Wrapper):
    """sessions.delete.keeps_files: deleting a session deletes its files too."""

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        try:
            session = await self.inner.get_session_by_external_id(tenant_id, external_id)
        except (LookupError, ValueError):
            session = None
        if session is not None:
            # Newest first, so a later version goes before the parent it names.
            for file in await self.inner.list_session_files(tenant_id, session.id):
                try:
                    await self.inner.delete_file(tenant_id, file.id)
                except ConflictError:
                    continue
        await self.inner.delete_session(tenant_id, external_id)


class UpsertKeepsDescription(Wrapper):
    """skills.upsert.updates: upserting a stored version keeps its old description."""

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        try:
            old = await self.inner.get_skill(record.tenant_id, record.name, record.version)
        except (LookupError, ValueError):
            old = None
        if old is not None:
            record = record.model_copy(update={"description": old.description})
        return await self.inner.upsert_skill(record)


class GetOrCreateKeepsTime(Wrapper):
    """sessions.get_or_create.bumps: getting an existing session leaves its time alone."""

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        try:
            return await self.inner.get_session_by_external_id(tenant_id, external_id)
        except LookupError:
            return await self.inner.get_or_create_session(tenant_id, external_id)


def _written_input(execution: Execution) -> Execution:
    if execution.id not in _WRITTEN_INPUT:
        return execution
    return execution.model_copy(update={"input": _WRITTEN_INPUT[execution.id]})


class UpdateWritesInput(Wrapper):
    """executions.update.keeps: update_execution also writes the caller's input."""

    async def update_execution(self, execution: Execution) -> Execution:
        updated = await self.inner.update_execution(execution)
        _WRITTEN_INPUT[updated.id] = execution.input
        return _written_input(updated)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        return _written_input(await self.inner.get_execution(tenant_id, execution_id))

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        page = await _executions(self.inner, tenant_id, limit, offset, after)
        return [_written_input(e) for e in page]


class SessionFilesCapped(Wrapper):
    """files.session.all: list_session_files stops at 200 files."""

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        return (await self.inner.list_session_files(tenant_id, session_id))[:200]


BREAKS: dict[str, type[Wrapper]] = {
    "none": Wrapper,
    "isolation": UnscopedRevoke,
    "revocation": RevokedKeysValidate,
    "chains": OneLevelVersions,
    "ordering": OldestFirst,
    "paging": OverlappingPages,
    "transactions": NoRollback,
    "finish-twice": FinishTwice,
    "bad-input": EmptyNameAccepted,
    "driver-error": DriverErrorEscapes,
    "upload-time": UploadKeepsTime,
    "touch-time": TouchKeepsTime,
    "file-update-time": UpdateKeepsFileTime,
    "version-content-type": VersionTypeNotInherited,
    "executions-clamp": ExecutionsPastClamp,
    "session-delete-files": SessionDeleteTakesFiles,
    "upsert-description": UpsertKeepsDescription,
    "get-or-create-time": GetOrCreateKeepsTime,
    "update-input": UpdateWritesInput,
    "session-files-cap": SessionFilesCapped,
}
"""Break name -> wrapper; the URL scheme of each is ``broken-<name>``."""


def _factory(wrapper: type[Wrapper]) -> Any:
    async def open_broken(url: str, *, migrate: bool = True, **options: Any) -> Store:
        inner_url = os.environ.get("SKILLBOX_BROKEN_INNER_URL", "memory://")
        inner = await open_store(inner_url, migrate=migrate, **options)
        return wrapper(inner)

    open_broken.__name__ = f"open_{wrapper.__name__}"
    return open_broken


for _name, _wrapper in BREAKS.items():
    globals()[f"open_{_name.replace('-', '_')}"] = _factory(_wrapper)
