"""``skillbox-store migrate`` and ``status``: the database itself rather than its records."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from skillbox_store.cli.output import emit_details, emit_json
from skillbox_store.cli.runner import Settings, pass_settings, run, store_options
from skillbox_store.stats import Estimate, StoreStats
from skillbox_store.urls import redact_url, url_scheme

if TYPE_CHECKING:
    from skillbox_store.store import Store

__all__ = ["migrate", "status"]


@click.command()
# Not named "url": the --url option of `store_options` owns that name.
@click.argument("target_url", required=False, metavar="[URL]")
@store_options
@pass_settings
def migrate(settings: Settings, target_url: str | None) -> None:
    """Apply the schema migrations the store is missing.

    Prints the schema version before and after. URL, when given, is the store to
    migrate (the same as --url). Safe to run from many processes at once: the backends
    migrate under a lock, so the work is done once.
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


async def _schema_version(store: Store) -> int:
    return await store.schema_version()


@dataclass(frozen=True, slots=True)
class _Health:
    implementation: str
    ping_ms: float
    schema_version: int
    counts: dict[str, int] | None


async def _health(store: Store, *, exact: bool) -> _Health:
    started = time.perf_counter()
    await store.ping()
    ping_ms = round((time.perf_counter() - started) * 1000, 3)
    version = await store.schema_version()
    # Counts need the tables: a store that was never migrated has none to count.
    counts = await _counts(store, exact=exact) if version else None
    implementation = f"{type(store).__module__}.{type(store).__qualname__}"
    return _Health(implementation, ping_ms, version, counts)


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
    instead of being scanned; --exact counts it.
    """
    from skillbox_store.migrations import latest_version

    def health_of(store: Store) -> Awaitable[_Health]:
        return _health(store, exact=exact)

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
    emit_details(fields)


def _schema_note(version: int, latest: int) -> str:
    if version < latest:
        return f"{version} ({latest - version} migration(s) pending: skillbox-store migrate)"
    if version > latest:
        return f"{version} (newer than this skillbox-store, which knows up to {latest})"
    return f"{version} (up to date)"
