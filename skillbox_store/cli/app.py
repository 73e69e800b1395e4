"""The ``skillbox-store`` command group and its entry point, `main`."""

from __future__ import annotations

import sys
from typing import Final

import click

from skillbox_store.cli.admin import migrate, status
from skillbox_store.cli.keys import keys
from skillbox_store.cli.records import executions, files, sessions, skills
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
(revoking a revoked key; keys check: revoked key).
"""


@click.group(epilog=_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.version_option(package_name="skillbox-store", prog_name=PROG_NAME)
@click.pass_context
def cli(ctx: click.Context, url: str, json_output: bool, migrate: bool) -> None:
    """Operate a Skillbox store: migrate it, check it, manage API keys, inspect records."""
    ctx.obj = Settings(url=url, json=json_output, migrate=migrate)


cli.add_command(migrate)
cli.add_command(status)
cli.add_command(keys)
cli.add_command(executions)
cli.add_command(files)
cli.add_command(sessions)
cli.add_command(skills)


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
    except click.Abort:
        click.echo(f"{PROG_NAME}: aborted", err=True)
        sys.exit(ExitCode.ERROR)
    # Without standalone mode, click returns the code of an explicit exit (--help,
    # `keys check`) and None when a command simply finished.
    sys.exit(status_code if isinstance(status_code, int) else ExitCode.OK)
