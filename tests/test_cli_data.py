"""``skillbox-store copy``, ``export``, ``import``, ``tenants purge`` and ``executions prune``.

Run in a subprocess, as an operator runs them, on SQLite files and a throwaway
PostgreSQL server; what they did is checked through the library.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

# tests/ is not a package: pytest puts it on sys.path.
from test_cli import Result, failed, ok, ok_json, run_cli

from contract_tests.harness import new_key_hash
from skillbox_store import Execution, File, FileFilter, SkillRecord, Store, open_store

_OLD = datetime.now(UTC) - timedelta(days=60)


async def _seed(
    url: str, tenants: tuple[str, ...] = ("acme", "bravo"), executions: int = 3
) -> None:
    async with open_store(url) as store:
        for tenant in tenants:
            key = await store.create_key(tenant, "ci", new_key_hash())
            await store.revoke_key(tenant, key.id)
            await store.create_key(tenant, "ops", new_key_hash())
            named = None
            for number in range(executions):
                named = await store.insert_execution(
                    Execution(
                        tenant_id=tenant,
                        skill_name="s",
                        skill_version="1",
                        status="success",
                        input={"n": number},
                        finished_at=_OLD,
                    )
                )
            session = await store.get_or_create_session(tenant, "chat")
            assert named is not None
            root = await store.create_file(
                File(
                    tenant_id=tenant,
                    name="a",
                    s3_key=f"{tenant}/a1",
                    session_id=session.id,
                    execution_id=named.id,
                )
            )
            await store.create_file_version(tenant, root.id, size_bytes=1, s3_key=f"{tenant}/a2")
            await store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="2"))
            await store.upsert_skill(SkillRecord(tenant_id=tenant, name="s", version="1"))


async def _reads(store: Store, tenant: str) -> Any:
    def dump(records: list[Any]) -> list[Any]:
        return [r.model_dump(mode="json", by_alias=True) for r in records]

    return {
        "keys": dump(await store.list_keys(tenant)),
        "executions": dump(await store.list_executions(tenant, limit=100)),
        "files": dump(await store.list_files(FileFilter(tenant_id=tenant, limit=200))),
        "skills": dump(await store.list_skills(tenant)),
        "latest": await store.resolve_latest_version(tenant, "s")
        if await store.list_skills(tenant)
        else None,
    }


def _same(first: str, second: str, tenants: tuple[str, ...] = ("acme", "bravo")) -> bool:
    async def compare() -> bool:
        async with open_store(first) as a, open_store(second) as b:
            return all([await _reads(a, t) == await _reads(b, t) for t in tenants])

    return asyncio.run(compare())


def _pg(postgres_url: str, schema: str) -> str:
    return f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema={schema}"


def test_copy_sqlite_to_postgres_and_again(
    tmp_path: Path, postgres_url: str, pg_schema: str
) -> None:
    """copy moves every tenant, says it verified them, and a second run skips everything."""
    source = f"sqlite:///{tmp_path / 'src.db'}"
    asyncio.run(_seed(source))
    destination = _pg(postgres_url, pg_schema)
    out = ok(run_cli("copy", source, destination))
    assert "verified 2 tenants" in out
    assert _same(source, destination)
    again = ok_json(run_cli("copy", source, destination, "--json"))
    assert again["tables"]["executions"] == {**again["tables"]["executions"], "written": 0}
    assert again["tables"]["executions"]["skipped"] == 6
    assert sorted(again["verified"]) == ["acme", "bravo"]


def test_copy_named_tenant(tmp_path: Path) -> None:
    """--tenant copies that tenant only."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    report = ok_json(run_cli("copy", source, destination, "--tenant", "bravo", "--json"))
    assert list(report["verified"]) == ["bravo"]
    assert _same(source, destination, ("bravo",))

    async def acme_keys() -> int:
        async with open_store(destination) as store:
            return len(await store.list_keys("acme"))

    assert asyncio.run(acme_keys()) == 0


def test_copy_conflict_exits_5_naming_the_record(tmp_path: Path) -> None:
    """A destination holding a record with other content stops the copy (exit 5)."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    ok(run_cli("copy", source, destination))
    with closing(sqlite3.connect(tmp_path / "b.db")) as conn, conn:
        (key_id,) = conn.execute("SELECT id FROM api_keys ORDER BY seq LIMIT 1").fetchone()
        conn.execute("UPDATE api_keys SET name = 'changed' WHERE id = ?", (key_id,))
    line = failed(run_cli("copy", source, destination), 5)
    assert key_id in line


def test_copy_refuses_the_same_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    failed(run_cli("copy", url, url), 2)


def test_killed_copy_finishes_when_run_again(tmp_path: Path) -> None:
    """A copy killed with SIGKILL partway completes when run again."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source, executions=3000))
    process = subprocess.Popen(
        [sys.executable, "-m", "skillbox_store", "copy", source, destination, "--batch-size", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        copied = 0
        while time.monotonic() < deadline and process.poll() is None:
            if (tmp_path / "b.db").exists():
                try:
                    with closing(sqlite3.connect(tmp_path / "b.db")) as conn:
                        copied = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
                except sqlite3.OperationalError:
                    copied = 0
            if copied >= 100:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL, "the copy ended before it could be killed"
    assert 0 < copied < 6000
    report = ok_json(run_cli("copy", source, destination, "--json"))
    assert report["tables"]["executions"]["skipped"] >= copied
    assert _same(source, destination)


def test_export_import_round_trip(tmp_path: Path) -> None:
    """export > file, import < file: the same reads; importing twice writes nothing."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    backup = ok(run_cli("--url", source, "export"))
    first = json.loads(backup.splitlines()[0])
    assert first == {"kind": "skillbox-store-export", "format": 1}
    assert "verified 2 tenants" in ok(run_cli("--url", destination, "import", stdin=backup))
    assert _same(source, destination)
    again = ok_json(run_cli("--url", destination, "import", "--json", stdin=backup))
    assert all(table["written"] == 0 for table in again["tables"].values())


def test_export_named_tenant_to_a_file(tmp_path: Path) -> None:
    source = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(source))
    target = tmp_path / "acme.jsonl"
    result = run_cli("--url", source, "export", "--tenant", "acme", "--output", str(target))
    assert ok(result) == ""
    lines = [json.loads(line) for line in target.read_text().splitlines()[1:]]
    assert {line["record"]["tenant_id"] for line in lines} == {"acme"}


def test_import_malformed_line_exits_2_with_its_number(tmp_path: Path) -> None:
    """A bad line stops the import naming its number; the lines before it are written."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    lines = ok(run_cli("--url", source, "export")).splitlines(keepends=True)
    lines[3] = "{not json\n"
    line = failed(run_cli("--url", destination, "import", stdin="".join(lines)), 2)
    assert "line 4" in line

    async def written() -> int:
        async with open_store(destination) as store:
            keys = await store.list_keys("acme") + await store.list_keys("bravo")
            executions = await store.list_executions("acme")
            return len(keys) + len(executions)

    assert asyncio.run(written()) == 2


def test_tenants_purge_reports_and_requires_yes(tmp_path: Path) -> None:
    """purge refuses without --yes off a terminal; with it, removes and reports."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    failed(run_cli("--url", url, "tenants", "purge", "--tenant", "acme"), 2)
    report = ok_json(
        run_cli("--url", url, "--json", "tenants", "purge", "--tenant", "acme", "--yes")
    )
    assert report == {
        "api_keys": 2,
        "executions": 3,
        "files": 2,
        "sessions": 1,
        "skills": 2,
        "s3_keys": ["acme/a1", "acme/a2"],
        "kept_referenced": 0,
    }
    text = ok(run_cli("--url", url, "tenants", "purge", "--tenant", "acme", "--yes"))
    assert "executions: 0 removed" in text
    assert _same(url, url, ("bravo",))


def test_executions_prune_older_than(tmp_path: Path) -> None:
    """prune removes old finished executions, keeping the one a file names."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    kept = ok_json(
        run_cli(
            "--url", url, "--json", "executions", "prune", "--tenant", "acme", "--older-than", "90d"
        )
    )
    assert kept["executions"] == 0
    report = ok_json(
        run_cli(
            "--url", url, "--json", "executions", "prune", "--tenant", "acme", "--older-than", "30d"
        )
    )
    assert (report["executions"], report["kept_referenced"]) == (2, 1)
    text = ok(
        run_cli("--url", url, "executions", "prune", "--tenant", "acme", "--older-than", "4w")
    )
    assert "kept because a file names them: 1" in text
    failed(
        run_cli("--url", url, "executions", "prune", "--tenant", "acme", "--older-than", "30"), 2
    )


# -- issue 18: what a new user met ---------------------------------------------------------


async def _bulk_executions(url: str, per_tenant: int) -> None:
    """Seed many executions fast, through the bulk capability."""
    from skillbox_store.transfer import require_bulk

    async with open_store(url) as store:
        bulk = require_bulk(store, "seed")
        for tenant in ("acme", "bravo"):
            records = [
                Execution(
                    id=str(uuid.uuid4()),
                    tenant_id=tenant,
                    skill_name="s",
                    skill_version="1",
                    input={"n": number},
                )
                for number in range(per_tenant)
            ]
            for start in range(0, per_tenant, 5000):
                await bulk.bulk_insert("executions", tenant, records[start : start + 5000])


def _prune(url: str, age: str, *extra: str) -> Result:
    return run_cli(
        "--url", url, *extra, "executions", "prune", "--tenant", "acme", "--older-than", age
    )


def test_prune_age_past_the_year_one_is_a_usage_error(tmp_path: Path) -> None:
    """An age no datetime can reach back to is exit 2 naming the bound, not a traceback."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    for age in ("3650000d", "99999999999999999999999999999999w", "²d"):
        line = failed(_prune(url, age), 2)
        assert "--older-than" in line
    assert "at most" in failed(_prune(url, "3650000d"), 2)
    # The longest age accepted works, and prune prints only what it can touch.
    asyncio.run(_seed(url))
    text = ok(_prune(url, "700000d"))
    assert "executions: 0 removed" in text
    assert not any(table in text for table in ("api_keys", "files:", "sessions", "skills"))


def test_file_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    """A file named on the command line that cannot be used is invalid input (exit 2)."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    missing = tmp_path / "nodir" / "x.jsonl"
    assert "cannot write" in failed(run_cli("--url", url, "export", "--output", str(missing)), 2)
    assert "cannot write" in failed(run_cli("--url", url, "export", "-o", str(tmp_path)), 2)
    assert "cannot read" in failed(run_cli("--url", url, "import", str(tmp_path / "nofile")), 2)
    assert "cannot read" in failed(run_cli("--url", url, "import", str(tmp_path)), 2)
    assert sorted(p.name for p in tmp_path.iterdir() if "jsonl" in p.name) == []


def test_reading_a_missing_sqlite_file_creates_nothing(tmp_path: Path) -> None:
    """copy's source and export say the file does not exist (exit 4) and leave none."""
    missing, never = tmp_path / "missing.db", tmp_path / "never.db"
    line = failed(run_cli("copy", f"sqlite:///{missing}", f"sqlite:///{tmp_path / 'b.db'}"), 4)
    assert "does not exist" in line
    assert "migrate" not in line
    line = failed(run_cli("--url", f"sqlite:///{never}", "export"), 4)
    assert "does not exist" in line
    backup = tmp_path / "backup.jsonl"
    failed(run_cli("--url", f"sqlite:///{never}", "export", "--output", str(backup)), 4)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_failed_verification_prints_the_summary_then_why(tmp_path: Path) -> None:
    """A destination tenant with other records: what was written, then one clear line."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))

    async def other_key() -> None:
        async with open_store(destination) as store:
            await store.create_key("acme", "theirs", new_key_hash())

    asyncio.run(other_key())
    for result in (
        run_cli("copy", source, destination),
        run_cli("--url", destination, "import", stdin=ok(run_cli("--url", source, "export"))),
    ):
        line = failed(result, 1)
        assert line.startswith("skillbox-store: verification failed: tenant 'acme'")
        assert "holds 1 more of this tenant's records" in line
        assert "api_keys: " in result.stdout
        assert "executions: " in result.stdout
    report = json.loads(run_cli("--json", "copy", source, destination).stdout)
    assert report["tables"]["executions"]["skipped"] == 6
    assert "1 more" in report["failed"]


def test_interrupted_copy_exits_130_with_its_count_and_resumes(tmp_path: Path) -> None:
    """Ctrl-C: exit 130, how much was written, how to resume; running again finishes."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_bulk_executions(source, 10_000))
    process = subprocess.Popen(
        [sys.executable, "-m", "skillbox_store", "copy", source, destination, "--batch-size", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell's background job ignores SIGINT; the operator's foreground one does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 60
        copied = 0
        while time.monotonic() < deadline and process.poll() is None and copied < 200:
            if (tmp_path / "b.db").exists():
                try:
                    with closing(sqlite3.connect(tmp_path / "b.db")) as conn:
                        copied = conn.execute("SELECT count(*) FROM executions").fetchone()[0]
                except sqlite3.OperationalError:
                    copied = 0
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stderr
    (line,) = stderr.splitlines()
    assert line.startswith("skillbox-store: interrupted: at least "), line
    assert "run the same copy again to resume" in line
    written = int(line.split("at least ")[1].split(" ")[0].replace(",", ""))
    assert 0 < written < 20_000
    report = ok_json(run_cli("copy", source, destination, "--json"))
    assert report["tables"]["executions"]["skipped"] >= written
    assert sorted(report["verified"]) == ["acme", "bravo"]


_CLI = (sys.executable, "-m", "skillbox_store")


def _purge_at_a_terminal(url: str, answer: bytes) -> Result:
    """Run `tenants purge` with a terminal as stdin, typing ``answer`` at its prompt."""
    main, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [*_CLI, "--url", url, "tenants", "purge", "--tenant", "acme"],
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(main, answer)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        os.close(main)
        os.close(terminal)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_no_at_the_purge_prompt_is_not_an_error(tmp_path: Path) -> None:
    """Answering no (or end of input) purges nothing and exits 0, saying so."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    for answer in (b"n\n", b"\x04"):
        assert "nothing purged" in ok(_purge_at_a_terminal(url, answer))
    assert _same(url, url)

    async def keys() -> int:
        async with open_store(url) as store:
            return len(await store.list_keys("acme"))

    assert asyncio.run(keys()) == 2


def test_import_of_nothing_says_so(tmp_path: Path) -> None:
    """An empty file or a header alone imports nothing, and a warning says it."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    header = tmp_path / "header.jsonl"
    header.write_text('{"kind":"skillbox-store-export","format":1}\n')
    for path in (empty, header):
        result = run_cli("--url", url, "import", str(path))
        ok(result)
        assert "warning" in result.stderr
        assert "nothing was imported" in result.stderr


def test_import_summary_lists_every_table(tmp_path: Path) -> None:
    """Tables the file has no record of are listed with zero, as copy and export do."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    lines = ok(run_cli("--url", source, "export")).splitlines(keepends=True)
    keys_only = "".join(line for line in lines if '"kind":"execution"' not in line)
    keys_only = "".join(
        line for line in keys_only.splitlines(keepends=True) if '"kind":"file"' not in line
    )
    out = ok(run_cli("--url", destination, "import", stdin=keys_only))
    assert "executions: 0 imported, 0 already there" in out
    assert "files: 0 imported, 0 already there" in out


def test_a_bad_byte_names_its_line(tmp_path: Path) -> None:
    """A line that is not UTF-8 is exit 2 naming that line, not a traceback."""
    path = tmp_path / "bad.jsonl"
    path.write_bytes(b'{"kind":"skillbox-store-export","format":1}\n\xff\xfe\n')
    line = failed(run_cli("--url", f"sqlite:///{tmp_path / 'a.db'}", "import", str(path)), 2)
    assert "line 2: not UTF-8" in line


def test_nothing_matched_is_said(tmp_path: Path) -> None:
    """copy --tenant and tenants purge --tenant of an unknown tenant say nothing matched."""
    source, destination = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    asyncio.run(_seed(source))
    assert "tenant nobody has no records in the source" in ok(
        run_cli("copy", source, destination, "--tenant", "nobody")
    )
    assert "nothing matched: tenant typo has no records" in ok(
        run_cli("--url", source, "tenants", "purge", "--tenant", "typo", "--yes")
    )


def test_files_list_takes_a_session_by_external_id(tmp_path: Path) -> None:
    """--session accepts the external id operators know; an unknown one is exit 3."""
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    by_external = ok_json(
        run_cli("--url", url, "--json", "files", "list", "--tenant", "acme", "--session", "chat")
    )
    session = ok_json(
        run_cli("--url", url, "--json", "sessions", "show", "--tenant", "acme", "chat")
    )
    by_id = ok_json(
        run_cli(
            "--url", url, "--json", "files", "list", "--tenant", "acme", "--session", session["id"]
        )
    )
    assert len(by_external) == 2
    assert by_external == by_id
    line = failed(
        run_cli("--url", url, "files", "list", "--tenant", "acme", "--session", "nope"), 3
    )
    assert "by id or external id" in line


def test_copy_refuses_the_same_store_however_spelled(tmp_path: Path) -> None:
    """Relative and absolute paths, a symlink: the same SQLite file is the same store."""
    asyncio.run(_seed(f"sqlite:///{tmp_path / 'a.db'}"))
    (tmp_path / "link.db").symlink_to(tmp_path / "a.db")
    failed(run_cli("copy", "sqlite:///a.db", f"sqlite:///{tmp_path / 'a.db'}", cwd=tmp_path), 2)
    failed(run_cli("copy", "sqlite:///./link.db", "sqlite:///a.db", cwd=tmp_path), 2)


def test_same_store_compares_what_urls_open() -> None:
    """PostgreSQL URLs are the same store by host, port, database and schema."""
    from skillbox_store.cli.data import _same_store

    same = "postgresql://app:secret@db.example:5432/skills?schema=sandbox"
    assert _same_store("postgresql://app@DB.example/skills", same)
    assert _same_store("postgres://other@db.example:5432/skills", same)
    assert not _same_store("postgresql://app@db.example/skills?schema=other", same)
    assert not _same_store("postgresql://app@db.example:5433/skills", same)
    assert not _same_store("memory://", "memory://")
    assert not _same_store("sqlite:///:memory:", "sqlite:///:memory:")


def test_progress_line_shows_the_total_when_known(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The meter prints "N of TOTAL"; import counts an export file's records per table."""
    from skillbox_store.cli.data import _Meter, _records_per_table
    from skillbox_store.stats import Estimate
    from skillbox_store.transfer import Progress

    meter = _Meter(enabled=True)
    meter.totals = {"executions": 6000, "files": Estimate(2_000_000)}
    meter(Progress("executions", written=1000, skipped=500))
    meter(Progress("files", written=10))
    meter.done()
    err = capsys.readouterr().err
    assert "executions: 1,500 of 6,000 records" in err
    assert "files: 10 of ~2,000,000 records" in err
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_seed(url))
    backup = tmp_path / "b.jsonl"
    ok(run_cli("--url", url, "export", "--output", str(backup)))
    assert _records_per_table(str(backup)) == {
        "api_keys": 4,
        "executions": 6,
        "files": 4,
        "sessions": 2,
        "skills": 4,
    }
