"""`MemoryStore`: the whole contract in plain Python, for tests and as the reference.

Each method checks its input, then reads or changes the tables with no ``await`` in
between, so every method is atomic without a lock of its own. A transaction takes the
store's one asyncio lock for its whole block and works on a fork of the tables
(`Tables.fork`), swapped in when the block ends: other tasks keep reading the committed
tables meanwhile and their writes wait, as with SQLite's single writer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from skillbox_store import idempotency
from skillbox_store import validation as check
from skillbox_store.backends.memory import bulk, listing, retention
from skillbox_store.backends.memory.tables import StoredFile, StoredSkill, Tables
from skillbox_store.bulk import BulkReader, BulkRecord
from skillbox_store.errors import (
    OUTER_STORE_IN_TRANSACTION,
    NotFoundError,
    StoreError,
    already_finished,
    already_revoked,
    hash_taken,
    not_found,
    shown,
    still_a_parent,
    version_not_above_parent,
    version_taken,
)
from skillbox_store.migrations import latest_version
from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    FileFilter,
    RetentionReport,
    Session,
    SkillRecord,
    new_id,
    utc_now,
)
from skillbox_store.store import Store

__all__ = ["MemoryStore"]


def _copy_json(value: Any) -> Any:
    """Return a copy of a JSON value that shares nothing mutable with ``value``."""
    if isinstance(value, dict | list):
        return json.loads(json.dumps(value))
    return value


def _detach(execution: Execution) -> Execution:
    """Copy an execution so neither the caller nor the store can change the other's."""
    return execution.model_copy(
        update={
            "input": _copy_json(execution.input),
            "output": _copy_json(execution.output),
            "files_list": list(execution.files_list),
        }
    )


@dataclass(slots=True)
class _Shared:
    """What every view of one store shares: the committed tables and the writer lock."""

    tables: Tables
    lock: asyncio.Lock
    owner: asyncio.Task[Any] | None = None
    closed: bool = False


@dataclass(slots=True)
class _Scope:
    """An open transaction: its working tables, usable until its block ends."""

    tables: Tables
    active: bool = True


class MemoryStore:
    """A `Store` that keeps everything in this process; each instance starts empty.

    Point operations cost microseconds. A transaction forks the tables in O(tenants)
    and rolls back by dropping the fork; nested transactions fork the fork.
    """

    # Optional capabilities this backend offers (`skillbox_store.capabilities`): "stats"
    # is `table_counts`, "bulk" the `bulk_*` methods.
    capabilities = frozenset({"stats", "bulk"})

    def __init__(self) -> None:
        """Create an empty store; nothing to open or migrate."""
        self._shared = _Shared(Tables.empty(), asyncio.Lock())
        self._scope: _Scope | None = None

    # -- plumbing -------------------------------------------------------------------------

    def _read(self) -> Tables:
        if self._shared.closed:
            raise StoreError("the store is closed")
        if self._scope is None:
            return self._shared.tables
        if not self._scope.active:
            raise StoreError("the transaction has ended; use the store it was opened on")
        return self._scope.tables

    async def _write(self) -> Tables:
        """Return the tables to change, once no other task's transaction holds them.

        The caller must change them before its next ``await``: that is what makes each
        method atomic.
        """
        shared = self._shared
        if self._scope is None and shared.lock.locked():
            if shared.owner is asyncio.current_task():
                raise StoreError(OUTER_STORE_IN_TRANSACTION)
            async with shared.lock:
                pass
        return self._read()

    def _view(self, scope: _Scope) -> MemoryStore:
        view = MemoryStore.__new__(MemoryStore)
        view._shared = self._shared
        view._scope = scope
        return view

    # -- API keys -------------------------------------------------------------------------

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        chosen = check.create_key(tenant_id, name, key_hash, id)
        tables = await self._write()
        if chosen is not None:
            # The id first, as PostgreSQL's ON CONFLICT does: a retry finds its own key
            # before the hash it holds looks taken.
            stored = tables.keys.read(tenant_id).get(chosen)
            if stored is not None:
                differences = idempotency.key_differences(stored, name, key_hash)
                return idempotency.replayed(stored, "API key", differences).model_copy()
        if tables.keys_by_hash.read(key_hash):
            raise hash_taken()
        key = APIKey(
            id=chosen or new_id(),
            key_hash=key_hash,
            tenant_id=tenant_id,
            name=name,
            created_at=utc_now(),
        )
        tables.keys.write(tenant_id)[key.id] = key
        tables.keys_by_hash.write(key_hash)[key_hash] = (tenant_id, key.id)
        return key.model_copy()

    def _key_by_hash(self, key_hash: str) -> APIKey | None:
        tables = self._read()
        owner = tables.keys_by_hash.read(key_hash).get(key_hash)
        if owner is None:
            return None
        tenant_id, key_id = owner
        return tables.keys.read(tenant_id)[key_id].model_copy()

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        check.get_key_by_hash(key_hash)
        key = self._key_by_hash(key_hash)
        if key is None:
            raise NotFoundError("no API key has this hash")
        return key

    async def validate_key(self, key_hash: str) -> APIKey | None:
        check.validate_key(key_hash)
        key = self._key_by_hash(key_hash)
        return key if key is not None and key.revoked_at is None else None

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        check.list_keys(tenant_id)
        return [k.model_copy() for k in self._read().keys.newest_first(tenant_id)]

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        key_id = check.revoke_key(tenant_id, key_id)
        tables = await self._write()
        key = tables.keys.read(tenant_id).get(key_id)
        if key is None:
            raise not_found(tenant_id, f"API key {shown(key_id)}")
        if key.revoked_at is not None:
            raise already_revoked(key_id)
        key = key.model_copy(update={"revoked_at": utc_now()})
        tables.keys.write(tenant_id)[key_id] = key
        return key.model_copy()

    # -- Executions -----------------------------------------------------------------------

    async def _insert_execution(self, execution: Execution, chosen: str | None) -> Execution:
        """Insert a checked execution; a retry with the caller's id returns what it stored."""
        tables = await self._write()
        if chosen is not None:
            stored = tables.executions.read(execution.tenant_id).get(chosen)
            if stored is not None:
                differences = idempotency.execution_differences(stored, execution)
                return _detach(idempotency.replayed(stored, "execution", differences))
        stored = _detach(
            execution.model_copy(update={"id": chosen or new_id(), "created_at": utc_now()})
        )
        tables.executions.write(stored.tenant_id)[stored.id] = stored
        return _detach(stored)

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        execution, chosen = check.create_execution(execution, id)
        return await self._insert_execution(execution, chosen)

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        execution, chosen = check.insert_execution(execution, id)
        return await self._insert_execution(execution, chosen)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        execution_id = check.get_execution(tenant_id, execution_id)
        execution = self._read().executions.read(tenant_id).get(execution_id)
        if execution is None:
            raise not_found(tenant_id, f"execution {shown(execution_id)}")
        return _detach(execution)

    async def list_executions(
        self,
        tenant_id: str,
        limit: int = check.EXECUTIONS_PAGE_DEFAULT,
        offset: int = 0,
        *,
        after: str | None = None,
    ) -> list[Execution]:
        limit, offset, after = check.list_executions(tenant_id, limit, offset, after)
        page = listing.execution_page(self._read(), tenant_id, limit, offset, after)
        return [_detach(e) for e in page]

    async def update_execution(self, execution: Execution) -> Execution:
        execution = check.update_execution(execution)
        tables = await self._write()
        stored = tables.executions.read(execution.tenant_id).get(execution.id)
        if stored is None:
            raise not_found(execution.tenant_id, f"execution {shown(execution.id)}")
        if stored.status != "running":
            raise already_finished(execution.id, stored.status)
        stored = _detach(
            stored.model_copy(
                update={
                    "status": execution.status,
                    "output": execution.output,
                    "logs": execution.logs,
                    "files_url": execution.files_url,
                    "files_list": execution.files_list,
                    "duration_ms": execution.duration_ms,
                    "error": execution.error,
                    "finished_at": execution.finished_at,
                }
            )
        )
        tables.executions.write(stored.tenant_id)[stored.id] = stored
        return _detach(stored)

    # -- Files ----------------------------------------------------------------------------

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        file, chosen = check.create_file(file, id)
        tenant_id = file.tenant_id
        tables = await self._write()
        if chosen is not None:
            # Before the chain checks: a retry's version is already in the chain, its own.
            retried = tables.files.read(tenant_id).get(chosen)
            if retried is not None:
                differences = idempotency.file_differences(retried.file, file)
                return idempotency.replayed(retried.file, "file", differences).model_copy()
        file_id = chosen or new_id()
        chain_id = file_id
        if file.execution_id is not None and (
            file.execution_id not in tables.executions.read(tenant_id)
        ):
            raise not_found(
                file.tenant_id, f"execution {shown(file.execution_id)} (named by execution_id)"
            )
        if file.parent_id is not None:
            parent = tables.files.read(tenant_id).get(file.parent_id)
            if parent is None:
                raise not_found(
                    file.tenant_id, f"file {shown(file.parent_id)} (named by parent_id)"
                )
            if file.version <= parent.file.version:
                raise version_not_above_parent(file.version, parent.file.version)
            chain_id = parent.chain_id
            if file.version in tables.chains.read(tenant_id)[chain_id]:
                raise version_taken(file.version)
        now = utc_now()
        stored = file.model_copy(update={"id": file_id, "created_at": now, "updated_at": now})
        tables.put_file(StoredFile(stored, chain_id))
        return stored.model_copy()

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        file_id = check.get_file(tenant_id, file_id)
        stored = self._read().files.read(tenant_id).get(file_id)
        if stored is None:
            raise not_found(tenant_id, f"file {shown(file_id)}")
        return stored.file.model_copy()

    async def update_file(self, file: File) -> File:
        file = check.update_file(file)
        tenant_id = file.tenant_id
        tables = await self._write()
        stored = tables.files.read(tenant_id).get(file.id)
        if stored is None:
            raise not_found(file.tenant_id, f"file {shown(file.id)}")
        old = stored.file
        if file.version != old.version:
            tables.check_new_version(stored, file.version)
        new = old.model_copy(
            update={
                "name": file.name,
                "content_type": file.content_type,
                "size_bytes": file.size_bytes,
                "s3_key": file.s3_key,
                "version": file.version,
                "updated_at": utc_now(),
            }
        )
        tables.replace_file(stored, new)
        return new.model_copy()

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        file_id = check.delete_file(tenant_id, file_id)
        tables = await self._write()
        stored = tables.files.read(tenant_id).get(file_id)
        if stored is None:
            raise not_found(tenant_id, f"file {shown(file_id)}")
        chain = tables.chain(tenant_id, stored.chain_id)
        if any(member.parent_id == file_id for member in chain):
            raise still_a_parent(file_id)
        tables.drop_file(stored)

    async def list_files(self, filter: FileFilter) -> list[File]:
        wanted = check.list_files(filter)
        return [f.model_copy() for f in listing.file_page(self._read(), wanted)]

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        tables = self._read()
        session_id_or_none = check.list_session_files(tenant_id, session_id)
        if session_id_or_none is None:
            return []
        return [
            f.model_copy() for f in listing.session_files(tables, tenant_id, session_id_or_none)
        ]

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
        file_id, chosen = check.create_file_version(
            tenant_id, file_id, name, content_type, size_bytes, s3_key, id
        )
        tables = await self._write()
        files = tables.files.read(tenant_id)
        if chosen is not None and (retried := files.get(chosen)) is not None:
            member = files.get(file_id)
            differences = idempotency.file_version_differences(
                retried.file,
                in_chain=member is not None and member.chain_id == retried.chain_id,
                name=name,
                content_type=content_type,
                size_bytes=size_bytes,
                s3_key=s3_key,
            )
            return idempotency.replayed(retried.file, "file", differences).model_copy()
        stored = files.get(file_id)
        if stored is None:
            raise not_found(tenant_id, f"file {shown(file_id)}")
        head = tables.chain(tenant_id, stored.chain_id)[0]
        now = utc_now()
        new = head.model_copy(
            update={
                "id": chosen or new_id(),
                "name": head.name if name is None else name,
                "content_type": head.content_type if content_type is None else content_type,
                "size_bytes": size_bytes,
                "s3_key": s3_key,
                "version": head.version + 1,
                "parent_id": head.id,
                "created_at": now,
                "updated_at": now,
            }
        )
        tables.put_file(StoredFile(new, stored.chain_id))
        return new.model_copy()

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        tables = self._read()
        canonical = check.list_file_versions(tenant_id, file_id)
        stored = tables.files.read(tenant_id).get(canonical) if canonical else None
        if stored is None:
            return []
        return [f.model_copy() for f in tables.chain(tenant_id, stored.chain_id)]

    # -- Sessions -------------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        check.get_or_create_session(tenant_id, external_id)
        tables = await self._write()
        now = utc_now()
        session_id = tables.session_ids.read(tenant_id).get(external_id)
        if session_id is None:
            session = Session(
                id=new_id(),
                tenant_id=tenant_id,
                external_id=external_id,
                created_at=now,
                last_accessed_at=now,
            )
            tables.session_ids.write(tenant_id)[external_id] = session.id
        else:
            session = tables.sessions.read(tenant_id)[session_id]
            session = session.model_copy(update={"last_accessed_at": now})
        tables.sessions.write(tenant_id)[session.id] = session
        return session.model_copy()

    def _session(self, tables: Tables, tenant_id: str, session_id: str) -> Session:
        session = tables.sessions.read(tenant_id).get(session_id)
        if session is None:
            raise not_found(tenant_id, f"session {shown(session_id)}")
        return session

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.get_session(tenant_id, session_id)
        return self._session(self._read(), tenant_id, session_id).model_copy()

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        check.get_session_by_external_id(tenant_id, external_id)
        tables = self._read()
        session_id = tables.session_ids.read(tenant_id).get(external_id)
        if session_id is None:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")
        return self._session(tables, tenant_id, session_id).model_copy()

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.touch_session(tenant_id, session_id)
        tables = await self._write()
        session = self._session(tables, tenant_id, session_id)
        session = session.model_copy(update={"last_accessed_at": utc_now()})
        tables.sessions.write(tenant_id)[session_id] = session
        return session.model_copy()

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        check.delete_session(tenant_id, external_id)
        tables = await self._write()
        session_id = tables.session_ids.read(tenant_id).get(external_id)
        if session_id is None:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")
        del tables.session_ids.write(tenant_id)[external_id]
        del tables.sessions.write(tenant_id)[session_id]

    # -- Skills ---------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        record = check.upsert_skill(record)
        tables = await self._write()
        tables.upload_seq += 1
        stored = record.model_copy(update={"uploaded_at": utc_now()})
        tables.skills.write(record.tenant_id)[(record.name, record.version)] = StoredSkill(
            stored, tables.upload_seq
        )
        return stored.model_copy()

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        check.get_skill(tenant_id, name, version)
        stored = self._read().skills.read(tenant_id).get((name, version))
        if stored is None:
            raise not_found(tenant_id, f"skill {shown(name)} version {shown(version)}")
        return stored.record.model_copy()

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        check.delete_skill(tenant_id, name, version)
        tables = await self._write()
        if (name, version) in tables.skills.read(tenant_id):
            del tables.skills.write(tenant_id)[(name, version)]

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        check.list_skills(tenant_id)
        skills = self._read().skills.read(tenant_id)
        return [skills[key].record.model_copy() for key in sorted(skills)]

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        check.resolve_latest_version(tenant_id, name)
        latest = listing.latest_skill(self._read(), tenant_id, name)
        if latest is None:
            raise not_found(tenant_id, f"version of skill {shown(name)}")
        return latest.record.version

    # -- Keeping data ---------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        check.purge_tenant(tenant_id)
        return retention.purge_tenant(await self._write(), tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        finished_before = check.prune_executions(tenant_id, finished_before)
        return retention.prune_executions(await self._write(), tenant_id, finished_before)

    # -- Bulk reads and writes (skillbox_store.bulk.StoreBulk) -----------------------------

    @asynccontextmanager
    async def bulk_snapshot(self) -> AsyncIterator[BulkReader]:
        """Read in a transaction block: other tasks' writes wait until it closes."""
        async with self._transaction() as tx:
            assert isinstance(tx, MemoryStore)
            yield bulk.MemoryBulkReader(tx._read)

    async def bulk_find(
        self, table: str, tenant_id: str, records: Sequence[BulkRecord]
    ) -> list[BulkRecord | None]:
        return bulk.find(self._read(), table, tenant_id, records)

    async def bulk_insert(self, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
        bulk.insert(await self._write(), table, tenant_id, records)

    # -- The store itself -----------------------------------------------------------------

    async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
        """Count the records of every tenant (`skillbox_store.stats.StoreStats`).

        Always exact, and cheap: ``exact`` is accepted and changes nothing.
        """
        return self._read().counts()

    async def ping(self) -> None:
        self._read()

    async def schema_version(self) -> int:
        """Return the latest migration version: this store always has the current schema."""
        self._read()
        return latest_version()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        shared = self._shared
        self._read()
        outer = self._scope
        if outer is None:
            if shared.owner is asyncio.current_task():
                raise StoreError(OUTER_STORE_IN_TRANSACTION)
            await shared.lock.acquire()
            shared.owner = asyncio.current_task()
        try:
            scope = _Scope(self._read().fork())
            try:
                yield self._view(scope)
            finally:
                scope.active = False
            # Reached only when the block did not raise: commit by adopting the fork.
            if outer is None:
                shared.tables = scope.tables
            else:
                outer.tables = scope.tables
        finally:
            if outer is None:
                shared.owner = None
                shared.lock.release()

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """Open a transaction; the block's writes are applied when it ends without error."""
        return self._transaction()

    async def close(self) -> None:
        """Mark the store closed; its data is dropped with the object."""
        self._shared.closed = True

    async def __aenter__(self) -> Self:
        """Return the store; leaving the block closes it."""
        self._read()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the store."""
        await self.close()
