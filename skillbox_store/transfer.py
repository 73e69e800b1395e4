"""Copying, exporting and importing records between stores that have the bulk capability.

`copy_store` streams every record of every tenant (or the named ones) from a source
snapshot into a destination, table by table in `BULK_TABLES` order, a batch at a time:
memory stays bounded by the batch, however large the store. `export_store` writes the
same stream as JSON lines and `import_records` replays such lines into a store.

The same rules on every path:

* A record whose key (`record_key` within its tenant) already exists in the destination
  with the same content is skipped, so an interrupted copy or import is simply run
  again. One that exists with different content stops everything with a
  `ConflictError` naming it: the records before it are written, nothing after it.
* Each tenant is verified at the end: per table, the number of records and a SHA-256
  digest of their canonical JSON (`canonical_json`, in the stream's stable order) must
  be the same on both sides, else `VerificationError`, which carries the report of
  what was written, so a caller can say it as well as why the check failed.
* Records are written in batches of one table and one tenant. An import groups each
  window of up to ``batch_size`` lines by tenant (in the order each tenant first
  appears, each tenant's records in file order), so a file whose tenants alternate line
  by line costs as many batches as a grouped one; a conflict therefore stops everything
  after its window, while records of other tenants inside that window may be written.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import IO, Any, Final

from pydantic import ValidationError

from skillbox_store import validation as check
from skillbox_store.bulk import (
    BULK_TABLES,
    DEFAULT_BATCH,
    RECORD_TYPES,
    BulkReader,
    BulkRecord,
    StoreBulk,
    record_key,
)
from skillbox_store.capabilities import BULK, supports
from skillbox_store.errors import ConflictError, InvalidArgumentError, StoreError
from skillbox_store.records import APIKey, Execution, File, Session, SkillRecord

__all__ = [
    "EXPORT_FORMAT",
    "KINDS",
    "Digest",
    "Progress",
    "TransferReport",
    "VerificationError",
    "canonical_json",
    "copy_store",
    "export_store",
    "import_records",
    "require_bulk",
]

EXPORT_FORMAT: Final = 1
"""The version of the export format, in its first line."""

KINDS: Final = {
    "api_keys": "api_key",
    "executions": "execution",
    "files": "file",
    "sessions": "session",
    "skills": "skill",
}
"""The kind tag of each table's records in an export."""

_TABLE_OF_KIND: Final = {kind: table for table, kind in KINDS.items()}
_HEADER_KIND: Final = "skillbox-store-export"


class VerificationError(StoreError):
    """After a copy or import, a tenant's records differ between the two sides.

    ``report`` is what the transfer wrote and skipped before the check failed (every
    record of the source is then in the destination: the check compares whole tenants).
    """

    def __init__(self, message: str, report: TransferReport | None = None) -> None:
        super().__init__(message)
        self.report = report


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds")
    raise TypeError(f"{type(value).__name__} is not JSON")


# One encoder for every record: json.dumps with options builds a new one per call.
_encode: Final = json.JSONEncoder(
    default=_json_default, sort_keys=True, ensure_ascii=False, separators=(",", ":")
).encode

# Each record class's fields in declaration order, read in one C call.
_FIELDS: Final[dict[type[BulkRecord], Callable[[BulkRecord], tuple[Any, ...]]]] = {
    cls: attrgetter(*cls.model_fields) for cls in RECORD_TYPES.values()
}


def canonical_json(record: BulkRecord) -> bytes:
    """Return a record's canonical JSON: its fields in order, object keys sorted.

    Times are RFC 3339 in UTC with microseconds, so two records are equal exactly when
    their canonical JSON is, whichever backend stored them (PostgreSQL's ``jsonb``
    keeps object keys in an order of its own).
    """
    return _encode(_FIELDS[type(record)](record)).encode()


@dataclass(slots=True)
class Digest:
    """How many records of one table of one tenant, and the SHA-256 of their JSON."""

    count: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)

    def add(self, line: bytes) -> None:
        """Count a record and hash its canonical JSON."""
        self.count += 1
        self.sha256.update(line)
        self.sha256.update(b"\n")

    def hexdigest(self) -> str:
        """Return the digest so far, as hex."""
        return str(self.sha256.hexdigest())


@dataclass(slots=True)
class Progress:
    """Where a copy or import stands in one table."""

    table: str
    written: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0

    @property
    def records(self) -> int:
        """Return the records handled so far, written or skipped."""
        return self.written + self.skipped

    @property
    def rate(self) -> float:
        """Return the records handled per second."""
        return self.records / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class TransferReport:
    """What a copy or import did: per table, records written and skipped; what it verified."""

    tables: dict[str, Progress] = field(default_factory=dict)
    # tenant -> table -> (count, digest), the same on both sides.
    verified: dict[str, dict[str, tuple[int, str]]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the report as a JSON object (`--json`)."""
        return {
            "tables": {
                name: {
                    "written": p.written,
                    "skipped": p.skipped,
                    "seconds": round(p.seconds, 3),
                    "records_per_second": round(p.rate, 1),
                }
                for name, p in self.tables.items()
            },
            "verified": {
                tenant: {name: {"count": c, "sha256": d} for name, (c, d) in tables.items()}
                for tenant, tables in self.verified.items()
            },
        }


OnProgress = Callable[[Progress], None]


def require_bulk(store: object, role: str) -> StoreBulk:
    """Return ``store`` as a `StoreBulk`, or refuse it naming its ``role`` (source...).

    Raises:
        InvalidArgumentError: the store does not declare and implement ``bulk``.
    """
    if not supports(store, BULK):
        raise InvalidArgumentError(
            f"the {role} store ({type(store).__name__}) does not offer bulk reads and writes"
        )
    assert isinstance(store, StoreBulk)
    return store


def _name(table: str, record: BulkRecord) -> str:
    if isinstance(record, SkillRecord):
        return f"skill {record.name!r} version {record.version!r} of tenant {record.tenant_id!r}"
    return f"{KINDS[table]} {record.id} of tenant {record.tenant_id!r}"


async def _insert(dst: StoreBulk, table: str, tenant: str, records: Sequence[BulkRecord]) -> None:
    """Insert records; on a conflict, find which one, writing those before it."""
    if not records:
        return
    try:
        await dst.bulk_insert(table, tenant, records)
        return
    except ConflictError:
        if len(records) == 1:
            raise
    # The batch was refused whole: write one at a time up to the culprit, so that what
    # precedes it is written and the error names it.
    for record in records:
        try:
            await dst.bulk_insert(table, tenant, [record])
        except ConflictError as exc:
            raise type(exc)(f"{_name(table, record)}: {exc}") from exc


async def _write_batch(
    dst: StoreBulk,
    table: str,
    tenant: str,
    batch: Sequence[BulkRecord],
    lines: Sequence[bytes],
    progress: Progress,
) -> None:
    """Write the records the destination lacks; skip identical ones; stop at a different one.

    ``lines`` are the records' canonical JSON, computed once for the digest as well.
    """
    # Optimistic first: into a destination that lacks them all (a fresh copy, the
    # common case) the batch goes in without a lookup; a batch refused whole takes the
    # careful path below.
    try:
        await dst.bulk_insert(table, tenant, batch)
    except ConflictError:
        pass
    else:
        progress.written += len(batch)
        return
    stored = await dst.bulk_find(table, tenant, batch)
    new: list[BulkRecord] = []
    seen: dict[tuple[str, ...], bytes] = {}
    for record, line, existing in zip(batch, lines, stored, strict=True):
        key = record_key(record)
        earlier = canonical_json(existing) if existing is not None else seen.get(key)
        if earlier is None:
            new.append(record)
            seen[key] = line
            continue
        if earlier == line:
            progress.skipped += 1
            continue
        await _insert(dst, table, tenant, new)
        progress.written += len(new)
        raise ConflictError(
            f"{_name(table, record)} exists in the destination with different content; "
            "nothing after it was written"
        )
    await _insert(dst, table, tenant, new)
    progress.written += len(new)


@contextlib.asynccontextmanager
async def _closing(stream: AsyncIterator[Any]) -> AsyncIterator[None]:
    """Close an async generator when the block ends, even when it is left half read.

    Left to the garbage collector, a reader's generator would close its cursor after
    the snapshot it belongs to had ended.
    """
    try:
        yield
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def _by_tenant(records: Iterable[BulkRecord]) -> Iterator[tuple[str, list[BulkRecord]]]:
    """Group a batch by tenant: tenants in order of first appearance, records in order.

    Grouping rather than splitting where the tenant changes: an import whose lines
    alternate tenants would otherwise write one record per batch (a transaction each,
    about four times slower). Each tenant's own order, which its digest follows, is kept.
    """
    groups: dict[str, list[BulkRecord]] = {}
    for record in records:
        groups.setdefault(record.tenant_id, []).append(record)
    yield from groups.items()


Digests = dict[str, dict[str, Digest]]


def _digest_of(digests: Digests, tenant: str, table: str) -> Digest:
    return digests.setdefault(tenant, {}).setdefault(table, Digest())


# Batches read ahead while the destination writes: reading (and digesting) the next
# batch overlaps the destination's work on this one. Two bound the memory.
_READ_AHEAD: Final = 2

_Item = tuple[str, str, list[BulkRecord], list[bytes]]


async def _write_stream(
    dst: StoreBulk,
    batches: AsyncIterator[tuple[str, list[BulkRecord]]],
    report: TransferReport,
    digests: Digests,
    on_progress: OnProgress | None,
) -> None:
    """Write (table, batch) pairs in order, digesting them and reporting progress.

    A reader task fills a small queue while this task writes, one batch at a time and
    in order, so a conflict still stops everything after it. When writing fails, the
    reader is told to stop and the queue drained, never cancelled in the middle of a
    read (a cancelled read can leave a source connection unusable).
    """
    queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=_READ_AHEAD)
    stop = False

    async def read() -> None:
        try:
            async with _closing(batches):
                await fill()
        finally:
            if not stop:
                await queue.put(None)

    async def fill() -> None:
        async for table, batch in batches:
            report.tables.setdefault(table, Progress(table))
            for tenant, records in _by_tenant(batch):
                if stop:
                    return
                lines = [canonical_json(record) for record in records]
                digest = _digest_of(digests, tenant, table)
                for line in lines:
                    digest.add(line)
                await queue.put((table, tenant, records, lines))

    reader = asyncio.create_task(read())
    try:
        while (item := await queue.get()) is not None:
            table, tenant, records, lines = item
            progress = report.tables[table]
            await _write_batch(dst, table, tenant, records, lines, progress)
            progress.seconds = time.monotonic() - progress.started
            if on_progress is not None:
                on_progress(progress)
    except BaseException:
        stop = True
        while not reader.done():
            # Unblock a reader waiting to put, so it sees `stop` and returns.
            with contextlib.suppress(asyncio.QueueEmpty):
                queue.get_nowait()
            await asyncio.wait({reader}, timeout=0.01)
        if not reader.cancelled():
            # Its own failure, if any, is secondary to the one being raised.
            reader.exception()
        raise
    await reader


def _mismatch(tenant: str, table: str, want: Digest, got: Digest) -> str:
    """Say how a tenant's table differs after a transfer, and what that means."""
    where = (
        f"tenant {tenant!r}, table {table}: the source has {want.count} records "
        f"(sha256 {want.hexdigest()[:12]}…), the destination {got.count} "
        f"(sha256 {got.hexdigest()[:12]}…)"
    )
    if got.count > want.count:
        # The usual case: a destination that already held other records of the tenant.
        # Each source record was written or found identical; nothing is ever deleted.
        why = (
            f"the destination holds {got.count - want.count} more of this tenant's "
            "records than the source (records it had before; a copy or import never "
            "deletes): every record of the source is there, but the tenant is not "
            "identical on both sides"
        )
    elif got.count < want.count:
        why = (
            f"{want.count - got.count} of the source's records are missing from the "
            "destination (deleted there meanwhile?)"
        )
    else:
        why = "the same number of records, but their content differs (changed meanwhile?)"
    return f"{where}: {why}"


async def _verify(
    dst: StoreBulk, tenants: Sequence[str], digests: Digests, report: TransferReport
) -> None:
    """Compare each tenant's counts and digests with the destination's, table by table."""
    found: Digests = {}
    async with dst.bulk_snapshot() as reader:
        for table in BULK_TABLES:
            async for batch in reader.records(table, tenants):
                for record in batch:
                    _digest_of(found, record.tenant_id, table).add(canonical_json(record))
    for tenant in tenants:
        verified: dict[str, tuple[int, str]] = {}
        for table in BULK_TABLES:
            want = digests.get(tenant, {}).get(table, Digest())
            got = found.get(tenant, {}).get(table, Digest())
            if (want.count, want.hexdigest()) != (got.count, got.hexdigest()):
                raise VerificationError(_mismatch(tenant, table, want, got), report)
            verified[table] = (got.count, got.hexdigest())
        report.verified[tenant] = verified


async def _tenants(reader: BulkReader, wanted: Sequence[str] | None) -> list[str]:
    if wanted is None:
        return await reader.tenants()
    for tenant in wanted:
        check.check_text("tenant_id", tenant)
    return sorted(set(wanted))


async def copy_store(
    source: object,
    destination: object,
    *,
    tenants: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: OnProgress | None = None,
) -> TransferReport:
    """Copy every record of ``tenants`` (all for None) from ``source`` into ``destination``.

    Both stores must offer the bulk capability; the source is read from one snapshot.
    See the module docstring for skipping, conflicts and verification.

    Raises:
        InvalidArgumentError: a store lacks the bulk capability, or a tenant id is bad.
        ConflictError: a record exists in the destination with different content.
        VerificationError: a tenant's records differ between the stores afterwards.
    """
    src = require_bulk(source, "source")
    dst = require_bulk(destination, "destination")
    report = TransferReport()
    digests: Digests = {}
    async with src.bulk_snapshot() as reader:
        chosen = await _tenants(reader, tenants)

        async def batches() -> AsyncIterator[tuple[str, list[BulkRecord]]]:
            for table in BULK_TABLES:
                report.tables[table] = Progress(table)
                stream = reader.records(table, chosen, batch_size)
                async with _closing(stream):
                    async for batch in stream:
                        yield table, batch

        await _write_stream(dst, batches(), report, digests, on_progress)
    await _verify(dst, chosen, digests, report)
    return report


def _export_line(table: str, record: BulkRecord) -> str:
    document = {"kind": KINDS[table], "record": record.model_dump(mode="json", by_alias=True)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


async def export_store(
    source: object,
    out: IO[str],
    *,
    tenants: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH,
    on_progress: OnProgress | None = None,
) -> TransferReport:
    """Write every record of ``tenants`` (all for None) to ``out``, one JSON line each.

    The first line is a header (``{"kind": "skillbox-store-export", "format": 1}``);
    then each record as ``{"kind": "<kind>", "record": <the record's Go JSON>}``, table
    by table in `BULK_TABLES` order, from one snapshot, in the order `import_records`
    must replay them. The report counts what was written and its digests.

    Raises:
        InvalidArgumentError: the store lacks the bulk capability, or a tenant id is bad.
    """
    src = require_bulk(source, "source")
    report = TransferReport()
    digests: Digests = {}
    header = {"kind": _HEADER_KIND, "format": EXPORT_FORMAT}
    out.write(json.dumps(header, separators=(",", ":")) + "\n")
    async with src.bulk_snapshot() as reader:
        chosen = await _tenants(reader, tenants)
        for table in BULK_TABLES:
            progress = report.tables[table] = Progress(table)
            async for batch in reader.records(table, chosen, batch_size):
                for record in batch:
                    _digest_of(digests, record.tenant_id, table).add(canonical_json(record))
                out.write("".join(_export_line(table, record) + "\n" for record in batch))
                progress.written += len(batch)
                progress.seconds = time.monotonic() - progress.started
                if on_progress is not None:
                    on_progress(progress)
    for tenant in chosen:
        report.verified[tenant] = {
            table: (d.count, d.hexdigest()) for table, d in digests.get(tenant, {}).items()
        }
    return report


def _checked(table: str, record: BulkRecord) -> BulkRecord:
    """Apply the contract's rules on values to a record read from a file."""
    if isinstance(record, Execution):
        record = check.check_execution(record, keep_status=True)
    elif isinstance(record, File):
        record = check.check_file(record)
        check.check_time("updated_at", record.updated_at)
    elif isinstance(record, SkillRecord):
        record = check.check_skill(record)
        uploaded_at = check.check_time("uploaded_at", record.uploaded_at)
        return record.model_copy(update={"uploaded_at": uploaded_at})
    elif isinstance(record, APIKey):
        check.check_text("tenant_id", record.tenant_id)
        check.check_text("name", record.name)
        check.check_key_hash(record.key_hash)
        if record.revoked_at is not None:
            record = record.model_copy(
                update={"revoked_at": check.check_time("revoked_at", record.revoked_at)}
            )
    elif isinstance(record, Session):
        check.check_text("tenant_id", record.tenant_id)
        check.check_text("external_id", record.external_id)
        record = record.model_copy(
            update={
                "last_accessed_at": check.check_time("last_accessed_at", record.last_accessed_at)
            }
        )
    return record.model_copy(
        update={
            "id": check.lookup_id(f"{KINDS[table]} id", record.id),
            "created_at": check.check_time("created_at", record.created_at),
        }
    )


def _parse(number: int, line: str) -> tuple[str, BulkRecord] | None:
    """Return the table and record of an export line; None for the header or a blank line.

    Raises:
        InvalidArgumentError: the line is not a record of a known kind, naming its number.
    """
    if not line.strip():
        return None
    try:
        document = json.loads(line)
        if not isinstance(document, dict):
            raise ValueError("a line must be a JSON object")
        kind = document.get("kind")
        if kind == _HEADER_KIND:
            if document.get("format") != EXPORT_FORMAT:
                raise ValueError(f"export format {document.get('format')!r} is not supported")
            return None
        table = _TABLE_OF_KIND.get(kind) if isinstance(kind, str) else None
        if table is None:
            raise ValueError(f"unknown kind {kind!r}")
        record = RECORD_TYPES[table].model_validate(document.get("record"))
        return table, _checked(table, record)
    except ValidationError as exc:
        raise InvalidArgumentError(f"line {number}: {_invalid_fields(exc)}") from exc
    except (ValueError, StoreError) as exc:
        message = " ".join(str(exc).split())
        raise InvalidArgumentError(f"line {number}: {message}") from exc


def _invalid_fields(exc: ValidationError) -> str:
    """Say which fields of a record are bad, one clause each.

    Pydantic's own text spans several lines per field and ends each with a link to its
    documentation ("For further information visit …"): noise in a one-line error.
    """
    problems = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "record"
        problems.append(f"{where}: {' '.join(str(error['msg']).split())}")
    count = len(problems)
    return f"{exc.title} record: {count} bad field{'s' if count != 1 else ''}: " + "; ".join(
        problems
    )


async def import_records(
    destination: object,
    lines: Iterable[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: OnProgress | None = None,
) -> TransferReport:
    """Replay an export into ``destination``, with the rules of `copy_store`.

    Lines are read and written a batch at a time. A malformed line stops the import
    with an `InvalidArgumentError` naming its number: the lines before it are written,
    nothing after it. Every tenant met is verified at the end against what the lines
    held.

    Raises:
        InvalidArgumentError: the store lacks the bulk capability, or a line is malformed.
        ConflictError: a record exists in the destination with different content.
        VerificationError: a tenant's records differ from the file's afterwards.
    """
    dst = require_bulk(destination, "destination")
    report = TransferReport()
    digests: Digests = {}
    failure: list[InvalidArgumentError] = []

    async def batches() -> AsyncIterator[tuple[str, list[BulkRecord]]]:
        table: str | None = None
        batch: list[BulkRecord] = []
        for number, line in enumerate(lines, start=1):
            try:
                parsed = _parse(number, line)
            except InvalidArgumentError as exc:
                # The records before the bad line are still written; then it stops.
                failure.append(exc)
                break
            if parsed is None:
                continue
            kind, record = parsed
            if batch and (kind != table or len(batch) >= batch_size):
                assert table is not None
                yield table, batch
                batch = []
            table = kind
            batch.append(record)
        if batch:
            assert table is not None
            yield table, batch

    await _write_stream(dst, batches(), report, digests, on_progress)
    if failure:
        raise failure[0]
    # Every table in the report, in replay order, as copy and export list them: a table
    # the file had no record of is reported as zero rather than left out.
    report.tables = {
        table: report.tables.get(table) or Progress(table, started=time.monotonic())
        for table in BULK_TABLES
    }
    await _verify(dst, sorted(digests), digests, report)
    return report
