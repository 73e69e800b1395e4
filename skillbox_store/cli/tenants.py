"""``skillbox-store tenants purge``: remove every record of a tenant."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Final

import click

from skillbox_store.cli.output import emit_json, text
from skillbox_store.cli.runner import (
    CommandError,
    ExitCode,
    Settings,
    pass_settings,
    run,
    store_options,
)
from skillbox_store.urls import redact_url

if TYPE_CHECKING:
    from skillbox_store.records import RetentionReport

__all__ = ["emit_report", "tenants"]

_TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")


def emit_report(settings: Settings, report: RetentionReport, verb: str) -> None:
    """Print what a purge or prune removed: counts per table, then the files' s3 keys."""
    if settings.json:
        emit_json(report.model_dump(mode="json"))
        return
    for table in _TABLES:
        click.echo(f"{table}: {getattr(report, table)} {verb}")
    if report.kept_referenced:
        click.echo(f"executions kept because a file names them: {report.kept_referenced}")
    if report.s3_keys:
        click.echo("s3 keys of the files removed (delete the objects):")
        for key in report.s3_keys:
            click.echo(f"  {text(key)}")


@click.group()
def tenants() -> None:
    """Remove a tenant's records."""


@tenants.command()
@click.option("--tenant", required=True, metavar="TENANT", help="Tenant id.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@store_options
@pass_settings
def purge(settings: Settings, tenant: str, yes: bool) -> None:
    """Delete every record of TENANT, in every table, at once.

    On a terminal it asks first; elsewhere --yes is required. Prints how many records
    of each kind were removed and the s3 key of every file removed, so the objects can
    be deleted from object storage. Purging an unknown tenant removes nothing.
    """
    if not yes:
        if not sys.stdin.isatty():
            raise CommandError(
                "purging deletes every record of the tenant: pass --yes to confirm",
                ExitCode.INVALID,
                "usage",
            )
        if not _confirmed(
            f"Delete every record of tenant {text(tenant)} from {redact_url(settings.url)}?"
        ):
            # The operator's "no" is an answer, not a failure: exit 0.
            click.echo("nothing purged")
            return
    report = run(settings, lambda store: store.purge_tenant(tenant))
    emit_report(settings, report, "removed")
    if not settings.json and not any(getattr(report, table) for table in _TABLES):
        # Most often a typo in --tenant: say so rather than succeed silently.
        click.echo(f"nothing matched: tenant {text(tenant)} has no records in this store")


def _confirmed(question: str) -> bool:
    """Ask ``question``; end of input (Ctrl-D) is a "no", Ctrl-C still interrupts."""
    try:
        return click.confirm(question)
    except click.Abort as exc:
        if isinstance(exc.__context__, EOFError):
            click.echo("", err=True)
            return False
        raise
