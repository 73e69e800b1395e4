"""`PostgresStore`: the contract on PostgreSQL through a psycopg_pool connection pool.

Round trips. Every point read and single-row write is one statement on an autocommit
connection, so it costs exactly one round trip: a pooled connection given back inside
an implicit transaction would cost a ROLLBACK round trip each time. Store-chosen ids and
timestamps come from Python (``uuid4``, `utc_now`), so an insert needs no RETURNING;
updates use RETURNING, get-or-create and upsert use ``INSERT … ON CONFLICT``, and
`create_file_version` is one ``INSERT … SELECT``. Only error paths may take a second
query, to tell `NotFoundError` from `ConflictError`, and so may a create repeated with
the caller's id: its insert says ``ON CONFLICT (tenant_id, id) DO NOTHING``, and a row
count of 0 is followed by one read of the stored record to compare with the request.

Transactions. A `transaction()` block holds one pooled connection for its whole block
(``BEGIN`` … ``COMMIT``); inside it each write runs in a savepoint, so a failed call
leaves the block usable and unchanged, as outside one.

Broken connections. After a server restart the pool's idle connections are dead. A
read (or a block's BEGIN) that fails on one runs once more on a fresh connection; a
write does so only when the server had ended the session before the statement ran
(SQLSTATE 57P01–57P03), since otherwise it may have been applied. Either way the call
gives up within the pool's ``timeout``. A block whose connection dies raises
`UnavailableError` and commits nothing. The pool's ``check`` option tests each
connection before use instead, at the price of a round trip per call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

from psycopg.types.json import Jsonb

from skillbox_store import idempotency
from skillbox_store import validation as check
from skillbox_store.backends.keyset import keyset_page
from skillbox_store.backends.postgres import bulk, retention, rows
from skillbox_store.backends.postgres.connections import Connections, Pool, Shared
from skillbox_store.backends.postgres.distribute import Placement, distribute_tables
from skillbox_store.backends.postgres.errors import (
    is_foreign_key_violation,
    is_missing_table,
    is_unique_violation,
)
from skillbox_store.backends.postgres.jsonb import to_jsonb
from skillbox_store.backends.postgres.rls import RlsState
from skillbox_store.backends.postgres.statements import SHARD_RELTUPLES, Statements
from skillbox_store.backends.postgres.tenancy import declarations
from skillbox_store.bulk import BulkReader, BulkRecord
from skillbox_store.errors import (
    ConflictError,
    NotFoundError,
    StoreError,
    already_finished,
    already_revoked,
    hash_taken,
    not_found,
    shown,
    still_a_parent,
    version_misplaced,
    version_not_above_parent,
    version_taken,
)
from skillbox_store.records import (
    APIKey,
    Execution,
    File,
    FileFilter,
    RetentionReport,
    Session,
    SkillRecord,
    new_id,
    trusted_record,
    utc_now,
)
from skillbox_store.retries import retried
from skillbox_store.stats import ESTIMATE_ABOVE, TABLES, Estimate
from skillbox_store.store import Store

__all__ = ["DEFAULT_SCHEMA", "PostgresStore"]

DEFAULT_SCHEMA: Final = "sandbox"

# Each lost race on a chain's head costs one retry; a call retries at most this often.
_VERSION_ATTEMPTS: Final = 100


def _json(value: Any) -> Jsonb | None:
    # None is SQL NULL; Jsonb(None) would store the JSON literal null instead. Large
    # floats are spelled out so that jsonb keeps them floats (see `jsonb`).
    return to_jsonb(value)


def _new_execution(e: Execution, chosen_id: str | None) -> tuple[list[Any], Execution]:
    """Return the parameters of ``INSERT_EXECUTION`` for a checked execution, and the record.

    The values are checked and in UTC already, so they become the record as they are
    (`trusted_record`): converting them again through `rows.execution_from_row` would
    cost about 2 µs a call, as much as all the checks, where `create_execution` is to
    keep up with the raw pool's throughput (`benchmarks/run.py`).
    """
    values: dict[str, Any] = {
        "id": chosen_id or new_id(),
        "skill_name": e.skill_name,
        "skill_version": e.skill_version,
        "tenant_id": e.tenant_id,
        "status": e.status,
        "input": e.input,
        "output": e.output,
        "logs": e.logs,
        "files_url": e.files_url,
        "files_list": list(e.files_list),
        "duration_ms": e.duration_ms,
        "error": e.error,
        "created_at": utc_now(),
        "finished_at": e.finished_at,
    }
    # The record's fields are the statement's columns, in the same order.
    params = list(values.values())
    params[5] = to_jsonb(params[5])
    params[6] = to_jsonb(params[6])
    return params, trusted_record(Execution, values)


def _vanished(record: str, record_id: str) -> ConflictError:
    """The error of a retry whose record was deleted between its insert and its read."""
    return ConflictError(
        f"{record} {record_id} was deleted while this call was creating it; try again"
    )


class PostgresStore:
    """A `Store` on PostgreSQL; open it with `open_store`, or wrap a pool you own.

    ``PostgresStore(pool, schema=…)`` is the counterpart of Go's ``NewWithDB``: the
    store does not migrate the schema, but checks its version at the first call other
    than `ping` and `schema_version` (`SchemaOutdatedError` when it is behind), and
    does not close the pool. Its connections should be autocommit (``kwargs={"autocommit": True}``);
    otherwise each call pays a COMMIT round trip when the pool takes the connection
    back. No I/O happens here.
    """

    # Optional capabilities this backend offers (`skillbox_store.capabilities`): "stats"
    # is `table_counts`, "bulk" the `bulk_*` methods.
    capabilities = frozenset({"stats", "bulk"})

    def __init__(
        self,
        pool: Pool,
        *,
        schema: str = DEFAULT_SCHEMA,
        owns_pool: bool = False,
        password: str | None = None,
        lock_timeout: float | None = None,
        rls: RlsState | None = None,
    ) -> None:
        """Wrap ``pool``; ``owns_pool`` makes `close` close it, ``password`` is scrubbed.

        ``lock_timeout`` (seconds) bounds each row-lock wait inside a `transaction`
        block on the server, set for that transaction only; every call is bounded by
        the pool's ``timeout`` in any case. ``rls`` is what `open_store` found of
        row-level security; a pool of the caller's declares each statement's tenant
        unless told ``RlsState(mode="off", …, declaring=False)``.

        Raises:
            InvalidArgumentError: ``schema`` is not a name PostgreSQL keeps as given
                (`statements.SCHEMA_RULE`).
        """
        # A store that owns its pool comes from open_postgres_store, which migrated the
        # schema (or open_store checked it); a caller's pool is checked at its first call.
        shared = Shared(
            pool, Statements.for_schema(schema), owns_pool, password, schema_checked=owns_pool
        )
        kwargs = pool.kwargs if isinstance(pool.kwargs, dict) else {}
        # psycopg prepares after 5 executions unless told otherwise.
        shared.prepared = kwargs.get("prepare_threshold", 5) is not None
        if lock_timeout is not None:
            # At least 1 ms: lock_timeout 0 would mean no bound at all.
            shared.lock_timeout = f"{max(1, round(lock_timeout * 1000))}ms"
        self._rls = rls
        if rls is None or rls.declaring:
            shared.declared = declarations(shared.sql)
        self._db = Connections(shared)

    @property
    def pool(self) -> Pool:
        """The connection pool the store uses, for raw access (Go's ``DB()``)."""
        return self._db.shared.pool

    @property
    def schema(self) -> str:
        """The schema that holds the store's tables."""
        return self._db.sql.schema

    @property
    def row_level_security(self) -> RlsState | None:
        """Row-level security as found at open (`status` shows it); None: not known."""
        return self._rls

    # -- API keys ---------------------------------------------------------------------------

    async def create_key(
        self, tenant_id: str, name: str, key_hash: str, *, id: str | None = None
    ) -> APIKey:
        chosen = check.create_key(tenant_id, name, key_hash, id)
        sql = self._db.sql
        key_id = chosen or new_id()
        row = (key_id, key_hash, tenant_id, name, utc_now())
        try:
            inserted = await self._db.query(sql.INSERT_KEY, row, "count", write=True)
        except ConflictError as exc:
            # The primary key is the arbiter, so the one unique index INSERT_KEY can
            # violate is the hash's: known from the statement, not from a constraint
            # name (which Citus does not pass on). Identical retries racing each other
            # land here too: PostgreSQL notes the arbiter's conflict with a row not yet
            # committed without waiting, then waits on the hash's index and fails once
            # the other attempt commits. Its key, found by the id, tells the two apart.
            if not is_unique_violation(exc.__cause__):
                raise
            taken = hash_taken()
            if chosen is None:
                raise taken from exc
            found = await self._db.one(sql.SELECT_KEY, (tenant_id, key_id))
            if found is None:
                raise taken from exc
        else:
            if inserted:
                return rows.key_from_row((*row, None))
            # The id is taken: a retry, or another request's key.
            found = await self._db.one(sql.SELECT_KEY, (tenant_id, key_id))
            if found is None:
                raise _vanished("API key", key_id)
        stored = rows.key_from_row(found)
        differences = idempotency.key_differences(stored, name, key_hash)
        return idempotency.replayed(stored, "API key", differences)

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        check.get_key_by_hash(key_hash)
        row = await self._db.one(self._db.sql.SELECT_KEY_BY_HASH, (key_hash,))
        if row is None:
            raise NotFoundError("no API key has this hash")
        return rows.key_from_row(row)

    async def validate_key(self, key_hash: str) -> APIKey | None:
        check.validate_key(key_hash)
        row = await self._db.one(self._db.sql.SELECT_VALID_KEY_BY_HASH, (key_hash,))
        return None if row is None else rows.key_from_row(row)

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        check.list_keys(tenant_id)
        found = await self._db.all(self._db.sql.SELECT_KEYS, (tenant_id,))
        return rows.keys_from_rows(found)

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        key_id = check.revoke_key(tenant_id, key_id)
        sql = self._db.sql
        row = await self._db.one(sql.REVOKE_KEY, (utc_now(), tenant_id, key_id), write=True)
        if row is not None:
            return rows.key_from_row(row)
        if await self._db.one(sql.SELECT_KEY_REVOKED_AT, (tenant_id, key_id)) is None:
            raise not_found(tenant_id, f"API key {shown(key_id)}")
        raise already_revoked(key_id)

    # -- Executions -------------------------------------------------------------------------

    async def create_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        checked, chosen = check.create_execution(execution, id)
        return await self._insert_execution(checked, chosen)

    async def insert_execution(self, execution: Execution, *, id: str | None = None) -> Execution:
        checked, chosen = check.insert_execution(execution, id)
        return await self._insert_execution(checked, chosen)

    async def _insert_execution(self, checked: Execution, chosen: str | None) -> Execution:
        """Insert a checked execution in one statement; a retry reads what it stored."""
        params, created = _new_execution(checked, chosen)
        sql = self._db.sql
        if await self._db.query(sql.INSERT_EXECUTION, params, "count", write=True):
            return created
        found = await self._db.one(sql.SELECT_EXECUTION, (checked.tenant_id, created.id))
        if found is None:
            raise _vanished("execution", created.id)
        stored = rows.execution_from_row(found)
        differences = idempotency.execution_differences(stored, checked)
        return idempotency.replayed(stored, "execution", differences)

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        execution_id = check.get_execution(tenant_id, execution_id)
        row = await self._db.one(self._db.sql.SELECT_EXECUTION, (tenant_id, execution_id))
        if row is None:
            raise not_found(tenant_id, f"execution {shown(execution_id)}")
        return rows.execution_from_row(row)

    async def list_executions(
        self,
        tenant_id: str,
        limit: int = check.EXECUTIONS_PAGE_DEFAULT,
        offset: int = 0,
        *,
        after: str | None = None,
    ) -> list[Execution]:
        limit, offset, after = check.list_executions(tenant_id, limit, offset, after)
        sql = self._db.sql
        if after is None:
            found = await self._db.all(sql.SELECT_EXECUTIONS_PAGE, (tenant_id, limit, offset))
        else:
            params = {"tenant_id": tenant_id, "after": after, "limit": limit}
            found = await self._db.all(sql.SELECT_EXECUTIONS_AFTER, params)
            found = keyset_page(found, tenant_id, "execution", after)
        return rows.executions_from_rows(found)

    async def update_execution(self, execution: Execution) -> Execution:
        e = check.update_execution(execution)
        sql = self._db.sql
        params = (
            e.status,
            _json(e.output),
            e.logs,
            e.files_url,
            list(e.files_list),
            e.duration_ms,
            e.error,
            e.finished_at,
            e.tenant_id,
            e.id,
        )
        row = await self._db.one(sql.UPDATE_RUNNING_EXECUTION, params, write=True)
        if row is not None:
            return rows.execution_from_row(row)
        status = await self._db.one(sql.SELECT_EXECUTION_STATUS, (e.tenant_id, e.id))
        if status is None:
            raise not_found(e.tenant_id, f"execution {shown(e.id)}")
        raise already_finished(e.id, status[0])

    # -- Files ------------------------------------------------------------------------------

    async def create_file(self, file: File, *, id: str | None = None) -> File:
        f, chosen = check.create_file(file, id)
        sql = self._db.sql
        file_id = chosen or new_id()
        now = utc_now()
        params = {
            "id": file_id,
            "tenant_id": f.tenant_id,
            "session_id": f.session_id,
            "execution_id": f.execution_id,
            "name": f.name,
            "content_type": f.content_type,
            "size_bytes": f.size_bytes,
            "s3_key": f.s3_key,
            "version": f.version,
            "parent_id": f.parent_id,
            "now": now,
        }
        taken: ConflictError | None = None
        try:
            inserted = await self._insert_file(params, parented=f.parent_id is not None)
        except ConflictError as exc:
            # The version is taken in the chain. As in `create_key`, identical retries
            # racing each other fail this way (on files_chain_version_key) once the
            # first commits: then the id names the file that took the version.
            if chosen is None:
                raise
            taken, inserted = exc, 0
        except NotFoundError:
            if f.execution_id is None:
                raise
            # The execution is the foreign key a new file can miss (the statement itself
            # finds the parent): said in the words every backend uses.
            raise not_found(
                f.tenant_id, f"execution {shown(f.execution_id)} (named by execution_id)"
            ) from None
        if inserted:
            return rows.file_from_params(params)
        if chosen is not None:
            # Checked before the parent: a retry's parent is still there, and the row the
            # first attempt inserted is why nothing was inserted now.
            found = await self._db.one(sql.SELECT_FILE, (f.tenant_id, chosen))
            if found is not None:
                stored = rows.file_from_row(found)
                differences = idempotency.file_differences(stored, f)
                return idempotency.replayed(stored, "file", differences)
        if taken is not None:
            raise taken
        if f.parent_id is not None:
            parent = await self._db.one(sql.SELECT_FILE_VERSION, (f.tenant_id, f.parent_id))
            if parent is None:
                raise not_found(f.tenant_id, f"file {shown(f.parent_id)} (named by parent_id)")
            if f.version <= parent[0]:
                raise version_not_above_parent(f.version, parent[0])
        # Only the id stood in the way, and its record has been deleted since.
        raise _vanished("file", file_id)

    async def _insert_file(self, params: dict[str, Any], *, parented: bool) -> int:
        """Insert a new file; return the row count (0: see INSERT_FILE_AFTER_PARENT).

        A lost race for the tenant's next seq (migration 0003) runs the statement
        again, which then reads the winner's. Whether a unique violation was that race
        or a version taken in the chain is asked of the database, not read from the
        error's constraint name, which Citus does not pass on.

        Raises:
            ConflictError: the version is used in the parent's chain already.
            NotFoundError: the execution named is not the tenant's.
        """
        sql = self._db.sql
        for _ in range(_VERSION_ATTEMPTS):
            try:
                if parented:
                    inserted: int = await self._db.query(
                        sql.INSERT_FILE_AFTER_PARENT, params, "count", write=True
                    )
                    return inserted
                inserted = await self._db.query(sql.INSERT_FILE, params, "count", write=True)
                if inserted:
                    return inserted
                # No row: the tenant has no file yet (or the id is taken, and this
                # inserts nothing either).
                inserted = await self._db.query(
                    sql.INSERT_TENANT_FIRST_FILE, params, "count", write=True
                )
                return inserted
            except ConflictError as exc:
                if not is_unique_violation(exc.__cause__):
                    raise
                if parented and await self._db.one(sql.SELECT_CHAIN_VERSION_TAKEN, params):
                    raise version_taken(params["version"]) from exc
                retried()  # lost the race for the tenant's next file number
        raise ConflictError(
            f"lost the race for tenant {params['tenant_id']!r}'s next file number "
            f"{_VERSION_ATTEMPTS} times; try again"
        )

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        file_id = check.get_file(tenant_id, file_id)
        row = await self._db.one(self._db.sql.SELECT_FILE, (tenant_id, file_id))
        if row is None:
            raise not_found(tenant_id, f"file {shown(file_id)}")
        return rows.file_from_row(row)

    async def update_file(self, file: File) -> File:
        f = check.update_file(file)
        sql = self._db.sql
        params = {
            "name": f.name,
            "content_type": f.content_type,
            "size_bytes": f.size_bytes,
            "s3_key": f.s3_key,
            "version": f.version,
            "now": utc_now(),
            "tenant_id": f.tenant_id,
            "id": f.id,
        }
        try:
            row = await self._db.one(sql.UPDATE_FILE, params, write=True)
        except ConflictError as exc:
            # The one unique index UPDATE_FILE can violate is files_chain_version_key: the
            # version is used elsewhere in the chain (known from the statement, not from
            # the driver's text, which every backend would word differently).
            if not is_unique_violation(exc.__cause__):
                raise
            raise version_misplaced(f.version) from exc
        if row is not None:
            return rows.file_from_row(row)
        if await self._db.one(sql.SELECT_FILE_VERSION, (f.tenant_id, f.id)) is None:
            raise not_found(f.tenant_id, f"file {shown(f.id)}")
        raise version_misplaced(f.version)

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        file_id = check.delete_file(tenant_id, file_id)
        try:
            deleted = await self._db.query(
                self._db.sql.DELETE_FILE,
                (tenant_id, file_id),
                "count",
                write=True,
                referenced=ConflictError,
            )
        except ConflictError as exc:
            # The one foreign key DELETE_FILE can violate is files_parent_fkey: a later
            # version names this file. Said in every backend's words, not the driver's.
            if not is_foreign_key_violation(exc.__cause__):
                raise
            raise still_a_parent(file_id) from exc
        if not deleted:
            raise not_found(tenant_id, f"file {shown(file_id)}")

    async def list_files(self, filter: FileFilter) -> list[File]:
        wanted = check.list_files(filter)
        if wanted.matches_nothing:
            self._db.check_usable()
            return []
        sql = self._db.sql
        if wanted.after is not None:
            query = {
                "tenant": sql.SELECT_FILES_AFTER,
                "session": sql.SELECT_FILES_AFTER_BY_SESSION,
                "execution": sql.SELECT_FILES_AFTER_BY_EXECUTION,
                "session_and_execution": sql.SELECT_FILES_AFTER_BY_SESSION_AND_EXECUTION,
            }[wanted.narrowed_by]
            found = await self._db.all(query, wanted.named_params)
            found = keyset_page(found, wanted.tenant_id, "file", wanted.after)
            return rows.files_from_rows(found)
        query = {
            "tenant": sql.SELECT_FILES_PAGE,
            "session": sql.SELECT_FILES_PAGE_BY_SESSION,
            "execution": sql.SELECT_FILES_PAGE_BY_EXECUTION,
            "session_and_execution": sql.SELECT_FILES_PAGE_BY_SESSION_AND_EXECUTION,
        }[wanted.narrowed_by]
        return rows.files_from_rows(await self._db.all(query, wanted.params))

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        canonical = check.list_session_files(tenant_id, session_id)
        if canonical is None:
            self._db.check_usable()
            return []
        found = await self._db.all(self._db.sql.SELECT_SESSION_FILES, (tenant_id, canonical))
        return rows.files_from_rows(found)

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
        """Append a version in one statement; a lost race on the head runs it again.

        A repeat with the caller's id inserts nothing and reads the version it appended.
        """
        file_id, chosen = check.create_file_version(
            tenant_id, file_id, name, content_type, size_bytes, s3_key, id
        )
        params: dict[str, Any] = {
            "tenant_id": tenant_id,
            "file_id": file_id,
            "name": name,
            "content_type": content_type,
            "size_bytes": size_bytes,
            "s3_key": s3_key,
        }
        for _ in range(_VERSION_ATTEMPTS):
            params["id"] = chosen or new_id()
            params["now"] = utc_now()
            try:
                row = await self._db.query(
                    self._db.sql.INSERT_FILE_VERSION, params, "one", write=True
                )
            except ConflictError as exc:
                # A lost race for the chain's next version or the tenant's next seq:
                # both are read afresh by the next run (and the id is the arbiter).
                if is_unique_violation(exc.__cause__):
                    retried()
                    continue
                raise
            if row is None and chosen is not None:
                return await self._retried_file_version(params)
            if row is None:
                raise not_found(tenant_id, f"file {shown(file_id)}")
            return rows.file_from_row(row)
        raise ConflictError(
            f"file {file_id}: lost the race for the chain's next version "
            f"{_VERSION_ATTEMPTS} times; try again"
        )

    async def _retried_file_version(self, params: dict[str, Any]) -> File:
        """Tell why `INSERT_FILE_VERSION` with a caller's id inserted nothing.

        Raises:
            AlreadyExistsError: the id is the tenant's file, made by another request.
            NotFoundError: the id is free: it was ``file_id`` that named nothing.
        """
        found = await self._db.one(self._db.sql.SELECT_FILE_AND_CHAIN_MEMBERSHIP, params)
        if found is None:
            raise not_found(params["tenant_id"], f"file {shown(params['file_id'])}")
        stored = rows.file_from_row(found[:-1])
        differences = idempotency.file_version_differences(
            stored,
            in_chain=found[-1],
            name=params["name"],
            content_type=params["content_type"],
            size_bytes=params["size_bytes"],
            s3_key=params["s3_key"],
        )
        return idempotency.replayed(stored, "file", differences)

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        canonical = check.list_file_versions(tenant_id, file_id)
        if canonical is None:
            self._db.check_usable()
            return []
        found = await self._db.all(
            self._db.sql.SELECT_FILE_VERSIONS, {"tenant_id": tenant_id, "file_id": canonical}
        )
        return rows.files_from_rows(found)

    # -- Sessions ---------------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        check.get_or_create_session(tenant_id, external_id)
        now = utc_now()
        row = await self._db.one(
            self._db.sql.UPSERT_SESSION,
            (new_id(), tenant_id, external_id, now, now),
            write=True,
        )
        assert row is not None  # RETURNING of an upsert always yields a row
        return rows.session_from_row(row)

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.get_session(tenant_id, session_id)
        row = await self._db.one(self._db.sql.SELECT_SESSION, (tenant_id, session_id))
        if row is None:
            raise not_found(tenant_id, f"session {shown(session_id)}")
        return rows.session_from_row(row)

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        check.get_session_by_external_id(tenant_id, external_id)
        row = await self._db.one(
            self._db.sql.SELECT_SESSION_BY_EXTERNAL_ID, (tenant_id, external_id)
        )
        if row is None:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")
        return rows.session_from_row(row)

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        session_id = check.touch_session(tenant_id, session_id)
        row = await self._db.one(
            self._db.sql.TOUCH_SESSION, (utc_now(), tenant_id, session_id), write=True
        )
        if row is None:
            raise not_found(tenant_id, f"session {shown(session_id)}")
        return rows.session_from_row(row)

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        check.delete_session(tenant_id, external_id)
        deleted = await self._db.query(
            self._db.sql.DELETE_SESSION, (tenant_id, external_id), "count", write=True
        )
        if not deleted:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")

    # -- Skills -----------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        r = check.upsert_skill(record)
        params = (r.tenant_id, r.name, r.version, r.description, r.lang, utc_now())
        row = await self._db.one(self._db.sql.UPSERT_SKILL, params, write=True)
        assert row is not None  # RETURNING of an upsert always yields a row
        return rows.skill_from_row(row)

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        check.get_skill(tenant_id, name, version)
        row = await self._db.one(self._db.sql.SELECT_SKILL, (tenant_id, name, version))
        if row is None:
            raise not_found(tenant_id, f"skill {shown(name)} version {shown(version)}")
        return rows.skill_from_row(row)

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        check.delete_skill(tenant_id, name, version)
        await self._db.query(
            self._db.sql.DELETE_SKILL, (tenant_id, name, version), "count", write=True
        )

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        check.list_skills(tenant_id)
        found = await self._db.all(self._db.sql.SELECT_SKILLS, (tenant_id,))
        return rows.skills_from_rows(found)

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        check.resolve_latest_version(tenant_id, name)
        row = await self._db.one(self._db.sql.SELECT_LATEST_SKILL_VERSION, (tenant_id, name))
        if row is None:
            raise not_found(tenant_id, f"version of skill {shown(name)}")
        version: str = row[0]
        return version

    # -- Keeping data -----------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        """Delete the tenant's rows of every table in one statement."""
        check.purge_tenant(tenant_id)
        return await retention.purge_tenant(self._db, tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        """Delete in one statement; a file created meanwhile naming a candidate is a conflict."""
        finished_before = check.prune_executions(tenant_id, finished_before)
        return await retention.prune_executions(self._db, tenant_id, finished_before)

    # -- Bulk reads and writes (skillbox_store.bulk.StoreBulk) -------------------------------

    def bulk_snapshot(self) -> AbstractAsyncContextManager[BulkReader]:
        """Read in a ``REPEATABLE READ, READ ONLY`` transaction on one pooled connection."""
        return bulk.snapshot(self._db)

    async def bulk_find(
        self, table: str, tenant_id: str, records: Sequence[BulkRecord]
    ) -> list[BulkRecord | None]:
        bulk.check_batch(table, tenant_id, records)
        return await bulk.find(self._db, table, tenant_id, records)

    async def bulk_insert(self, table: str, tenant_id: str, records: Sequence[BulkRecord]) -> None:
        """Insert the batch with one ``COPY … FROM STDIN`` on a pooled connection."""
        bulk.check_batch(table, tenant_id, records)
        await bulk.insert(self._db, table, tenant_id, records)

    # -- The store itself -------------------------------------------------------------------

    async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
        """Count the records of every tenant (`skillbox_store.stats.StoreStats`).

        With ``exact=False``, a table of at least `ESTIMATE_ABOVE` rows by the planner's
        statistics is not scanned: its count is the `Estimate` in ``pg_class`` (on a
        Citus coordinator, the shards' ``pg_class`` rows summed: the coordinator's own
        tables are empty shells).
        """
        sql = self._db.sql
        if exact:
            row = await self._db.one(sql.SELECT_TABLE_COUNTS, ())
            assert row is not None  # a SELECT without FROM returns its one row
            return dict(zip(TABLES, (int(n) for n in row), strict=True))
        if await self._distributed():
            return await self._counts_on_shards()
        params = {"schema": sql.schema, "above": ESTIMATE_ABOVE}
        row = await self._db.one(sql.SELECT_TABLE_COUNTS_ESTIMATED, params)
        assert row is not None  # one row, from a subquery without FROM
        pairs = zip(row[0::2], row[1::2], strict=True)
        counts = (Estimate(n) if estimated else int(n) for n, estimated in pairs)
        return dict(zip(TABLES, counts, strict=True))

    async def distribute(self) -> list[Placement]:
        """Distribute the tables on a Citus coordinator, as the README lays them out.

        Not part of the `Store` contract: `skillbox-store migrate --distribute` calls it.
        Idempotent; see `skillbox_store.backends.postgres.distribute`.

        Raises:
            MigrationError: Citus is absent, the schema is not migrated, or a table is
                distributed another way already.
        """
        return await distribute_tables(self._db)

    async def _counts_on_shards(self) -> dict[str, int]:
        """`table_counts(exact=False)` on Citus: the shards' statistics, then counts."""
        sql = self._db.sql
        params: dict[str, Any] = {table: f"{sql.schema}.{table}" for table in TABLES}
        params["reltuples"] = SHARD_RELTUPLES
        row = await self._db.one(sql.SELECT_SHARD_ROW_ESTIMATES, params)
        assert row is not None  # a SELECT without FROM returns its one row
        estimates = dict(zip(TABLES, (int(n) for n in row), strict=True))
        small = {f"count_{t}": n < ESTIMATE_ABOVE for t, n in estimates.items()}
        counted = await self._db.one(sql.SELECT_TABLE_COUNTS_WANTED, small)
        assert counted is not None  # likewise
        return {
            table: int(n) if small[f"count_{table}"] else Estimate(estimates[table])
            for table, n in zip(TABLES, counted, strict=True)
        }

    async def _distributed(self) -> bool:
        """Tell whether Citus distributes every table of the store (two reads)."""
        sql = self._db.sql
        if await self._db.one(sql.SELECT_CITUS_VERSION, ()) is None:
            return False
        row = await self._db.one(sql.SELECT_DISTRIBUTED_TABLE_COUNT, (sql.schema,))
        return row is not None and int(row[0]) >= len(TABLES)

    async def ping(self) -> None:
        await self._db.one(self._db.sql.SELECT_ONE, ())

    async def schema_version(self) -> int:
        """Return the highest applied migration; 0 when the schema was never migrated."""
        try:
            # A write as far as blocks go: a missing table must not abort the block.
            row = await self._db.one(self._db.sql.SELECT_SCHEMA_VERSION, (), write=True)
        except StoreError as exc:
            if is_missing_table(exc.__cause__):
                return 0
            raise
        return 0 if row is None else int(row[0])

    def transaction(self) -> AbstractAsyncContextManager[Store]:
        """Open a transaction on one pooled connection (a savepoint when nested).

        The block holds its connection until it ends, so blocks count against the
        pool's ``max_size``.
        """
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Store]:
        async with self._db.block() as scoped:
            view = PostgresStore.__new__(PostgresStore)
            view._db = scoped
            yield view

    async def close(self) -> None:
        """Close the pool if the store opened it; a caller's pool stays open."""
        await self._db.close()

    async def __aenter__(self) -> Self:
        self._db.check_usable()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
