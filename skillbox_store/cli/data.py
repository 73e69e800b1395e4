"""``skillbox-store copy``, ``export`` and ``import``: moving whole stores and backing them up.

All three work on stores that offer the bulk capability (every built-in backend does);
the rules — skip identical records, stop at a different one, verify every tenant by
counts and digests — are `skillbox_store.transfer`'s.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import tempfile
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import IO, TYPE_CHECKING, Any, TypeVar

import click

from skillbox_store.cli.output import emit_json, text
from skillbox_store.cli.runner import (
    PROG_NAME,
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
    from skillbox_store.errors import StoreError
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


def _run(
    urls: tuple[str, ...],
    action: Callable[[], Coroutine[Any, Any, _T]],
    meter: _Meter,
    *,
    resume: str | None,
) -> _T:
    """Run ``action``: a `StoreError` or Ctrl-C becomes a one-line error, passwords masked.

    ``resume`` tells how to resume a write after an interrupt ("run the same copy
    again"), whose message counts what was written, from what the meter was told; None
    for an export, which writes nothing into a store and is simply run again.
    """
    import asyncio

    from skillbox_store.errors import StoreError

    try:
        return asyncio.run(action())
    except KeyboardInterrupt:
        meter.done()
        if resume is None:
            raise CommandError(
                "the export was interrupted: no complete backup was written "
                "(a file named by --output is left as it was); run it again",
                ExitCode.INTERRUPTED,
                "interrupted",
            ) from None
        written = sum(p.written for p in meter.tables.values())
        skipped = sum(p.skipped for p in meter.tables.values())
        # "At least": a batch in flight when Ctrl-C came may have been committed too.
        raise CommandError(
            f"at least {written:,} record{'s' if written != 1 else ''} written so far "
            f"({skipped:,} found already there); {resume} to resume: the records already "
            "there are skipped",
            ExitCode.INTERRUPTED,
            "interrupted",
        ) from None
    except StoreError as exc:
        meter.done()
        raise _masked(exc, urls) from exc


def _masked(exc: StoreError, urls: tuple[str, ...]) -> CommandError:
    from skillbox_store.transfer import VerificationError

    error = failure(exc, urls[0])
    message = error.format_message()
    for url in urls[1:]:
        message = mask_secrets(message, url)
    # Still exit 1, but named for what it is: everything was written, the check failed.
    label = "verification failed" if isinstance(exc, VerificationError) else error.label
    return CommandError(message, ExitCode(error.exit_code), label)


class _Meter:
    """Progress on a terminal's stderr: per table, records (of the total when known), rate.

    It also remembers every table's progress, printed or not, so an interrupted
    transfer can say how far it got.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tables: dict[str, Progress] = {}
        self.totals: Mapping[str, int] = {}
        self._table: str | None = None

    def __call__(self, progress: Progress) -> None:
        self.tables[progress.table] = progress
        if not self.enabled:
            return
        if self._table is not None and progress.table != self._table:
            click.echo("", err=True)
        self._table = progress.table
        from skillbox_store.stats import Estimate

        total = self.totals.get(progress.table)
        # An estimate (PostgreSQL's planner statistics) prints as "~1,000,000".
        of = f" of {'~' if isinstance(total, Estimate) else ''}{total:,}" if total else ""
        click.echo(
            f"\r{progress.table}: {progress.records:,}{of} records, {progress.rate:,.0f} records/s",
            err=True,
            nl=False,
        )

    def done(self) -> None:
        """End the progress line, so what follows starts on a line of its own."""
        if self.enabled and self._table is not None:
            click.echo("", err=True)
            self._table = None


def _meter(settings: Settings) -> _Meter:
    return _Meter(not settings.json and sys.stderr.isatty())


def _reading(url: str) -> dict[str, Any]:
    """Return the options that open ``url`` for reading only.

    A SQLite file that does not exist must not be created by a command that only reads
    it: it would be left behind, empty, and reported as a schema never migrated.
    """
    from skillbox_store.urls import url_scheme

    return {"create": False} if url_scheme(url) == "sqlite" else {}


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
    for tenant, tables in report.verified.items():
        if not any(count for count, _ in tables.values()):
            click.echo(
                f"tenant {text(tenant)} has no records in the source: nothing matched", err=err
            )


def _unverified(
    exc: CommandError, settings: Settings, header: dict[str, Any], title: str, verb: str
) -> None:
    """Before a failed verification's one-line error, print what the transfer wrote.

    Everything was written by then: the summary is what the operator needs to decide
    whether the difference (most often the destination's own other records) matters.
    """
    from skillbox_store.transfer import VerificationError

    cause = exc.__cause__
    if not isinstance(cause, VerificationError) or cause.report is None:
        return
    if settings.json:
        emit_json({**header, **cause.report.as_json(), "failed": exc.format_message()})
        return
    click.echo(title)
    _summary(cause.report, verb)


def _same_store(first: str, second: str) -> bool:
    """Tell whether two URLs name the same store, not only the same text.

    The same SQLite file however its path is spelled (relative, through a symlink, a
    hard link), the same PostgreSQL database and schema however the URL is written.
    """
    identity = _identity(first)
    return identity is not None and identity == _identity(second)


def _identity(url: str) -> tuple[str, ...] | None:
    """Return what ``url`` opens, comparable across spellings; None for a new store."""
    import os
    from urllib.parse import parse_qs, urlsplit

    from skillbox_store.urls import url_scheme

    scheme = url_scheme(url)
    if scheme == "memory":
        return None  # each open is a new, empty store
    if scheme == "sqlite":
        path = url.partition("://")[2][1:]
        if not path or path == ":memory:":
            return None
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            return ("sqlite", os.path.realpath(path))
        return ("sqlite-inode", str(info.st_dev), str(info.st_ino))
    if scheme in ("postgresql", "postgres"):
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return (url,)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        user = parts.username or query.get("user", "")
        return (
            "postgresql",
            (parts.hostname or query.get("host", "")).lower(),
            str(port or query.get("port", "5432")),
            parts.path.lstrip("/") or query.get("dbname", "") or user,
            query.get("schema", "sandbox"),
        )
    return (url,)


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
    if _same_store(source_url, destination_url):
        raise CommandError("SRC_URL and DST_URL name the same store", ExitCode.INVALID, "usage")
    migrate_destination = settings.migrate if migrate is None else migrate
    meter = _meter(settings)

    async def action() -> TransferReport:
        from skillbox_store.capabilities import STATS, supports
        from skillbox_store.errors import StoreError
        from skillbox_store.open import open_store
        from skillbox_store.stats import StoreStats
        from skillbox_store.transfer import copy_store, require_bulk

        # The source is read as it is, never created or migrated; only the
        # destination is migrated.
        async with (
            open_store(source_url, migrate=False, **_reading(source_url)) as source,
            open_store(destination_url, migrate=migrate_destination) as destination,
        ):
            require_bulk(source, "source")
            require_bulk(destination, "destination")
            await source.ping()
            await destination.ping()
            if meter.enabled and not tenants and supports(source, STATS):
                # Totals across tenants are the totals of a whole copy; estimates are
                # enough for a progress line, and cheap on a large PostgreSQL table.
                assert isinstance(source, StoreStats)
                with contextlib.suppress(StoreError):
                    # Only the progress line needs them: it does without, not the copy.
                    meter.totals = await source.table_counts(exact=False)
            return await copy_store(
                source,
                destination,
                tenants=tenants or None,
                batch_size=batch_size,
                on_progress=meter,
            )

    header = {"source": redact_url(source_url), "destination": redact_url(destination_url)}
    title = f"copied {redact_url(source_url)} -> {redact_url(destination_url)}"
    try:
        report = _run(
            (source_url, destination_url), action, meter, resume="run the same copy again"
        )
    except CommandError as exc:
        _unverified(exc, settings, header, title, "copied")
        raise
    meter.done()
    if settings.json:
        emit_json({**header, **report.as_json()})
        return
    click.echo(title)
    _summary(report, "copied")


class _Output:
    """Where an export goes: stdout, or a file that appears only once it is complete.

    A file is written under a temporary name beside it and renamed at the end, so a
    failed or interrupted export never leaves a truncated backup under the name asked
    for (nor an empty file when the store cannot be opened). A path that is not a
    regular file (``/dev/null``, a pipe) is written directly.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._temporary: str | None = None
        if path == "-":
            self.stream: IO[str] = click.get_text_stream("stdout")
            return
        try:
            if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
                self.stream = open(path, "w", encoding="utf-8")  # noqa: SIM115 (closed by commit or discard)
                return
            if os.path.isdir(path):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            folder, name = os.path.split(os.path.abspath(path))
            handle, self._temporary = tempfile.mkstemp(
                prefix=f".{name}.", suffix=".partial", dir=folder
            )
            self.stream = os.fdopen(handle, "w", encoding="utf-8")
        except (OSError, ValueError) as exc:
            raise _file_error("write", path, exc) from None

    def commit(self) -> None:
        """Flush the records; move a finished file to its name."""
        try:
            self.stream.flush()
            if self.path == "-":
                return
            self.stream.close()
            if self._temporary is not None:
                os.replace(self._temporary, self.path)
                self._temporary = None
        except OSError as exc:
            self.discard()
            raise _file_error("write", self.path, exc) from None

    def discard(self) -> None:
        """Remove the unfinished file, if any."""
        if self.path == "-":
            return
        with contextlib.suppress(OSError):
            self.stream.close()
        if self._temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._temporary)
            self._temporary = None


def _file_error(verb: str, path: str, exc: BaseException) -> CommandError:
    """Report a file named on the command line that cannot be used: invalid input (2)."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return CommandError(f"cannot {verb} {text(path)}: {reason}", ExitCode.INVALID, "invalid input")


@click.command()
@_tenants_option
@_batch_option
@click.option(
    "--output",
    "-o",
    "output_path",
    metavar="FILE",
    default="-",
    show_default=True,
    help="Where to write the records (- is stdout); a file appears once complete.",
)
@store_options
@pass_settings
def export(settings: Settings, tenants: tuple[str, ...], batch_size: int, output_path: str) -> None:
    """Write every record (or the named tenants') as JSON lines: a backup.

    One record per line, {"kind": ..., "record": <its Go JSON>}, after a header line,
    read from one consistent snapshot of the store. `skillbox-store import` replays it.
    A summary goes to stderr, so stdout is the backup alone.
    """
    meter = _meter(settings)
    output = _Output(output_path)

    async def action() -> TransferReport:
        from skillbox_store.open import open_store
        from skillbox_store.transfer import export_store

        async with open_store(settings.url, migrate=False, **_reading(settings.url)) as store:
            return await export_store(
                store,
                output.stream,
                tenants=tenants or None,
                batch_size=batch_size,
                on_progress=meter,
            )

    try:
        report = _run((settings.url,), action, meter, resume=None)
    except BaseException:
        output.discard()
        raise
    output.commit()
    meter.done()
    if settings.json:
        # stdout holds the backup: the machine-readable summary goes to stderr.
        click.echo(json.dumps(report.as_json(), ensure_ascii=False), err=True)
        return
    _summary(report, "exported", verified=False)


def _lines(stream: IO[bytes]) -> Iterator[str]:
    """Yield the lines of a binary stream as text, refusing one that is not UTF-8.

    Decoded line by line rather than by a text stream, whose read-ahead would report a
    bad byte lines away from the line that holds it.
    """
    from skillbox_store.errors import InvalidArgumentError

    for number, raw in enumerate(stream, start=1):
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidArgumentError(
                f"line {number}: not UTF-8 text (byte {exc.start + 1} of the line)"
            ) from None


@click.command("import")
@click.argument("source", default="-", metavar="[FILE]")
@_batch_option
@store_options
@pass_settings
def import_(settings: Settings, source: str, batch_size: int) -> None:
    """Replay an export (FILE, or stdin) into the store.

    The same rules as copy: records already there identically are skipped, one that
    differs stops the import (exit 5); a malformed line stops it naming its number
    (exit 2), nothing after it written. Lines are written a window of --batch-size at
    a time, grouped by tenant. Each tenant is then verified against the file.
    """
    meter = _meter(settings)
    if source == "-":
        stream: IO[bytes] = click.get_binary_stream("stdin")
    else:
        try:
            stream = open(source, "rb")  # noqa: SIM115 (closed once the import ends)
        except (OSError, ValueError) as exc:
            raise _file_error("read", source, exc) from None
        if meter.enabled and os.path.isfile(source):
            # Only a regular file can be read twice: a pipe (`import <(…)`) cannot.
            meter.totals = _records_per_table(source)

    async def action() -> TransferReport:
        from skillbox_store.open import open_store
        from skillbox_store.transfer import import_records

        async with open_store(settings.url, migrate=settings.migrate) as store:
            return await import_records(
                store, _lines(stream), batch_size=batch_size, on_progress=meter
            )

    header = {"destination": redact_url(settings.url)}
    title = f"imported into {redact_url(settings.url)}"
    resume = "run the same import again" + (" with the same input" if source == "-" else "")
    try:
        with contextlib.closing(stream) if source != "-" else contextlib.nullcontext():
            report = _run((settings.url,), action, meter, resume=resume)
    except CommandError as exc:
        _unverified(exc, settings, header, title, "imported")
        raise
    except OSError as exc:
        raise _file_error("read", source, exc) from None
    meter.done()
    if settings.json:
        emit_json({**header, **report.as_json()})
    else:
        click.echo(title)
        _summary(report, "imported")
    if not any(p.records for p in report.tables.values()):
        # Exit 0 (an empty store exports to a header alone), but never a silent one:
        # an empty file is more often a backup that failed to be written.
        click.echo(
            f"{PROG_NAME}: warning: {text(source) if source != '-' else 'the input'} "
            "held no records: nothing was imported",
            err=True,
        )


def _records_per_table(path: str) -> dict[str, int]:
    """Count an export's records per table for the progress line; {} if it is not one.

    A cheap pass over the file (the kind is the start of each line `export` writes);
    a line of any other shape leaves the totals unknown rather than wrong.
    """
    from skillbox_store.transfer import KINDS

    tables = {kind.encode(): table for table, kind in KINDS.items()}
    counts = dict.fromkeys(KINDS, 0)
    prefix = b'{"kind":"'
    try:
        with open(path, "rb") as lines:
            for number, line in enumerate(lines):
                if number == 0 or not line.strip():
                    continue
                if not line.startswith(prefix):
                    return {}
                table = tables.get(line[len(prefix) : line.find(b'"', len(prefix))])
                if table is None:
                    return {}
                counts[table] += 1
    except OSError:
        return {}
    return counts
