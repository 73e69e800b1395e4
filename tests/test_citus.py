"""The store on a real Citus cluster: the whole contract, one shard per statement.

A coordinator and two workers (`citus_cluster`, which builds Citus first when the
server lacks it) are started once for the module. The store is migrated through the
coordinator and distributed by ``skillbox-store migrate --distribute``, exactly as the
README tells a user to; then:

- the contract suite runs whole against the coordinator (a subprocess, as a user runs
  it: ``python -m pytest contract_tests --store-url URL``);
- ``EXPLAIN`` on the coordinator shows every statement of ``statements.py`` that binds
  a tenant (or a key hash) as a plan of one task on one shard: no multi-shard task
  list, no distributed subplan, no INSERT … SELECT pulled through the coordinator. The
  statements are enumerated from the module, so a new one that fans out fails here;
- ``--distribute`` is idempotent, lays the tables out as documented, and refuses in one
  line where Citus is absent.

Nothing is skipped: without a cluster the tests fail with the reason.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Final

import psycopg
import pytest
from citus_cluster import CitusCluster, citus_cluster
from contract_suite_run import run_contract_suite
from psycopg import sql

from skillbox_store import MigrationError, migrations, open_store
from skillbox_store.backends.postgres import migrate as postgres_migrate
from skillbox_store.backends.postgres import statements
from skillbox_store.backends.postgres import store as postgres_store
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.keys import hash_key
from skillbox_store.migrations import AppliedMigration, Dialect, Migration, load_migrations
from skillbox_store.records import Execution, FileFilter
from skillbox_store.stats import Estimate
from skillbox_store.testing_postgres import PostgresUnavailable, application_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

_ROOT: Final = Path(__file__).resolve().parents[1]
_SUITE_TIMEOUT: Final = 1500
_TENANT_TABLES: Final = ("api_keys", "executions", "files", "sessions", "skills")
# A statement "takes a tenant" when it binds tenant_id (named, ``tenant_id = %s``, or an
# INSERT … VALUES column); the two lookups by hash bind key_hash, and must stay on the
# reference table's one local placement.
_BINDS_TENANT: Final = re.compile(
    r"%\(tenant_id\)s|tenant_id\s*=\s*%s|%\(key_hash\)s|key_hash\s*=\s*%s"
)
_INSERT_VALUES: Final = re.compile(r"^INSERT INTO \S+ \(([^)]*)\) VALUES \(", re.S)
_PLACEHOLDER: Final = re.compile(rb"%(?:\((\w+)\))?s")
# A value of each type a statement's parameter can have, as SQL text: EXPLAIN plans the
# statement for these constants, as the server plans it for a call's values.
_SAMPLES: Final = {
    "text": "t-plan",
    "uuid": "00000000-0000-4000-8000-000000000001",
    "bigint": "10",
    "integer": "2",
    "timestamp with time zone": "2026-01-01T00:00:00Z",
    "jsonb": "null",
    "text[]": "{}",
    "uuid[]": "{00000000-0000-4000-8000-000000000001}",
    "boolean": "false",
}
_FANS_OUT: Final = ("distributed subplan", "pull to coordinator", "repartition")


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skillbox_store", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[CitusCluster]:
    started = time.monotonic()
    try:
        with citus_cluster() as running:
            print(f"Citus cluster ready in {time.monotonic() - started:.1f} s: {running.url}")
            yield running
    except PostgresUnavailable as exc:
        pytest.fail(f"Citus cluster unavailable: {exc}", pytrace=False)


def _distributed(cluster: CitusCluster, schema: str) -> str:
    url = f"{cluster.url}?schema={schema}"
    done = _run_cli("migrate", url, "--distribute")
    assert done.returncode == 0, done.stderr + done.stdout
    return url


@pytest.fixture(scope="module")
def distributed_schema(cluster: CitusCluster) -> str:
    schema = f"citus_{uuid.uuid4().hex[:8]}"
    _distributed(cluster, schema)
    return schema


# -- migrate --distribute -------------------------------------------------------------------


def test_distribute_lays_the_tables_out_as_documented_once(cluster: CitusCluster) -> None:
    schema = f"layout_{uuid.uuid4().hex[:8]}"
    url = f"{cluster.url}?schema={schema}"
    first = _run_cli("migrate", url, "--distribute")
    assert first.returncode == 0, first.stderr
    assert "api_keys: reference (reference)" in first.stdout
    for table in ("executions", "files", "sessions", "skills"):
        assert f"{table}: distributed on tenant_id (distributed)" in first.stdout
    again = _run_cli("migrate", url, "--distribute")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("(unchanged)") == 5, again.stdout
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        found = conn.execute(
            "SELECT table_name::text, citus_table_type, distribution_column, colocation_id "
            "FROM public.citus_tables WHERE table_name::text LIKE %s ORDER BY 1",
            (f"{schema}.%",),
        ).fetchall()
    layout = {name.split(".")[1]: (kind, column) for name, kind, column, _ in found}
    assert layout == {
        "api_keys": ("reference", "<none>"),
        "executions": ("distributed", "tenant_id"),
        "files": ("distributed", "tenant_id"),
        "sessions": ("distributed", "tenant_id"),
        "skills": ("distributed", "tenant_id"),
    }
    groups = {colocation for name, kind, _, colocation in found if kind == "distributed"}
    assert len(groups) == 1, "the distributed tables are not co-located"


def test_row_level_security_is_off_on_distributed_tables_and_the_store_says_so(
    cluster: CitusCluster,
) -> None:
    """What is lost on Citus: the policies, which the shards cannot apply (docs/postgres.md).

    A distributed statement runs on the workers, in transactions that never see the
    coordinator's declaration: with the policies enforced every write of a plain role
    failed their check. So `--distribute` turns enforcement off, `rls=on` leaves it
    off, `status` says why, and `rls=required` refuses to open.
    """
    url = f"{application_url(cluster.url, database=None)}?schema=citus_rls_{uuid.uuid4().hex[:6]}"
    done = _run_cli("migrate", url, "--distribute")
    assert done.returncode == 0, done.stderr + done.stdout

    async def scenario() -> None:
        async with open_store(url) as store:
            state = getattr(store, "row_level_security", None)
            assert state is not None
            assert state.distributed
            assert not state.enforced
            assert not state.effective
            assert "Citus distributes the tables" in state.describe()
            key = await store.create_key("a", "k", hash_key(uuid.uuid4().hex))
            assert await store.validate_key(key.key_hash) == key
            run = await store.create_execution(
                Execution(skill_name="s", skill_version="1", tenant_id="a")
            )
            assert await store.get_execution("a", run.id) == run
        with pytest.raises(MigrationError, match=r"rls=required.*Citus"):
            await open_store(f"{url}&rls=required")

    asyncio.run(scenario())
    status = _run_cli("--url", url, "status")
    assert "row-level security: on, not effective: Citus distributes" in status.stdout, (
        status.stdout + status.stderr
    )


def test_distribute_refuses_in_one_line_without_citus(postgres_url: str, pg_schema: str) -> None:
    done = _run_cli("migrate", f"{postgres_url}?schema={pg_schema}", "--distribute")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "needs a Citus coordinator" in lines[0]


def test_a_later_migration_applies_to_a_distributed_schema(
    cluster: CitusCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Distributed before files_seq_per_tenant (as a deployment that followed the README
    # before it was), then migrated: that migration must take Citus's path (no DROP
    # IDENTITY there) and keep every file's order.
    url = f"{cluster.url}?schema=later_{uuid.uuid4().hex[:8]}"
    every = migrations.pending_migrations
    seq_migration = next(
        m.version
        for m in load_migrations("postgres")
        if m.name.endswith("_files_seq_per_tenant.sql")
    )

    def before_seq(dialect: Dialect, applied: list[AppliedMigration]) -> list[Migration]:
        return [m for m in every(dialect, applied) if m.version < seq_migration]

    async def before() -> None:
        async with open_store(url) as store:
            assert isinstance(store, postgres_store.PostgresStore)
            await store.distribute()

    # Files written as the store wrote them then: seq from the identity.
    schema = url.split("schema=")[1]
    insert = sql.SQL(
        "INSERT INTO {}.files (id, tenant_id, name, s3_key, chain_id) "
        "VALUES (%s, 't', 'f', 'k', %s)"
    ).format(sql.Identifier(schema))
    made = [str(uuid.uuid4()) for _ in range(3)]

    monkeypatch.setattr(postgres_migrate, "pending_migrations", before_seq)
    asyncio.run(before())
    with psycopg.connect(cluster.url, autocommit=True) as conn:
        for file_id in made:
            conn.execute(insert, (file_id, file_id))
    newest_first = list(reversed(made))
    monkeypatch.setattr(postgres_migrate, "pending_migrations", every)

    async def after() -> tuple[int, list[str]]:
        async with open_store(url) as store:
            root = await store.get_file("t", newest_first[-1])
            await store.create_file_version("t", root.id, size_bytes=1, s3_key="v2")
            listed = await store.list_files(FileFilter(tenant_id="t"))
            return await store.schema_version(), [f.id for f in listed]

    version, listed = asyncio.run(after())
    assert version == len(load_migrations("postgres"))
    assert listed[1:] == newest_first


# -- Every tenant's statement on one shard ----------------------------------------------


def _tenant_statements() -> list[str]:
    """The statements of statements.py that bind a tenant or a key hash to a table."""
    found = []
    for spec in fields(Statements):
        template = getattr(statements, spec.name, None)
        if not isinstance(template, str):
            continue
        if not any(f"{{schema}}.{table}" in template for table in _TENANT_TABLES):
            continue
        insert = _INSERT_VALUES.match(template)
        inserts_tenant = insert is not None and "tenant_id" in insert.group(1)
        if _BINDS_TENANT.search(template) or inserts_tenant:
            found.append(spec.name)
    return found


def _numbered(statement: bytes) -> bytes:
    """``statement`` with psycopg's placeholders as PostgreSQL's ``$n``, for PREPARE."""
    names: dict[bytes, int] = {}
    count = 0

    def number(match: re.Match[bytes]) -> bytes:
        nonlocal count
        name = match.group(1)
        if name is not None and name in names:
            return b"$%d" % names[name]
        count += 1
        if name is not None:
            names[name] = count
        return b"$%d" % count

    return _PLACEHOLDER.sub(number, statement).replace(b"%%", b"%")


def _plan(conn: psycopg.Connection[tuple[object, ...]], statement: bytes) -> str:
    """EXPLAIN ``statement`` on the coordinator for sample values of its parameters.

    PREPARE lets the server infer each parameter's type from where it stands; the plan
    is then that of EXECUTE with a constant of each type.
    """
    conn.execute("DEALLOCATE ALL")
    # The simple query protocol: PREPARE's own $n are no parameters of this message.
    prepared = conn.pgconn.exec_(b"PREPARE planned AS " + _numbered(statement))
    if prepared.status != psycopg.pq.ExecStatus.COMMAND_OK:
        raise AssertionError(prepared.error_message.decode(errors="replace"))
    row = conn.execute(
        "SELECT parameter_types::text[] FROM pg_prepared_statements WHERE name = 'planned'"
    ).fetchone()
    assert row is not None
    types: list[str] = list(row[0])  # type: ignore[call-overload]
    values = sql.SQL(", ").join(
        sql.SQL("{}::{}").format(sql.Literal(_SAMPLES[kind]), sql.SQL(kind)) for kind in types
    )
    query: sql.SQL | sql.Composed = sql.SQL("EXPLAIN (COSTS OFF) EXECUTE planned")
    if types:
        query = query + sql.SQL("({})").format(values)
    return "\n".join(str(line) for (line,) in conn.execute(query).fetchall())


def _fan_out(plan: str) -> list[str]:
    """What in ``plan`` reaches more than one shard or takes more than one step."""
    counts = [int(n) for n in re.findall(r"Task Count: (\d+)", plan)]
    wrong = [f"Task Count {n}" for n in counts if n != 1]
    if not counts:
        wrong.append("no Citus task at all (a local table?)")
    wrong += [shape for shape in _FANS_OUT if shape in plan.lower()]
    return wrong


def test_the_plan_check_sees_a_statement_that_fans_out(
    cluster: CitusCluster, distributed_schema: str
) -> None:
    fanning = (
        "SELECT count(*) FROM {schema}.files a JOIN {schema}.files f ON "
        "f.tenant_id = a.tenant_id WHERE a.id = %s"
    )
    statement = sql.SQL(fanning).format(schema=sql.Identifier(distributed_schema))
    with psycopg.connect(cluster.url, autocommit=True, prepare_threshold=None) as conn:
        assert _fan_out(_plan(conn, statement.as_bytes(conn))) == ["Task Count 32"]


def test_every_tenant_statement_runs_on_one_shard(
    cluster: CitusCluster, distributed_schema: str
) -> None:
    names = _tenant_statements()
    # The enumeration itself: every kind of statement the issue named is in it.
    for expected in (
        "SELECT_EXECUTIONS_AFTER",
        "SELECT_FILES_AFTER_BY_SESSION_AND_EXECUTION",
        "UPDATE_FILE",
        "INSERT_FILE_VERSION",
        "INSERT_FILE_AFTER_PARENT",
        "INSERT_FILE",
        "PURGE_TENANT",
        "PURGE_TENANT_KEYS",
        "PRUNE_EXECUTIONS",
        "SELECT_KEY_BY_HASH",
        "INSERT_KEY",
    ):
        assert expected in names
    built = Statements.for_schema(distributed_schema)
    wrong: dict[str, list[str]] = {}
    plans: dict[str, str] = {}
    with psycopg.connect(cluster.url, autocommit=True, prepare_threshold=None) as conn:
        for name in names:
            try:
                plans[name] = _plan(conn, getattr(built, name))
            except (AssertionError, psycopg.Error) as exc:
                wrong[name] = [f"not planned: {exc}"]
                continue
            found = _fan_out(plans[name])
            if found:
                wrong[name] = found
    detail = "\n\n".join(f"{name}: {why}\n{plans.get(name, '')}" for name, why in wrong.items())
    assert not wrong, f"{len(wrong)} of {len(names)} statements leave one shard:\n{detail}"
    print(f"{len(names)} tenant-scoped statements, each one task on one shard")


# -- status ------------------------------------------------------------------------------


def test_status_estimates_from_the_shards_statistics(
    cluster: CitusCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The coordinator's own tables have no statistics: an estimate can only come from
    # the shards. A low threshold stands in for a big table.
    monkeypatch.setattr(postgres_store, "ESTIMATE_ABOVE", 50)
    schema = f"stats_{uuid.uuid4().hex[:8]}"
    url = _distributed(cluster, schema)
    analyze = sql.SQL("ANALYZE {}.executions").format(sql.Identifier(schema))

    async def scenario() -> dict[str, int]:
        async with open_store(url) as store:
            for n in range(60):
                await store.create_execution(
                    Execution(tenant_id=f"t{n % 7}", skill_name="s", skill_version="1")
                )
            await store.create_key("t0", "k", hash_key("k"))
            assert isinstance(store, postgres_store.PostgresStore)
            # ANALYZE on the coordinator analyzes every shard.
            async with store.pool.connection() as conn:
                await conn.execute(analyze)
            return await store.table_counts(exact=False)

    counts = asyncio.run(scenario())
    assert isinstance(counts["executions"], Estimate)
    assert counts["executions"] == 60
    assert not isinstance(counts["api_keys"], Estimate)
    assert counts["api_keys"] == 1


# -- The whole contract -----------------------------------------------------------------


def test_the_contract_suite_passes_on_the_distributed_cluster(
    cluster: CitusCluster, distributed_schema: str
) -> None:
    url = f"{cluster.url}?schema={distributed_schema}"
    started = time.monotonic()
    run = run_contract_suite(url, timeout=_SUITE_TIMEOUT)
    print(f"contract suite on Citus ({time.monotonic() - started:.0f} s): {run.summary}")
    assert run.returncode == 0, run.failure()
