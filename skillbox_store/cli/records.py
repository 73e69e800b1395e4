"""Read-only commands over a tenant's executions, files, sessions and skills."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from skillbox_store.cli.output import emit_details, emit_json, emit_table, record_json, text
from skillbox_store.cli.runner import Settings, pass_settings, run, store_options
from skillbox_store.errors import NotFoundError
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

__all__ = ["executions", "files", "sessions", "skills"]

_tenant_option = click.option("--tenant", required=True, metavar="TENANT", help="Tenant id.")

_FILE_COLUMNS: Final = ("ID", "NAME", "VERSION", "SIZE", "CONTENT TYPE", "PARENT", "CREATED")


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
    """Show a tenant's executions."""


@executions.command("list")
@_tenant_option
@click.option(
    "--limit",
    type=int,
    default=EXECUTIONS_PAGE_DEFAULT,
    show_default=True,
    help=f"Page size (at most {EXECUTIONS_PAGE_MAX}).",
)
@click.option("--offset", type=int, default=0, show_default=True, help="Executions to skip.")
@store_options
@pass_settings
def list_executions(settings: Settings, tenant: str, limit: int, offset: int) -> None:
    """List a page of TENANT's executions, newest first."""
    found = run(settings, lambda store: store.list_executions(tenant, limit, offset))
    if settings.json:
        emit_json([record_json(execution) for execution in found])
        return
    emit_table(
        ("ID", "SKILL", "VERSION", "STATUS", "DURATION MS", "CREATED", "FINISHED"),
        (
            (
                e.id,
                e.skill_name,
                e.skill_version,
                e.status,
                e.duration_ms,
                e.created_at,
                e.finished_at,
            )
            for e in found
        ),
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
    help="Only files of this session (its internal id, as `sessions show` prints it).",
)
@click.option("--execution", "execution_id", metavar="ID", help="Only files of this execution.")
@click.option(
    "--limit",
    type=int,
    default=FILES_PAGE_DEFAULT,
    show_default=True,
    help=f"Page size (at most {FILES_PAGE_MAX}).",
)
@click.option("--offset", type=int, default=0, show_default=True, help="Files to skip.")
@store_options
@pass_settings
def list_files(
    settings: Settings,
    tenant: str,
    session_id: str | None,
    execution_id: str | None,
    limit: int,
    offset: int,
) -> None:
    """List a page of TENANT's files, newest first."""
    from skillbox_store.records import FileFilter

    wanted = FileFilter(
        tenant_id=tenant,
        session_id=session_id,
        execution_id=execution_id,
        limit=limit,
        offset=offset,
    )
    found = run(settings, lambda store: store.list_files(wanted))
    if settings.json:
        emit_json([record_json(file) for file in found])
    else:
        emit_table(_FILE_COLUMNS, map(_file_row, found), empty="no files match")


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
            raise NotFoundError(f"tenant {tenant!r} has no file {file_id!r}")
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
