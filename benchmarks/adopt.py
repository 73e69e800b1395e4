"""Adopting a Go database against a raw ``INSERT … SELECT`` of the same rows, in one run.

    python benchmarks/adopt.py                # 100,000 executions, 20,000 files
    python benchmarks/adopt.py --scale        # 1,000,000 executions, 200,000 files

Builds a Go v0.8.0 database (tests/go_schema.py's DDL) in a fresh database and fills it
in SQL the way the Go API leaves it (NULLs on half the executions, star-shaped version
chains, files of deleted sessions), then times:

1. ``raw``: one transaction that copies every Go row into this store's tables (built
   by the store's migrations in a scratch schema) with plain ``INSERT … SELECT``, only
   the conversions the constraints force;
2. ``adopt``: `adopt_go_database` on the same database: every check, the build, the
   copy, the verification and the swap.

Prints both and their ratio; exits 1 when adoption takes more than 2x the raw copy.
The server is ``SKILLBOX_TEST_POSTGRES_URL`` when set, else a throwaway cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
# The Go DDL is the tests' (written from GO_SCHEMA.md): one copy of it.
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from go_schema import build_go_database  # noqa: E402
from psycopg import sql  # noqa: E402

from skillbox_store import adopt_go_database, open_store  # noqa: E402

TARGET: Final = 2.0
DEFAULT_EXECUTIONS: Final = 100_000
SCALE_EXECUTIONS: Final = 1_000_000

# Go-shaped rows, made in SQL so that seeding a million takes seconds. Every other
# execution is still running with Go's NULLs; files come in star chains of two versions
# (the second points at the root), a fifth of them in sessions since deleted.
_SEED: Final = (
    """
INSERT INTO sandbox.api_keys (key_hash, tenant_id, name, created_at)
SELECT encode(sha256(n::text::bytea), 'hex'), 'tenant-' || (n %% 100), 'key ' || n,
    now() - n * interval '1 minute'
FROM generate_series(1, 1000) AS n
""",
    """
INSERT INTO sandbox.executions (id, skill_name, skill_version, tenant_id, status, input,
    output, logs, files_url, files_list, duration_ms, error, created_at, finished_at)
SELECT md5('e' || n)::uuid, 'skill-' || (n %% 50), '1.' || (n %% 7) || '.0',
    'tenant-' || (n %% 100),
    CASE WHEN n %% 2 = 0 THEN 'running' ELSE 'success' END,
    jsonb_build_object('n', n, 'args', jsonb_build_array('a', n, 1.5)),
    CASE WHEN n %% 2 = 0 THEN NULL ELSE jsonb_build_object('ok', true) END,
    CASE WHEN n %% 2 = 0 THEN NULL ELSE 'ran ' || n END,
    CASE WHEN n %% 2 = 0 THEN NULL ELSE 's3://bucket/' || n END,
    CASE WHEN n %% 2 = 0 THEN NULL ELSE ARRAY['out.txt'] END,
    CASE WHEN n %% 2 = 0 THEN NULL ELSE n %% 10000 END, NULL,
    now() - n * interval '1 second',
    CASE WHEN n %% 2 = 0 THEN NULL ELSE now() END
FROM generate_series(1, %(executions)s) AS n
""",
    """
INSERT INTO sandbox.sessions (id, tenant_id, external_id)
SELECT md5('s' || n)::uuid, 'tenant-' || (n %% 100), 'chat-' || n
FROM generate_series(1, %(sessions)s) AS n
""",
    """
INSERT INTO sandbox.files (id, tenant_id, session_id, execution_id, name, content_type,
    size_bytes, s3_key, version, parent_id, created_at, updated_at)
SELECT md5('f' || n)::uuid, 'tenant-' || (n %% 100),
    md5('s' || (n %% (%(sessions)s * 5 / 4)))::uuid::text,
    md5('e' || n)::uuid, 'file-' || n, 'text/plain', n, 'key/' || n, 1, NULL,
    now() - n * interval '1 second', now()
FROM generate_series(1, %(roots)s) AS n
""",
    """
INSERT INTO sandbox.files (id, tenant_id, session_id, execution_id, name, content_type,
    size_bytes, s3_key, version, parent_id, created_at, updated_at)
SELECT md5('g' || n)::uuid, 'tenant-' || (n %% 100),
    md5('s' || (n %% (%(sessions)s * 5 / 4)))::uuid::text,
    md5('e' || n)::uuid, 'file-' || n, 'text/plain', n, 'key/' || n || '/2', 2,
    md5('f' || n)::uuid, now() - n * interval '1 second' + interval '1 hour', now()
FROM generate_series(1, %(roots)s) AS n
""",
    """
INSERT INTO sandbox.skills (tenant_id, name, version, uploaded_at)
SELECT 'tenant-' || (n %% 100), 'skill-' || (n %% 50), '1.' || n || '.0',
    now() - n * interval '1 minute'
FROM generate_series(1, 10000) AS n
""",
    "ANALYZE",
)

# The raw copy: the same rows into the same tables, converted only as far as the
# constraints demand (NOT NULL columns, the chain id of a star chain).
_RAW: Final = (
    "INSERT INTO raw.api_keys (tenant_id, id, key_hash, name, created_at, revoked_at) "
    "SELECT tenant_id, id, key_hash, name, created_at, revoked_at FROM sandbox.api_keys",
    "INSERT INTO raw.executions (tenant_id, id, skill_name, skill_version, status, input, "
    "output, logs, files_url, files_list, duration_ms, error, created_at, finished_at) "
    "SELECT tenant_id, id, skill_name, skill_version, status, input, output, "
    "coalesce(logs, ''), coalesce(files_url, ''), coalesce(files_list, '{}'), "
    "coalesce(duration_ms, 0), error, created_at, finished_at FROM sandbox.executions",
    "INSERT INTO raw.sessions SELECT tenant_id, id, external_id, created_at, last_accessed_at "
    "FROM sandbox.sessions",
    "INSERT INTO raw.files (tenant_id, id, session_id, execution_id, name, content_type, "
    "size_bytes, s3_key, version, parent_id, chain_id, created_at, updated_at) "
    "SELECT tenant_id, id, nullif(session_id, '')::uuid, execution_id, name, content_type, "
    "size_bytes, s3_key, version, parent_id, coalesce(parent_id, id), created_at, updated_at "
    "FROM sandbox.files",
    "INSERT INTO raw.skills (tenant_id, name, version, description, lang, uploaded_at) "
    "SELECT tenant_id, name, version, description, lang, uploaded_at FROM sandbox.skills",
)


@contextmanager
def _database() -> Iterator[str]:
    """A fresh database on the test server (goose's table is per database); dropped after."""
    given = os.environ.get("SKILLBOX_TEST_POSTGRES_URL", "").strip()
    if given:
        yield from _fresh(given)
        return
    from skillbox_store.testing_postgres import provide_postgres

    with provide_postgres() as server:
        yield from _fresh(server)


def _fresh(server: str) -> Iterator[str]:
    name = f"adopt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _seed(url: str, executions: int) -> None:
    build_go_database(url)
    sizes = {"executions": executions, "roots": executions // 10, "sessions": executions // 20}
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _SEED:
            conn.execute(statement.encode(), sizes)


async def _raw_copy(url: str) -> float:
    # The store's own tables, empty, beside the Go ones: what the raw copy fills.
    async with open_store(url, schema="raw"):
        pass
    async with await psycopg.AsyncConnection.connect(url) as conn:
        started = time.perf_counter()
        async with conn.transaction():
            for statement in _RAW:
                await conn.execute(statement.encode())
        seconds = time.perf_counter() - started
        await conn.execute("DROP SCHEMA raw CASCADE")
        await conn.commit()
    return seconds


async def run(executions: int) -> int:
    """Seed, time the raw copy and the adoption, print both; 0 when within the target."""
    with _database() as url:
        started = time.perf_counter()
        _seed(url, executions)
        print(
            f"seeded {executions:,} executions, {executions // 5:,} files "
            f"in {time.perf_counter() - started:.1f} s"
        )
        raw = await _raw_copy(url)
        started = time.perf_counter()
        report = await adopt_go_database(url)
        adopt = time.perf_counter() - started
        assert report.outcome == "adopted", report
        ratio = adopt / raw
        print(
            f"adopt: {executions:,} executions, {report.counts['files']:,} files: "
            f"{adopt:.2f} s; raw INSERT ... SELECT of the same rows: {raw:.2f} s "
            f"(ratio {ratio:.2f}, target <= {TARGET})"
        )
    return 0 if ratio <= TARGET else 1


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("-n", type=int, default=DEFAULT_EXECUTIONS, help="Go executions")
    size.add_argument("--scale", action="store_true", help=f"{SCALE_EXECUTIONS:,} executions")
    args = parser.parse_args(argv)
    return asyncio.run(run(SCALE_EXECUTIONS if args.scale else args.n))


if __name__ == "__main__":
    sys.exit(main())
