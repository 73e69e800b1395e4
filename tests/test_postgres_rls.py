"""Row-level security: the second wall between tenants, proved to hold on its own.

The contract suite runs as a plain application role (its PostgreSQL target uses
`application_url`), so every isolation clause already holds with the policies in
force. Here: that the policies alone keep tenants apart when a statement forgets its
tenant predicate (each tenant-scoped statement mutated in turn), that an ad-hoc
statement of the application role that declares nothing sees nothing, that a role
that escapes the policies is told apart (``rls=required`` refuses it), that ``rls=off``
turns them off, and that declaring costs no round trip.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from test_postgres_roundtrips import WireCounter

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    InvalidArgumentError,
    MigrationError,
    SkillRecord,
    StoreError,
    hash_key,
    open_store,
)
from skillbox_store.backends.postgres import PostgresStore
from skillbox_store.backends.postgres import statements as templates
from skillbox_store.backends.postgres.statements import Statements
from skillbox_store.backends.postgres.tenancy import declaration_for, declarations, undeclared
from skillbox_store.testing_postgres import PostgresUnavailable, application_url

pytestmark = pytest.mark.postgres

Row = tuple[Any, ...]
A: Final = "tenant-a"
B: Final = "tenant-b"


@pytest.fixture(scope="module")
def app_url(postgres_url: str) -> str:
    """The test server as a plain application role, in its own database."""
    try:
        return application_url(postgres_url)
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL unavailable: {exc}", pytrace=False)


@pytest.fixture(scope="module")
def admin_url(app_url: str, postgres_url: str) -> str:
    """The application role's database, as the superuser: past every policy."""
    superuser = urlsplit(postgres_url).netloc
    return urlunsplit(urlsplit(app_url)._replace(netloc=superuser))


def _schema() -> str:
    return f"rls_{uuid.uuid4().hex[:10]}"


def _with_query(url: str, **query: str) -> str:
    extra = "&".join(f"{name}={value}" for name, value in query.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


# -- the statements declare what they serve ------------------------------------------------


def _templates() -> Iterator[tuple[str, str]]:
    for spec in dataclasses.fields(Statements):
        template = getattr(templates, spec.name, None)
        if isinstance(template, str):
            yield spec.name, template


def test_every_statement_on_a_tenant_table_declares_what_it_serves() -> None:
    """A new statement that binds no tenant (and is no operators' path) fails here."""
    assert undeclared(_templates()) == []


def test_a_statement_without_its_tenant_is_refused_when_built() -> None:
    with pytest.raises(ValueError, match="without binding tenant_id"):
        declaration_for("SELECT_ALL", "SELECT id FROM {schema}.executions")


# -- the policies hold alone ------------------------------------------------------------


_POSITIONAL_PREDICATE: Final = re.compile(r"(?<![\w.])(\w+\.)?tenant_id = %s")
_NAMED_PREDICATE: Final = re.compile(r"(?<![\w.])(\w+\.)?tenant_id = %\(tenant_id\)s")


def _without_tenant(template: str) -> str | None:
    """The statement with every tenant predicate made true; None if it has none.

    The parameter stays in place (``%s::text IS NOT NULL``), so the statement takes the same
    parameters and the store calls it unchanged (typed: an untyped parameter alone
    is one the server cannot infer).
    """
    mutant = _POSITIONAL_PREDICATE.sub("%s::text IS NOT NULL", template)
    mutant = _NAMED_PREDICATE.sub("%(tenant_id)s::text IS NOT NULL", mutant)
    return None if mutant == template else mutant


def _mutants() -> list[str]:
    return sorted(
        name
        for name, template in _templates()
        if not name.startswith(("SELECT_BULK", "INSERT", "COPY")) and _without_tenant(template)
    )


def _store_with(store: PostgresStore, original: Statements, name: str | None) -> None:
    """Give ``store`` the ``original`` statements, ``name`` replaced by its mutant."""
    shared = store._db.shared
    statements = original
    if name is not None:
        mutant = _without_tenant(getattr(templates, name))
        assert mutant is not None
        text = psycopg.sql.SQL(mutant).format(**_names(original.schema)).as_string(None)
        replaced: dict[str, Any] = {name: text.encode()}
        statements = dataclasses.replace(original, **replaced)
    shared.sql = statements
    if shared.declared is not None:
        shared.declared = declarations(statements)


def _names(schema: str) -> dict[str, Any]:
    from skillbox_store.backends.postgres import statements as module

    sql = psycopg.sql
    return {
        "schema": sql.Identifier(schema),
        **{
            key: sql.SQL(getattr(module, f"_{key.upper()}"))
            for key in (
                "key_columns",
                "execution_columns",
                "file_columns",
                "session_columns",
                "skill_columns",
                "page_execution_columns",
                "page_file_columns",
            )
        },
    }


Probe = Callable[[PostgresStore], Awaitable[object]]


async def _seed(store: PostgresStore, tenant: str) -> dict[str, Any]:
    """Give ``tenant`` some of everything; return the ids another tenant will aim at.

    Two of each listed kind, so that a page after the newest is not empty, and skills
    named after the tenant, so that a mutant that answers with them is seen.
    """
    key = await store.create_key(tenant, "k", hash_key(uuid.uuid4().hex))
    older = await store.create_execution(
        Execution(skill_name="s", skill_version="1", tenant_id=tenant)
    )
    run = await store.create_execution(
        Execution(skill_name="s", skill_version="1", tenant_id=tenant)
    )
    session = await store.get_or_create_session(tenant, f"ext-{tenant}")
    await store.create_file(
        File(
            tenant_id=tenant,
            name="older",
            s3_key=f"{tenant}/older",
            session_id=session.id,
            execution_id=run.id,
        )
    )
    root = await store.create_file(
        File(
            tenant_id=tenant,
            name="f",
            s3_key=f"{tenant}/f",
            session_id=session.id,
            execution_id=run.id,
        )
    )
    second = await store.create_file_version(tenant, root.id, size_bytes=1, s3_key=f"{tenant}/2")
    for version in ("1.0.0", f"2.0.0-{tenant}"):
        await store.upsert_skill(
            SkillRecord(tenant_id=tenant, name=f"skill-{tenant}", version=version)
        )
    return {
        "key": key,
        "run": run,
        "older": older,
        "session": session,
        "root": root,
        "second": second,
    }


def _probes(theirs: dict[str, Any]) -> list[tuple[str, Probe]]:
    """Every tenant-scoped call, made as tenant A, aimed at B's records where it can be."""
    run, root, second, session, key = (
        theirs["run"],
        theirs["root"],
        theirs["second"],
        theirs["session"],
        theirs["key"],
    )
    done = run.model_copy(update={"tenant_id": A, "status": "success"})
    moved = second.model_copy(update={"tenant_id": A, "name": "renamed"})
    return [
        ("get_key", lambda s: s.list_keys(A)),
        ("revoke_key", lambda s: s.revoke_key(A, key.id)),
        ("get_execution", lambda s: s.get_execution(A, run.id)),
        ("list_executions", lambda s: s.list_executions(A)),
        ("list_executions_after", lambda s: s.list_executions(A, after=run.id)),
        ("update_execution", lambda s: s.update_execution(done)),
        ("get_file", lambda s: s.get_file(A, root.id)),
        ("update_file", lambda s: s.update_file(moved)),
        ("delete_file", lambda s: s.delete_file(A, second.id)),
        ("list_files", lambda s: s.list_files(FileFilter(tenant_id=A))),
        ("list_files_after", lambda s: s.list_files(FileFilter(tenant_id=A, after=root.id))),
        (
            "list_files_by_session",
            lambda s: s.list_files(FileFilter(tenant_id=A, session_id=session.id)),
        ),
        (
            "list_files_by_execution",
            lambda s: s.list_files(FileFilter(tenant_id=A, execution_id=run.id)),
        ),
        (
            "list_files_by_both",
            lambda s: s.list_files(
                FileFilter(tenant_id=A, session_id=session.id, execution_id=run.id)
            ),
        ),
        *(
            (
                f"list_files_after_by_{by}",
                lambda s, by=by: s.list_files(
                    FileFilter(
                        tenant_id=A,
                        after=root.id,
                        session_id=session.id if by != "execution" else None,
                        execution_id=run.id if by != "session" else None,
                    )
                ),
            )
            for by in ("session", "execution", "both")
        ),
        ("list_session_files", lambda s: s.list_session_files(A, session.id)),
        (
            "create_file_version",
            lambda s: s.create_file_version(A, second.id, size_bytes=2, s3_key="a/x"),
        ),
        ("list_file_versions", lambda s: s.list_file_versions(A, root.id)),
        ("get_session", lambda s: s.get_session(A, session.id)),
        ("get_session_by_external_id", lambda s: s.get_session_by_external_id(A, f"ext-{B}")),
        ("touch_session", lambda s: s.touch_session(A, session.id)),
        ("delete_session", lambda s: s.delete_session(A, session.id)),
        ("get_skill", lambda s: s.get_skill(A, f"skill-{B}", "1.0.0")),
        ("list_skills", lambda s: s.list_skills(A)),
        ("resolve_latest_version", lambda s: s.resolve_latest_version(A, f"skill-{B}")),
        ("delete_skill", lambda s: s.delete_skill(A, f"skill-{B}", "1.0.0")),
        ("purge_tenant", lambda s: s.purge_tenant(A)),
    ]


def _leaks(value: object) -> bool:
    """Tell whether a call's answer holds anything of tenant B."""
    if isinstance(value, list | tuple):
        return any(_leaks(item) for item in value)
    tenant = getattr(value, "tenant_id", None)
    if tenant == B:
        return True
    return B in repr(value)


async def _tenant_b_rows(url: str, schema: str) -> list[Row]:
    """Every row of tenant B, read past the policies (the superuser's view)."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        rows: list[Row] = []
        for table in ("api_keys", "executions", "files", "sessions", "skills"):
            cursor = await conn.execute(
                psycopg.sql.SQL("SELECT * FROM {}.{} WHERE tenant_id = %s ORDER BY 1, 2").format(
                    psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
                ),
                (B,),
            )
            rows += [(table, *row) for row in await cursor.fetchall()]
        return rows


async def _mutant_leaks(
    url: str, superuser_url: str, names: list[str], rls: str
) -> dict[str, list[str]]:
    """Run every probe against the store once per mutant; return what leaked, by mutant.

    One schema and one store per ``rls``; before each mutant the original statements
    come back, both tenants' rows are deleted (past the policies) and seeded again.
    """
    schema = _schema()
    leaks: dict[str, list[str]] = {}
    ident = psycopg.sql.Identifier(schema)
    async with open_store(_with_query(url, schema=schema, rls=rls)) as store:
        assert isinstance(store, PostgresStore)
        original = store._db.shared.sql
        async with await AsyncConnection.connect(superuser_url, autocommit=True) as admin:
            for name in names:
                _store_with(store, original, None)
                for table in ("files", "executions", "sessions", "skills", "api_keys"):
                    await admin.execute(
                        psycopg.sql.SQL("DELETE FROM {}.{}").format(
                            ident, psycopg.sql.Identifier(table)
                        )
                    )
                await _seed(store, A)
                theirs = await _seed(store, B)
                before = await _tenant_b_rows(superuser_url, schema)
                _store_with(store, original, name)
                found: list[str] = []
                for label, probe in _probes(theirs):
                    try:
                        answer = await probe(store)
                    except StoreError:
                        continue
                    if _leaks(answer):
                        found.append(f"{label} returned tenant B's data")
                if await _tenant_b_rows(superuser_url, schema) != before:
                    found.append("tenant B's rows changed")
                leaks[name] = found
            await admin.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(ident))
    return leaks


@pytest.mark.slow
def test_no_statement_without_its_tenant_reaches_another_tenant(
    app_url: str, admin_url: str
) -> None:
    """Each tenant predicate removed in turn: with RLS on, no call sees or changes B.

    And the probes have teeth: without row-level security, the same mutants leak.
    """
    mutants = _mutants()
    assert len(mutants) >= 30, mutants
    protected = asyncio.run(_mutant_leaks(app_url, admin_url, mutants, "on"))
    unprotected = asyncio.run(_mutant_leaks(app_url, admin_url, mutants, "off"))
    assert {name: leaks for name, leaks in protected.items() if leaks} == {}
    caught = sorted(name for name, leaks in unprotected.items() if leaks)
    # Without the policies most mutants leak (28 of 37 when written); those that do
    # not serve error paths or calls that a tenant-scoped statement guards first.
    assert len(caught) >= 2 * len(mutants) // 3, (caught, mutants)
    print(f"{len(mutants)} mutants; with rls=off {len(caught)} leak; with rls=on none")


def test_an_ad_hoc_statement_that_declares_nothing_sees_nothing(
    app_url: str, admin_url: str
) -> None:
    schema = _schema()

    async def seed() -> None:
        async with open_store(_with_query(app_url, schema=schema)) as store:
            await _seed(store, A)  # type: ignore[arg-type]

    asyncio.run(seed())
    with psycopg.connect(app_url, autocommit=True) as conn:
        ident = psycopg.sql.Identifier(schema)
        for table in ("api_keys", "executions", "files", "sessions", "skills"):
            table_name = psycopg.sql.Identifier(table)
            count = conn.execute(
                psycopg.sql.SQL("SELECT count(*) FROM {}.{}").format(ident, table_name)
            ).fetchone()
            assert count == (0,), table
            assert (
                conn.execute(
                    psycopg.sql.SQL("UPDATE {}.{} SET tenant_id = tenant_id").format(
                        ident, table_name
                    )
                ).rowcount
                == 0
            )
        assert (
            conn.execute(psycopg.sql.SQL("DELETE FROM {}.executions").format(ident)).rowcount == 0
        )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # WITH CHECK
            conn.execute(
                psycopg.sql.SQL(
                    "INSERT INTO {}.sessions (tenant_id, id, external_id) "
                    "VALUES ('x', gen_random_uuid(), 'e')"
                ).format(ident)
            )
    with psycopg.connect(admin_url, autocommit=True) as conn:  # the data is there
        ident = psycopg.sql.Identifier(schema)
        row = conn.execute(psycopg.sql.SQL("SELECT count(*) FROM {}.files").format(ident))
        assert row.fetchone() == (3,)
        conn.execute(psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(ident))


def _seed_executions(url: str, schema: str, tenants: int, each: int) -> None:
    async def seed() -> None:
        async with open_store(_with_query(url, schema=schema)) as store:
            for i in range(tenants * each):
                await store.create_execution(
                    Execution(skill_name="s", skill_version="1", tenant_id=f"t{i % tenants}")
                )

    asyncio.run(seed())


def test_a_generic_plan_checks_each_transactions_declaration(app_url: str) -> None:
    """The policies read the settings when a row is checked, never when it is planned.

    A prepared statement's generic plan, made while the operators' scope was declared,
    serves a transaction that declared one tenant with that tenant's rows only, and
    one that declared nothing with none (a setting folded into the plan would admit
    every row to both).
    """
    schema = _schema()
    _seed_executions(app_url, schema, tenants=2, each=3)
    table = psycopg.sql.SQL("{}.executions").format(psycopg.sql.Identifier(schema))
    with psycopg.connect(app_url, autocommit=True) as conn:
        conn.execute("SET plan_cache_mode = force_generic_plan")
        with conn.transaction():
            conn.execute("SELECT set_config('skillbox.scope', 'all', true)")
            conn.execute(
                psycopg.sql.SQL("PREPARE every_row AS SELECT count(*) FROM {}").format(table)
            )
            assert conn.execute("EXECUTE every_row").fetchone() == (6,)
        with conn.transaction():
            conn.execute("SELECT set_config('skillbox.tenant_id', 't0', true)")
            assert conn.execute("EXECUTE every_row").fetchone() == (3,)
        assert conn.execute("EXECUTE every_row").fetchone() == (0,)
        conn.execute(
            psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema))
        )


def _plan(conn: psycopg.Connection[Any], statement: bytes, params: tuple[Any, ...]) -> Any:
    row = conn.execute(b"EXPLAIN (FORMAT JSON) " + statement, params).fetchone()
    assert row is not None
    return row[0][0]["Plan"]


def _shape(plan: Any) -> list[tuple[str, str | None, float]]:
    """Each node of a plan: its type, its index and its estimated rows, depth first."""
    found = [(plan["Node Type"], plan.get("Index Name"), plan["Plan Rows"])]
    for child in plan.get("Plans", []):
        found += _shape(child)
    return found


def test_the_policies_leave_a_statements_plan_as_it_is_without_them(
    app_url: str, admin_url: str
) -> None:
    """The planner estimates a policy as passing nearly every row: the plans are unchanged.

    0002's policies multiplied a tenant's estimated rows by the policy's own estimate
    (here a sixth): a 20-row page of a tenant with 60 executions was then planned as a
    bitmap scan and a sort of all 60, instead of the newest-first index read in order.
    The superuser escapes the policies, so its plan of the same statement is the plan
    without them.
    """
    schema = _schema()
    _seed_executions(app_url, schema, tenants=6, each=60)
    statement = psycopg.sql.SQL(templates.SELECT_EXECUTIONS_PAGE).format(**_names(schema))
    page = statement.as_string(None).encode()
    params = ("t3", 20, 0)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            psycopg.sql.SQL("ANALYZE {}.executions").format(psycopg.sql.Identifier(schema))
        )
        without = _shape(_plan(admin, page, params))
        with psycopg.connect(app_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('skillbox.tenant_id', 't3', true)")
            under = _shape(_plan(conn, page, params))
        admin.execute(
            psycopg.sql.SQL("DROP SCHEMA {} CASCADE").format(psycopg.sql.Identifier(schema))
        )
    assert [node[:2] for node in under] == [node[:2] for node in without], (under, without)
    assert without[-1][:2] == ("Index Scan", "executions_tenant_newest")
    for (_, _, rows), (_, _, rows_without) in zip(under, without, strict=True):
        assert rows >= 0.9 * rows_without, (under, without)


def test_a_key_lookup_by_hash_sees_that_key_and_no_other(app_url: str) -> None:
    """The contract's one path across tenants admits one exact hash, no listing."""
    schema = _schema()

    async def scenario() -> None:
        async with open_store(_with_query(app_url, schema=schema)) as store:
            mine = await store.create_key(A, "k", hash_key("a"))
            await store.create_key(B, "k", hash_key("b"))
            assert await store.get_key_by_hash(hash_key("a")) == mine
            assert await store.validate_key(hash_key("a")) == mine
        async with await AsyncConnection.connect(app_url, autocommit=True) as conn:
            await conn.execute("SELECT set_config('skillbox.key_hash', %s, true)", (hash_key("a"),))
            ident = psycopg.sql.Identifier(schema)
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('skillbox.key_hash', %s, true)", (hash_key("a"),)
                )
                cursor = await conn.execute(
                    psycopg.sql.SQL("SELECT tenant_id FROM {}.api_keys").format(ident)
                )
                assert await cursor.fetchall() == [(A,)]
                # Reading only: the hash admits no write.
                cursor = await conn.execute(
                    psycopg.sql.SQL("UPDATE {}.api_keys SET name = 'x'").format(ident)
                )
                assert cursor.rowcount == 0

    asyncio.run(scenario())


def test_a_superuser_escapes_the_policies_and_rls_required_says_so(postgres_url: str) -> None:
    async def scenario() -> None:
        url = _with_query(postgres_url, schema=_schema())
        async with open_store(url) as store:
            assert isinstance(store, PostgresStore)
            state = store.row_level_security
            assert state is not None
            assert state.enforced
            assert state.bypassed
            assert not state.effective
            assert "superuser or has BYPASSRLS" in state.describe()
        with pytest.raises(MigrationError, match=r"rls=required.*superuser") as caught:
            await open_store(_with_query(url, rls="required"))
        assert "\n" not in str(caught.value)

    asyncio.run(scenario())


def test_rls_required_opens_for_the_application_role(app_url: str) -> None:
    async def scenario() -> None:
        async with open_store(_with_query(app_url, schema=_schema(), rls="required")) as store:
            assert isinstance(store, PostgresStore)
            state = store.row_level_security
            assert state is not None
            assert state.effective
            assert state.describe() == "required, effective"

    asyncio.run(scenario())


def test_rls_off_turns_enforcement_off_and_on_turns_it_back(app_url: str) -> None:
    schema = _schema()

    async def state_after(rls: str) -> tuple[bool, bool]:
        async with open_store(_with_query(app_url, schema=schema, rls=rls)) as store:
            assert isinstance(store, PostgresStore)
            state = store.row_level_security
            assert state is not None
            await store.create_key(A, "k", hash_key(uuid.uuid4().hex))
            assert len(await store.list_keys(A)) >= 1
            return state.enforced, store._db.shared.declared is not None

    assert asyncio.run(state_after("off")) == (False, False)
    assert asyncio.run(state_after("on")) == (True, True)


def test_a_bad_rls_value_is_refused() -> None:
    async def scenario() -> None:
        await open_store("postgresql://u@127.0.0.1:1/db?rls=maybe")

    with pytest.raises(InvalidArgumentError, match="rls must be one of off, on, required"):
        asyncio.run(scenario())


def test_declaring_costs_no_round_trip(app_url: str) -> None:
    """validate_key, get_execution, create_execution and a page: one round trip each."""
    schema = _schema()

    async def scenario() -> dict[str, int]:
        async with open_store(_with_query(app_url, schema=schema)):
            pass
        pool: AsyncConnectionPool[AsyncConnection[Row]] = AsyncConnectionPool(
            app_url,
            min_size=1,
            max_size=1,
            kwargs={"autocommit": True},
            connection_class=AsyncConnection[Row],
            open=False,
        )
        await pool.open(wait=True)
        counter = WireCounter(pool)
        try:
            store = PostgresStore(pool, schema=schema)
            key_hash = hash_key("k")
            await store.create_key(A, "k", key_hash)
            run = await store.create_execution(
                Execution(skill_name="s", skill_version="1", tenant_id=A)
            )
            await store.ping()  # the first call checks the schema's version
            return {
                "validate_key": await counter.count(lambda: store.validate_key(key_hash)),
                "get_execution": await counter.count(lambda: store.get_execution(A, run.id)),
                "create_execution": await counter.count(
                    lambda: store.create_execution(
                        Execution(skill_name="s", skill_version="1", tenant_id=A)
                    )
                ),
                "list_executions": await counter.count(lambda: store.list_executions(A, limit=20)),
            }
        finally:
            counter.close()
            await pool.close()

    assert asyncio.run(scenario()) == {
        "validate_key": 1,
        "get_execution": 1,
        "create_execution": 1,
        "list_executions": 1,
    }


def test_status_says_whether_row_level_security_is_effective(
    app_url: str, postgres_url: str
) -> None:
    schema = _schema()
    command = [sys.executable, "-m", "skillbox_store", "--url"]
    for url, expected in (
        (app_url, "row-level security: on, effective"),
        (postgres_url, "row-level security: on, not effective: the role is a superuser"),
    ):
        subprocess.run(
            [*command, _with_query(url, schema=schema), "migrate"], check=True, capture_output=True
        )
        shown = subprocess.run(
            [*command, _with_query(url, schema=schema), "status"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert expected in shown, shown
    as_json = subprocess.run(
        [*command, _with_query(app_url, schema=schema), "--json", "status"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert json.loads(as_json)["row_level_security"] == {
        "mode": "on",
        "enforced": True,
        "bypassed": False,
        "effective": True,
    }
