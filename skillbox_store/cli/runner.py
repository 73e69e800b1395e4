"""Running one command: its settings, the store it opens, and how failures exit.

Every command hands `run` an async action on the store: `run` opens the store, runs the
action, closes the store, and (through `settle`, which ``status`` also uses for the
SQLite probe) is the one place that turns a `StoreError` into a one-line message on
stderr and an exit code a script can test. The command prints the result afterwards.
Anything else that escapes is a bug in skillbox-store and keeps its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import IntEnum
from typing import IO, TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import unquote, urlsplit

import click

from skillbox_store.errors import (
    ConflictError,
    InvalidArgumentError,
    MigrationError,
    NotFoundError,
    SchemaOutdatedError,
    StoreError,
    UnavailableError,
)
from skillbox_store.urls import redact_url

if TYPE_CHECKING:
    from skillbox_store.store import Store

__all__ = [
    "DEFAULT_URL",
    "PROG_NAME",
    "URL_ENV",
    "CommandError",
    "ExitCode",
    "Settings",
    "failure",
    "mask_secrets",
    "pass_settings",
    "run",
    "settle",
    "store_options",
]

PROG_NAME: Final = "skillbox-store"
DEFAULT_URL: Final = "sqlite:///skillbox.db"
URL_ENV: Final = "SKILLBOX_STORE_URL"

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")


class ExitCode(IntEnum):
    """The exit status of ``skillbox-store``, one per kind of failure."""

    OK = 0
    ERROR = 1
    """Any other store error: a failed migration, a closed store, a broken backend."""
    INVALID = 2
    """Invalid input (`InvalidArgumentError`) or a command-line usage error."""
    NOT_FOUND = 3
    """The record does not exist for this tenant; `keys check`: the key is unknown."""
    UNAVAILABLE = 4
    """The database cannot be reached."""
    CONFLICT = 5
    """The write contradicts what is stored (revoked twice...); `keys check`: revoked."""
    SCHEMA_OUTDATED = 6
    """The schema is behind this code and ``--no-migrate`` kept it so: run ``migrate``."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C): 128 + SIGINT, as a shell reports a process the signal ended."""


# Most specific first: AlreadyRevokedError and its kin are ConflictErrors.
_FAILURES: Final[tuple[tuple[type[StoreError], ExitCode, str], ...]] = (
    (InvalidArgumentError, ExitCode.INVALID, "invalid input"),
    (NotFoundError, ExitCode.NOT_FOUND, "not found"),
    (UnavailableError, ExitCode.UNAVAILABLE, "database unavailable"),
    (ConflictError, ExitCode.CONFLICT, "conflict"),
    (SchemaOutdatedError, ExitCode.SCHEMA_OUTDATED, "schema not migrated"),
    (MigrationError, ExitCode.ERROR, "migration failed"),
    (StoreError, ExitCode.ERROR, "store error"),
)

# "user:secret@" in any URL a message quotes, whichever URL it is.
_NETLOC_PASSWORD: Final = re.compile(r"(//[^/\s:@]*):[^/\s@]*@")
# libpq keyword strings quoted by drivers: password=secret or password='se cret'. An
# unquoted value ends before the punctuation that ends the phrase around it, so that
# "…?password=secret: connection refused" keeps its colon once masked.
_PASSWORD_PARAM: Final = re.compile(
    r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*?)(?=[:;,.)\]\"']*(?:\s|&|$))"
)
# A password shorter than this is left alone in free text: masking every "ab" would
# garble the message while hiding nothing a guess would not find at once.
_MIN_MASKED_PASSWORD: Final = 4


class CommandError(click.ClickException):
    """A failure the user can act on: one line on stderr and a distinct exit code.

    Click reads the exit status from the class (``exit_code`` is a class variable, as
    on click's own `UsageError`), so ``CommandError(message, code, label)`` makes an
    instance of the subclass that carries ``code``.
    """

    def __new__(cls, message: str, exit_code: ExitCode, label: str) -> CommandError:
        return super().__new__(_COMMAND_ERRORS[exit_code], message, exit_code, label)

    def __init__(self, message: str, exit_code: ExitCode, label: str) -> None:
        super().__init__(message)
        self.label = label

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``skillbox-store: <label>: <message>`` as a single line on stderr."""
        text = " ".join(self.format_message().split())
        click.echo(f"{PROG_NAME}: {self.label}: {text}", file=file, err=file is None)


_COMMAND_ERRORS: Final[dict[ExitCode, type[CommandError]]] = {
    code: type(
        f"CommandError{code.name.title().replace('_', '')}",
        (CommandError,),
        {"exit_code": int(code)},
    )
    for code in ExitCode
}


def mask_secrets(text: str, url: str) -> str:
    """Return ``text`` with every password it might quote from ``url`` replaced by ``***``.

    The backends already keep passwords out of their messages; this is the second
    line of defence, because a leaked password in a CI log cannot be taken back.
    """
    text = text.replace(url, redact_url(url))
    text = _NETLOC_PASSWORD.sub(r"\1:***@", text)
    text = _PASSWORD_PARAM.sub(r"\1***", text)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        for secret in {password, unquote(password)}:
            if len(secret) >= _MIN_MASKED_PASSWORD:
                text = text.replace(secret, "***")
    return text


def failure(exc: StoreError, url: str) -> CommandError:
    """Return the `CommandError` that reports ``exc``, with passwords masked."""
    code, label = next((c, lbl) for kind, c, lbl in _FAILURES if isinstance(exc, kind))
    message = str(exc) or type(exc).__name__
    return CommandError(mask_secrets(message, url), code, label)


@dataclass(slots=True)
class Settings:
    """What every command needs: the store URL, the output format, whether to migrate."""

    url: str = DEFAULT_URL
    json: bool = False
    migrate: bool = True

    def open(
        self, *, migrate: bool | None = None, check_schema: bool = True
    ) -> AbstractAsyncContextManager[Store]:
        """Open the store, migrating it unless ``--no-migrate`` (or ``migrate``) says not.

        ``check_schema=False`` opens a store whose schema is behind without migrating it,
        for the commands about the schema itself (see `open_store`).
        """
        # Imported here: the backends' machinery is not needed to show help.
        from skillbox_store.open import open_store

        return open_store(
            self.url,
            migrate=self.migrate if migrate is None else migrate,
            check_schema=check_schema,
        )


pass_settings = click.make_pass_decorator(Settings, ensure=True)


def run(
    settings: Settings,
    action: Callable[[Store], Awaitable[_T]],
    *,
    migrate: bool | None = None,
    check_schema: bool = True,
) -> _T:
    """Open the store, run ``action`` on it, close it; return what the action returned.

    A `StoreError` becomes a one-line message and an exit code (`CommandError`, see
    `settle`), whether opening, the action or closing raised it. ``migrate`` overrides
    ``--migrate/--no-migrate``, and ``check_schema=False`` lets an unmigrated schema
    open, for the commands about the schema itself.
    """

    async def opened() -> _T:
        async with settings.open(migrate=migrate, check_schema=check_schema) as store:
            return await action(store)

    return settle(settings, opened)


def settle(settings: Settings, work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """Run ``work()`` to its end and return its result; `run` is this with the store.

    The one place where a `StoreError` becomes a one-line message and an exit code
    (`CommandError`), with the passwords of ``settings.url`` masked.
    """
    # Imported here, as the store is: asyncio alone costs what `--help` does.
    import asyncio

    try:
        return asyncio.run(work())
    except StoreError as exc:
        raise failure(exc, settings.url) from exc


def _set_url(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(Settings).url = value


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Settings).json = True


def store_options(command: _F) -> _F:
    """Accept ``--url`` and ``--json`` after the command name too, as well as before it.

    ``skillbox-store keys list --tenant t --json`` reads as naturally as the form with
    the options up front; given here they override the ones given before the command.
    """
    command = click.option(
        "--json",
        "json_output",
        is_flag=True,
        default=False,
        expose_value=False,
        callback=_set_json,
        help="Print JSON (the records' Go-compatible form) instead of a table.",
    )(command)
    command = click.option(
        "--url",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_set_url,
        help=f"Store URL (overrides the one given before the command and ${URL_ENV}).",
    )(command)
    return command
