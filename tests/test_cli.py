"""The ``skillbox-store`` command line, driven end to end in a subprocess.

Every command runs as an operator runs it (``python -m skillbox_store``, and the console
script once), against a temporary SQLite file and a throwaway PostgreSQL server. What
the JSON output says is checked against what the library reads from the same store.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

import click
import pytest

from skillbox_store import (
    Execution,
    File,
    FileFilter,
    SkillRecord,
    hash_key,
    open_store,
)
from skillbox_store.capabilities import STATS, supports
from skillbox_store.cli.app import _COMMANDS
from skillbox_store.cli.runner import mask_secrets
from skillbox_store.migrations import latest_version
from skillbox_store.stats import TABLES, StoreStats

Result = subprocess.CompletedProcess[str]

# Subprocesses of a loaded machine can be slow to start; this only bounds a hang.
_TIMEOUT = 120


def _env(url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SKILLBOX_STORE_URL"}
    if url is not None:
        env["SKILLBOX_STORE_URL"] = url
    return env


def run_cli(
    *args: str,
    url: str | None = None,
    env_url: str | None = None,
    stdin: str = "",
    cwd: Path | None = None,
) -> Result:
    """Run ``python -m skillbox_store [--url URL] ARGS`` and return what it did."""
    command = [sys.executable, "-m", "skillbox_store"]
    if url is not None:
        command += ["--url", url]
    return subprocess.run(
        [*command, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(env_url),
        cwd=cwd,
        timeout=_TIMEOUT,
        check=False,
    )


def ok(result: Result) -> str:
    """Assert the command succeeded and return its stdout."""
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


def ok_json(result: Result) -> Any:
    return json.loads(ok(result))


def failed(result: Result, code: int) -> str:
    """Assert the command failed with ``code`` and one line on stderr; return that line."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("skillbox-store: "), lines[0]
    return lines[0]


def as_json(record: Any) -> Any:
    return record.model_dump(mode="json", by_alias=True)


def new_tenant() -> str:
    # The PostgreSQL server is shared by the whole session: a fresh tenant per test
    # keeps tests apart without resetting the database.
    return f"cli-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store just migrated by the CLI, on each SQL backend; a fresh database each time."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        server: str = request.getfixturevalue("postgres_url")
        schema: str = request.getfixturevalue("pg_schema")
        url = f"{server}{'&' if '?' in server else '?'}schema={schema}"
    migrated = ok_json(run_cli("migrate", "--json", url=url))
    assert (migrated["before"], migrated["after"]) == (0, latest_version())
    return url


# -- API keys ------------------------------------------------------------------------------


def test_key_lifecycle_create_check_revoke_check(backend_url: str) -> None:
    tenant = new_tenant()
    created = ok_json(
        run_cli("--json", "keys", "create", "--tenant", tenant, "--name", "ci", url=backend_url)
    )
    plaintext = created.pop("key")
    assert plaintext.startswith("sk-")
    assert len(plaintext) == 3 + 48
    assert created["key_hash"] == hash_key(plaintext)
    assert created["tenant_id"] == tenant
    assert created["name"] == "ci"
    assert created["revoked_at"] is None

    async def stored() -> Any:
        async with open_store(backend_url) as store:
            return as_json(await store.get_key_by_hash(hash_key(plaintext)))

    assert created == asyncio.run(stored())
    assert ok_json(run_cli("keys", "list", "--tenant", tenant, "--json", url=backend_url)) == [
        created
    ]

    checked = ok_json(run_cli("keys", "check", "--json", url=backend_url, stdin=plaintext + "\n"))
    assert checked == {"status": "valid", "tenant_id": tenant, "key": created}
    text = ok(run_cli("keys", "check", url=backend_url, stdin=plaintext))
    assert text.startswith(f"valid: key of tenant {tenant}\n")
    assert created["id"] in text

    revoked = ok_json(
        run_cli("keys", "revoke", "--tenant", tenant, created["id"], "--json", url=backend_url)
    )
    assert revoked["revoked_at"] is not None
    assert revoked == {**created, "revoked_at": revoked["revoked_at"]}
    assert revoked == asyncio.run(stored())

    again = run_cli("keys", "check", "--json", url=backend_url, stdin=plaintext)
    assert again.returncode == 5, again
    assert json.loads(again.stdout) == {"status": "revoked", "tenant_id": tenant, "key": revoked}
    again_text = run_cli("keys", "check", url=backend_url, stdin=plaintext)
    assert again_text.returncode == 5
    assert again_text.stdout.startswith(f"revoked: key of tenant {tenant}\n")

    line = failed(run_cli("keys", "revoke", "--tenant", tenant, created["id"], url=backend_url), 5)
    assert "conflict" in line
    # Another tenant cannot see, let alone revoke, the key.
    failed(run_cli("keys", "revoke", "--tenant", new_tenant(), created["id"], url=backend_url), 3)

    unknown = run_cli("keys", "check", "--json", url=backend_url, stdin="sk-" + "0" * 48)
    assert unknown.returncode == 3
    assert json.loads(unknown.stdout) == {"status": "unknown", "tenant_id": None, "key": None}


def test_keys_create_prints_only_the_plaintext_on_stdout(sqlite_url: str) -> None:
    tenant = new_tenant()
    result = run_cli("keys", "create", "--tenant", tenant, "--name", "deploy", url=sqlite_url)
    plaintext = ok(result).strip()
    assert plaintext.startswith("sk-")
    assert plaintext not in result.stderr
    assert "shown only this once" in result.stderr

    listed = ok(run_cli("keys", "list", "--tenant", tenant, url=sqlite_url)).splitlines()
    assert listed[0].split() == ["ID", "NAME", "CREATED", "REVOKED"]
    assert len(listed) == 2
    assert "deploy" in listed[1]
    assert plaintext not in "".join(listed)
    assert ok(run_cli("keys", "check", url=sqlite_url, stdin=plaintext)).startswith("valid")


def test_text_output_escapes_control_characters(sqlite_url: str) -> None:
    tenant = new_tenant()
    ok(run_cli("keys", "create", "--tenant", tenant, "--name", "red\x1b[31malert", url=sqlite_url))
    listed = ok(run_cli("keys", "list", "--tenant", tenant, url=sqlite_url))
    assert "\x1b" not in listed
    assert "red\\x1b[31malert" in listed
    # JSON keeps the value exactly; json.dumps escapes it on its own.
    [key] = ok_json(run_cli("keys", "list", "--tenant", tenant, "--json", url=sqlite_url))
    assert key["name"] == "red\x1b[31malert"


# -- records ---------------------------------------------------------------------------------


async def _seed(url: str, tenant: str) -> dict[str, Any]:
    """Write a little of everything for ``tenant`` through the library."""
    async with open_store(url) as store:
        first = await store.insert_execution(
            Execution(
                skill_name="pdf",
                skill_version="1.0.0",
                tenant_id=tenant,
                status="success",
                input={"pages": [1, 2]},
                output="done",
                logs="line one\nline two",
                files_list=["out.pdf"],
                duration_ms=1234,
            )
        )
        second = await store.create_execution(
            Execution(skill_name="csv", skill_version="2", tenant_id=tenant)
        )
        session = await store.get_or_create_session(tenant, "chat-42")
        root = await store.create_file(
            File(
                tenant_id=tenant,
                session_id=session.id,
                execution_id=first.id,
                name="report.pdf",
                content_type="application/pdf",
                size_bytes=10,
                s3_key="k/1",
            )
        )
        await store.create_file_version(tenant, root.id, size_bytes=20, s3_key="k/2")
        await store.create_file(File(tenant_id=tenant, name="loose.txt", s3_key="k/3"))
        for version in ("1.0.0", "0.9.0"):
            await store.upsert_skill(SkillRecord(tenant_id=tenant, name="pdf", version=version))
        await store.upsert_skill(SkillRecord(tenant_id=tenant, name="csv", version="2"))
        return {"first": first, "second": second, "session": session, "root": root}


async def _expected(url: str, tenant: str, seeded: dict[str, Any]) -> dict[str, Any]:
    """What the library reads back: the documents the CLI must print."""
    root, first, session = seeded["root"], seeded["first"], seeded["session"]
    async with open_store(url) as store:
        return {
            "executions": [as_json(e) for e in await store.list_executions(tenant)],
            "execution": as_json(await store.get_execution(tenant, first.id)),
            "files": [as_json(f) for f in await store.list_files(FileFilter(tenant_id=tenant))],
            "session_files": [
                as_json(f)
                for f in await store.list_files(FileFilter(tenant_id=tenant, session_id=session.id))
            ],
            "versions": [as_json(f) for f in await store.list_file_versions(tenant, root.id)],
            "session": as_json(await store.get_session(tenant, session.id)),
            "skills": [as_json(s) for s in await store.list_skills(tenant)],
            "latest": as_json(await store.get_skill(tenant, "pdf", "0.9.0")),
        }


def test_record_commands_print_the_stored_records(backend_url: str) -> None:
    tenant = new_tenant()
    seeded = asyncio.run(_seed(backend_url, tenant))
    want = asyncio.run(_expected(backend_url, tenant, seeded))
    first, second = seeded["first"], seeded["second"]
    root, session = seeded["root"], seeded["session"]

    def cli_json(*args: str) -> Any:
        return ok_json(run_cli("--json", *args, url=backend_url))

    listed = cli_json("executions", "list", "--tenant", tenant)
    assert listed == want["executions"]
    assert [e["execution_id"] for e in listed] == [second.id, first.id]
    assert cli_json("executions", "list", "--tenant", tenant, "--limit", "1", "--offset", "1") == [
        want["executions"][1]
    ]
    assert cli_json("executions", "show", "--tenant", tenant, first.id) == want["execution"]

    assert cli_json("files", "list", "--tenant", tenant) == want["files"]
    assert len(want["files"]) == 3
    by_session = cli_json("files", "list", "--tenant", tenant, "--session", session.id)
    assert by_session == want["session_files"]
    assert len(by_session) == 2
    by_execution = cli_json("files", "list", "--tenant", tenant, "--execution", first.id)
    assert by_execution == want["session_files"]
    assert cli_json("files", "versions", "--tenant", tenant, root.id) == want["versions"]
    assert [f["version"] for f in want["versions"]] == [2, 1]

    assert cli_json("sessions", "show", "--tenant", tenant, "chat-42") == want["session"]
    assert cli_json("skills", "list", "--tenant", tenant) == want["skills"]
    assert [(s["name"], s["version"]) for s in want["skills"]] == [
        ("csv", "2"),
        ("pdf", "0.9.0"),
        ("pdf", "1.0.0"),
    ]
    assert cli_json("skills", "latest", "--tenant", tenant, "pdf") == want["latest"]

    # The same commands for people: tables and fields, and the latest version alone.
    text = ok(run_cli("executions", "list", "--tenant", tenant, url=backend_url))
    assert text.splitlines()[0].split()[:4] == ["ID", "SKILL", "VERSION", "STATUS"]
    assert text.index(second.id) < text.index(first.id)
    shown = ok(run_cli("executions", "show", "--tenant", tenant, first.id, url=backend_url))
    assert "logs:\n  line one\n  line two\n" in shown
    assert '{"pages": [1, 2]}' in shown
    versions = ok(run_cli("files", "versions", "--tenant", tenant, root.id, url=backend_url))
    assert len(versions.splitlines()) == 3
    assert session.id in ok(
        run_cli("sessions", "show", "--tenant", tenant, "chat-42", url=backend_url)
    )
    assert ok(run_cli("skills", "latest", "--tenant", tenant, "pdf", url=backend_url)) == "0.9.0\n"
    assert "csv" in ok(run_cli("skills", "list", "--tenant", tenant, url=backend_url))

    # Another tenant sees none of it.
    other = new_tenant()
    failed(run_cli("executions", "show", "--tenant", other, first.id, url=backend_url), 3)
    failed(run_cli("files", "versions", "--tenant", other, root.id, url=backend_url), 3)
    failed(run_cli("sessions", "show", "--tenant", other, "chat-42", url=backend_url), 3)
    assert cli_json("files", "list", "--tenant", other) == []


def test_list_commands_page_with_cursors(backend_url: str) -> None:
    """--after continues where a page ended, stderr names the cursor, --all streams all."""
    tenant = new_tenant()

    async def seed() -> tuple[list[str], list[str]]:
        async with open_store(backend_url) as store:
            executions, files = [], []
            for i in range(5):
                made = Execution(tenant_id=tenant, skill_name="s", skill_version=str(i))
                executions.append((await store.create_execution(made)).id)
                file = File(tenant_id=tenant, name=f"f{i}", s3_key="k")
                files.append((await store.create_file(file)).id)
            return executions[::-1], files[::-1]

    executions, files = asyncio.run(seed())
    listing = ("executions", "list", "--tenant", tenant)
    first = run_cli("--json", *listing, "--limit", "2", url=backend_url)
    assert [e["execution_id"] for e in ok_json(first)] == executions[:2]
    assert first.stderr == f"next page: --after {executions[1]}\n"
    second = run_cli("--json", *listing, "--limit", "2", "--after", executions[1], url=backend_url)
    assert [e["execution_id"] for e in ok_json(second)] == executions[2:4]
    last = run_cli("--json", *listing, "--limit", "2", "--after", executions[3], url=backend_url)
    assert [e["execution_id"] for e in ok_json(last)] == executions[4:]
    assert last.stderr == ""  # a short page is the last one: no cursor

    # --all: JSON Lines, one record a line, fetched two at a time; a table for people.
    streamed = ok(run_cli("--json", *listing, "--all", "--limit", "2", url=backend_url))
    assert [json.loads(line)["execution_id"] for line in streamed.splitlines()] == executions
    file_listing = ("files", "list", "--tenant", tenant, "--all")
    lines = ok(run_cli(*file_listing, "--limit", "2", url=backend_url)).splitlines()
    assert lines[0].split()[:2] == ["ID", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == files
    after_first = ok(run_cli("--json", *file_listing, "--after", files[0], url=backend_url))
    assert [json.loads(line)["id"] for line in after_first.splitlines()] == files[1:]

    failed(run_cli(*listing, "--after", str(uuid.uuid4()), url=backend_url), 3)
    failed(run_cli(*listing, "--after", executions[0], "--offset", "1", url=backend_url), 2)
    failed(run_cli(*listing, "--all", "--offset", "1", url=backend_url), 2)


@pytest.mark.postgres
def test_status_estimates_big_postgres_tables(postgres_url: str, pg_schema: str) -> None:
    """Above ESTIMATE_ABOVE rows the planner's estimate is shown as ~N; --exact counts."""
    from skillbox_store.stats import ESTIMATE_ABOVE

    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={pg_schema}"
    ok(run_cli("migrate", url=url))
    rows = ESTIMATE_ABOVE + 1
    import psycopg
    from psycopg import sql

    schema = sql.Identifier(pg_schema)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {}.executions (tenant_id, id, skill_name, skill_version, status) "
                "SELECT 'big', gen_random_uuid(), 's', '1', 'running' FROM generate_series(1, %s)"
            ).format(schema),
            (rows,),
        )
        conn.execute(sql.SQL("ANALYZE {}.executions").format(schema))
    report = ok_json(run_cli("status", "--json", url=url))
    assert report["estimated"] == ["executions"]
    assert abs(report["counts"]["executions"] - rows) < rows // 10
    assert report["counts"]["api_keys"] == 0
    assert f"executions records: ~{report['counts']['executions']:,}" in ok(
        run_cli("status", url=url)
    )
    exact = ok_json(run_cli("status", "--json", "--exact", url=url))
    assert exact["estimated"] == []
    assert exact["counts"]["executions"] == rows


# -- migrate and status ----------------------------------------------------------------------


def test_default_store_is_skillbox_db_in_the_working_directory(tmp_path: Path) -> None:
    first = ok(run_cli("migrate", cwd=tmp_path))
    assert first == f"schema version 0 -> {latest_version()} (sqlite:///skillbox.db)\n"
    assert (tmp_path / "skillbox.db").is_file()
    again = ok(run_cli("migrate", "--json", cwd=tmp_path))
    assert json.loads(again) == {
        "url": "sqlite:///skillbox.db",
        "before": latest_version(),
        "after": latest_version(),
    }
    plaintext = ok(run_cli("keys", "create", "--tenant", "t", "--name", "n", cwd=tmp_path))
    assert ok(run_cli("keys", "check", stdin=plaintext, cwd=tmp_path)).startswith("valid")


def test_url_comes_from_option_then_environment_then_default(tmp_path: Path) -> None:
    from_env = f"sqlite:///{tmp_path / 'env.db'}"
    ok(run_cli("migrate", env_url=from_env, cwd=tmp_path))
    assert (tmp_path / "env.db").is_file()
    assert not (tmp_path / "skillbox.db").exists()

    ok(
        run_cli(
            "migrate", url=f"sqlite:///{tmp_path / 'option.db'}", env_url=from_env, cwd=tmp_path
        )
    )
    assert (tmp_path / "option.db").is_file()
    # After the command name, --url overrides the one before it; migrate also takes
    # the URL as its argument, as the contract spells it.
    ok(run_cli("migrate", "--url", f"sqlite:///{tmp_path / 'late.db'}", url=from_env))
    assert (tmp_path / "late.db").is_file()
    ok(run_cli("migrate", f"sqlite:///{tmp_path / 'argument.db'}", url=from_env))
    assert (tmp_path / "argument.db").is_file()
    assert not (tmp_path / "skillbox.db").exists()


def test_status_reports_backend_schema_ping_and_counts(backend_url: str) -> None:
    tenant = new_tenant()
    ok(run_cli("keys", "create", "--tenant", tenant, "--name", "n", url=backend_url))
    report = ok_json(run_cli("status", "--json", url=backend_url))
    assert report["backend"] == backend_url.partition(":")[0]
    assert report["schema_version"] == report["latest_version"] == latest_version()
    assert report["ping_ms"] >= 0

    async def counts_supported() -> bool:
        async with open_store(backend_url) as store:
            return supports(store, STATS)

    text = ok(run_cli("status", url=backend_url))
    assert "schema version: " in text
    if asyncio.run(counts_supported()):
        assert list(report["counts"]) == list(TABLES)
        assert report["counts"]["api_keys"] >= 1
        assert "api_keys records:" in text
    else:
        assert report["counts"] is None
        assert "counts:         not supported by this backend" in text


def test_status_counts_only_where_the_store_declares_the_stats_capability() -> None:
    """`status` asks `supports()`, as the contract tells callers to: a ``table_counts``
    the store does not declare is not called (it may be another thing of that name)."""
    from skillbox_store.cli.admin import _counts

    class Counting:
        capabilities = frozenset({STATS})

        async def table_counts(self, *, exact: bool = True) -> dict[str, int]:
            return dict.fromkeys(TABLES, 1)

    class Undeclared(Counting):
        capabilities = frozenset()

    assert asyncio.run(_counts(Counting(), exact=True)) == dict.fromkeys(TABLES, 1)  # type: ignore[arg-type]
    assert asyncio.run(_counts(Undeclared(), exact=True)) is None  # type: ignore[arg-type]


def test_status_prints_counts_of_a_store_that_has_them() -> None:
    async def open_memory() -> Any:
        async with open_store("memory://") as store:
            return store

    # The in-memory backend implements the optional StoreStats; this exercises the
    # path that prints counts whichever SQL backends implement it too.
    assert isinstance(asyncio.run(open_memory()), StoreStats)
    report = ok_json(run_cli("status", "--json", url="memory://"))
    assert report["counts"] == dict.fromkeys(TABLES, 0)
    assert "api_keys records:   0" in ok(run_cli("status", url="memory://"))


def test_status_changes_nothing_on_a_fresh_database(sqlite_url: str) -> None:
    report = ok_json(run_cli("status", "--json", url=sqlite_url))
    assert report["schema_version"] == 0
    assert report["counts"] is None
    assert "migration(s) pending" in ok(run_cli("status", url=sqlite_url))
    # --no-migrate: a command fails on the out-of-date schema rather than changing it,
    # with its own exit status (6).
    failed(run_cli("--no-migrate", "keys", "list", "--tenant", "t", url=sqlite_url), 6)
    assert ok_json(run_cli("migrate", "--json", url=sqlite_url))["before"] == 0


# -- failures --------------------------------------------------------------------------------


def test_failures_are_one_line_with_distinct_exit_codes(sqlite_url: str, tmp_path: Path) -> None:
    tenant = new_tenant()
    missing = str(uuid.uuid4())
    assert "not found" in failed(
        run_cli("executions", "show", "--tenant", tenant, missing, url=sqlite_url), 3
    )
    failed(run_cli("executions", "show", "--tenant", tenant, "not-a-uuid", url=sqlite_url), 3)
    failed(run_cli("skills", "latest", "--tenant", tenant, "nothing", url=sqlite_url), 3)
    assert "limit" in failed(
        run_cli("executions", "list", "--tenant", tenant, "--limit", "0", url=sqlite_url), 2
    )
    assert "tenant_id" in failed(run_cli("keys", "list", "--tenant", "", url=sqlite_url), 2)
    assert "--tenant" in failed(run_cli("keys", "list", url=sqlite_url), 2)
    failed(run_cli("executions", "list", "--tenant", tenant, "--limit", "x", url=sqlite_url), 2)
    failed(run_cli("no-such-command"), 2)
    failed(run_cli("keys", "check", url=sqlite_url, stdin=""), 2)
    failed(run_cli("keys", "check", url=sqlite_url, stdin="sk-a sk-b"), 2)
    assert "installed schemes" in failed(run_cli("status", url="nosuch://x"), 2)
    # A path that cannot name a database file is invalid input on SQLite (README); an
    # unreachable server is 4 (test_passwords_never_appear_in_messages).
    nowhere = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'store.db'}"
    assert "does not exist" in failed(run_cli("status", url=nowhere), 2)


def test_a_database_newer_than_the_code_fails_with_1(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = f"sqlite:///{path}"
    ok(run_cli("migrate", url=url))
    # What a newer skillbox-store would leave behind: a migration this code lacks.
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO schema_migrations (version, name, checksum, applied_at) "
            "VALUES (9999, '9999_future.sql', 'x', '2030-01-01T00:00:00.000000Z')"
        )
    assert "migration failed" in failed(run_cli("migrate", url=url), 1)
    failed(run_cli("keys", "list", "--tenant", "t", url=url), 1)
    # status still answers, read-only, and says what is wrong.
    assert "9999 (newer than this skillbox-store" in ok(run_cli("status", url=url))


def test_passwords_never_appear_in_messages() -> None:
    secret = "hunter2-secret"
    # Port 1 on the loopback: nothing listens, so connecting fails at once.
    url = f"postgresql://skillbox:{secret}@127.0.0.1:1/skillbox?connect_timeout=2"
    result = run_cli("status", url=url)
    line = failed(result, 4)
    assert secret not in result.stdout + result.stderr
    assert "127.0.0.1" in line


def test_mask_secrets_covers_the_forms_a_driver_quotes() -> None:
    url = "postgresql://app:p%40ss-word@db:5432/x"
    message = (
        f"cannot connect to {url}: password=p@ss-word rejected for "
        "postgresql://other:pw-two@h/y, and 'p@ss-word' again"
    )
    masked = mask_secrets(message, url)
    assert "p@ss-word" not in masked
    assert "p%40ss-word" not in masked
    assert "pw-two" not in masked
    assert "postgresql://app:***@db:5432/x" in masked


# -- entry points ----------------------------------------------------------------------------


def test_console_script_and_help() -> None:
    script = shutil.which("skillbox-store")
    assert script is not None, "the skillbox-store console script is not installed"
    result = subprocess.run(
        [script, "--help"],
        capture_output=True,
        text=True,
        env=_env(None),
        timeout=_TIMEOUT,
        check=False,
    )
    help_text = ok(result)
    for command in ("migrate", "status", "keys", "executions", "files", "sessions", "skills"):
        assert f"  {command} " in help_text
    assert "SKILLBOX_STORE_URL" in help_text
    assert "Exit status" in help_text
    assert "6 schema not migrated" in help_text
    assert "130 interrupted" in help_text


def test_ctrl_c_anywhere_exits_130_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Ctrl-C is not a store error (exit 1 before issue 18): exit 130, one line."""
    import skillbox_store.cli.keys
    from skillbox_store.cli import main

    def interrupted(*_args: object, **_kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(skillbox_store.cli.keys, "run", interrupted)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    with pytest.raises(SystemExit) as exited:
        main(["--url", url, "keys", "list", "--tenant", "acme"])
    assert exited.value.code == 130
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == ["skillbox-store: interrupted: stopped by Ctrl-C"]


# -- a schema behind the code --------------------------------------------------------------


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_no_migrate_on_an_unmigrated_database_exits_6(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        server: str = request.getfixturevalue("postgres_url")
        url = (
            f"{server}{'&' if '?' in server else '?'}schema={request.getfixturevalue('pg_schema')}"
        )
    line = failed(run_cli("--no-migrate", "keys", "list", "--tenant", "acme", url=url), 6)
    assert line.startswith("skillbox-store: schema not migrated: ")
    assert f"at version 0, this skillbox-store needs version {latest_version()}" in line
    assert f"run `skillbox-store migrate {url}`" in line
    # status and migrate are about the schema itself: they open it as it is.
    assert "migration(s) pending" in ok(run_cli("status", url=url))
    ok(run_cli("migrate", url=url))
    assert ok(run_cli("--no-migrate", "keys", "list", "--tenant", "acme", url=url))


# -- start-up ------------------------------------------------------------------------------

_HEAVY_MODULES = ("sqlmodel", "sqlalchemy", "pydantic", "aiosqlite", "psycopg", "asyncio")

# Runs the command line in-process, then prints which heavy modules it imported.
_IMPORTED_BY = """
import sys
from skillbox_store.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(" ".join(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        # Every command the group lists, those added later included.
        *([command, "--help"] for command in sorted(_COMMANDS)),
        ["keys", "create", "--help"],
        ["executions", "list", "--help"],
    ],
    ids=" ".join,
)
def test_help_and_version_import_no_record_or_driver_module(args: list[str]) -> None:
    # What makes `--help` start fast, checked by what it imports rather than by a
    # timing: SQLModel, SQLAlchemy and pydantic are most of the package's import time
    # (benchmarks/startup.py measures it).
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTED_BY.format(heavy=_HEAVY_MODULES), *args],
        capture_output=True,
        text=True,
        env=_env(None),
        timeout=_TIMEOUT,
        check=True,
    )
    assert result.stdout
    assert result.stderr.strip() == ""


def test_the_listed_short_help_is_each_commands_own() -> None:
    from skillbox_store.cli.app import cli

    assert set(_COMMANDS) <= set(cli.list_commands(click.Context(cli)))
    for name, lazy in _COMMANDS.items():
        command = lazy.load()
        assert command.name == name
        assert lazy.short_help == command.get_short_help_str(limit=200), name


def test_importing_the_package_imports_no_record_module() -> None:
    code = (
        "import sys, skillbox_store; "
        "from skillbox_store import StoreError, hash_key, __version__; "
        f"print([m for m in {_HEAVY_MODULES!r} if m in sys.modules])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=_TIMEOUT, check=True
    )
    assert result.stdout.strip() == "[]"


def test_every_public_name_of_the_package_resolves() -> None:
    import skillbox_store

    for name in skillbox_store.__all__:
        assert getattr(skillbox_store, name) is not None, name
    assert set(skillbox_store.__all__) <= set(dir(skillbox_store))


def test_a_masked_query_password_keeps_the_words_around_it() -> None:
    url = "postgresql://app@db/x?password=hunter2"
    assert mask_secrets(f"cannot connect to {url}: refused", url) == (
        "cannot connect to postgresql://app@db/x?password=***: refused"
    )
    assert mask_secrets("password=se:cret, then", "memory://") == "password=***, then"
    assert mask_secrets("password=a.b c", "memory://") == "password=*** c"
    # Port 1 on the loopback: nothing listens, so connecting fails at once.
    line = failed(
        run_cli("status", url="postgresql://app@127.0.0.1:1/x?connect_timeout=2&password=hunter2"),
        4,
    )
    assert "hunter2" not in line
    assert "password=***: " in line


@pytest.mark.parametrize(
    "url",
    [b"sqlite:///\xff.db", b"postgresql://u@127.0.0.1:1/d\xff", b"memory://\xff"],
    ids=["sqlite", "postgres", "memory"],
)
def test_a_url_that_is_not_utf8_is_one_line_and_exit_2(url: bytes) -> None:
    """A byte that is not UTF-8 in ``--url`` (a shell's mangled variable): no traceback."""
    command = [sys.executable.encode(), b"-m", b"skillbox_store", b"--url", url, b"status"]
    result = subprocess.run(command, capture_output=True, timeout=_TIMEOUT, check=False)
    stderr = result.stderr.decode("utf-8", "backslashreplace")
    assert result.returncode == 2, (result.returncode, stderr)
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("skillbox-store: invalid input: "), lines[0]
