"""Adopting a Go Skillbox database in place: every row, every answer, once (issue 20).

Each test builds its own Go database (tests/go_schema.py, written from GO_SCHEMA.md) in
a fresh PostgreSQL database of the self-started server, adopts it, and compares what the
store answers with what the Go tables held. The refusal rules are in
test_adopt_refusals.py, the interrupted run in test_adopt_interrupted.py.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Coroutine, Iterator
from typing import Any, LiteralString, TypeVar
from urllib.parse import urlsplit

import psycopg
import pytest
from adopt_helpers import fingerprint, fresh_database, locks_held
from go_schema import DATA, GO, HASH_CI, HASH_OLD, build_go_database, fill, insert_rows
from psycopg import sql
from psycopg.rows import dict_row

from skillbox_store import (
    ConflictError,
    Execution,
    MigrationError,
    SchemaOutdatedError,
    SkillRecord,
    UnavailableError,
    adopt_go_database,
    open_store,
)
from skillbox_store.adopt import AdoptionRefusedError
from skillbox_store.migrations import latest_version, load_migrations
from skillbox_store.store import Store
from skillbox_store.testing_postgres import application_url

pytestmark = pytest.mark.postgres

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


@pytest.fixture
def go_url(postgres_url: str) -> Iterator[str]:
    """A fresh database holding a filled Go v0.8.0 database (goose 1-6)."""
    with fresh_database(postgres_url) as url:
        build_go_database(url)
        fill(url)
        yield url


def go_rows(url: str, schema: str, table: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(
            sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        ).fetchall()


def table_hashes(url: str, schema: str) -> dict[str, Any]:
    """Each table's rows of ``schema``, as `fingerprint` sees them, by table name."""
    prefix = f"{schema}."
    return {
        entry[1][len(prefix) :]: entry[2]
        for entry in fingerprint(url)
        if entry[0] == "rows" and entry[1].startswith(prefix)
    }


# -- Saying what it is ---------------------------------------------------------------------


def test_open_store_names_a_go_database_and_the_adopt_command(go_url: str) -> None:
    before = fingerprint(go_url)

    async def open_it() -> None:
        async with open_store(go_url):
            pass

    with pytest.raises(MigrationError) as caught:
        run(open_it())
    message = str(caught.value)
    assert "Go Skillbox database" in message
    assert "goose version 6" in message
    assert "skillbox-store adopt" in message
    assert "already exists" not in message
    assert fingerprint(go_url) == before


def test_open_without_migrating_says_the_schema_is_not_migrated(go_url: str) -> None:
    async def open_it() -> None:
        async with open_store(go_url, migrate=False):
            pass

    with pytest.raises(SchemaOutdatedError):
        run(open_it())


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "skillbox_store", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_command_names_a_go_database(go_url: str) -> None:
    before = fingerprint(go_url)
    result = cli("migrate", go_url)
    assert result.returncode != 0, result
    assert "Go Skillbox database (goose version 6" in result.stderr
    assert "skillbox-store adopt" in result.stderr
    assert "Traceback" not in result.stderr
    assert fingerprint(go_url) == before


# -- Adopting ----------------------------------------------------------------------------


async def check_go_answers(store: Store, url: str, backup: str) -> None:
    """Every Go row read back through the store equals the Go row, after the rules."""
    keys = go_rows(url, backup, "api_keys")
    for row in keys:
        key = await store.get_key_by_hash(row["key_hash"])
        assert (key.id, key.tenant_id, key.name, key.created_at, key.revoked_at) == (
            str(row["id"]),
            row["tenant_id"],
            row["name"],
            row["created_at"],
            row["revoked_at"],
        )
        valid = await store.validate_key(row["key_hash"])
        assert (valid is None) == (row["revoked_at"] is not None)
    for tenant in ("acme", "globex"):
        # Go: ORDER BY created_at DESC.
        expected = [
            str(r["id"])
            for r in sorted(keys, key=lambda r: r["created_at"], reverse=True)
            if r["tenant_id"] == tenant
        ]
        assert [k.id for k in await store.list_keys(tenant)] == expected

    executions = go_rows(url, backup, "executions")
    for row in executions:
        got = await store.get_execution(row["tenant_id"], str(row["id"]))
        assert (
            got.model_dump()
            == Execution(
                id=str(row["id"]),
                skill_name=row["skill_name"],
                skill_version=row["skill_version"],
                tenant_id=row["tenant_id"],
                status=row["status"],
                input=row["input"],
                output=row["output"],
                logs=row["logs"] or "",
                files_url=row["files_url"] or "",
                files_list=row["files_list"] or [],
                duration_ms=row["duration_ms"] or 0,
                error=row["error"],
                created_at=row["created_at"],
                finished_at=row["finished_at"],
            ).model_dump()
        )
    for tenant in ("acme", "globex"):
        expected = [
            str(r["id"])
            for r in sorted(executions, key=lambda r: r["created_at"], reverse=True)
            if r["tenant_id"] == tenant
        ]
        assert [e.id for e in await store.list_executions(tenant)] == expected

    for row in go_rows(url, backup, "files"):
        file = await store.get_file(row["tenant_id"], str(row["id"]))
        assert (
            file.session_id or "",
            file.execution_id,
            file.name,
            file.content_type,
            file.size_bytes,
            file.s3_key,
            file.version,
            file.parent_id,
            file.created_at,
            file.updated_at,
        ) == (
            (row["session_id"] or "").lower(),
            None if row["execution_id"] is None else str(row["execution_id"]),
            row["name"],
            row["content_type"],
            row["size_bytes"],
            row["s3_key"],
            row["version"],
            None if row["parent_id"] is None else str(row["parent_id"]),
            row["created_at"],
            row["updated_at"],
        )
    # Go's chain: the root and every file whose parent it is.
    chain = [GO["file_v3"], GO["file_v2"], GO["file_root"]]
    for member in chain:
        assert [f.id for f in await store.list_file_versions("acme", member)] == chain
    orphans = await store.list_session_files("acme", GO["session_deleted"])
    assert [f.id for f in orphans] == [GO["file_orphan"]]

    for row in go_rows(url, backup, "sessions"):
        session = await store.get_session_by_external_id(row["tenant_id"], row["external_id"])
        assert (session.id, session.created_at, session.last_accessed_at) == (
            str(row["id"]),
            row["created_at"],
            row["last_accessed_at"],
        )
    skills = go_rows(url, backup, "skills")
    for row in skills:
        skill = await store.get_skill(row["tenant_id"], row["name"], row["version"])
        assert (skill.description, skill.lang, skill.uploaded_at) == (
            row["description"],
            row["lang"],
            row["uploaded_at"],
        )
    # Go: ORDER BY uploaded_at DESC LIMIT 1; the tie goes to the higher version in
    # code-point order, as the report states.
    assert await store.resolve_latest_version("acme", "web-scraper") == "1.5.0"
    assert await store.resolve_latest_version("acme", "Web-Scraper") == "1.0.0"
    assert await store.resolve_latest_version("acme", "tie") == "9.0.0"
    assert await store.resolve_latest_version("globex", "web-scraper") == "0.0.0"
    # Code-point order now: upper case first.
    listed = [(s.name, s.version) for s in await store.list_skills("acme")]
    assert listed == [
        ("Web-Scraper", "1.0.0"),
        ("tie", "10.0.0"),
        ("tie", "9.0.0"),
        ("web-scraper", "1.0.0"),
        ("web-scraper", "1.5.0"),
        ("web-scraper", "2.0.0"),
    ]


async def check_new_writes(store: Store) -> None:
    """The adopted store keeps working: numbering, chains and the delete rule."""
    # A new version chains onto the head (v3), not the root.
    newest = await store.create_file_version("acme", GO["file_v2"], size_bytes=1, s3_key="k")
    assert (newest.version, newest.parent_id, newest.name) == (4, GO["file_v3"], "report.pdf")
    # Go's delete rule holds: the root has versions.
    with pytest.raises(ConflictError):
        await store.delete_file("acme", GO["file_root"])
    key = await store.create_key("acme", "new", "c" * 64)
    assert (await store.list_keys("acme"))[0].id == key.id
    execution = await store.create_execution(
        Execution(tenant_id="acme", skill_name="web-scraper", skill_version="1.5.0")
    )
    assert (await store.list_executions("acme"))[0].id == execution.id
    await store.upsert_skill(SkillRecord(tenant_id="acme", name="tie", version="1.0.0"))
    assert await store.resolve_latest_version("acme", "tie") == "1.0.0"
    session = await store.get_or_create_session("acme", "chat-1")
    assert session.id == GO["session_chat"]


def test_adopts_every_row_and_every_answer(go_url: str) -> None:
    before = table_hashes(go_url, "sandbox")
    report = run(adopt_go_database(go_url))
    assert report.outcome == "adopted"
    assert report.go_version == 6
    assert report.backup_schema == "sandbox_go_v6"
    assert report.counts == {
        "api_keys": 3,
        "executions": 4,
        "files": 7,
        "sessions": 2,
        "skills": 7,
    }
    assert report.offences == []
    assert [(t.tenant_id, t.name, t.versions, t.chosen) for t in report.ties] == [
        ("acme", "tie", ("10.0.0", "9.0.0"), "9.0.0")
    ]
    assert report.conversions["executions.logs NULL -> ''"] == 1
    assert report.conversions["files.session_id made lower-case (canonical uuid)"] == 1
    assert "sandbox_go_v6" in str(report)
    # The Go tables are in the backup, untouched, with goose's table.
    backup = table_hashes(go_url, "sandbox_go_v6")
    assert {t: backup[t] for t in before} == before
    assert "goose_db_version" in backup
    # Recorded as the migrator records it.
    with psycopg.connect(go_url, autocommit=True) as conn:
        recorded = conn.execute(
            "SELECT version, name, checksum FROM sandbox.schema_migrations ORDER BY version"
        ).fetchall()
    assert recorded == [(m.version, m.name, m.checksum) for m in load_migrations("postgres")]

    async def use() -> None:
        async with open_store(go_url) as store:
            assert await store.schema_version() == latest_version("postgres")
            await check_go_answers(store, go_url, "sandbox_go_v6")
            await check_new_writes(store)

    run(use())


def test_an_application_role_adopts_with_row_level_security_in_force(postgres_url: str) -> None:
    """The Go tables' owner is a plain role: the policies bind it, adoption declares.

    The migrations build the new tables with row-level security FORCEd, so the copy and
    the verification run on the operators' declared path; afterwards the store opens
    with ``rls=required`` and gives the Go answers.
    """
    app_url = application_url(postgres_url)
    role = urlsplit(app_url).username
    with fresh_database(postgres_url) as url:
        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(name), sql.Identifier(str(role))
                )
            )
        as_app = app_url.rsplit("/", 1)[0] + f"/{name}"
        build_go_database(as_app)
        fill(as_app)
        report = run(adopt_go_database(as_app))
        assert report.outcome == "adopted", str(report)

        async def use() -> None:
            async with open_store(f"{as_app}?rls=required") as store:
                await check_go_answers(store, as_app, "sandbox_go_v6")

        run(use())


def test_the_adopted_schema_equals_a_migrated_one(go_url: str, postgres_url: str) -> None:
    run(adopt_go_database(go_url))
    with fresh_database(postgres_url) as fresh:

        async def migrate() -> None:
            async with open_store(fresh):
                pass

        run(migrate())

        def shape(url: str) -> list[Any]:
            return [
                entry
                for entry in fingerprint(url)
                if entry[0] in ("column", "constraint", "index")
                and str(entry[1]).startswith("sandbox")
                and not str(entry[1]).startswith("sandbox_go")
            ]

        assert shape(go_url) == shape(fresh)


def test_a_second_run_has_nothing_to_do(go_url: str) -> None:
    run(adopt_go_database(go_url))
    before = fingerprint(go_url)
    report = run(adopt_go_database(go_url))
    assert report.outcome == "nothing to do"
    assert "already a skillbox-store schema" in str(report)
    assert fingerprint(go_url) == before


def test_a_dry_run_reports_and_changes_nothing(go_url: str) -> None:
    before = fingerprint(go_url)
    report = run(adopt_go_database(go_url, dry_run=True))
    assert report.outcome == "would adopt"
    assert report.ok
    assert report.counts["files"] == 7
    assert len(report.ties) == 1
    assert fingerprint(go_url) == before
    assert locks_held(go_url) == []


def test_a_named_backup_schema(go_url: str) -> None:
    report = run(adopt_go_database(go_url, backup_schema="go_backup"))
    assert report.backup_schema == "go_backup"
    assert "api_keys" in table_hashes(go_url, "go_backup")


@pytest.mark.parametrize("layout", ["goose", "legacy"])
@pytest.mark.parametrize("version", [6, 7])
def test_goose_layouts_and_versions(postgres_url: str, layout: str, version: int) -> None:
    with fresh_database(postgres_url) as url:
        build_go_database(url, version=version, layout=layout)  # type: ignore[arg-type]
        fill(url)
        if version == 7:
            insert_rows(
                url,
                "executions",
                [
                    {
                        "id": "0000abcd-0000-4000-8000-000000000299",
                        "skill_name": "fs",
                        "skill_version": "1",
                        "tenant_id": "acme",
                        "status": "mounted",
                    }
                ],
            )
        report = run(adopt_go_database(url))
        assert report.outcome == "adopted"
        assert report.go_version == version
        assert report.layout.startswith("legacy goose" if layout == "legacy" else "goose")
        moved = table_hashes(url, f"sandbox_go_v{version}")
        assert "goose_db_version" in moved
        assert ("sandbox_migrations" in moved) == (layout == "legacy")

        async def use() -> None:
            async with open_store(url) as store:
                await check_go_answers(store, url, f"sandbox_go_v{version}")

        run(use())


def test_a_custom_schema_with_goose_elsewhere(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        # The Go DSN's search_path put goose's table in its own schema.
        build_go_database(url, schema="skillbox_go", goose_schema="migrations")
        fill(url, schema="skillbox_go")
        with pytest.raises(MigrationError, match="Go Skillbox database"):
            run(open_store(f"{url}?schema=skillbox_go").__aenter__())
        report = run(adopt_go_database(f"{url}?schema=skillbox_go"))
        assert report.outcome == "adopted"
        assert report.backup_schema == "skillbox_go_go_v6"
        assert "goose_db_version" in table_hashes(url, "skillbox_go_go_v6")

        async def use() -> None:
            async with open_store(url, schema="skillbox_go") as store:
                await check_go_answers(store, url, "skillbox_go_go_v6")

        run(use())


def test_goose_in_the_go_schema_itself(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        # A Go DSN with search_path=sandbox: goose's table beside the Go tables.
        build_go_database(url, goose_schema="sandbox")
        fill(url)
        report = run(adopt_go_database(url))
        assert report.outcome == "adopted"
        assert report.layout == "goose (sandbox.goose_db_version)"
        assert "goose_db_version" in table_hashes(url, "sandbox_go_v6")
        assert "goose_db_version" not in table_hashes(url, "sandbox")


def test_an_empty_go_database(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        build_go_database(url)
        report = run(adopt_go_database(url))
        assert report.outcome == "adopted"

        async def use() -> None:
            async with open_store(url) as store:
                key = await store.create_key("t", "k", HASH_CI)
                assert [k.id for k in await store.list_keys("t")] == [key.id]

        run(use())


def test_no_go_database_is_a_migration_error(postgres_url: str) -> None:
    with (
        fresh_database(postgres_url) as url,
        pytest.raises(MigrationError, match="holds no Go Skillbox database"),
    ):
        run(adopt_go_database(url))


def test_bad_arguments_are_invalid(go_url: str) -> None:
    from skillbox_store import InvalidArgumentError

    with pytest.raises(InvalidArgumentError):
        run(adopt_go_database("sqlite:///x.db"))
    with pytest.raises(InvalidArgumentError):
        run(adopt_go_database(go_url, backup_schema="Bad-Name"))
    with pytest.raises(InvalidArgumentError):
        run(adopt_go_database(go_url, dry_run="yes"))  # type: ignore[arg-type]


def test_a_newer_go_release_is_refused_with_what_would_be_lost(postgres_url: str) -> None:
    with fresh_database(postgres_url) as url:
        build_go_database(url, version=7)
        fill(url)
        # What goose 8-12 add, and what they store: 012 marks unrevoked keys as service keys.
        from go_schema import HEAD_DDL

        with psycopg.connect(url, autocommit=True) as conn:
            for number, text in sorted(HEAD_DDL.items()):
                conn.execute(sql.SQL(text).format(schema=sql.Identifier("sandbox")))
                conn.execute(
                    "INSERT INTO public.goose_db_version (version_id, is_applied) "
                    "VALUES (%s, true)",
                    (number,),
                )
            conn.execute("INSERT INTO sandbox.users (email) VALUES ('a@example.com')")
            conn.execute("UPDATE sandbox.skills SET status = 'quarantined' WHERE name = 'tie'")
        before = fingerprint(url)
        with pytest.raises(AdoptionRefusedError) as caught:
            run(adopt_go_database(url))
        offences = caught.value.report.offences
        rules = {(o.table, o.id, o.rule.split(":")[0]) for o in offences}
        assert (
            "users",
            "",
            "1 row(s) of a newer Go release (users, groups, approvals, "
            "scanner settings, blocked skills) would be lost",
        ) in rules
        assert ("api_keys", GO["key_ci"], "is_service") in rules
        assert ("api_keys", GO["key_globex"], "is_service") in rules
        assert ("skills", "tie@9.0.0", "status") in rules
        assert any("goose version 12" in o.rule for o in offences)
        assert fingerprint(url) == before
        assert locks_held(url) == []


# -- The command line ----------------------------------------------------------------------


def test_cli_dry_run_then_adopt(go_url: str) -> None:
    before = fingerprint(go_url)
    dry = cli("adopt", go_url, "--dry-run")
    assert dry.returncode == 0, dry
    assert dry.stdout.startswith("would adopt: schema 'sandbox'")
    assert "tie: tenant 'acme' skill 'tie'" in dry.stdout
    # Without --yes it asks; an answer other than yes changes nothing.
    asked = cli("adopt", go_url, stdin="n\n")
    assert asked.returncode != 0
    assert "Writers must be stopped" in asked.stdout + asked.stderr
    assert fingerprint(go_url) == before
    done = cli("adopt", go_url, "--yes", "--json")
    assert done.returncode == 0, done
    document = json.loads(done.stdout)
    assert (document["outcome"], document["backup_schema"]) == ("adopted", "sandbox_go_v6")
    again = cli("adopt", go_url, "--yes")
    assert again.returncode == 0
    assert again.stdout.startswith("nothing to do")


def test_cli_refusal_lists_every_row_and_exits_non_zero(go_url: str) -> None:
    with psycopg.connect(go_url, autocommit=True) as conn:
        conn.execute("UPDATE sandbox.api_keys SET key_hash = upper(key_hash)")
    before = fingerprint(go_url)
    for args in (["--dry-run"], ["--yes"]):
        result = cli("adopt", go_url, *args)
        assert result.returncode == 5, result
        for key in (GO["key_ci"], GO["key_old"], GO["key_globex"]):
            assert f"api_keys {key}" in result.stdout
        assert "adoption refused" in result.stderr
    assert fingerprint(go_url) == before
    assert HASH_OLD.upper()[:8] not in result.stdout  # rows named by id, not by secret
    assert DATA["api_keys"]


@pytest.mark.parametrize(
    "holding",
    [
        # An open write transaction of the Go service.
        "UPDATE sandbox.sessions SET last_accessed_at = last_accessed_at",
        # A skillbox-store process migrating the schema: the store's migration lock.
        "SELECT pg_advisory_xact_lock(hashtextextended('sandbox', 0))",
    ],
    ids=["go-writer", "migration-lock"],
)
def test_a_lock_held_elsewhere_makes_it_give_up_changing_nothing(
    go_url: str, holding: LiteralString
) -> None:
    before = fingerprint(go_url)
    with psycopg.connect(go_url) as writer:
        writer.execute(holding)
        with pytest.raises(UnavailableError, match="is the Go service still running"):
            run(adopt_go_database(go_url, lock_timeout=0.2))
        writer.rollback()
    assert fingerprint(go_url) == before
    assert locks_held(go_url) == []


def test_a_failed_verification_rolls_back_and_says_what_differed(
    go_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from skillbox_store.adopt import VerificationError, convert
    from skillbox_store.adopt import statements as q

    # A conversion rule gone wrong: Go's NULL logs copied as "?" instead of "".
    wrong = q.INSERT_EXECUTIONS.replace("coalesce(logs, '')", "coalesce(logs, '?')")
    assert wrong != q.INSERT_EXECUTIONS
    copies = tuple(wrong if s == q.INSERT_EXECUTIONS else s for s in convert._COPIES)
    monkeypatch.setattr(convert, "_COPIES", copies)
    before = fingerprint(go_url)
    with pytest.raises(VerificationError) as caught:
        run(adopt_go_database(go_url))
    assert caught.value.differences == [
        f"executions: 1 row(s) missing, added or changed, e.g. {GO['exec_running']}"
    ]
    assert "rolled back" in str(caught.value)
    assert fingerprint(go_url) == before


def test_the_password_is_never_shown(go_url: str) -> None:
    # The test server trusts local connections: any password is accepted, and must
    # appear nowhere.
    with_password = go_url.replace("postgresql://postgres@", "postgresql://postgres:s3cr3t-pw@")
    assert with_password != go_url
    report = run(adopt_go_database(with_password, dry_run=True))
    assert "s3cr3t-pw" not in str(report)
    assert report.url == with_password.replace("s3cr3t-pw", "***")
    result = cli("adopt", with_password, "--dry-run", "--json")
    assert result.returncode == 0, result
    assert "s3cr3t-pw" not in result.stdout + result.stderr


def test_goose_tables_in_several_schemas_must_be_named(postgres_url: str) -> None:
    from skillbox_store import InvalidArgumentError

    with fresh_database(postgres_url) as url:
        build_go_database(url, goose_schema="goose_a")
        fill(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE SCHEMA goose_b")
            conn.execute("CREATE TABLE goose_b.goose_db_version (LIKE goose_a.goose_db_version)")
        with pytest.raises(MigrationError, match="--goose-schema"):
            run(open_store(url).__aenter__())
        with pytest.raises(InvalidArgumentError, match="goose_a, goose_b"):
            run(adopt_go_database(url))
        report = run(adopt_go_database(url, goose_schema="goose_a"))
        assert report.outcome == "adopted"
        assert report.layout == "goose (goose_a.goose_db_version)"
