"""``skillbox-store adopt``: convert a Go Skillbox database into this store, in place."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

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
from skillbox_store.errors import StoreError
from skillbox_store.urls import redact_url

if TYPE_CHECKING:
    from skillbox_store.adopt import AdoptionReport

__all__ = ["adopt"]


def _show(report: AdoptionReport, settings: Settings) -> None:
    if settings.json:
        emit_json(dataclasses.asdict(report) | {"ok": report.ok})
    else:
        for line in report.lines():
            click.echo(mask_secrets(line, settings.url))


@click.command()
# Not named "url": the --url option of `store_options` owns that name.
@click.argument("target_url", required=False, metavar="[URL]")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Check, convert and verify, then roll back: the full report, nothing changed.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask: the Go service is stopped.")
@click.option(
    "--backup-schema",
    metavar="NAME",
    default=None,
    help="Where the Go tables are kept (default: <schema>_go_v<goose version>).",
)
@click.option(
    "--goose-schema",
    metavar="NAME",
    default=None,
    help="The schema of goose's table, when goose tables are in several.",
)
@store_options
@pass_settings
def adopt(
    settings: Settings,
    target_url: str | None,
    dry_run: bool,
    yes: bool,
    backup_schema: str | None,
    goose_schema: str | None,
) -> None:
    """Adopt a Go database in place.

    Converts a Go Skillbox v0.8.x database into this store's schema. URL is the Go
    service's PostgreSQL database (the same as --url; ?schema= names the schema,
    default sandbox). Every check runs first: a refusal lists every row that
    cannot be carried over and changes nothing (exit 5). Otherwise, in one transaction,
    the tables are rebuilt by this store's migrations, every row is copied and verified,
    and the Go tables are kept, untouched, in a backup schema. Stop the Go service
    first; without --yes the command asks. A second run has nothing to do. See
    docs/adopting-go.md.
    """
    import asyncio  # here, as the store is: `--help` need not pay for it

    from skillbox_store.adopt import AdoptionRefusedError, adopt_go_database

    if target_url is not None:
        settings.url = target_url
    if not dry_run and not yes:
        click.confirm(
            f"Adopt the Go Skillbox database at {redact_url(settings.url)}? Writers must be "
            "stopped first (stop the Go service): its tables are locked, converted, and "
            "moved to a backup schema",
            abort=True,
        )
    try:
        report = asyncio.run(
            adopt_go_database(
                settings.url,
                dry_run=dry_run,
                backup_schema=backup_schema,
                goose_schema=goose_schema,
            )
        )
    except AdoptionRefusedError as exc:
        _show(exc.report, settings)
        raise CommandError(
            mask_secrets(str(exc), settings.url), ExitCode.CONFLICT, "adoption refused"
        ) from exc
    except StoreError as exc:
        raise failure(exc, settings.url) from exc
    _show(report, settings)
    if not report.ok:
        raise CommandError(
            f"adoption would be refused: {len(report.offences)} problem(s), listed above",
            ExitCode.CONFLICT,
            "adoption refused",
        )
