"""The ``skillbox-store`` command group and its entry point, `main`."""

from __future__ import annotations

import sys
from typing import Final

import click

from skillbox_store._version import __version__
from skillbox_store.cli.lazy import LazyCommand, LazyGroup
from skillbox_store.cli.runner import (
    DEFAULT_URL,
    PROG_NAME,
    URL_ENV,
    CommandError,
    ExitCode,
    Settings,
)

__all__ = ["cli", "main"]

_EPILOG: Final = """\b
Exit status: 0 success; 1 other store error (a failed migration); 2 invalid input or
usage; 3 not found (keys check: unknown key); 4 database unavailable; 5 conflict
(revoking a revoked key; keys check: revoked key); 6 schema not migrated (with
--no-migrate; run: skillbox-store migrate URL); 130 interrupted (Ctrl-C).
"""


# Every command, by name: imported only when it runs or shows its help, so that
# `skillbox-store --help` starts in a few tens of milliseconds (benchmarks/startup.py).
# The short help is what `--help` lists; tests/test_cli.py checks it against the
# command's docstring. A new command module adds its line here.
_COMMANDS: Final = {
    "migrate": LazyCommand(
        "skillbox_store.cli.admin:migrate", "Apply the schema migrations the store is missing."
    ),
    "status": LazyCommand(
        "skillbox_store.cli.admin:status",
        "Show the backend, its schema version, ping time and records per table.",
    ),
    "keys": LazyCommand("skillbox_store.cli.keys:keys", "Create, list, revoke and check API keys."),
    "executions": LazyCommand(
        "skillbox_store.cli.records:executions",
        "Show a tenant's executions, or prune the old ones.",
    ),
    "files": LazyCommand(
        "skillbox_store.cli.records:files", "Show a tenant's files and their version chains."
    ),
    "sessions": LazyCommand("skillbox_store.cli.records:sessions", "Show a tenant's sessions."),
    "skills": LazyCommand("skillbox_store.cli.records:skills", "Show a tenant's skills."),
    "tenants": LazyCommand("skillbox_store.cli.tenants:tenants", "Remove a tenant's records."),
    "copy": LazyCommand(
        "skillbox_store.cli.data:copy",
        "Copy every record (or the named tenants') from one store into another.",
    ),
    "export": LazyCommand(
        "skillbox_store.cli.data:export",
        "Write every record (or the named tenants') as JSON lines: a backup.",
    ),
    "import": LazyCommand(
        "skillbox_store.cli.data:import_", "Replay an export (FILE, or stdin) into the store."
    ),
    "adopt": LazyCommand("skillbox_store.cli.adopt:adopt", "Adopt a Go database in place."),
}


@click.group(
    cls=LazyGroup,
    lazy=_COMMANDS,
    epilog=_EPILOG,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--url",
    envvar=URL_ENV,
    default=DEFAULT_URL,
    show_default=True,
    show_envvar=True,
    metavar="URL",
    help="Store URL: sqlite:///path.db, postgresql://user@host/db, memory://.",
)
@click.option(
    "--json",
    "json_output",
    is_flag=True,
    help="Print JSON (the records' Go-compatible form) instead of tables.",
)
@click.option(
    "--migrate/--no-migrate",
    default=True,
    show_default=True,
    help="Bring the schema up to date when opening the store.",
)
@click.version_option(__version__, prog_name=PROG_NAME)
@click.pass_context
def cli(ctx: click.Context, url: str, json_output: bool, migrate: bool) -> None:
    """Operate a Skillbox store: migrate it, check it, manage API keys, inspect records."""
    ctx.obj = Settings(url=url, json=json_output, migrate=migrate)


# Click 8.2+ reports a bare group (`skillbox-store keys`) as this usage error, whose
# message is the group's help: that is shown whole, as click shows it.
_HELP_INSTEAD: Final[tuple[type[click.UsageError], ...]] = tuple(
    getattr(click.exceptions, name)
    for name in ("NoArgsIsHelpError",)
    if hasattr(click.exceptions, name)
)


def _usage_line(exc: click.UsageError) -> CommandError:
    message = exc.format_message()
    if exc.ctx is not None:
        message += f" (see: {exc.ctx.command_path} --help)"
    return CommandError(message, ExitCode.INVALID, "usage")


def _interrupted(exc: BaseException) -> bool:
    """Tell whether ``exc`` was caused by Ctrl-C, directly or down its chain."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def main(args: list[str] | None = None) -> None:
    """Run the command line and exit with its status; the console script's entry point."""
    try:
        status_code = cli.main(args=args, prog_name=PROG_NAME, standalone_mode=False)
    except _HELP_INSTEAD as exc:
        exc.show()
        sys.exit(ExitCode.INVALID)
    except click.UsageError as exc:
        # Click's own usage report spans three lines; scripts and logs want one.
        _usage_line(exc).show()
        sys.exit(ExitCode.INVALID)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort as exc:
        # Click turns Ctrl-C (and end of input at a prompt) into Abort, keeping the
        # original as the cause or the context. An interrupt is not a store error: it
        # exits as a shell reports SIGINT, so scripts can tell the two apart.
        if _interrupted(exc):
            CommandError("stopped by Ctrl-C", ExitCode.INTERRUPTED, "interrupted").show()
            sys.exit(ExitCode.INTERRUPTED)
        CommandError(
            "no answer: end of input at the prompt", ExitCode.INVALID, "invalid input"
        ).show()
        sys.exit(ExitCode.INVALID)
    # Without standalone mode, click returns the code of an explicit exit (--help,
    # `keys check`) and None when a command simply finished.
    sys.exit(status_code if isinstance(status_code, int) else ExitCode.OK)
