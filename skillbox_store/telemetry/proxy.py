"""`InstrumentedStore`: the same `Store`, with a span and a measurement per call.

A proxy, not a change to the backends: every backend, a third-party one included, is
instrumented the same way, and a store opened without telemetry is the backend's own
object, untouched (`skillbox_store.telemetry.settings`). Each method hands the backend's
coroutine to `Tracing`, which awaits it inside the span; the backend's arguments are
passed through unchanged, so its checks and errors are exactly those of the bare store.

Capabilities survive the wrapping. The proxy's class is chosen per store among
combinations of the capability mixins (`_StatsMethods`, `_BulkMethods`), one for each
capability Protocol the wrapped store implements: ``supports(proxy, name)`` and
``isinstance(proxy, StoreStats)`` answer exactly as they do for the store itself, and
the capability calls are spanned too (``skillbox.capability``). Any other attribute
(``pool`` and ``schema`` of a `PostgresStore`, a capability this version does not know)
is the wrapped store's, reached through ``__getattr__`` and not instrumented.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from functools import cache
from types import TracebackType
from typing import TYPE_CHECKING, Self

from skillbox_store.capabilities import BULK, CAPABILITIES, STATS, declared

if TYPE_CHECKING:
    from skillbox_store.bulk import BulkReader, BulkRecord
    from skillbox_store.records import (
        APIKey,
        Execution,
        File,
        FileFilter,
        RetentionReport,
        Session,
        SkillRecord,
    )
    from skillbox_store.store import Store
    from skillbox_store.telemetry.tracing import Tracing

__all__ = ["InstrumentedStore", "wrap"]


class InstrumentedStore:
    """A `Store` that reports each call of the store it wraps as a span and metrics."""

    __slots__ = ("_on_close", "_store", "_tracing")

    def __init__(
        self, store: Store, tracing: Tracing, on_close: Callable[[], None] | None = None
    ) -> None:
        """Wrap ``store``; ``on_close`` runs once the store is closed (pool metrics stop)."""
        self._store = store
        self._tracing = tracing
        self._on_close = on_close

    @property
    def wrapped(self) -> Store:
        """The backend's store that this one instruments."""
        return self._store

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities the wrapped store declares (`skillbox_store.capabilities`)."""
        return declared(self._store)

    def __getattr__(self, name: str) -> object:
        # Only reached for names the proxy lacks. Private names are not forwarded: a
        # lookup during construction or copying must not recurse into `_store`.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._store, name)

    def __repr__(self) -> str:
        """Name the wrapped store, whose own repr holds no secret."""
        return f"<{type(self).__name__} of {self._store!r}>"

    # -- API keys -----------------------------------------------------------------------

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        running = self._store.create_key(tenant_id, name, key_hash, id=id)
        return await self._tracing.call("create_key", running, tenant_id)

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        return await self._tracing.call("get_key_by_hash", self._store.get_key_by_hash(key_hash))

    async def validate_key(self, key_hash: str) -> APIKey | None:
        return await self._tracing.call("validate_key", self._store.validate_key(key_hash))

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        return await self._tracing.listing(
            "list_keys", self._store.list_keys(tenant_id), tenant_id
        )

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        running = self._store.revoke_key(tenant_id, key_id)
        return await self._tracing.call("revoke_key", running, tenant_id)

    # -- Executions ---------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        running = self._store.create_execution(execution, id=id)
        return await self._tracing.call("create_execution", running, execution)

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        running = self._store.insert_execution(execution, id=id)
        return await self._tracing.call("insert_execution", running, execution)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        running = self._store.get_execution(tenant_id, execution_id)
        return await self._tracing.call("get_execution", running, tenant_id)

    async def list_executions(
        self, tenant_id: str, limit: int = 20, offset: int = 0, *, after: str | None = None
    ) -> list[Execution]:
        running = self._store.list_executions(tenant_id, limit, offset, after=after)
        return await self._tracing.listing("list_executions", running, tenant_id)

    async def update_execution(self, execution: Execution) -> Execution:
        running = self._store.update_execution(execution)
        return await self._tracing.call("update_execution", running, execution)

    # -- Files and version chains -------------------------------------------------------

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        return await self._tracing.call("create_file", self._store.create_file(file, id=id), file)

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        running = self._store.get_file(tenant_id, file_id)
        return await self._tracing.call("get_file", running, tenant_id)

    async def update_file(self, file: File) -> File:
        return await self._tracing.call("update_file", self._store.update_file(file), file)

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        running = self._store.delete_file(tenant_id, file_id)
        await self._tracing.call("delete_file", running, tenant_id)

    async def list_files(self, filter: FileFilter) -> list[File]:
        return await self._tracing.listing("list_files", self._store.list_files(filter), filter)

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        running = self._store.list_session_files(tenant_id, session_id)
        return await self._tracing.listing("list_session_files", running, tenant_id)

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
        running = self._store.create_file_version(
            tenant_id,
            file_id,
            name=name,
            content_type=content_type,
            size_bytes=size_bytes,
            s3_key=s3_key,
            id=id,
        )
        return await self._tracing.call("create_file_version", running, tenant_id)

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        running = self._store.list_file_versions(tenant_id, file_id)
        return await self._tracing.listing("list_file_versions", running, tenant_id)

    # -- Sessions -----------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        running = self._store.get_or_create_session(tenant_id, external_id)
        return await self._tracing.call("get_or_create_session", running, tenant_id)

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        running = self._store.get_session(tenant_id, session_id)
        return await self._tracing.call("get_session", running, tenant_id)

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        running = self._store.get_session_by_external_id(tenant_id, external_id)
        return await self._tracing.call("get_session_by_external_id", running, tenant_id)

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        running = self._store.touch_session(tenant_id, session_id)
        return await self._tracing.call("touch_session", running, tenant_id)

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        running = self._store.delete_session(tenant_id, external_id)
        await self._tracing.call("delete_session", running, tenant_id)

    # -- Skills -------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        running = self._store.upsert_skill(record)
        return await self._tracing.call("upsert_skill", running, record)

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        running = self._store.get_skill(tenant_id, name, version)
        return await self._tracing.call("get_skill", running, tenant_id)

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        running = self._store.delete_skill(tenant_id, name, version)
        await self._tracing.call("delete_skill", running, tenant_id)

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        running = self._store.list_skills(tenant_id)
        return await self._tracing.listing("list_skills", running, tenant_id)

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        running = self._store.resolve_latest_version(tenant_id, name)
        return await self._tracing.call("resolve_latest_version", running, tenant_id)

    # -- Keeping data -------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        running = self._store.purge_tenant(tenant_id)
        return await self._tracing.call("purge_tenant", running, tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        running = self._store.prune_executions(tenant_id, finished_before)
        return await self._tracing.call("prune_executions", running, tenant_id)

    # -- The store itself ---------------------------------------------------------------

    async def ping(self) -> None:
        await self._tracing.call("ping", self._store.ping())

    async def schema_version(self) -> int:
        return await self._tracing.call("schema_version", self._store.schema_version())

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """Span the block; the block's store is instrumented too, its calls children."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        async with self._tracing.block("transaction", self._store.transaction()) as tx:
            yield wrap(tx, self._tracing)

    async def close(self) -> None:
        """Close the wrapped store, then stop reporting its pool."""
        try:
            await self._tracing.call("close", self._store.close())
        finally:
            on_close, self._on_close = self._on_close, None
            if on_close is not None:
                on_close()

    async def __aenter__(self) -> Self:
        await self._store.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class _StatsMethods(InstrumentedStore):
    """The spanned methods of `skillbox_store.stats.StoreStats`."""

    __slots__ = ()

    async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
        """Count every table of the wrapped store (`StoreStats.table_counts`)."""
        counts = self._store.table_counts(exact=exact)  # type: ignore[attr-defined]
        found: dict[str, int] = await self._tracing.call(
            "table_counts", counts, capability=STATS
        )
        return found


class _BulkMethods(InstrumentedStore):
    """The spanned methods of `skillbox_store.bulk.StoreBulk`."""

    __slots__ = ()

    def bulk_snapshot(self) -> AbstractAsyncContextManager[BulkReader]:
        """Span the snapshot block; the reader's batches are not spanned one by one."""
        opening = self._store.bulk_snapshot()  # type: ignore[attr-defined]
        reading: AbstractAsyncContextManager[BulkReader] = self._tracing.block(
            "bulk_snapshot", opening, capability=BULK
        )
        return reading

    async def bulk_find(
        self, table: str, tenant_id: str, records: Sequence[BulkRecord]
    ) -> list[BulkRecord | None]:
        """Find stored records (`StoreBulk.bulk_find`)."""
        running = self._store.bulk_find(table, tenant_id, records)  # type: ignore[attr-defined]
        found: list[BulkRecord | None] = await self._tracing.call(
            "bulk_find", running, tenant_id, capability=BULK
        )
        return found

    async def bulk_insert(self, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
        """Insert records as they were (`StoreBulk.bulk_insert`)."""
        running = self._store.bulk_insert(table, tenant_id, records)  # type: ignore[attr-defined]
        await self._tracing.call("bulk_insert", running, tenant_id, capability=BULK)


# Each mixin, by the capability whose Protocol the wrapped store must implement.
_MIXINS: dict[str, type[InstrumentedStore]] = {STATS: _StatsMethods, BULK: _BulkMethods}


@cache
def _proxy_class(capabilities: frozenset[str]) -> type[InstrumentedStore]:
    """The proxy class with exactly these capabilities' methods (at most 2² classes)."""
    if not capabilities:
        return InstrumentedStore
    bases = tuple(_MIXINS[name] for name in sorted(capabilities))
    label = "".join(name.title() for name in sorted(capabilities))
    proxy: type[InstrumentedStore] = type(
        f"InstrumentedStore{label}", bases, {"__slots__": (), "__module__": __name__}
    )
    return proxy


def wrap(
    store: Store, tracing: Tracing, on_close: Callable[[], None] | None = None
) -> InstrumentedStore:
    """Return ``store`` instrumented, with the methods of the capabilities it implements."""
    capabilities = frozenset(
        name
        for name in _MIXINS
        if isinstance(store, CAPABILITIES[name].protocol)
    )
    return _proxy_class(capabilities)(store, tracing, on_close)
