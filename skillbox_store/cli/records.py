"""Commands over a tenant's executions, files, sessions and skills; read-only but prune."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

import click

from skillbox_store.cli.output import emit_details, emit_json, emit_table, record_json, text
from skillbox_store.cli.runner import Settings, pass_settings, run, store_options
from skillbox_store.errors import not_found, shown
from skillbox_store.limits import (
    EXECUTIONS_PAGE_DEFAULT,
    EXECUTIONS_PAGE_MAX,
    FILES_PAGE_DEFAULT,
    FILES_PAGE_MAX,
)

if TYPE_CHECKING:
    # Type names only: the records import SQLModel, which `--help` need not pay for.
    from skillbox_store.records import Execution, File, SkillRecord
    from skillbox_store.store import Store

    _R = TypeVar("_R", Execution, File)

__all__ = ["executions", "files", "sessions", "skills"]

_tenant_option = click.option("--tenant", required=True, metavar="TENANT", help="Tenant id.")

_FILE_COLUMNS: Final = ("ID", "NAME", "VERSION", "SIZE", "CONTENT TYPE", "PARENT", "CREATED")
_EXECUTION_COLUMNS: Final = (
    "ID",
    "SKILL",
    "VERSION",
    "STATUS",
    "DURATION MS",
    "CREATED",
    "FINISHED",
)


def _execution_row(e: Execution) -> tuple[object, ...]:
    return (
        e.id,
        e.skill_name,
        e.skill_version,
        e.status,
        e.duration_ms,
        e.created_at,
        e.finished_at,
    )


# -- paging: one page with a cursor, or every page streamed -------------------------------

_after_option = click.option(
    "--after",
    metavar="ID",
    default=None,
    help="Start after this record (keyset paging: the id the previous page ended with).",
)
_all_option = click.option(
    "--all",
    "all_pages",
    is_flag=True,
    default=False,
    help="Print every record, fetching page after page (JSON Lines with --json).",
)

Fetch = Callable[["Store", "str | None", int, int], Awaitable[Sequence["_R"]]]
"""One page of a listing: (store, after, limit, offset) -> records, newest first."""


def _list(
    settings: Settings,
    fetch: Fetch[_R],
    *,
    after: str | None,
    limit: int,
    page_max: int,
    offset: int,
    all_pages: bool,
    columns: Sequence[str],
    row: Callable[[_R], Sequence[object]],
    empty: str,
) -> None:
    """Print one page and the cursor that continues it, or with ``all_pages`` every page."""
    if all_pages:
        if offset:
            raise click.UsageError("--all pages with cursors: it cannot start at an --offset")
        size = min(limit, page_max)
        found = run(
            settings, lambda store: _stream(store, settings, fetch, after, size, columns, row)
        )
        if not found and not settings.json:
            click.echo(empty)
        return
    page = run(settings, lambda store: fetch(store, after, limit, offset))
    if settings.json:
        emit_json([record_json(record) for record in page])
    else:
        emit_table(columns, map(row, page), empty=empty)
    if page and len(page) >= min(limit, page_max):
        # On stderr, so that stdout stays one table or one JSON document.
        click.echo(f"next page: --after {page[-1].id}", err=True)


async def _stream(
    store: Store,
    settings: Settings,
    fetch: Fetch[_R],
    after: str | None,
    size: int,
    columns: Sequence[str],
    row: Callable[[_R], Sequence[object]],
) -> int:
    """Print every record after ``after`` as its page arrives; return how many.

    Only one page is held at a time. Table columns take their widths from the first
    page (a longer cell later widens its own line only), so rows print as they come.
    """
    printed = 0
    widths: list[int] | None = None
    while True:
        page = await fetch(store, after, size, 0)
        if settings.json:
            for record in page:
                click.echo(json.dumps(record_json(record), ensure_ascii=False))
        else:
            cells = [[text(value) for value in row(record)] for record in page]
            if cells and widths is None:
                widths = [
                    max(len(header), *(len(line[i]) for line in cells))
                    for i, header in enumerate(columns)
                ]
                cells.insert(0, list(columns))
            for line in cells:
                padded = (cell.ljust(width) for cell, width in zip(line, widths or (), strict=True))
                click.echo("  ".join(padded).rstrip())
        printed += len(page)
        if len(page) < size:
            return printed
        after = page[-1].id


def _file_row(file: File) -> tuple[object, ...]:
    return (
        file.id,
        file.name,
        file.version,
        file.size_bytes,
        file.content_type,
        file.parent_id,
        file.created_at,
    )


# -- executions ---------------------------------------------------------------------------


@click.group()
def executions() -> None:
    """Show a tenant's executions, or prune the old ones."""


@executions.command("list")
@_tenant_option
@click.option(
    "--limit",
    type=int,
    default=EXECUTIONS_PAGE_DEFAULT,
    show_default=True,
    help=f"Page size (at most {EXECUTIONS_PAGE_MAX}).",
)
@click.option(
    "--offset",
    type=int,
    default=0,
    show_default=True,
    help="Executions to skip (costs what it skips; --after does not).",
)
@_after_option
@_all_option
@store_options
@pass_settings
def list_executions(
    settings: Settings, tenant: str, limit: int, offset: int, after: str | None, all_pages: bool
) -> None:
    """List a page of TENANT's executions, newest first.

    When the page is full, the cursor of the next one is printed on stderr as
    ``next page: --after ID``. With --all, every execution is printed, page by page.
    """

    async def page(store: Store, after: str | None, limit: int, offset: int) -> list[Execution]:
        return await store.list_executions(tenant, limit, offset, after=after)

    _list(
        settings,
        page,
        after=after,
        limit=limit,
        page_max=EXECUTIONS_PAGE_MAX,
        offset=offset,
        all_pages=all_pages,
        columns=_EXECUTION_COLUMNS,
        row=_execution_row,
        empty=f"no executions for tenant {text(tenant)} on this page",
    )


@executions.command("show")
@_tenant_option
@click.argument("execution_id")
@store_options
@pass_settings
def show_execution(settings: Settings, tenant: str, execution_id: str) -> None:
    """Show TENANT's execution EXECUTION_ID, all fields."""
    execution = run(settings, lambda store: store.get_execution(tenant, execution_id))
    if settings.json:
        emit_json(record_json(execution))
    else:
        emit_details(_execution_fields(execution))


_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _duration(_ctx: click.Context | None, _param: click.Parameter | None, value: str) -> timedelta:
    """Parse ``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` into a timedelta.

    An age reaching back before the year 1 is refused with the longest one that does
    not: the cutoff is a `datetime`, which cannot go further back.
    """
    number, unit = value[:-1], value[-1:]
    # ASCII digits only: str.isdigit() also accepts "²" and other digits int() refuses.
    if unit not in _DURATION_UNITS or not (number.isascii() and number.isdigit()):
        raise click.BadParameter(
            f"{value!r} is not a duration: a whole number and one of s, m, h, d, w (30d)"
        )
    now = datetime.now(UTC)
    longest = (now - datetime.min.replace(tzinfo=UTC)).days
    # Compared as digits first: int() of thousands of digits is refused by Python itself.
    if len(number) > 15 or int(number) * _DURATION_UNITS[unit] > longest * 86400:
        raise click.BadParameter(f"{value!r} reaches back before the year 1: at most {longest}d")
    return timedelta(seconds=int(number) * _DURATION_UNITS[unit])


@executions.command("prune")
@_tenant_option
@click.option(
    "--older-than",
    "older_than",
    required=True,
    callback=_duration,
    metavar="AGE",
    help="Prune executions that finished longer ago than this: 30d, 12h, 90m, 2w.",
)
@store_options
@pass_settings
def prune_executions(settings: Settings, tenant: str, older_than: timedelta) -> None:
    """Delete TENANT's finished executions older than --older-than.

    Only executions that are not running and whose finish time is older go; one that a
    file still names is kept (and counted), so no file points at a missing execution.
    """
    from skillbox_store.cli.tenants import emit_report
    from skillbox_store.records import utc_now

    cutoff = utc_now() - older_than
    report = run(settings, lambda store: store.prune_executions(tenant, cutoff))
    if settings.json:
        # The whole RetentionReport, the same document as `tenants purge --json`.
        emit_report(settings, report, "removed")
        return
    # Only what prune can touch: the other tables' counts are always zero here.
    click.echo(f"finished before {text(cutoff)}:")
    click.echo(f"executions: {report.executions} removed")
    click.echo(f"executions kept because a file names them: {report.kept_referenced}")


def _execution_fields(e: Execution) -> list[tuple[str, object]]:
    return [
        ("id", e.id),
        ("tenant", e.tenant_id),
        ("skill", e.skill_name),
        ("version", e.skill_version),
        ("status", e.status),
        ("created", e.created_at),
        ("finished", e.finished_at),
        ("duration ms", e.duration_ms),
        ("error", e.error),
        ("input", e.input),
        ("output", e.output),
        ("files url", e.files_url),
        ("files", e.files_list),
        ("logs", e.logs),
    ]


# -- files --------------------------------------------------------------------------------


@click.group()
def files() -> None:
    """Show a tenant's files and their version chains."""


@files.command("list")
@_tenant_option
@click.option(
    "--session",
    "session_id",
    metavar="ID",
    help="Only files of this session: its id, as `sessions show` prints it, or its external id.",
)
@click.option("--execution", "execution_id", metavar="ID", help="Only files of this execution.")
@click.option(
    "--limit",
    type=int,
    default=FILES_PAGE_DEFAULT,
    show_default=True,
    help=f"Page size (at most {FILES_PAGE_MAX}).",
)
@click.option(
    "--offset",
    type=int,
    default=0,
    show_default=True,
    help="Files to skip (costs what it skips; --after does not).",
)
@_after_option
@_all_option
@store_options
@pass_settings
def list_files(
    settings: Settings,
    tenant: str,
    session_id: str | None,
    execution_id: str | None,
    limit: int,
    offset: int,
    after: str | None,
    all_pages: bool,
) -> None:
    """List a page of TENANT's files, newest first.

    When the page is full, the cursor of the next one is printed on stderr as
    ``next page: --after ID``. With --all, every matching file is printed, page by page.
    """
    from skillbox_store.records import FileFilter

    session: list[str] = []

    async def page(store: Store, after: str | None, limit: int, offset: int) -> list[File]:
        if session_id is not None and not session:
            session.append(await _session_id(store, tenant, session_id))
        wanted = FileFilter(
            tenant_id=tenant,
            session_id=session[0] if session else None,
            execution_id=execution_id,
            limit=limit,
            offset=offset,
            after=after,
        )
        return await store.list_files(wanted)

    _list(
        settings,
        page,
        after=after,
        limit=limit,
        page_max=FILES_PAGE_MAX,
        offset=offset,
        all_pages=all_pages,
        columns=_FILE_COLUMNS,
        row=_file_row,
        empty="no files match",
    )


async def _session_id(store: Store, tenant: str, given: str) -> str:
    """Return the id of the session ``given`` names: its id, else its external id.

    Files name their session by id, but an operator knows a session by the external id
    the caller chose (``sess-1``), the one `sessions show` takes: both are accepted,
    the id first (it is what `sessions show` prints).

    Raises:
        NotFoundError: the tenant has no session by either name.
    """
    from skillbox_store.errors import NotFoundError

    try:
        return (await store.get_session(tenant, given)).id
    except NotFoundError:
        pass
    try:
        return (await store.get_session_by_external_id(tenant, given)).id
    except NotFoundError:
        raise not_found(tenant, f"session {shown(given)} (by id or external id)") from None


@files.command("versions")
@_tenant_option
@click.argument("file_id")
@store_options
@pass_settings
def file_versions(settings: Settings, tenant: str, file_id: str) -> None:
    """List every version of the chain FILE_ID belongs to, highest version first.

    Exits with 3 when TENANT has no file FILE_ID.
    """

    async def whole_chain(store: Store) -> list[File]:
        chain = await store.list_file_versions(tenant, file_id)
        if not chain:
            # The store answers "no versions" for a missing file; at a prompt a typo
            # in the id deserves the same not-found as every other command gives.
            raise not_found(tenant, f"file {shown(file_id)}")
        return chain

    chain = run(settings, whole_chain)
    if settings.json:
        emit_json([record_json(file) for file in chain])
    else:
        emit_table(_FILE_COLUMNS, map(_file_row, chain), empty="")


# -- sessions -----------------------------------------------------------------------------


@click.group()
def sessions() -> None:
    """Show a tenant's sessions."""


@sessions.command("show")
@_tenant_option
@click.argument("external_id")
@store_options
@pass_settings
def show_session(settings: Settings, tenant: str, external_id: str) -> None:
    """Show TENANT's session known by EXTERNAL_ID (read-only: it is not touched)."""
    # Not get_or_create_session: that would create the session or bump its
    # last_accessed_at, and an operator looking at a session must not change it.
    session = run(settings, lambda store: store.get_session_by_external_id(tenant, external_id))
    if settings.json:
        emit_json(record_json(session))
    else:
        emit_details(
            [
                ("id", session.id),
                ("tenant", session.tenant_id),
                ("external id", session.external_id),
                ("created", session.created_at),
                ("last accessed", session.last_accessed_at),
            ]
        )


# -- skills -------------------------------------------------------------------------------


@click.group()
def skills() -> None:
    """Show a tenant's skills."""


@skills.command("list")
@_tenant_option
@store_options
@pass_settings
def list_skills(settings: Settings, tenant: str) -> None:
    """List TENANT's skill versions, by name, then version."""
    found = run(settings, lambda store: store.list_skills(tenant))
    if settings.json:
        emit_json([record_json(skill) for skill in found])
    else:
        emit_table(
            ("NAME", "VERSION", "LANG", "UPLOADED", "DESCRIPTION"),
            ((s.name, s.version, s.lang, s.uploaded_at, s.description) for s in found),
            empty=f"tenant {text(tenant)} has no skills",
        )


@skills.command("latest")
@_tenant_option
@click.argument("name")
@store_options
@pass_settings
def latest_skill(settings: Settings, tenant: str, name: str) -> None:
    """Print the version of skill NAME that TENANT uploaded last.

    With --json, print that version's whole record.
    """

    async def latest(store: Store) -> SkillRecord:
        version = await store.resolve_latest_version(tenant, name)
        return await store.get_skill(tenant, name, version)

    record = run(settings, latest)
    if settings.json:
        emit_json(record_json(record))
    else:
        click.echo(text(record.version))
