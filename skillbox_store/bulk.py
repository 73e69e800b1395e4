"""An optional capability of a backend: reading and writing records in bulk.

Not part of the `Store` contract, on purpose: every `Store` method is scoped to one
tenant and chooses ids and timestamps itself, while moving a store to another backend
(``skillbox-store copy``), backing it up (``export``) and restoring it (``import``) must
read every tenant and write records exactly as they were. A backend MAY implement
`StoreBulk` next to `Store` and declare ``"bulk"`` in its ``capabilities``
(`skillbox_store.capabilities`); `skillbox_store.transfer` works between any two stores
that have it. All three built-in backends do.

What a bulk write keeps, so that every contract read of the destination returns what
the source returned: ids, every timestamp, statuses, revocations, file version chains
(``parent_id``, versions), sessions, and order — records are written in the order they
are given, which for keys, executions and files is creation order and for each skill
name upload order, so "newest first" and `resolve_latest_version` survive.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import MappingProxyType
from typing import Final, Protocol, TypeAlias, runtime_checkable

from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

__all__ = [
    "BULK_TABLES",
    "DEFAULT_BATCH",
    "RECORD_TYPES",
    "BulkReader",
    "BulkRecord",
    "StoreBulk",
    "record_key",
]

BULK_TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")
"""Every table, in the order a copy writes them: files after the executions they name."""

DEFAULT_BATCH: Final = 5000
"""Records per batch: large enough to amortize a round trip, small enough to stream."""

BulkRecord: TypeAlias = APIKey | Execution | File | Session | SkillRecord
"""A record of any table."""

RECORD_TYPES: Final[Mapping[str, type[BulkRecord]]] = MappingProxyType(
    {
        "api_keys": APIKey,
        "executions": Execution,
        "files": File,
        "sessions": Session,
        "skills": SkillRecord,
    }
)
"""The record class of each table."""


def record_key(record: BulkRecord) -> tuple[str, ...]:
    """Return what identifies a record within its tenant: its id, or a skill's name and version."""
    if isinstance(record, SkillRecord):
        return (record.name, record.version)
    return (record.id,)


class BulkReader(Protocol):
    """A consistent snapshot of a store, open for reading every tenant's records."""

    async def tenants(self) -> list[str]:
        """Return every tenant that has a record in any table, sorted by code point."""
        ...

    def records(
        self, table: str, tenant_ids: Sequence[str] | None = None, batch_size: int = DEFAULT_BATCH
    ) -> AsyncIterator[list[BulkRecord]]:
        """Yield the records of one table in batches of at most ``batch_size``.

        Only the tenants named (every tenant for None). Each batch holds one tenant's
        records, a tenant's batches come one after another, and within a tenant the
        order is stable: creation order for ``api_keys``, ``executions`` and
        ``files`` (so a parent file comes before its children), ``id`` order for
        ``sessions``, and for ``skills`` by name (code point), each name's versions in
        upload order. Memory stays bounded by the batch.

        Raises:
            InvalidArgumentError: ``table`` is not one of `BULK_TABLES`.
        """
        ...


@runtime_checkable
class StoreBulk(Protocol):
    """A store that can stream all its records and write records as they were."""

    def bulk_snapshot(self) -> AbstractAsyncContextManager[BulkReader]:
        """Open a read snapshot: ``async with store.bulk_snapshot() as reader:``.

        Every read of the reader sees the store as it was at one moment: records
        written meanwhile either all appear or none does (a repeatable-read
        transaction on PostgreSQL, a read transaction on SQLite). Writers are not
        blocked, except on the memory backend and ``sqlite:///:memory:``, whose
        writes wait for the snapshot to close.
        """
        ...

    async def bulk_find(
        self, table: str, tenant_id: str, records: Sequence[BulkRecord]
    ) -> list[BulkRecord | None]:
        """Return, for each record given, the stored record with its key, or None.

        The key is `record_key` within ``tenant_id``; every record given must belong
        to that tenant.

        Raises:
            InvalidArgumentError: ``table`` is unknown or a record is of another tenant.
        """
        ...

    async def bulk_insert(self, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
        """Insert the tenant's records exactly as given, in the order given, all or none.

        Ids, timestamps, statuses, revocations and versions are kept; a file joins its
        parent's chain; each record is newer than every record stored before it (a
        skill becomes the latest upload). None of them may exist yet.

        Raises:
            ConflictError: a record's key, key hash or external id is already stored,
                or a file's version is taken in its chain; nothing is written.
            NotFoundError: a file names a parent or execution the tenant does not have
                (some backends report that as a `ConflictError`, as their foreign keys do).
            InvalidArgumentError: a record breaks the contract's rules on values.
        """
        ...
