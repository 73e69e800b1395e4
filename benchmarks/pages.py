"""Listings' cost per row: each list method against its raw driver, page size by page size.

    python benchmarks/pages.py [--backend sqlite|postgres|all] [--rounds N] [--rls on|off]

Every list method of the `Store` protocol, on both SQL backends, at the page sizes the
contract allows (1, the default and the maximum of ``limit``; 1 to 1,000 records for
the listings without one, on SQLite past the 256 rows read on the event loop's thread),
and the keyset pages (``after``) at their maximum. The raw side
sends the same SQL (the backend's ``statements.py``) through the bare driver and gets
tuples back where the store builds records:

* SQLite: aiosqlite used the natural way on the same file and pragmas,
  ``async with db.execute(sql, params) as cursor`` then ``await cursor.fetchall()``.
* PostgreSQL: a psycopg ``AsyncConnectionPool`` with the store pool's own connection
  settings, ``async with pool.connection()``, ``execute`` and ``fetchall``. With
  ``--rls on`` (the store's default) the store sends each statement as one simple query
  ``SET LOCAL skillbox.tenant_id = …; <statement>`` bound on the client; the raw side
  sends that same query the same way (`tenancy.declarations`). With ``--rls off`` both
  send the bare statement. Both connect as a plain application role.

What "the same rows" leaves to the store differs: psycopg loads timestamps and
``jsonb`` for both sides, while raw aiosqlite returns them as the stored text, which the
store parses (``datetime.fromisoformat``, the JSON scanner) as part of what it adds.

Each line is the median over interleaved rounds (the side that goes first alternates)
of a batch of calls sized to take about `BATCH_SECONDS`; ``extra µs/row`` is the store's
excess over raw divided by the rows. Below each backend's table, the marginal cost of
a row (the slope of µs over rows, least squares over a listing's sizes) tells the
per-row cost apart from the per-call one. The target: every line at most `TARGET`.
A script, not a timed test: the numbers are the machine's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Final

if __package__ in (None, ""):
    # Run as a script: make `benchmarks` and `skillbox_store` importable from the repo.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiosqlite
import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg_pool import AsyncConnectionPool

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    SkillRecord,
    Store,
    hash_key,
    open_store,
)
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.postgres.tenancy import declarations, declared_params
from skillbox_store.backends.sqlite import statements as sqlite_sql
from skillbox_store.limits import (
    EXECUTIONS_PAGE_DEFAULT,
    EXECUTIONS_PAGE_MAX,
    FILES_PAGE_DEFAULT,
    FILES_PAGE_MAX,
)

TARGET: Final = 1.2
BATCH_SECONDS: Final = 0.02
POOL_SIZE: Final = 2

# The row counts of the listings without a limit (keys, sessions' files, versions,
# skills): one tenant each, holding exactly that many of everything. 1,000 is past the
# 256 rows SQLite reads on the event loop's thread (`backends/sqlite/listings.py`).
SIZES: Final = (1, 20, 100, FILES_PAGE_MAX, 1000)
EXECUTION_LIMITS: Final = tuple(sorted({1, EXECUTIONS_PAGE_DEFAULT, EXECUTIONS_PAGE_MAX}))
FILE_LIMITS: Final = tuple(sorted({1, 20, FILES_PAGE_DEFAULT, 100, FILES_PAGE_MAX}))
# The tenant whose executions and files the limited listings page through.
BIG: Final = f"tenant-{max(SIZES)}"

Call = Callable[[], Awaitable[object]]
Params = tuple[Any, ...] | dict[str, Any]


@dataclass(frozen=True, slots=True)
class Page:
    """One listing at one size: the store's call, and the statement raw sends instead."""

    listing: str
    rows: int
    store: Call
    statement: str
    params: Params


@dataclass(slots=True)
class Line:
    """One page's medians: µs per call each way, and store/raw."""

    backend: str
    listing: str
    rows: int
    store_us: float = 0.0
    raw_us: float = 0.0
    ratio: float = 0.0
    stores: list[float] = field(default_factory=list)
    raws: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Seeded:
    """What the pages list: per size its tenant, session and chain; the newest ids."""

    sessions: dict[int, str]
    chains: dict[int, str]
    newest_execution: str
    newest_file: str


# -- The data, written through the store (so it is what the store writes) -----------------


async def _seed(store: Store) -> Seeded:
    """Give each size's tenant that many keys, skills, session files and versions."""
    sessions: dict[int, str] = {}
    chains: dict[int, str] = {}
    began = datetime(2026, 1, 1, tzinfo=UTC)
    async with store.transaction() as tx:
        for size in SIZES:
            tenant = f"tenant-{size}"
            for i in range(size):
                key = await tx.create_key(tenant, f"key {i}", hash_key(f"{tenant}-{i}"))
                if i % 2:
                    await tx.revoke_key(tenant, key.id)
                await tx.upsert_skill(
                    SkillRecord(
                        tenant_id=tenant,
                        name=f"skill-{i // 4}",
                        version=f"1.{i % 4}.0",
                        description="Turns a CSV file into a chart.",
                    )
                )
            session = await tx.get_or_create_session(tenant, f"chat-{size}")
            sessions[size] = session.id
            for i in range(size):
                await tx.create_file(
                    File(
                        tenant_id=tenant,
                        session_id=session.id,
                        name=f"out-{i}.csv",
                        content_type="text/csv",
                        size_bytes=1024 + i,
                        s3_key=f"{tenant}/{session.id}/out-{i}.csv",
                    )
                )
            first = await tx.create_file(
                File(tenant_id=tenant, name="report.pdf", s3_key=f"{tenant}/report-0.pdf")
            )
            chains[size] = first.id
            for i in range(1, size):
                await tx.create_file_version(
                    tenant, first.id, size_bytes=2048 + i, s3_key=f"{tenant}/report-{i}.pdf"
                )
        # Executions as a service leaves them: half finished with output and files.
        for i in range(2 * EXECUTIONS_PAGE_MAX):
            created = await tx.create_execution(
                Execution(
                    skill_name="csv-to-chart",
                    skill_version="1.2.0",
                    tenant_id=BIG,
                    input={"code": "print(sum(range(10)))", "args": ["--rows", str(i)], "n": i},
                )
            )
            if i % 2:
                continue
            created.status = "success"
            created.output = {"stdout": "45\n", "exit_code": 0, "seconds": 0.25}
            created.logs = "started\nran\nfinished\n"
            created.files_url = f"s3://bucket/{BIG}/{created.id}/"
            created.files_list = ["chart.png", "data.csv"]
            created.duration_ms = 250 + i
            created.finished_at = began + timedelta(seconds=i)
            await tx.update_execution(created)
    newest_execution = (await store.list_executions(BIG, limit=1))[0].id
    newest_file = (await store.list_files(FileFilter(tenant_id=BIG, limit=1)))[0].id
    return Seeded(sessions, chains, newest_execution, newest_file)


def _pages(store: Store, seeded: Seeded) -> list[Page]:
    """Every listing at every size, with the statement and parameters the store sends."""
    pages: list[Page] = []

    def add(listing: str, rows: int, store_call: Call, statement: str, params: Params) -> None:
        pages.append(Page(listing, rows, store_call, statement, params))

    for limit in EXECUTION_LIMITS:
        add(
            "list_executions",
            limit,
            partial(store.list_executions, BIG, limit=limit),
            "SELECT_EXECUTIONS_PAGE",
            (BIG, limit, 0),
        )
    after = seeded.newest_execution
    add(
        "list_executions(after)",
        EXECUTIONS_PAGE_MAX,
        partial(store.list_executions, BIG, limit=EXECUTIONS_PAGE_MAX, after=after),
        "SELECT_EXECUTIONS_AFTER",
        {"tenant_id": BIG, "after": after, "limit": EXECUTIONS_PAGE_MAX},
    )
    for limit in FILE_LIMITS:
        add(
            "list_files",
            limit,
            partial(store.list_files, FileFilter(tenant_id=BIG, limit=limit)),
            "SELECT_FILES_PAGE",
            (BIG, limit, 0),
        )
    newest = seeded.newest_file
    add(
        "list_files(after)",
        FILES_PAGE_MAX,
        partial(store.list_files, FileFilter(tenant_id=BIG, limit=FILES_PAGE_MAX, after=newest)),
        "SELECT_FILES_AFTER",
        {
            "tenant_id": BIG,
            "session_id": None,
            "execution_id": None,
            "limit": FILES_PAGE_MAX,
            "after": newest,
        },
    )
    for size in SIZES:
        tenant = f"tenant-{size}"
        session, chain = seeded.sessions[size], seeded.chains[size]
        add(
            "list_session_files",
            size,
            partial(store.list_session_files, tenant, session),
            "SELECT_SESSION_FILES",
            (tenant, session),
        )
        add(
            "list_file_versions",
            size,
            partial(store.list_file_versions, tenant, chain),
            "SELECT_FILE_VERSIONS",
            {"tenant_id": tenant, "file_id": chain},
        )
        add("list_keys", size, partial(store.list_keys, tenant), "SELECT_KEYS", (tenant,))
        add("list_skills", size, partial(store.list_skills, tenant), "SELECT_SKILLS", (tenant,))
    order = ["list_executions", "list_executions(after)", "list_files", "list_files(after)"]
    order += ["list_session_files", "list_file_versions", "list_keys", "list_skills"]
    return sorted(pages, key=lambda p: (order.index(p.listing), p.rows))


async def _check_rows(pages: list[Page], raw: dict[str, Call]) -> None:
    """Refuse to time a page whose two sides return different numbers of rows."""
    for page in pages:
        records = await page.store()
        rows = await raw[f"{page.listing} {page.rows}"]()
        assert isinstance(records, list)
        assert isinstance(rows, list)
        if not len(records) == len(rows) == page.rows:
            raise AssertionError(
                f"{page.listing} {page.rows}: store {len(records)} rows, raw {len(rows)}"
            )


# -- Timing -----------------------------------------------------------------------------


async def _per_call(call: Call, iterations: int) -> float:
    began = time.perf_counter()
    for _ in range(iterations):
        await call()
    return (time.perf_counter() - began) / iterations * 1e6


async def _iterations(call: Call) -> int:
    """Warm a call up, then size its batch to about `BATCH_SECONDS`."""
    for _ in range(8):  # past any prepare threshold and the first-call checks
        await call()
    us = await _per_call(call, 5)
    return max(5, min(5_000, round(BATCH_SECONDS * 1e6 / us)))


async def _measure(
    backend: str, pages: list[Page], raw: dict[str, Call], rounds: int
) -> list[Line]:
    """Interleave every page's two sides over ``rounds`` rounds; keep the medians."""
    lines = [Line(backend, p.listing, p.rows) for p in pages]
    batches = []
    for page in pages:
        raw_call = raw[f"{page.listing} {page.rows}"]
        batches.append(max(await _iterations(page.store), await _iterations(raw_call)))
    for round_number in range(rounds):
        for page, line, iterations in zip(pages, lines, batches, strict=True):
            raw_call = raw[f"{page.listing} {page.rows}"]
            if round_number % 2 == 0:
                store_us = await _per_call(page.store, iterations)
                raw_us = await _per_call(raw_call, iterations)
            else:
                raw_us = await _per_call(raw_call, iterations)
                store_us = await _per_call(page.store, iterations)
            line.stores.append(store_us)
            line.raws.append(raw_us)
            line.ratios.append(store_us / raw_us)
    for line in lines:
        line.store_us = statistics.median(line.stores)
        line.raw_us = statistics.median(line.raws)
        line.ratio = statistics.median(line.ratios)
    return lines


# -- SQLite -----------------------------------------------------------------------------


async def run_sqlite(rounds: int) -> list[Line]:
    """Seed a fresh SQLite file, then time every page against raw aiosqlite."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pages.db"
        store = await open_store(f"sqlite:///{path}")
        try:
            seeded = await _seed(store)
            async with aiosqlite.connect(path, timeout=5.0) as db:
                for pragma in (sqlite_sql.SET_SYNCHRONOUS_NORMAL, sqlite_sql.SET_FOREIGN_KEYS_ON):
                    await db.execute(pragma)
                pages = _pages(store, seeded)
                raw: dict[str, Call] = {}
                for page in pages:

                    async def fetch(
                        statement: str = page.statement, params: Params = page.params
                    ) -> Any:
                        async with db.execute(getattr(sqlite_sql, statement), params) as cursor:
                            return await cursor.fetchall()

                    raw[f"{page.listing} {page.rows}"] = fetch
                await _check_rows(pages, raw)
                return await _measure("sqlite", pages, raw, rounds)
        finally:
            await store.close()


# -- PostgreSQL -------------------------------------------------------------------------

Row = tuple[Any, ...]


@asynccontextmanager
async def _application_url() -> AsyncIterator[str]:
    from skillbox_store.testing_postgres import application_url, provide_postgres

    with provide_postgres() as url:
        yield application_url(url)


async def run_postgres(rounds: int, rls: str) -> list[Line]:
    """Seed a fresh schema, then time every page against raw psycopg sending the same SQL."""
    async with _application_url() as url:
        schema = f"pages_{uuid.uuid4().hex[:8]}"
        store = await open_store(
            url, schema=schema, rls=rls, min_size=POOL_SIZE, max_size=POOL_SIZE
        )
        assert isinstance(store, PostgresStore)
        # The raw pool connects as the store's does: same role, autocommit, cursor
        # factory (client-side binding when the store declares) and prepare threshold.
        kwargs = store.pool.kwargs
        assert isinstance(kwargs, dict)
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            url,
            kwargs=dict(kwargs),
            min_size=POOL_SIZE,
            max_size=POOL_SIZE,
            open=False,
        )
        await pool.open(wait=True)
        q = Statements.for_schema(schema)
        declared = declarations(q) if rls != "off" else {}
        try:
            seeded = await _seed(store)
            # Statistics, as a table in service has: without them the planner may sort a
            # whole tenant's files for a 20-row page, on both sides alike.
            async with pool.connection() as conn:
                for table in ("api_keys", "executions", "files", "sessions", "skills"):
                    await conn.execute(
                        psycopg.sql.SQL("ANALYZE {}.{}").format(
                            psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                        )
                    )
            pages = _pages(store, seeded)
            raw: dict[str, Call] = {}
            for page in pages:
                query: bytes = getattr(q, page.statement)
                params: Any = page.params
                if query in declared:
                    query, declaration = declared[query]
                    params = declared_params(declaration, params)

                    async def fetch(query: bytes = query, params: Any = params) -> Any:
                        async with pool.connection() as conn:
                            cursor = AsyncClientCursor(conn)
                            await cursor.execute(query, params, prepare=False)
                            cursor.nextset()
                            return await cursor.fetchall()

                else:

                    async def fetch(query: bytes = query, params: Any = params) -> Any:
                        async with pool.connection() as conn:
                            cursor = await conn.execute(query, params)
                            return await cursor.fetchall()

                raw[f"{page.listing} {page.rows}"] = fetch
            await _check_rows(pages, raw)
            return await _measure(f"pg rls={rls}", pages, raw, rounds)
        finally:
            await store.close()
            with contextlib.suppress(psycopg.Error):
                async with pool.connection() as conn:
                    await conn.execute(
                        psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(
                            psycopg.sql.Identifier(schema)
                        )
                    )
            await pool.close()


# -- Output -----------------------------------------------------------------------------


def _slope(points: list[tuple[int, float]]) -> float:
    """The least-squares slope of µs over rows."""
    mean_x = statistics.fmean(x for x, _ in points)
    mean_y = statistics.fmean(y for _, y in points)
    num = sum((x - mean_x) * (y - mean_y) for x, y in points)
    den = sum((x - mean_x) ** 2 for x, _ in points)
    return num / den


def report(lines: list[Line]) -> str:
    """The table of one backend, its marginal costs per row, and its verdict."""
    out = [
        f"{'backend':<12} {'listing':<23} {'rows':>4} {'store µs':>9} {'raw µs':>9} "
        f"{'store/raw':>9} {'extra µs/row':>12}"
    ]
    for r in lines:
        extra = (r.store_us - r.raw_us) / r.rows
        out.append(
            f"{r.backend:<12} {r.listing:<23} {r.rows:>4} {r.store_us:>9.1f} {r.raw_us:>9.1f} "
            f"{r.ratio:>9.2f} {extra:>12.2f}"
        )
    by_listing: dict[str, list[Line]] = {}
    for r in lines:
        by_listing.setdefault(r.listing, []).append(r)
    marginal = []
    for listing, group in by_listing.items():
        if len(group) < 2:
            continue
        store = _slope([(r.rows, r.store_us) for r in group])
        raw = _slope([(r.rows, r.raw_us) for r in group])
        marginal.append(f"{listing} {store:.2f} store, {raw:.2f} raw, {store - raw:+.2f} extra")
    out.append(f"{lines[0].backend} µs per row (slope over sizes): " + "; ".join(marginal))
    worst = max(lines, key=lambda r: r.ratio)
    verdict = "met" if worst.ratio <= TARGET else "MISSED"
    out.append(
        f"{lines[0].backend}: worst ratio {worst.ratio:.2f} ({worst.listing} {worst.rows}), "
        f"target <= {TARGET:.2f}: {verdict}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the chosen backends, print their tables and verdicts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds (median)")
    parser.add_argument(
        "--rls", choices=["on", "off"], default="on", help="PostgreSQL row-level security"
    )
    args = parser.parse_args(argv)
    began = time.monotonic()
    reports = []
    if args.backend in ("sqlite", "all"):
        reports.append(report(asyncio.run(run_sqlite(args.rounds))))
        print(reports[-1], flush=True)
    if args.backend in ("postgres", "all"):
        reports.append(report(asyncio.run(run_postgres(args.rounds, args.rls))))
        print(reports[-1], flush=True)
    print(
        f"({args.rounds} rounds, batches of ~{BATCH_SECONDS * 1e3:g} ms a side; "
        f"{time.monotonic() - began:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
