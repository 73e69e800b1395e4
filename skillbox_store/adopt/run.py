"""`adopt_go_database`: one connection, one transaction, every check before any change."""

from __future__ import annotations

import hashlib
import time
from typing import Any, Final

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from skillbox_store.adopt import statements as q
from skillbox_store.adopt.checks import check_database, check_rows
from skillbox_store.adopt.convert import build_and_copy, swap_schemas
from skillbox_store.adopt.detect import (
    GO_TABLES,
    GOOSE_TABLE,
    GoDatabase,
    adopted_version,
    detect_go_database,
)
from skillbox_store.adopt.report import (
    AdoptionRefusedError,
    AdoptionReport,
    Offence,
    VerificationError,
)
from skillbox_store.adopt.verify import verify
from skillbox_store.backends.postgres.errors import (
    is_dead_connection,
    is_lock_timeout,
    translate,
)
from skillbox_store.backends.postgres.open import _connect, _options, _split_url
from skillbox_store.backends.postgres.statements import Statements, check_schema
from skillbox_store.errors import InvalidArgumentError, MigrationError, UnavailableError
from skillbox_store.urls import redact_url, url_scheme

__all__ = ["APPLICATION_NAME", "adopt_go_database"]

Row = tuple[Any, ...]

# How the adopting session shows in pg_stat_activity, for an operator watching it.
APPLICATION_NAME: Final = "skillbox-store adopt"
_CONVERSIONS: Final = (
    "executions.logs NULL -> ''",
    "executions.files_url NULL -> ''",
    "executions.files_list NULL -> '{}'",
    "executions.duration_ms NULL -> 0",
    "files.session_id '' -> NULL",
    "files.session_id made lower-case (canonical uuid)",
    "files whose session no longer exists (kept as they are)",
    "files whose parent is not a chain root (kept as they are)",
)


class _Finished(Exception):
    """Ends the transaction block early, rolling it back: refused, dry or nothing to do."""


def _backup_name(schema: str, version: int, given: str | None) -> str:
    if given is not None:
        return check_schema(given)
    name = f"{schema}_go_v{version}"
    if len(name) > 63:
        raise InvalidArgumentError(
            f"the default backup schema name {name!r} is longer than 63 characters: "
            "name one with backup_schema= (--backup-schema)"
        )
    return name


def _staging_name(schema: str) -> str:
    # Derived from the schema, so two adoptions of one schema meet on one name (and on
    # the migration lock) while adoptions of different schemas never do.
    return "skillbox_adopt_" + hashlib.sha256(schema.encode()).hexdigest()[:16]


async def _counts(conn: AsyncConnection[Row], schema: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in GO_TABLES:
        cursor = await conn.execute(q.compose(q.SELECT_TABLE_ROWS, go=schema, table=table))
        row = await cursor.fetchone()
        counts[table] = 0 if row is None else int(row[0])
    return counts


async def _lock(conn: AsyncConnection[Row], go: GoDatabase) -> None:
    await conn.execute(q.compose(q.LOCK_GO_TABLES, go=go.schema))
    for table in go.goose_tables:
        await conn.execute(q.compose(q.LOCK_GOOSE_TABLE, goose=go.goose_schema, table=table))


async def _adopt(
    conn: AsyncConnection[Row],
    report: AdoptionReport,
    *,
    backup_schema: str | None,
    goose_schema: str | None,
    lock_timeout: float,
) -> None:
    """Fill ``report``; commit only a verified conversion (else raise `_Finished`)."""
    schema = report.schema
    async with conn.transaction():
        if report.dry_run:
            # A dry run locks no table: one snapshot keeps its checks and copy consistent.
            await conn.execute(q.SET_REPEATABLE_READ)
        # A writer still running would otherwise keep the adoption waiting unseen.
        await conn.execute(q.SET_LOCAL_LOCK_TIMEOUT, (f"{max(1, int(lock_timeout * 1000))}ms",))
        # Row-level security's operators' path (docs/postgres.md): the migrations build
        # the tables with their policies FORCEd, which bind the owner adopting too; the
        # copy and the verification serve every tenant.
        await conn.execute(q.SET_LOCAL_SCOPE_ALL)
        # The store's own migration lock, keyed by the schema: no skillbox-store process
        # migrates (or adopts) this schema meanwhile.
        await conn.execute(Statements.for_schema(schema).LOCK_MIGRATIONS, (schema,))
        version = await adopted_version(conn, schema)
        if version is not None:
            report.outcome = "nothing to do"
            report.notes.append(
                f"schema {schema!r} is already a skillbox-store schema (version {version}); "
                "nothing was changed"
            )
            raise _Finished
        go = await detect_go_database(conn, schema, goose_schema=goose_schema)
        if go is None:
            raise MigrationError(
                f"schema {schema!r} holds no Go Skillbox database to adopt: that needs its "
                f"tables ({', '.join(GO_TABLES)}) and goose's {GOOSE_TABLE} (or the legacy "
                "sandbox_migrations) in some schema; nothing was changed"
            )
        report.go_version = go.version
        report.layout = go.layout
        backup = _backup_name(schema, go.version, backup_schema)
        report.backup_schema = backup
        if not report.dry_run:
            await _lock(conn, go)
        report.counts = await _counts(conn, schema)
        offences, rows_checkable = await check_database(conn, go, backup)
        staging = _staging_name(schema)
        cursor = await conn.execute(q.SELECT_SCHEMA_EXISTS, (staging,))
        if await cursor.fetchone() is not None:
            offences.append(
                Offence(f"schema {staging}", "", "", "the staging schema exists; drop it")
            )
        if rows_checkable:
            offences.extend(await check_rows(conn, go))
        report.offences = offences
        if offences:
            report.outcome = "refused"
            raise _Finished
        cursor = await conn.execute(q.compose(q.SELECT_NULL_COUNTS, go=schema))
        numbers = await cursor.fetchone()
        report.conversions = dict(zip(_CONVERSIONS, map(int, numbers or ()), strict=True))
        await build_and_copy(conn, go, staging)
        differences, report.ties = await verify(conn, schema, staging)
        if differences:
            raise VerificationError(differences)
        if report.dry_run:
            report.outcome = "would adopt"
            raise _Finished
        await swap_schemas(conn, go, staging, backup)
        report.outcome = "adopted"
        report.notes.append(
            f"the Go tables are in schema {backup!r}, untouched: drop it when satisfied"
        )


async def adopt_go_database(
    url: str,
    *,
    dry_run: bool = False,
    backup_schema: str | None = None,
    schema: str | None = None,
    goose_schema: str | None = None,
    lock_timeout: float = 10.0,
) -> AdoptionReport:
    """Convert a Go Skillbox database (v0.8.x, goose 1-6 or 1-7) into this store, in place.

    In one transaction, under the store's migration lock and with the Go tables locked:
    every check first (a refusal names every offending row and changes nothing), then
    this store's migrations built beside the Go tables, every row copied by the rules of
    docs/adopting-go.md, the result verified against the Go tables, and the schemas
    swapped: the Go tables (and goose's table) end untouched in ``backup_schema``
    (default ``<schema>_go_v<goose version>``). Stop the Go service first.

    Args:
        url: a ``postgresql://`` URL (``?schema=`` names the schema, as for open_store).
        dry_run: check, convert and verify, then roll back; the report says what a real
            run would do (``outcome`` ``would adopt`` or ``refused``).
        backup_schema: where the Go tables go; must not exist.
        schema: the schema of the Go tables (default ``sandbox``, or the URL's).
        goose_schema: the schema of goose's table, when goose tables are in several.
        lock_timeout: seconds to wait for the Go tables' locks and the migration lock
            before giving up (a writer still running holds them).

    Returns:
        The report; ``outcome`` is ``adopted``, ``would adopt``, ``refused`` (dry runs
        only) or ``nothing to do`` (already adopted: nothing changed).

    Raises:
        AdoptionRefusedError: (a `MigrationError`) the database holds rows or a shape
            this store cannot carry over; ``.report.offences`` lists every one, and
            nothing was changed.
        VerificationError: (a `MigrationError`) the converted tables differed from the
            Go tables; everything was rolled back.
        MigrationError: the schema holds no Go database.
        InvalidArgumentError: a bad URL, schema name or argument.
        UnavailableError: the server cannot be reached, a lock was not granted in time
            (is the Go service still running?), or the connection was lost, in which
            case nothing was committed unless the loss came with COMMIT: run it again.
    """
    if not isinstance(url, str) or url_scheme(url) not in ("postgresql", "postgres"):
        raise InvalidArgumentError("adoption needs a postgresql:// URL (the Go service's database)")
    if type(dry_run) is not bool:
        raise InvalidArgumentError("dry_run must be True or False")
    for value in (backup_schema, goose_schema):
        if value is not None:
            check_schema(value)
    started = time.monotonic()
    if (
        not isinstance(lock_timeout, int | float)
        or isinstance(lock_timeout, bool)
        or not 0 < lock_timeout < 86_400
    ):
        raise InvalidArgumentError("lock_timeout must be a positive number of seconds")
    conninfo, in_url, password = _split_url(url)
    options = _options({} if schema is None else {"schema": schema}, in_url)
    if "application_name" not in conninfo_to_dict(conninfo):
        conninfo = make_conninfo(conninfo, application_name=APPLICATION_NAME)
    report = AdoptionReport(url=redact_url(url), schema=options.schema, dry_run=dry_run)
    conn = await _connect(conninfo, url, options, password)
    try:
        await _adopt(
            conn,
            report,
            backup_schema=backup_schema,
            goose_schema=goose_schema,
            lock_timeout=lock_timeout,
        )
    except _Finished:
        pass
    except psycopg.Error as exc:
        if is_lock_timeout(exc):
            raise UnavailableError(
                f"a lock on the Go tables (or the migration lock of schema {report.schema!r}) "
                f"was not granted within {lock_timeout} s: is the Go service still running? "
                "Stop every writer and run again; nothing was changed"
            ) from exc
        if is_dead_connection(exc):
            raise UnavailableError(
                "the adoption was interrupted (connection lost): nothing was committed "
                "unless the connection was lost at COMMIT; run it again, it completes the "
                "adoption or says there is nothing to do"
            ) from exc
        raise translate(exc, password=password) from exc
    finally:
        await conn.close()
    report.seconds = time.monotonic() - started
    if report.outcome == "refused" and not dry_run:
        raise AdoptionRefusedError(report)
    return report
