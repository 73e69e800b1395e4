"""Bulk reads and writes of a memory store (`skillbox_store.bulk.StoreBulk`).

Functions over the store's `Tables`, like `retention`; the store's methods only pick the
tables. A write checks the whole batch before it changes anything, with no ``await`` in
between, so a batch is stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

from skillbox_store.backends.memory.tables import StoredFile, StoredSkill, Table, Tables
from skillbox_store.bulk import BULK_TABLES, DEFAULT_BATCH, BulkRecord
from skillbox_store.errors import ConflictError, InvalidArgumentError, NotFoundError
from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

__all__ = ["MemoryBulkReader", "find", "insert"]


def _check_table(table: str) -> None:
    if table not in BULK_TABLES:
        raise InvalidArgumentError(f"table must be one of {', '.join(BULK_TABLES)}, got {table!r}")


def _copy(record: BulkRecord) -> BulkRecord:
    # Executions hold JSON values that a caller could change in place.
    return record.model_copy(deep=isinstance(record, Execution))


def _oldest_first(tables: Tables, table: str, tenant_id: str) -> list[Any]:
    """Return the tenant's records of ``table`` in the order `BulkReader.records` promises."""
    if table == "api_keys":
        return list(reversed(list(tables.keys.newest_first(tenant_id))))
    if table == "executions":
        return list(reversed(list(tables.executions.newest_first(tenant_id))))
    if table == "files":
        return [stored.file for stored in reversed(list(tables.files.newest_first(tenant_id)))]
    if table == "sessions":
        return sorted(tables.sessions.read(tenant_id).values(), key=lambda s: s.id)
    skills = sorted(
        tables.skills.read(tenant_id).values(), key=lambda s: (s.record.name, s.upload_seq)
    )
    return [stored.record for stored in skills]


def _table_tenants(tables: Tables, table: str) -> list[str]:
    by_table: dict[str, Table[Any, Any]] = {
        "api_keys": tables.keys,
        "executions": tables.executions,
        "files": tables.files,
        "sessions": tables.sessions,
        "skills": tables.skills,
    }
    return sorted(by_table[table].partitions())


class MemoryBulkReader:
    """A `BulkReader` over tables that nothing else changes while it is open."""

    def __init__(self, tables: Callable[[], Tables]) -> None:
        """Read the tables ``tables()`` returns (it raises once the snapshot is closed)."""
        self._tables = tables

    async def tenants(self) -> list[str]:
        """Return every tenant with a record in any table, sorted."""
        tables = self._tables()
        found: set[str] = set()
        for table in BULK_TABLES:
            found.update(_table_tenants(tables, table))
        return sorted(found)

    async def records(
        self, table: str, tenant_ids: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH
    ) -> AsyncIterator[list[BulkRecord]]:
        """Yield the table's records, one tenant at a time, in batches."""
        _check_table(table)
        tenants = _table_tenants(self._tables(), table) if tenant_ids is None else tenant_ids
        for tenant_id in tenants:
            rows = _oldest_first(self._tables(), table, tenant_id)
            for start in range(0, len(rows), batch_size):
                yield [_copy(record) for record in rows[start : start + batch_size]]


def find(
    tables: Tables, table: str, tenant_id: str, records: Sequence[BulkRecord]
) -> list[BulkRecord | None]:
    """Return the stored record with each record's key, or None."""
    _check_table(table)
    _check_tenant(tenant_id, records)
    found: list[BulkRecord | None] = []
    for record in records:
        stored: BulkRecord | None
        if isinstance(record, SkillRecord):
            skill = tables.skills.read(tenant_id).get((record.name, record.version))
            stored = None if skill is None else skill.record
        elif isinstance(record, File):
            stored_file = tables.files.read(tenant_id).get(record.id)
            stored = None if stored_file is None else stored_file.file
        else:
            rows: Any = {
                "api_keys": tables.keys,
                "executions": tables.executions,
                "sessions": tables.sessions,
            }[table]
            stored = rows.read(tenant_id).get(record.id)
        found.append(None if stored is None else _copy(stored))
    return found


def _check_tenant(tenant_id: str, records: Iterable[BulkRecord]) -> None:
    for record in records:
        if record.tenant_id != tenant_id:
            raise InvalidArgumentError(
                f"a bulk batch holds one tenant's records: {tenant_id!r}, "
                f"got one of {record.tenant_id!r}"
            )


def insert(tables: Tables, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
    """Check the whole batch, then store it in order; nothing is stored if a check fails."""
    _check_table(table)
    _check_tenant(tenant_id, records)
    {
        "api_keys": _insert_keys,
        "executions": _insert_executions,
        "files": _insert_files,
        "sessions": _insert_sessions,
        "skills": _insert_skills,
    }[table](tables, tenant_id, records)


def _taken(what: str, record: BulkRecord) -> ConflictError:
    return ConflictError(f"{what} of {type(record).__name__} {record_name(record)} is taken")


def record_name(record: BulkRecord) -> str:
    """Return how a message names a record: its id, or a skill's name and version."""
    if isinstance(record, SkillRecord):
        return f"{record.name!r} version {record.version!r}"
    return record.id


def _insert_keys(tables: Tables, tenant_id: str, records: Sequence[Any]) -> None:
    stored = tables.keys.read(tenant_id)
    ids: set[str] = set()
    hashes: set[str] = set()
    for key in records:
        assert isinstance(key, APIKey)
        if key.id in stored or key.id in ids:
            raise _taken("the id", key)
        if tables.keys_by_hash.read(key.key_hash) or key.key_hash in hashes:
            raise _taken("the key hash", key)
        ids.add(key.id)
        hashes.add(key.key_hash)
    rows = tables.keys.write(tenant_id)
    for key in records:
        rows[key.id] = key.model_copy()
        tables.keys_by_hash.write(key.key_hash)[key.key_hash] = (tenant_id, key.id)


def _insert_executions(tables: Tables, tenant_id: str, records: Sequence[Any]) -> None:
    stored = tables.executions.read(tenant_id)
    ids: set[str] = set()
    for execution in records:
        assert isinstance(execution, Execution)
        if execution.id in stored or execution.id in ids:
            raise _taken("the id", execution)
        ids.add(execution.id)
    rows = tables.executions.write(tenant_id)
    for execution in records:
        rows[execution.id] = execution.model_copy(deep=True)


def _insert_files(tables: Tables, tenant_id: str, records: Sequence[Any]) -> None:
    stored = tables.files.read(tenant_id)
    executions = tables.executions.read(tenant_id)
    chains = tables.chains.read(tenant_id)
    # Files of this batch: id -> chain id, and the versions they add to each chain.
    placed: dict[str, str] = {}
    added: dict[str, set[int]] = {}
    for file in records:
        assert isinstance(file, File)
        if file.id in stored or file.id in placed:
            raise _taken("the id", file)
        if file.execution_id is not None and file.execution_id not in executions:
            raise NotFoundError(f"file {file.id}: execution_id names no execution of the tenant")
        chain_id = file.id
        if file.parent_id is not None:
            parent = stored.get(file.parent_id)
            if parent is not None:
                chain_id = parent.chain_id
            elif file.parent_id in placed:
                chain_id = placed[file.parent_id]
            else:
                raise NotFoundError(f"file {file.id}: parent_id names no file of the tenant")
        versions = added.setdefault(chain_id, set())
        if file.version in chains.get(chain_id, {}) or file.version in versions:
            raise _taken(f"version {file.version} in the chain", file)
        versions.add(file.version)
        placed[file.id] = chain_id
    for file in records:
        tables.put_file(StoredFile(file.model_copy(), placed[file.id]))


def _insert_sessions(tables: Tables, tenant_id: str, records: Sequence[Any]) -> None:
    stored = tables.sessions.read(tenant_id)
    external = tables.session_ids.read(tenant_id)
    ids: set[str] = set()
    external_ids: set[str] = set()
    for session in records:
        assert isinstance(session, Session)
        if session.id in stored or session.id in ids:
            raise _taken("the id", session)
        if session.external_id in external or session.external_id in external_ids:
            raise _taken("the external id", session)
        ids.add(session.id)
        external_ids.add(session.external_id)
    rows = tables.sessions.write(tenant_id)
    by_external = tables.session_ids.write(tenant_id)
    for session in records:
        rows[session.id] = session.model_copy()
        by_external[session.external_id] = session.id


def _insert_skills(tables: Tables, tenant_id: str, records: Sequence[Any]) -> None:
    stored = tables.skills.read(tenant_id)
    keys: set[tuple[str, str]] = set()
    for skill in records:
        assert isinstance(skill, SkillRecord)
        key = (skill.name, skill.version)
        if key in stored or key in keys:
            raise _taken("the name and version", skill)
        keys.add(key)
    rows = tables.skills.write(tenant_id)
    for skill in records:
        tables.upload_seq += 1
        rows[(skill.name, skill.version)] = StoredSkill(skill.model_copy(), tables.upload_seq)
