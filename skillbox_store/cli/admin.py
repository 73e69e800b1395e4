"""``skillbox-store migrate`` and ``status``: the database itself rather than its records."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from skillbox_store.cli.output import emit_details, emit_json
from skillbox_store.cli.runner import Settings, pass_settings, run, settle, store_options
from skillbox_store.errors import MigrationError, StoreError
from skillbox_store.stats import Estimate, StoreStats
from skillbox_store.urls import redact_url, url_scheme

if TYPE_CHECKING:
    from skillbox_store.backends.postgres.rls import RlsState
    from skillbox_store.backends.sqlite.probe import SqliteProbe
    from skillbox_store.store import Store
    from skillbox_store.telemetry.pool import PoolHealth

__all__ = ["migrate", "status"]


@click.command()
# Not named "url": the --url option of `store_options` owns that name.
@click.argument("target_url", required=False, metavar="[URL]")
@click.option(
    "--distribute",
    is_flag=True,
    default=False,
    help="Then, on a Citus coordinator, distribute the tables by tenant (idempotent).",
)
@store_options
@pass_settings
def migrate(settings: Settings, target_url: str | None, distribute: bool) -> None:
    """Apply the schema migrations the store is missing.

    Prints the schema version before and after. URL, when given, is the store to
    migrate (the same as --url). Safe to run from many processes at once: the backends
    migrate under a lock, so the work is done once. With --distribute, a PostgreSQL
    store on a Citus coordinator then has api_keys made a reference table and the other
    tables distributed on tenant_id, co-located; a table laid out so already is left.
    """
    if target_url is not None:
        settings.url = target_url
    # Two opens, because migrating is what opening does: the first only reads where
    # the schema stands, the second brings it up to date.
    before = run(settings, _schema_version, migrate=False, check_schema=False)
    after = run(settings, _schema_version, migrate=True)
    shown = redact_url(settings.url)
    if settings.json:
        emit_json({"url": shown, "before": before, "after": after})
    elif before == after:
        click.echo(f"schema version {after}: up to date ({shown})")
    else:
        click.echo(f"schema version {before} -> {after} ({shown})")
    if distribute:
        placed = run(settings, _distribute, migrate=False)
        if settings.json:
            emit_json({"url": shown, "distributed": placed})
        else:
            for table, layout, action in placed:
                click.echo(f"{table}: {layout} ({action})")


async def _distribute(store: Store) -> list[tuple[str, str, str]]:
    # Only the PostgreSQL store has it, and it is no part of the Store contract.
    distribute = getattr(store, "distribute", None)
    if distribute is None:
        raise MigrationError("--distribute needs a PostgreSQL store on a Citus coordinator")
    return [(p.table, p.layout, p.action) for p in await distribute()]


async def _schema_version(store: Store) -> int:
    return await store.schema_version()


@dataclass(frozen=True, slots=True)
class _Health:
    implementation: str
    ping_ms: float
    schema_version: int
    counts: dict[str, int] | None
    pool: PoolHealth | None = None
    # Row-level security as the store found it (PostgreSQL only).
    rls: RlsState | None = None


async def _ping_and_version(store: Store | SqliteProbe) -> tuple[float, int]:
    """Time a ping (in ms), then read the schema version."""
    started = time.perf_counter()
    await store.ping()
    ping_ms = round((time.perf_counter() - started) * 1000, 3)
    return ping_ms, await store.schema_version()


async def _health(store: Store, *, exact: bool) -> _Health:
    ping_ms, version = await _ping_and_version(store)
    # Counts need the tables: a store that was never migrated has none to count.
    counts = await _counts(store, exact=exact) if version else None
    implementation = f"{type(store).__module__}.{type(store).__qualname__}"
    # Issue 23: the connection pool's health, for a store that has a pool (PostgreSQL).
    from skillbox_store.telemetry.pool import pool_health

    pool = await pool_health(store)
    rls = getattr(store, "row_level_security", None)
    return _Health(implementation, ping_ms, version, counts, pool, rls)


async def _counts(store: Store, *, exact: bool) -> dict[str, int] | None:
    """Count the tables; estimate the big ones unless ``exact``, where the store can."""
    import inspect  # here, like the capabilities: `--help` need not load them

    from skillbox_store.capabilities import STATS, supports

    if not supports(store, STATS):
        return None
    assert isinstance(store, StoreStats)  # what supports() checked
    # A third-party StoreStats may predate the ``exact`` keyword: it counts exactly.
    if exact or "exact" not in inspect.signature(store.table_counts).parameters:
        return await store.table_counts()
    return await store.table_counts(exact=False)


def _probed_health(settings: Settings) -> _Health | None:
    """Read a SQLite store's health with `SqliteProbe`; None to open the store instead.

    Opening the store imports the records (SQLModel, SQLAlchemy, pydantic: some 300 ms of
    a 440 ms start, issue #22) for three reads that need none of them, and ``status`` is
    what health checks run, often. The probe reads what the store would, on connections
    opened as the store opens them, and reports the store's class. The store is still
    opened when telemetry is on (its spans, and its instrumented class in the report);
    and when the telemetry setting is wrong or the probe cannot be imported (no
    aiosqlite), so that `open_store` reports it, as for every other command.
    """
    if url_scheme(settings.url) != "sqlite":
        return None
    from skillbox_store.telemetry.settings import resolve

    try:
        if resolve(None) is not None:
            return None
        from skillbox_store.backends.sqlite.probe import open_probe
    except (ImportError, StoreError):
        return None

    async def probed() -> _Health:
        async with open_probe(settings.url) as probe:
            ping_ms, version = await _ping_and_version(probe)
            # As `_health` counts: only migrated tables, and SQLite's counts are exact.
            counts = await probe.table_counts() if version else None
            return _Health(probe.implementation, ping_ms, version, counts)

    return settle(settings, probed)


@click.command()
@click.option(
    "--exact",
    is_flag=True,
    default=False,
    help="Count every table, however big (a full scan of each).",
)
@store_options
@pass_settings
def status(settings: Settings, exact: bool) -> None:
    """Show the backend, its schema version, ping time and records per table.

    Changes nothing: the store is opened without migrating. Exits with 4 when the
    database cannot be reached, so it also serves as a health check. On PostgreSQL a
    table of 100,000 rows or more shows the planner's estimate, as ``~1,000,000``,
    instead of being scanned; --exact counts it. A store with a connection pool
    (PostgreSQL) also shows the server's version and the pool: connections open, in use
    and idle, callers waiting, requests and their waits, errors since it opened.
    """
    from skillbox_store.migrations import latest_version

    def health_of(store: Store) -> Awaitable[_Health]:
        return _health(store, exact=exact)

    health = _probed_health(settings)
    if health is None:
        health = run(settings, health_of, migrate=False, check_schema=False)
    latest = latest_version()
    if settings.json:
        emit_json(
            {
                "url": redact_url(settings.url),
                "backend": url_scheme(settings.url),
                "implementation": health.implementation,
                "schema_version": health.schema_version,
                "latest_version": latest,
                "ping_ms": health.ping_ms,
                "counts": health.counts,
                # The tables whose count is the database's estimate, not a count.
                "estimated": [
                    table
                    for table, count in (health.counts or {}).items()
                    if isinstance(count, Estimate)
                ],
                "pool": None if health.pool is None else health.pool.as_json(),
                "row_level_security": None
                if health.rls is None
                else {
                    "mode": health.rls.mode,
                    "enforced": health.rls.enforced,
                    "bypassed": health.rls.bypassed,
                    "effective": health.rls.effective,
                },
            }
        )
        return
    fields: list[tuple[str, object]] = [
        ("url", redact_url(settings.url)),
        ("backend", f"{url_scheme(settings.url)} ({health.implementation})"),
        ("schema version", _schema_note(health.schema_version, latest)),
        ("ping", f"{health.ping_ms:.3f} ms"),
    ]
    if health.counts is not None:
        fields.extend((f"{table} records", count) for table, count in health.counts.items())
    elif health.schema_version == 0:
        fields.append(("counts", "no tables yet (run: skillbox-store migrate)"))
    else:
        fields.append(("counts", "not supported by this backend"))
    if health.pool is not None:
        fields.extend(_pool_fields(health.pool))
    if health.rls is not None:
        fields.append(("row-level security", health.rls.describe()))
    emit_details(fields)


def _pool_fields(pool: PoolHealth) -> list[tuple[str, object]]:
    """The pool's lines of `status` (issue 23): server, connections, waits, errors."""
    errors = ", ".join(f"{kind} {count}" for kind, count in pool.errors.items())
    return [
        ("server version", pool.server_version),
        (
            "pool",
            f"{pool.size} open ({pool.in_use} in use, {pool.idle} idle), "
            f"min {pool.min_size}, max {pool.max_size}",
        ),
        ("pool waiting", pool.waiting),
        ("pool requests", f"{pool.requests} ({pool.waited} waited, {pool.wait_ms} ms in all)"),
        ("pool errors", f"{pool.errors_total} since open ({errors})"),
    ]


def _schema_note(version: int, latest: int) -> str:
    if version < latest:
        return f"{version} ({latest - version} migration(s) pending: skillbox-store migrate)"
    if version > latest:
        return f"{version} (newer than this skillbox-store, which knows up to {latest})"
    return f"{version} (up to date)"
