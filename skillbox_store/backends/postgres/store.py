"""`PostgresStore`: the contract on PostgreSQL through a psycopg_pool connection pool.

Round trips. Every point read and single-row write is one statement on an autocommit
connection, so it costs exactly one round trip: a pooled connection given back inside
an implicit transaction would cost a ROLLBACK round trip each time. Store-chosen ids and
timestamps come from Python (``uuid4``, `utc_now`), so an insert needs no RETURNING;
updates use RETURNING, get-or-create and upsert use ``INSERT … ON CONFLICT``, and
`create_file_version` is one ``INSERT … SELECT``. Only error paths may take a second
query, to tell `NotFoundError` from `ConflictError`.

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

from skillbox_store import validation as check
from skillbox_store.backends.postgres import bulk, retention, rows
from skillbox_store.backends.postgres.connections import Connections, Pool, Row, Shared
from skillbox_store.backends.postgres.errors import is_chain_version_taken, is_missing_table
from skillbox_store.backends.postgres.jsonb import to_jsonb
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.bulk import BulkReader, BulkRecord
from skillbox_store.errors import (
    AlreadyFinishedError,
    AlreadyRevokedError,
    ConflictError,
    NotFoundError,
    StoreError,
    not_found,
    not_in_listing,
    shown,
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


def _new_execution(e: Execution) -> tuple[list[Any], Execution]:
    """Return the parameters of ``INSERT_EXECUTION`` for a checked execution, and the record.

    The values are checked and in UTC already, so they become the record as they are
    (`trusted_record`): converting them again through `rows.execution_from_row` would
    cost about 2 µs a call, as much as all the checks (issue 13: `create_execution` at
    the raw pool's throughput).
    """
    values: dict[str, Any] = {
        "id": new_id(),
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


def _keyset_page(found: list[Row], tenant_id: str, record: str, after: str) -> list[Row]:
    """The rows of a ``…_AFTER`` statement's page (see statements.py for the shape).

    Raises:
        NotFoundError: no row at all: ``after`` is not a ``record`` of the listing.
    """
    if not found:
        raise not_in_listing(tenant_id, record, after)
    # One row of NULLs: ``after`` is the listing's oldest record, the page is empty.
    return [] if found[0][0] is None else found


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
    ) -> None:
        """Wrap ``pool``; ``owns_pool`` makes `close` close it, ``password`` is scrubbed.

        Raises:
            InvalidArgumentError: ``schema`` is not a name PostgreSQL keeps as given
                (`statements.SCHEMA_RULE`).
        """
        # A store that owns its pool comes from open_postgres_store, which migrated the
        # schema (or open_store checked it); a caller's pool is checked at its first call.
        shared = Shared(
            pool, Statements.for_schema(schema), owns_pool, password, schema_checked=owns_pool
        )
        self._db = Connections(shared)

    @property
    def pool(self) -> Pool:
        """The connection pool the store uses, for raw access (Go's ``DB()``)."""
        return self._db.shared.pool

    @property
    def schema(self) -> str:
        """The schema that holds the store's tables."""
        return self._db.sql.schema

    # -- API keys ---------------------------------------------------------------------------

    async def create_key(self, tenant_id: str, name: str, key_hash: str) -> APIKey:
        check.check_text("tenant_id", tenant_id)
        check.check_text("name", name)
        check.check_text("key_hash", key_hash)
        row = (new_id(), key_hash, tenant_id, name, utc_now())
        await self._db.query(self._db.sql.INSERT_KEY, row, "count", write=True)
        return rows.key_from_row((*row, None))

    async def get_key_by_hash(self, key_hash: str) -> APIKey:
        check.check_text("key_hash", key_hash)
        row = await self._db.one(self._db.sql.SELECT_KEY_BY_HASH, (key_hash,))
        if row is None:
            raise NotFoundError("no API key has this hash")
        return rows.key_from_row(row)

    async def validate_key(self, key_hash: str) -> APIKey | None:
        check.check_text("key_hash", key_hash)
        row = await self._db.one(self._db.sql.SELECT_VALID_KEY_BY_HASH, (key_hash,))
        return None if row is None else rows.key_from_row(row)

    async def list_keys(self, tenant_id: str) -> list[APIKey]:
        check.check_text("tenant_id", tenant_id)
        found = await self._db.all(self._db.sql.SELECT_KEYS, (tenant_id,))
        return [rows.key_from_row(row) for row in found]

    async def revoke_key(self, tenant_id: str, key_id: str) -> APIKey:
        check.check_text("tenant_id", tenant_id)
        key_id = check.lookup_id("key id", key_id, tenant_id=tenant_id)
        sql = self._db.sql
        row = await self._db.one(sql.REVOKE_KEY, (utc_now(), tenant_id, key_id), write=True)
        if row is not None:
            return rows.key_from_row(row)
        if await self._db.one(sql.SELECT_KEY_REVOKED_AT, (tenant_id, key_id)) is None:
            raise not_found(tenant_id, f"API key {shown(key_id)}")
        raise AlreadyRevokedError(f"API key {key_id} was already revoked")

    # -- Executions -------------------------------------------------------------------------

    async def create_execution(self, execution: Execution) -> Execution:
        params, created = _new_execution(check.check_execution(execution, keep_status=False))
        await self._db.query(self._db.sql.INSERT_EXECUTION, params, "count", write=True)
        return created

    async def insert_execution(self, execution: Execution) -> Execution:
        params, created = _new_execution(check.check_execution(execution, keep_status=True))
        await self._db.query(self._db.sql.INSERT_EXECUTION, params, "count", write=True)
        return created

    async def get_execution(self, tenant_id: str, execution_id: str) -> Execution:
        check.check_text("tenant_id", tenant_id)
        execution_id = check.lookup_id("execution id", execution_id, tenant_id=tenant_id)
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
        check.check_text("tenant_id", tenant_id)
        limit = check.check_limit(limit, maximum=check.EXECUTIONS_PAGE_MAX)
        offset = check.check_offset(offset)
        after = check.check_after(after, offset, tenant_id=tenant_id, record="execution")
        sql = self._db.sql
        if after is None:
            found = await self._db.all(sql.SELECT_EXECUTIONS_PAGE, (tenant_id, limit, offset))
        else:
            params = {"tenant_id": tenant_id, "after": after, "limit": limit}
            found = await self._db.all(sql.SELECT_EXECUTIONS_AFTER, params)
            found = _keyset_page(found, tenant_id, "execution", after)
        return [rows.execution_from_row(row) for row in found]

    async def update_execution(self, execution: Execution) -> Execution:
        e = check.check_execution_update(execution)
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
        raise AlreadyFinishedError(f"execution {e.id} already finished with status {status[0]!r}")

    # -- Files ------------------------------------------------------------------------------

    async def create_file(self, file: File) -> File:
        f = check.check_file(file)
        sql = self._db.sql
        now = utc_now()
        params = {
            "id": new_id(),
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
        insert = sql.INSERT_FILE if f.parent_id is None else sql.INSERT_FILE_AFTER_PARENT
        try:
            inserted = await self._db.query(insert, params, "count", write=True)
        except NotFoundError:
            if f.execution_id is None:
                raise
            # The execution is the foreign key a new file can miss (the statement itself
            # finds the parent): said in the words every backend uses.
            raise not_found(
                f.tenant_id, f"execution {shown(f.execution_id)} (named by execution_id)"
            ) from None
        if not inserted:
            parent = await self._db.one(sql.SELECT_FILE_VERSION, (f.tenant_id, f.parent_id))
            if parent is None:
                raise not_found(f.tenant_id, f"file {shown(f.parent_id)} (named by parent_id)")
            raise ConflictError(
                f"version {f.version} must be greater than the parent's ({parent[0]})"
            )
        return rows.file_from_row(
            (
                params["id"],
                f.tenant_id,
                f.session_id,
                f.execution_id,
                f.name,
                f.content_type,
                f.size_bytes,
                f.s3_key,
                f.version,
                f.parent_id,
                now,
                now,
            )
        )

    async def get_file(self, tenant_id: str, file_id: str) -> File:
        check.check_text("tenant_id", tenant_id)
        file_id = check.lookup_id("file id", file_id, tenant_id=tenant_id)
        row = await self._db.one(self._db.sql.SELECT_FILE, (tenant_id, file_id))
        if row is None:
            raise not_found(tenant_id, f"file {shown(file_id)}")
        return rows.file_from_row(row)

    async def update_file(self, file: File) -> File:
        f = check.check_file_update(file)
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
        row = await self._db.one(sql.UPDATE_FILE, params, write=True)
        if row is not None:
            return rows.file_from_row(row)
        if await self._db.one(sql.SELECT_FILE_VERSION, (f.tenant_id, f.id)) is None:
            raise not_found(f.tenant_id, f"file {shown(f.id)}")
        raise ConflictError(
            f"version {f.version} must stay above the parent's and below every child's"
        )

    async def delete_file(self, tenant_id: str, file_id: str) -> None:
        check.check_text("tenant_id", tenant_id)
        file_id = check.lookup_id("file id", file_id, tenant_id=tenant_id)
        deleted = await self._db.query(
            self._db.sql.DELETE_FILE,
            (tenant_id, file_id),
            "count",
            write=True,
            referenced=ConflictError,
        )
        if not deleted:
            raise not_found(tenant_id, f"file {shown(file_id)}")

    async def list_files(self, filter: FileFilter) -> list[File]:
        wanted = check.check_file_filter(filter)
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
            found = _keyset_page(found, wanted.tenant_id, "file", wanted.after)
            return [rows.file_from_row(row) for row in found]
        query = {
            "tenant": sql.SELECT_FILES_PAGE,
            "session": sql.SELECT_FILES_PAGE_BY_SESSION,
            "execution": sql.SELECT_FILES_PAGE_BY_EXECUTION,
            "session_and_execution": sql.SELECT_FILES_PAGE_BY_SESSION_AND_EXECUTION,
        }[wanted.narrowed_by]
        return [rows.file_from_row(row) for row in await self._db.all(query, wanted.params)]

    async def list_session_files(self, tenant_id: str, session_id: str) -> list[File]:
        check.check_text("tenant_id", tenant_id)
        canonical = check.match_id(session_id)
        if canonical is None:
            self._db.check_usable()
            return []
        found = await self._db.all(self._db.sql.SELECT_SESSION_FILES, (tenant_id, canonical))
        return [rows.file_from_row(row) for row in found]

    async def create_file_version(
        self,
        tenant_id: str,
        file_id: str,
        *,
        name: str | None = None,
        content_type: str | None = None,
        size_bytes: int,
        s3_key: str,
    ) -> File:
        """Append a version in one statement; a lost race on the head runs it again."""
        file_id = check.check_file_version(
            tenant_id, file_id, name, content_type, size_bytes, s3_key
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
            params["id"] = new_id()
            params["now"] = utc_now()
            try:
                row = await self._db.query(
                    self._db.sql.INSERT_FILE_VERSION, params, "one", write=True
                )
            except ConflictError as exc:
                if is_chain_version_taken(exc.__cause__ or exc):
                    continue
                raise
            if row is None:
                raise not_found(tenant_id, f"file {shown(file_id)}")
            return rows.file_from_row(row)
        raise ConflictError(
            f"file {file_id}: lost the race for the chain's next version "
            f"{_VERSION_ATTEMPTS} times; try again"
        )

    async def list_file_versions(self, tenant_id: str, file_id: str) -> list[File]:
        check.check_text("tenant_id", tenant_id)
        canonical = check.match_id(file_id)
        if canonical is None:
            self._db.check_usable()
            return []
        found = await self._db.all(
            self._db.sql.SELECT_FILE_VERSIONS, {"tenant_id": tenant_id, "file_id": canonical}
        )
        return [rows.file_from_row(row) for row in found]

    # -- Sessions ---------------------------------------------------------------------------

    async def get_or_create_session(self, tenant_id: str, external_id: str) -> Session:
        check.check_text("tenant_id", tenant_id)
        check.check_text("external_id", external_id)
        now = utc_now()
        row = await self._db.one(
            self._db.sql.UPSERT_SESSION,
            (new_id(), tenant_id, external_id, now, now),
            write=True,
        )
        assert row is not None  # RETURNING of an upsert always yields a row
        return rows.session_from_row(row)

    async def get_session(self, tenant_id: str, session_id: str) -> Session:
        check.check_text("tenant_id", tenant_id)
        session_id = check.lookup_id("session id", session_id, tenant_id=tenant_id)
        row = await self._db.one(self._db.sql.SELECT_SESSION, (tenant_id, session_id))
        if row is None:
            raise not_found(tenant_id, f"session {shown(session_id)}")
        return rows.session_from_row(row)

    async def get_session_by_external_id(self, tenant_id: str, external_id: str) -> Session:
        check.check_text("tenant_id", tenant_id)
        check.check_text("external_id", external_id)
        row = await self._db.one(
            self._db.sql.SELECT_SESSION_BY_EXTERNAL_ID, (tenant_id, external_id)
        )
        if row is None:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")
        return rows.session_from_row(row)

    async def touch_session(self, tenant_id: str, session_id: str) -> Session:
        check.check_text("tenant_id", tenant_id)
        session_id = check.lookup_id("session id", session_id, tenant_id=tenant_id)
        row = await self._db.one(
            self._db.sql.TOUCH_SESSION, (utc_now(), tenant_id, session_id), write=True
        )
        if row is None:
            raise not_found(tenant_id, f"session {shown(session_id)}")
        return rows.session_from_row(row)

    async def delete_session(self, tenant_id: str, external_id: str) -> None:
        check.check_text("tenant_id", tenant_id)
        check.check_text("external_id", external_id)
        deleted = await self._db.query(
            self._db.sql.DELETE_SESSION, (tenant_id, external_id), "count", write=True
        )
        if not deleted:
            raise not_found(tenant_id, f"session with external id {shown(external_id)}")

    # -- Skills -----------------------------------------------------------------------------

    async def upsert_skill(self, record: SkillRecord) -> SkillRecord:
        r = check.check_skill(record)
        params = (r.tenant_id, r.name, r.version, r.description, r.lang, utc_now())
        row = await self._db.one(self._db.sql.UPSERT_SKILL, params, write=True)
        assert row is not None  # RETURNING of an upsert always yields a row
        return rows.skill_from_row(row)

    async def get_skill(self, tenant_id: str, name: str, version: str) -> SkillRecord:
        check.check_text("tenant_id", tenant_id)
        check.check_text("name", name)
        check.check_text("version", version)
        row = await self._db.one(self._db.sql.SELECT_SKILL, (tenant_id, name, version))
        if row is None:
            raise not_found(tenant_id, f"skill {shown(name)} version {shown(version)}")
        return rows.skill_from_row(row)

    async def delete_skill(self, tenant_id: str, name: str, version: str) -> None:
        check.check_text("tenant_id", tenant_id)
        check.check_text("name", name)
        check.check_text("version", version)
        await self._db.query(
            self._db.sql.DELETE_SKILL, (tenant_id, name, version), "count", write=True
        )

    async def list_skills(self, tenant_id: str) -> list[SkillRecord]:
        check.check_text("tenant_id", tenant_id)
        found = await self._db.all(self._db.sql.SELECT_SKILLS, (tenant_id,))
        return [rows.skill_from_row(row) for row in found]

    async def resolve_latest_version(self, tenant_id: str, name: str) -> str:
        check.check_text("tenant_id", tenant_id)
        check.check_text("name", name)
        row = await self._db.one(self._db.sql.SELECT_LATEST_SKILL_VERSION, (tenant_id, name))
        if row is None:
            raise not_found(tenant_id, f"version of skill {shown(name)}")
        version: str = row[0]
        return version

    # -- Keeping data -----------------------------------------------------------------------

    async def purge_tenant(self, tenant_id: str) -> RetentionReport:
        """Delete the tenant's rows of every table in one statement."""
        check.check_text("tenant_id", tenant_id)
        return await retention.purge_tenant(self._db, tenant_id)

    async def prune_executions(self, tenant_id: str, finished_before: datetime) -> RetentionReport:
        """Delete in one statement; a file created meanwhile naming a candidate is a conflict."""
        check.check_text("tenant_id", tenant_id)
        finished_before = check.check_time("finished_before", finished_before)
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
        statistics is not scanned: its count is the `Estimate` in ``pg_class``.
        """
        sql = self._db.sql
        if exact:
            row = await self._db.one(sql.SELECT_TABLE_COUNTS, ())
            assert row is not None  # a SELECT without FROM returns its one row
            return dict(zip(TABLES, (int(n) for n in row), strict=True))
        params = {"schema": sql.schema, "above": ESTIMATE_ABOVE}
        row = await self._db.one(sql.SELECT_TABLE_COUNTS_ESTIMATED, params)
        assert row is not None  # one row, from a subquery without FROM
        pairs = zip(row[0::2], row[1::2], strict=True)
        counts = (Estimate(n) if estimated else int(n) for n, estimated in pairs)
        return dict(zip(TABLES, counts, strict=True))

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
