"""``skillbox-store copy``, ``export`` and ``import``: moving whole stores and backing them up.

All three work on stores that offer the bulk capability (every built-in backend does);
the rules — skip identical records, stop at a different one, verify every tenant by
counts and digests — are `skillbox_store.transfer`'s.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Coroutine
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from skillbox_store.cli.output import emit_json
from skillbox_store.cli.runner import (
    CommandError,
    ExitCode,
    Settings,
    failure,
    mask_secrets,
    pass_settings,
    store_options,
)
from skillbox_store.urls import redact_url

if TYPE_CHECKING:
    from skillbox_store.transfer import Progress, TransferReport

__all__ = ["copy", "export", "import_"]

_T = TypeVar("_T")

_tenants_option = click.option(
    "--tenant",
    "tenants",
    multiple=True,
    metavar="TENANT",
    help="Only this tenant (repeatable); default: every tenant.",
)
_batch_option = click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Records per batch: memory stays bounded by it.",
)


def _run(urls: tuple[str, ...], action: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run ``action``; a `StoreError` becomes a one-line error with every URL's password masked."""
    import asyncio

    from skillbox_store.errors import StoreError

    try:
        return asyncio.run(action())
    except StoreError as exc:
        error = failure(exc, urls[0])
        message = error.format_message()
        for url in urls[1:]:
            message = mask_secrets(message, url)
        raise CommandError(message, ExitCode(error.exit_code), error.label) from exc


class _Meter:
    """Progress on a terminal's stderr: records and records/s of the table being moved."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._table: str | None = None

    def __call__(self, progress: Progress) -> None:
        if not self.enabled:
            return
        if self._table is not None and progress.table != self._table:
            click.echo("", err=True)
        self._table = progress.table
        click.echo(
            f"\r{progress.table}: {progress.records} records, {progress.rate:,.0f} records/s",
            err=True,
            nl=False,
        )

    def done(self) -> None:
        if self.enabled and self._table is not None:
            click.echo("", err=True)


def _meter(settings: Settings) -> _Meter:
    return _Meter(not settings.json and sys.stderr.isatty())


def _summary(report: TransferReport, verb: str, *, verified: bool = True) -> None:
    """Print per table what was written and skipped, then what was verified.

    An export (``verified=False``) prints on stderr: stdout holds the records.
    """
    err = not verified
    for name, progress in report.tables.items():
        skipped = f", {progress.skipped} already there" if verified else ""
        # Rates are for the terminal's progress line and --json: this stays reproducible.
        click.echo(f"{name}: {progress.written} {verb}{skipped}", err=err)
    tenants = len(report.verified)
    if not verified:
        click.echo(f"{tenants} tenant{'s' if tenants != 1 else ''}", err=err)
    elif tenants:
        click.echo(
            f"verified {tenants} tenant{'s' if tenants != 1 else ''}: record counts and "
            "sha256 digests match on both sides, table by table",
            err=err,
        )


@click.command()
@click.argument("source_url", metavar="SRC_URL")
@click.argument("destination_url", metavar="DST_URL")
@_tenants_option
@_batch_option
@click.option(
    "--migrate/--no-migrate",
    "migrate",
    default=None,
    help="Bring the destination's schema up to date first (default: yes).",
)
@store_options
@pass_settings
def copy(
    settings: Settings,
    source_url: str,
    destination_url: str,
    tenants: tuple[str, ...],
    batch_size: int,
    migrate: bool | None,
) -> None:
    """Copy every record (or the named tenants') from one store into another.

    Ids, timestamps, revocations, statuses, version chains, sessions and order all
    survive. A record already in DST_URL with the same content is skipped, so an
    interrupted copy is simply run again; one with different content stops the copy
    (exit 5), nothing after it written. Each copied tenant is then verified: counts and
    a digest of its records, table by table, compared on both sides.
    """
    if source_url == destination_url:
        raise CommandError("SRC_URL and DST_URL name the same store", ExitCode.INVALID, "usage")
    migrate_destination = settings.migrate if migrate is None else migrate
    meter = _meter(settings)

    async def action() -> TransferReport:
        from skillbox_store.open import open_store
        from skillbox_store.transfer import copy_store, require_bulk

        # The source is read as it is; only the destination is migrated.
        async with (
            open_store(source_url, migrate=False) as source,
            open_store(destination_url, migrate=migrate_destination) as destination,
        ):
            require_bulk(source, "source")
            require_bulk(destination, "destination")
            await source.ping()
            await destination.ping()
            return await copy_store(
                source,
                destination,
                tenants=tenants or None,
                batch_size=batch_size,
                on_progress=meter,
            )

    report = _run((source_url, destination_url), action)
    meter.done()
    if settings.json:
        emit_json(
            {
                "source": redact_url(source_url),
                "destination": redact_url(destination_url),
                **report.as_json(),
            }
        )
        return
    click.echo(f"copied {redact_url(source_url)} -> {redact_url(destination_url)}")
    _summary(report, "copied")


@click.command()
@_tenants_option
@_batch_option
@click.option(
    "--output",
    "-o",
    type=click.File("w", encoding="utf-8", lazy=True),
    default="-",
    show_default=True,
    help="Where to write the records (- is stdout).",
)
@store_options
@pass_settings
def export(settings: Settings, tenants: tuple[str, ...], batch_size: int, output: IO[str]) -> None:
    """Write every record (or the named tenants') as JSON lines: a backup.

    One record per line, {"kind": ..., "record": <its Go JSON>}, after a header line,
    read from one consistent snapshot of the store. `skillbox-store import` replays it.
    A summary goes to stderr, so stdout is the backup alone.
    """
    meter = _meter(settings)

    async def action() -> TransferReport:
        from skillbox_store.open import open_store
        from skillbox_store.transfer import export_store

        async with open_store(settings.url, migrate=False) as store:
            return await export_store(
                store, output, tenants=tenants or None, batch_size=batch_size, on_progress=meter
            )

    report = _run((settings.url,), action)
    output.flush()
    meter.done()
    if settings.json:
        # stdout holds the backup: the machine-readable summary goes to stderr.
        click.echo(json.dumps(report.as_json(), ensure_ascii=False), err=True)
        return
    _summary(report, "exported", verified=False)


@click.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-", metavar="[FILE]")
@_batch_option
@store_options
@pass_settings
def import_(settings: Settings, source: IO[str], batch_size: int) -> None:
    """Replay an export (FILE, or stdin) into the store.

    The same rules as copy: records already there identically are skipped, one that
    differs stops the import (exit 5); a malformed line stops it naming its number
    (exit 2). Nothing after the line that stopped it is written. Each tenant is then
    verified against the file.
    """
    meter = _meter(settings)

    async def action() -> TransferReport:
        from skillbox_store.open import open_store
        from skillbox_store.transfer import import_records

        async with open_store(settings.url, migrate=settings.migrate) as store:
            return await import_records(store, source, batch_size=batch_size, on_progress=meter)

    report = _run((settings.url,), action)
    meter.done()
    if settings.json:
        emit_json({"destination": redact_url(settings.url), **report.as_json()})
        return
    click.echo(f"imported into {redact_url(settings.url)}")
    _summary(report, "imported")
